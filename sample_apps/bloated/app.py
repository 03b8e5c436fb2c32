"""A Flask app that works, but carries far more than it needs: see README.md."""

import os
import sqlite3
from contextlib import closing
from functools import cache
from pathlib import Path

import pandas as pd
from flask import Flask, Response, abort

from src.summary import summarize

BASE_DIR = Path(__file__).resolve().parent
DB_PATH = BASE_DIR / "db.sqlite3"

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "dev-not-secret")


@app.get("/")
def index():
    return {"app": "bloated", "routes": ["/summary", "/sensors", "/thumbnail/<name>"]}


@cache
def load_measurements() -> pd.DataFrame:
    return pd.read_csv(BASE_DIR / "data" / "measurements.csv", parse_dates=["timestamp"])


@app.get("/summary")
def summary():
    return summarize(load_measurements())


@app.get("/sensors")
def sensors():
    with closing(sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT id, name, location, installed_on FROM sensors ORDER BY id").fetchall()
    return {"sensors": [dict(zip(("id", "name", "location", "installed_on"), row, strict=True)) for row in rows]}


@app.get("/thumbnail/<name>")
def thumbnail(name: str):
    import cv2  # imported here, not at the top, so that workers boot without loading OpenCV

    path = BASE_DIR / "media" / f"{name}.png"
    if not path.is_file():
        abort(404)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    small = cv2.resize(image, (160, 145), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".png", small)
    if not ok:
        abort(500)
    return Response(encoded.tobytes(), mimetype="image/png")
