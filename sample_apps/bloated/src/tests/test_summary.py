import pandas as pd

from src.summary import summarize


def test_summarize_means_per_sensor():
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-01T00:00:00", "2024-01-01T00:01:00"] * 2),
            "sensor_id": ["a", "a", "b", "b"],
            "temperature_c": [20.0, 22.0, 10.0, 10.0],
            "humidity_pct": [50.0, 50.0, 40.0, 60.0],
            "pressure_hpa": [1000.0, 1002.0, 1010.0, 1010.0],
        }
    )
    result = summarize(df)
    assert result["rows"] == 4
    assert result["from"] == "2024-01-01T00:00:00"
    assert result["mean_by_sensor"]["a"]["temperature_c"] == 21.0
    assert result["mean_by_sensor"]["b"]["humidity_pct"] == 50.0
