"""Detector settings: the `[detector]` section of the application config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectorSettings(BaseModel):
    """How the anomaly detector scores metric series.

    Counts are in points of the series (for 5-minute metrics, 288 points are one day). Which defaults
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
    refit_interval: int = Field(
        288, ge=10, description="Points between refits of a series' forest (288 = one day at 5 min)."
    )
    calibration_window: int = Field(
        512,
        ge=100,
        le=2048,
        description="Values per signal a series keeps to calibrate new ones (a random sample of its "
        "history once full).",
    )
    calibration_horizon: int = Field(
        512,
        ge=100,
        description="Mean age, in points, of the values in a full calibration window (equal to the "
        "window: every new value replaces a random old one).",
    )
    min_points: int = Field(
        150,
        ge=3,
        description="Points a series must have seen before its scores count; until then `insufficient_data`.",
    )
    smoothing_points: int = Field(
        6,
        ge=1,
        le=50,
        description="Consecutive raw values averaged before calibration (6 = 30 min at 5 min).",
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
    refractory_points: int = Field(
        288,
        ge=0,
        le=1000,
        description="Alert de-duplication: a point scoring no higher than one of the previous "
        "refractory_points points is a repeat of that alert and scores repeat_factor x its probability "
        "(288 = one day at 5 min; 0 turns it off).",
    )
    repeat_factor: float = Field(
        0.5, ge=0.0, le=1.0, description="What a repeat's score is multiplied by (1: no de-duplication)."
    )
    max_series_states: int = Field(
        100_000, ge=1, description="Series whose streaming state is kept; the least recently scored go first."
    )
    explain_top: int = Field(3, ge=1, le=10, description="Reasons given per scored point.")
