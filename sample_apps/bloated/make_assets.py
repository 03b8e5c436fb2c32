"""Recreate the bloated app's big committed files, deterministically.

    python make_assets.py

Writes, using the standard library only:

- data/measurements.csv   about 6 MB: a seeded random walk of 8 sensors, one row per sensor per minute
- media/photo_1.png       about 1 MB: a real 8-bit RGB PNG, gradient plus noise (barely compressible)
- media/photo_2.png       about 1 MB: the same, with other colours and noise
- db.sqlite3              about 200 KB: a real SQLite database (sensors, daily stats, maintenance log)
- models/churn_model_v<N>.pkl  about 2.4 MB: a pickled old model (weights of a seeded random walk) that no
                          code loads any more
- design/landing_page.psd about 1 MB: a designer's file (a Photoshop signature and noise), never served

The content is the same on every run. The bytes of the PNG and SQLite files also depend on the zlib and
SQLite libraries Python is linked against (the SQLite header records the library version).
"""

import hashlib
import random
import sqlite3
import struct
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240501
SENSORS = [f"sensor-{n:02d}" for n in range(1, 9)]
LOCATIONS = ["roof", "lobby", "basement", "server-room", "warehouse", "office-1", "office-2", "garage"]
MODEL_VERSION = 1
MINUTES = 12_500  # 8 sensors x 12,500 minutes = 100,000 rows, about 6 MB


def walk(rng: random.Random, value: float, centre: float, step: float) -> float:
    """One step of a mean-reverting random walk, using only rng.random() (stable across Python versions)."""
    return value + (rng.random() - 0.5) * step + (centre - value) * 0.01


def write_measurements(path: Path) -> None:
    rng = random.Random(SEED)
    state = {
        sensor: [18.0 + 6 * rng.random(), 40.0 + 20 * rng.random(), 1008.0 + 10 * rng.random(), 3.70]
        for sensor in SENSORS
    }
    start = datetime(2024, 1, 1)
    lines = ["timestamp,sensor_id,temperature_c,humidity_pct,pressure_hpa,battery_v\n"]
    for minute in range(MINUTES):
        stamp = (start + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for sensor in SENSORS:
            temp, hum, pres, batt = state[sensor]
            temp = walk(rng, temp, 21.0, 0.30)
            hum = min(100.0, max(0.0, walk(rng, hum, 50.0, 0.80)))
            pres = walk(rng, pres, 1013.0, 0.20)
            batt = max(3.0, batt - 0.00002 * rng.random())
            state[sensor] = [temp, hum, pres, batt]
            lines.append(f"{stamp},{sensor},{temp:.3f},{hum:.3f},{pres:.2f},{batt:.4f}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="ascii", newline="\n")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_photo(path: Path, width: int, height: int, colours: tuple[tuple[int, int, int], ...]) -> None:
    """A gradient between four corner colours plus strong per-channel noise, saved as an RGB PNG."""
    noise = hashlib.shake_256(f"{SEED}:{path.name}".encode()).digest(width * height * 3)
    (tl, tr, bl, br) = colours
    raw = bytearray()
    i = 0
    for y in range(height):
        raw.append(0)  # PNG filter type 0 (None) for each scanline
        fy = y / (height - 1)
        for x in range(width):
            fx = x / (width - 1)
            for c in range(3):
                top = tl[c] + (tr[c] - tl[c]) * fx
                bottom = bl[c] + (br[c] - bl[c]) * fx
                value = int(top + (bottom - top) * fy) + noise[i] % 97 - 48
                raw.append(0 if value < 0 else 255 if value > 255 else value)
                i += 1
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    png += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)


def write_database(path: Path) -> None:
    rng = random.Random(SEED + 1)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA page_size = 4096")
        conn.executescript(
            """
            CREATE TABLE sensors (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                location TEXT NOT NULL,
                installed_on TEXT NOT NULL
            );
            CREATE TABLE daily_stats (
                sensor_id INTEGER NOT NULL REFERENCES sensors(id),
                day TEXT NOT NULL,
                temperature_min REAL NOT NULL,
                temperature_max REAL NOT NULL,
                humidity_mean REAL NOT NULL,
                PRIMARY KEY (sensor_id, day)
            ) WITHOUT ROWID;
            CREATE TABLE maintenance_log (
                id INTEGER PRIMARY KEY,
                sensor_id INTEGER NOT NULL REFERENCES sensors(id),
                logged_on TEXT NOT NULL,
                note TEXT NOT NULL
            );
            """
        )
        with conn:
            for n, (name, location) in enumerate(zip(SENSORS, LOCATIONS, strict=True), start=1):
                installed = date(2022, 1, 1) + timedelta(days=int(rng.random() * 600))
                conn.execute("INSERT INTO sensors VALUES (?, ?, ?, ?)", (n, name, location, installed.isoformat()))
            for n in range(1, len(SENSORS) + 1):
                temp = 15.0 + 10 * rng.random()
                for d in range(366):
                    temp = walk(rng, temp, 20.0, 2.0)
                    low, high = temp - 3 * rng.random(), temp + 3 * rng.random()
                    day = (date(2024, 1, 1) + timedelta(days=d)).isoformat()
                    conn.execute(
                        "INSERT INTO daily_stats VALUES (?, ?, ?, ?, ?)",
                        (n, day, round(low, 2), round(high, 2), round(40 + 20 * rng.random(), 2)),
                    )
            actions = ["Replaced battery", "Recalibrated humidity probe", "Cleaned housing", "Firmware updated"]
            for n in range(1, 401):
                sensor_id = 1 + int(rng.random() * len(SENSORS))
                logged = date(2024, 1, 1) + timedelta(days=int(rng.random() * 366))
                action = actions[int(rng.random() * len(actions))]
                note = f"{action}; readings checked against the reference unit, drift {rng.random():.3f} C."
                conn.execute(
                    "INSERT INTO maintenance_log VALUES (?, ?, ?, ?)", (n, sensor_id, logged.isoformat(), note)
                )
    finally:
        conn.close()


def write_model(path: Path) -> None:
    """An old model's weights, pickled the way scikit-learn models often are: floats in a dict."""
    import pickle
    from array import array

    rng = random.Random(SEED + 2)
    weights, value = array("d"), 0.0
    for _ in range(300_000):
        value = walk(rng, value, 0.0, 0.05)
        weights.append(round(value, 4))
    model = {"name": "churn", "version": 1, "features": SENSORS, "weights": weights}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model, protocol=4))


def write_design(path: Path) -> None:
    """A layered design file: Photoshop's signature, then noise (image data compresses poorly)."""
    noise = hashlib.shake_256(f"{SEED}:{path.name}".encode()).digest(1_000_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"8BPS\x00\x01" + bytes(20) + noise)


def main() -> None:
    write_measurements(HERE / "data" / "measurements.csv")
    write_photo(HERE / "media" / "photo_1.png", 640, 580, ((250, 120, 40), (250, 200, 90), (30, 40, 90), (90, 60, 130)))
    write_photo(HERE / "media" / "photo_2.png", 640, 580, ((60, 140, 60), (120, 190, 90), (40, 90, 150), (20, 40, 70)))
    write_database(HERE / "db.sqlite3")
    # The model's name is composed: the app's code names no model file, and this generator should not
    # either (slugprof treats a file named in a .py file as one the app may open).
    model = f"churn_model_v{MODEL_VERSION}.pkl"
    write_model(HERE / "models" / model)
    write_design(HERE / "design" / "landing_page.psd")
    names = ("data/measurements.csv", "media/photo_1.png", "media/photo_2.png", "db.sqlite3")
    for name in (*names, f"models/{model}", "design/landing_page.psd"):
        print(f"{name}: {(HERE / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
