"""Names of the detector's features and signals (no heavy imports: explanations and results use them)."""

from __future__ import annotations

MINUTE, HOUR, DAY, WEEK = 60.0, 3600.0, 86400.0, 7 * 86400.0
# Time constants of the running means and variances, and the fewest points each must span: on
# hourly data the "15-min" mean spans 3 points, the "1-hour" one 6.
TAUS = (15 * MINUTE, HOUR, DAY, WEEK)
TAU_MIN_STEPS = (3.0, 6.0, 24.0, 96.0)

FEATURE_NAMES: tuple[str, ...] = (
    "z_value_1d",
    "z_value_1h",
    "z_diff",
    "level_1h_vs_1d",
    "level_15m_vs_7d",
    "level_1d_vs_7d",
    "var_1h_vs_1d",
    "var_1d_vs_7d",
    "z_time_of_day",
    "gap",
    "record_7d",
)
N_FEATURES = len(FEATURE_NAMES)
F_Z1D, F_Z1H, F_DIFF, F_L1H, F_L15, F_L1D, F_V1H, F_V1D, F_TOD, F_GAP, F_REC = range(N_FEATURES)
# What the isolation forest sees: features that carry signal on their own (every split of an
# isolation tree picks a feature at random, so weak features dilute the strong ones).
FOREST_FEATURES = (F_TOD, F_L15, F_Z1D, F_V1H, F_DIFF)

# The four signals, each calibrated to a tail probability on its own series.
MEMBERS = ("forest", "seasonal", "level", "record")
M_FOREST, M_SEASONAL, M_LEVEL, M_RECORD = range(len(MEMBERS))
MEMBER_TEXT = {
    "forest": "isolation forest (unusual combination)",
    "seasonal": "value vs its usual level for the time of day",
    "level": "level shift vs the 7-day baseline",
    "record": "beyond its 7-day high/low",
}


def window_name(seconds: float) -> str:
    """15-min, 1-hour, 3-hour, 1-day, 7-day: how explanations name a running window."""
    if seconds < 3600:
        return f"{round(seconds / 60)}-min"
    if seconds < 86400:
        return f"{round(seconds / 3600)}-hour"
    return f"{round(seconds / 86400)}-day"
