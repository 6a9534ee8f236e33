"""Detector settings: the `[detector]` section of the application config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DetectorSettings(BaseModel):
    """How the anomaly detector scores metric series.

    Counts are in points of the series (for 5-minute metrics, 288 points are one day). The defaults
    are the ones benchmarked on NAB (see `benchmarks/RESULTS.md`); none of them is tuned per series.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(
        0.996,
        gt=0.0,
        lt=1.0,
        description="Anomaly probability at or above which a point is anomalous (1 - the geometric mean "
        "of the consensus signals' tail probabilities x the record signal's); 0.996 is the NAB optimum, "
        "see docs/detector.md.",
    )
    seed: int = Field(0, ge=0, description="Random seed of the isolation forests; same seed, same scores.")
    n_estimators: int = Field(100, ge=10, le=1000, description="Trees per isolation forest.")
    max_samples: int = Field(256, ge=16, le=4096, description="Rows each tree is grown on.")
    warmup_points: int = Field(
        150,
        ge=50,
        description="Feature rows the forest needs before its first fit (a private forest: points of its "
        "series; the shared forest: rows of all series).",
    )
    refit_interval: int = Field(
        288,
        ge=10,
        description="Points between forest refits on the sliding history (288 = one day at 5 min).",
    )
    history_window: int = Field(
        4032,
        ge=100,
        description="Points of sliding history the forest is refitted on (4032 = two weeks at 5 min).",
    )
    shared_history_rows: int = Field(
        32768,
        ge=1000,
        description="Feature rows the forest shared by live series is refitted on (a random sample that "
        "forgets old rows gradually).",
    )
    shared_refit_rows: int = Field(
        20_000,
        ge=100,
        description="New rows (from all series together) between refits of the shared forest.",
    )
    calibration_window: int = Field(
        1008,
        ge=100,
        description="Recent raw scores per signal a series keeps to calibrate new ones "
        "(1008 = 3.5 days at 5 min).",
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
        description="Consecutive raw scores averaged before calibration (6 = 30 min at 5 min).",
    )
    recent_points: int = Field(
        288, ge=1, le=10_000, description="Recent per-point scores kept per series for charts."
    )
    tail_share: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Share of the calibration history modelled as the exponential tail that extends the "
        "anomaly probability beyond the rarest score seen so far.",
    )
    refractory_points: int = Field(
        144,
        ge=0,
        le=10_000,
        description="Alert de-duplication: a point scoring no higher than one of the previous "
        "refractory_points points is a repeat of that alert and is reported at repeat_factor x its "
        "score (144 = 12 h at 5 min; 0 turns it off).",
    )
    repeat_factor: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="What a repeat's score is multiplied by (1 keeps repeats, i.e. no de-duplication).",
    )
    max_series_states: int = Field(
        100_000, ge=1, description="Series whose streaming state is kept; the least recently scored go first."
    )
    explain_top: int = Field(3, ge=1, le=10, description="Reasons given per scored point.")

    @model_validator(mode="after")
    def _consistent(self) -> DetectorSettings:
        if self.warmup_points > self.history_window:
            raise ValueError("warmup_points must not exceed history_window")
        return self
