"""Detector settings: the `[detector]` section of the application config."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Keys that counted points (a different duration on every sampling step) and what replaced them.
REPLACED_KEYS = {
    "smoothing_points": "smoothing_minutes",
    "refractory_points": "refractory_minutes",
    "refit_interval": "refit_interval_minutes",
    "calibration_horizon": "calibration_horizon_minutes",
}


class DetectorSettings(BaseModel):
    """How the anomaly detector scores metric series.

    Durations are in minutes: each series converts them to its own points with its step (the median
    of its recent time steps), so one default means the same on 1-minute, 5-minute and hourly data.
    Counts (`*_points`, `calibration_window`) are sample sizes, not durations. Which defaults
    were chosen on which data, and how they score on data they were not chosen on, is in
    `benchmarks/RESULTS.md` ("Detector"); none of them is tuned per series.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(
        0.999,
        gt=0.0,
        lt=1.0,
        description="Score at or above which a point is an anomaly alert, and the gate's default "
        "min_anomaly_score. The score is 1 - the point's tail probability on its own series; 0.999 "
        "flags about one point per series per week on anomaly-free data (docs/detector.md).",
    )
    alert_window_minutes: float = Field(
        60.0,
        gt=0.0,
        description="An alert's score is the highest point score of its metric in this window before "
        "it is scored (an alarm fires after its anomaly began).",
    )
    seed: int = Field(0, ge=0, description="Random seed of the isolation forests; same seed, same scores.")
    n_trees: int = Field(32, ge=4, le=64, description="Trees in each series' isolation forest.")
    tree_samples: int = Field(
        64, ge=8, le=128, description="Feature rows each tree is grown on (sets the tree depth: log2)."
    )
    warmup_points: int = Field(150, ge=20, description="Points a series' forest needs before its first fit.")
    refit_interval_minutes: float = Field(
        1440.0, gt=0.0, description="Time between refits of a series' forest (a day)."
    )
    calibration_window: int = Field(
        512,
        ge=100,
        le=2048,
        description="Values per signal a series keeps to calibrate new ones (a random sample of its "
        "history once full).",
    )
    calibration_horizon_minutes: float = Field(
        2560.0,
        gt=0.0,
        description="Mean age of the values in a full calibration window (at least the window's own "
        "span: then every new value replaces a random old one). 2560 minutes: 512 values at 5 minutes.",
    )
    min_points: int = Field(
        60,
        ge=3,
        description="Points a series must have seen before its scores count; until then `insufficient_data`.",
    )
    smoothing_minutes: float = Field(
        30.0,
        ge=0.0,
        le=1440.0,
        description="Raw signal values of this span are averaged before calibration (at least 1 point, "
        "at most 32: on hourly data every point stands alone). At most half the alert window, so that "
        "an hour-long shift shows within the hour (benchmarks/sweep.py, docs/detector.md).",
    )
    recent_points: int = Field(
        96, ge=12, le=1000, description="Recent per-point scores kept per series (alert windows, charts)."
    )
    tail_share: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Share of the calibration window modelled as the exponential tail that extends a "
        "signal's probability beyond the rarest value seen so far.",
    )
    refractory_minutes: float = Field(
        1440.0,
        ge=0.0,
        le=7 * 1440.0,
        description="Alert de-duplication: a point scoring no higher than a point of the previous "
        "refractory_minutes is a repeat of that alert and scores repeat_factor x its probability "
        "(a day; 0 turns it off).",
    )
    repeat_factor: float = Field(
        0.5, ge=0.0, le=1.0, description="What a repeat's score is multiplied by (1: no de-duplication)."
    )
    max_series_states: int = Field(
        100_000, ge=1, description="Series whose streaming state is kept; the least recently scored go first."
    )
    explain_top: int = Field(3, ge=1, le=10, description="Reasons given per scored point.")

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        """A config written for the point-count keys gets an error naming the key that replaced it."""
        if isinstance(data, dict):
            old = sorted(k for k in data if k in REPLACED_KEYS)
            if old:
                raise ValueError(
                    "; ".join(
                        f"{k} was replaced by {REPLACED_KEYS[k]} (a duration in minutes, converted per "
                        f"series from its sampling step; {k} counted points)"
                        for k in old
                    )
                )
        return data
