"""Time-of-day context: what a series showed at this time of day on earlier days scores at most as a
once-a-day event; what it shows for the first time, and today's own earlier values, do not."""

from __future__ import annotations

import numpy as np

from detectors import layout
from detectors.features import inside_envelope, visit_envelope
from detectors.settings import DetectorSettings
from detectors.stream import SeriesDetector

DAY_POINTS = 288  # 5-minute points
ONCE_A_DAY = 1.0 - layout.REFERENCE_STEP / 86400.0


def _nightly_job(days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A quiet 5-minute metric whose nightly job spikes it tenfold at 03:30 for 10 minutes, each day."""
    rng = np.random.default_rng(seed)
    n = days * DAY_POINTS
    ts = 1_767_225_600.0 + 300.0 * np.arange(n)  # 2026-01-01 00:00 UTC
    vs = 5.0 + rng.normal(0, 0.3, n)
    for day in range(days):
        at = day * DAY_POINTS + 42  # 03:30
        vs[at : at + 2] = 50.0 + rng.normal(0, 1.0, 2)
    return ts, vs


def test_a_nightly_job_is_not_an_anomaly_but_the_same_level_at_a_new_hour_is() -> None:
    settings = DetectorSettings()
    for seed in (1, 2, 3):
        ts, vs = _nightly_job(7, seed)
        surprise = np.arange(5 * DAY_POINTS + 180, 5 * DAY_POINTS + 189)  # day 6, 15:00-15:45
        vs[surprise] = 50.0 + np.random.default_rng(seed).normal(0, 1.0, len(surprise))
        out = SeriesDetector(settings).feed(ts, vs)
        from_day_3 = np.arange(2 * DAY_POINTS, len(vs))
        usual = from_day_3[(from_day_3 < surprise[0]) | (from_day_3 > surprise[-1] + 6)]
        assert np.nanmax(out.probability[usual]) <= ONCE_A_DAY  # the job, and the dip after it
        # the job's level at an hour it never ran (sustained past the 30 minutes of smoothing)
        assert np.nanmax(out.score[surprise]) >= settings.threshold


def _visit(sc: np.ndarray, env: np.ndarray, bins: list[int], value: float) -> None:
    profile = np.full(layout.DAY_BINS, 5.0)
    for b in bins:
        visit_envelope(sc, env, profile, b, value, bool(sc[layout.N] == 0))
        sc[layout.N] += 1


def test_the_envelope_holds_earlier_days_only() -> None:
    sc = np.zeros(layout.N_SCALARS)
    env = np.full((4, layout.DAY_BINS), np.nan, dtype=np.float32)
    _visit(sc, env, [5], 100.0)  # a burst in bin 5 today...
    _visit(sc, env, [6], 5.0)
    assert not inside_envelope(env, 6, 100.0)  # ...is not "seen on earlier days" half an hour later
    _visit(sc, env, [*range(7, layout.DAY_BINS), *range(0, 5)], 5.0)
    assert inside_envelope(env, 5, 100.0)  # the next day, in its own bin
    _visit(sc, env, [5, 6], 5.0)
    assert inside_envelope(env, 6, 100.0)  # and next to it, once that bin's latest visit is today's
    assert inside_envelope(env, 4, 100.0)
    assert not inside_envelope(env, 8, 100.0)  # two bins away: a new hour
    assert not inside_envelope(env, 6, 150.0)  # higher than ever at this time


def test_the_explanation_says_when_this_time_of_day_has_shown_it_before() -> None:
    ts, vs = _nightly_job(5, seed=4)
    job = 4 * DAY_POINTS + 42  # day 5, 03:30
    det = SeriesDetector(DetectorSettings())
    det.feed(ts[: job + 1], vs[: job + 1])
    assert "earlier days" in det.explanation(top=3).text
    det.feed(ts[job + 1 : job + 180], np.full(179, 5.0))
    det.feed(ts[job + 180 : job + 181], np.array([50.0]))  # 18:30: never seen at that hour
    assert "earlier days" not in det.explanation(top=3).text
