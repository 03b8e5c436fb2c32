"""A tidy Flask app: two small dependencies and nothing heavy imported at boot."""

import os

from flask import Flask

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "dev-only-not-secret")


@app.get("/")
def index():
    return {"app": "flask_basic", "message": "Hello from Heroku!"}


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/hello/<name>")
def hello(name: str):
    return {"message": f"Hello, {name}!"}
