from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent


def test_measurements_csv_header():
    with open(APP_DIR / "data" / "measurements.csv", encoding="ascii") as f:
        assert f.readline().strip() == "timestamp,sensor_id,temperature_c,humidity_pct,pressure_hpa,battery_v"


def test_media_files_are_pngs():
    for name in ("photo_1.png", "photo_2.png"):
        assert (APP_DIR / "media" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
