import pandas as pd

COLUMNS = ["temperature_c", "humidity_pct", "pressure_hpa"]


def summarize(df: pd.DataFrame) -> dict:
    """Row count, time range and per-sensor means of a measurements frame."""
    means = df.groupby("sensor_id")[COLUMNS].mean().round(2)
    return {
        "rows": len(df),
        "from": df["timestamp"].min().isoformat(),
        "to": df["timestamp"].max().isoformat(),
        "mean_by_sensor": means.to_dict(orient="index"),
    }
