"""A small Flask app whose dependencies are locked by Pipenv."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {"app": "pipenv_app", "message": "Hello from Heroku!"}


@app.get("/health")
def health():
    return {"status": "ok"}
