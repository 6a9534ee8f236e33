"""The streaming kernel: one compiled loop that turns a series' next points into anomaly scores.

Everything a series keeps between calls lives in `KernelState` (numpy arrays, about 49 kB), and
everything that happens to a point happens in `run_points`, compiled once by numba: features, the series'
own isolation forest (refitted on a reservoir sample of its feature rows), per-signal calibration,
the combination and the alert de-duplication. The backtest, the live detector and the sweeps call
the same function, so they compute the same numbers.

Only this module and its compiled parts (`detectors.features`, `detectors.forest`,
`detectors.calibration`) import numba; they are imported when something is scored, never at CLI start-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from detectors.calibration import calibrate
from detectors.features import features
from detectors.forest import fit_forest, forest_score, rand_uniform
from detectors.layout import (
    ALERT_ROUTINE,
    ALERT_T,
    CAL_N,
    DAY_BINS,
    DEFAULT_STEP,
    FITS,
    FOREST_COLUMNS,
    LAST_FIT_T,
    LAST_ROUTINE,
    LAST_T,
    MIN_CALIBRATION,
    N_COUNTERS,
    N_MEMBERS,
    N_SCALARS,
    P_COMBINED_FLOOR,
    PEAK_BLOCK,
    PEAK_BLOCKS,
    RECORD_BLOCKS,
    RECORD_TOLERANCE,
    REFERENCE_STEP,
    RES_SIZE,
    RESERVOIR,
    RESERVOIR_HORIZON,
    RNG_STATE,
    SETTLE_POINTS,
    SETTLE_SECONDS,
    SMOOTH_MAX,
    STEP,
    STEP_SAMPLES,
    T0,
    UNIT,
    Arr,
    N,
)  # fmt: skip
from detectors.signals import DAY, F_L15, F_REC, F_TOD, M_FOREST, M_LEVEL, M_RECORD, M_SEASONAL, N_FEATURES


@dataclass(frozen=True, slots=True)
class KernelParams:
    """The settings the kernel reads (from `DetectorSettings`)."""

    seed: int
    n_trees: int
    tree_samples: int
    warmup_points: int
    refit_seconds: float
    calibration_window: int
    calibration_horizon_seconds: float
    smoothing_seconds: float
    tail_share: float
    min_points: int
    refractory_seconds: float
    repeat_factor: float
    recent_points: int


@dataclass(slots=True)
class KernelState:
    """Everything one series keeps between calls (plain arrays: cheap to pickle and to size)."""

    sc: np.ndarray
    iv: np.ndarray
    dts: np.ndarray  # the last time steps (their median is the series' step)
    day_profile: np.ndarray
    day_seen: np.ndarray
    day_envelope: np.ndarray  # per time-of-day bin: high/low of earlier visits, of the latest (NaN: none)
    block_hi: np.ndarray
    block_lo: np.ndarray
    reservoir: np.ndarray
    tree_feat: np.ndarray
    tree_thr: np.ndarray
    cal_sorted: np.ndarray
    cal_ring: np.ndarray
    smooth: np.ndarray  # each signal's last raw values (smoothing)
    peaks: np.ndarray  # lowest tail probability per block of the refractory window
    recent_t: np.ndarray
    recent_s: np.ndarray
    recent_p: np.ndarray
    last_row: np.ndarray
    last_p: np.ndarray
    alert_row: np.ndarray  # the latest point that was not a repeat (the one an alert is about)
    alert_p: np.ndarray

    @classmethod
    def new(cls, p: KernelParams) -> KernelState:
        depth = max(1, math.ceil(math.log2(max(p.tree_samples, 2))))
        nodes = 2 ** (depth + 1) - 1
        iv = np.zeros(N_COUNTERS, dtype=np.int64)
        iv[RNG_STATE] = (p.seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0x7FFFFFFFFFFFFFFF
        sc = np.zeros(N_SCALARS)
        sc[T0] = sc[LAST_T] = sc[STEP] = math.nan
        return cls(
            sc=sc,
            iv=iv,
            dts=np.zeros(STEP_SAMPLES),
            day_profile=np.zeros(DAY_BINS),
            day_seen=np.zeros(DAY_BINS, dtype=np.int32),
            day_envelope=np.full((4, DAY_BINS), np.nan, dtype=np.float32),
            block_hi=np.full(RECORD_BLOCKS, -np.inf),
            block_lo=np.full(RECORD_BLOCKS, np.inf),
            reservoir=np.zeros((RESERVOIR, len(FOREST_COLUMNS)), dtype=np.float32),
            tree_feat=np.full((p.n_trees, nodes), -1, dtype=np.int8),
            tree_thr=np.zeros((p.n_trees, nodes), dtype=np.float32),
            cal_sorted=np.zeros((N_MEMBERS, p.calibration_window), dtype=np.float32),
            cal_ring=np.zeros((N_MEMBERS, p.calibration_window), dtype=np.float32),
            smooth=np.zeros((N_MEMBERS, SMOOTH_MAX), dtype=np.float32),
            peaks=np.ones(PEAK_BLOCKS, dtype=np.float32),  # tail probabilities (1 - score)
            recent_t=np.full(p.recent_points, np.nan),
            recent_s=np.full(p.recent_points, np.nan, dtype=np.float32),  # 1 - score: exact near 1
            recent_p=np.full(p.recent_points, np.nan, dtype=np.float32),
            last_row=np.zeros(N_FEATURES),
            last_p=np.ones(N_MEMBERS),
            alert_row=np.zeros(N_FEATURES),
            alert_p=np.ones(N_MEMBERS),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())

    @property
    def points(self) -> int:
        return int(self.sc[N])

    @property
    def last_t(self) -> float:
        return float(self.sc[LAST_T])

    def fitted(self) -> bool:
        return bool(self.iv[FITS] > 0)


@dataclass(frozen=True, slots=True)
class Scores:
    """Per-point output of one `feed` call: `score` is the alert score (NaN until scored), `probability`
    the same before de-duplication, `expected`/`spread` the baseline the value was judged against, and
    `signal` the index in MEMBERS of the rarest signal (-1 when unscored), as a float."""

    score: np.ndarray
    probability: np.ndarray
    expected: np.ndarray
    spread: np.ndarray
    signal: np.ndarray


def feed(state: KernelState, p: KernelParams, timestamps: np.ndarray, values: np.ndarray) -> Scores:
    """Stream consecutive points (seconds since the epoch, finite values) through the series' state.

    A timestamp at or before the previous one is scored as arriving at the previous timestamp (time
    never goes back inside the state)."""
    out = np.empty((5, len(values)))
    st = state
    run_points(
        st.sc, st.iv, st.dts, st.day_profile, st.day_seen, st.day_envelope, st.block_hi, st.block_lo,
        st.reservoir, st.tree_feat, st.tree_thr, st.cal_sorted, st.cal_ring, st.smooth, st.peaks, st.recent_t,
        st.recent_s, st.recent_p, st.last_row, st.last_p, st.alert_row, st.alert_p,
        timestamps if timestamps.dtype == np.float64 else timestamps.astype(np.float64),
        values if values.dtype == np.float64 else values.astype(np.float64),
        out, FOREST_COLUMNS, p.tree_samples, p.warmup_points, p.refit_seconds, p.tail_share, p.min_points,
        p.repeat_factor, p.calibration_window, p.calibration_horizon_seconds, p.smoothing_seconds,
        p.refractory_seconds,
    )  # fmt: skip
    return Scores(out[0], out[1], out[2], out[3], out[4])


# ----------------------------------------------------------------------------------------------
# The compiled loop (its parts: detectors.features, detectors.forest, detectors.calibration).


@njit(cache=True)
def run_points(
    sc: Arr, iv: Arr, dts: Arr, day_profile: Arr, day_seen: Arr, day_envelope: Arr, block_hi: Arr,
    block_lo: Arr, reservoir: Arr, tree_feat: Arr, tree_thr: Arr, cal_sorted: Arr, cal_ring: Arr,
    smooth: Arr, peaks: Arr, recent_t: Arr, recent_s: Arr, recent_p: Arr, last_row: Arr, last_p: Arr,
    alert_row: Arr, alert_p: Arr, timestamps: Arr, values: Arr, out: Arr, forest_features: Arr,
    tree_samples: int, warmup_points: int, refit_seconds: float, tail_share: float, min_points: int,
    repeat_factor: float, window: int, horizon_seconds: float, smoothing_seconds: float,
    refractory_seconds: float,
) -> None:  # fmt: skip
    """Score each point in turn. Durations (seconds) become points of this series with its step, per
    point: smoothing width, the calibration window's memory, the reservoir's, the refractory window
    (time blocks) and the refit interval (elapsed time)."""
    n_forest = forest_features.shape[0]
    row = np.zeros(last_row.shape[0])
    row32 = np.zeros(n_forest, dtype=np.float32)
    base = np.zeros(3)  # expected value, spread, 1.0 if inside this time of day's earlier range
    n_peaks = peaks.shape[0] if refractory_seconds > 0 else 0
    block_seconds = refractory_seconds / peaks.shape[0] if refractory_seconds > 0 else 1.0
    n_recent = recent_t.shape[0]
    for k in range(values.shape[0]):
        t = max(timestamps[k], sc[LAST_T]) if sc[N] > 0 else timestamps[k]
        x = values[k]
        features(sc, iv, dts, day_profile, day_seen, day_envelope, block_hi, block_lo, t, x, row, base)
        step = sc[STEP] if sc[STEP] > 0 else DEFAULT_STEP
        smoothing = max(1, round(smoothing_seconds / step))
        keep = min(1.0, window * step / horizon_seconds)
        for j in range(n_forest):
            row32[j] = np.float32(row[forest_features[j]])
        # members: raw signals, each calibrated on this series' own recent history. The settling
        # points (SETTLE_SECONDS, at least SETTLE_POINTS) only teach the running statistics: their
        # features are measured against statistics that have not settled, and would teach
        # calibration and forest that wild values are normal.
        ps = np.ones(4)
        if sc[N] > SETTLE_POINTS and sc[LAST_T] - sc[T0] >= SETTLE_SECONDS:
            if iv[FITS] > 0:
                psi = float(min(tree_samples, iv[RES_SIZE]))
                raw = forest_score(row32, tree_feat, tree_thr, psi)
                ps[M_FOREST] = calibrate(
                    M_FOREST, raw, iv, cal_sorted, cal_ring, smooth, tail_share, smoothing, UNIT, keep
                )
            ps[M_SEASONAL] = calibrate(
                M_SEASONAL,
                abs(row[F_TOD]),
                iv,
                cal_sorted,
                cal_ring,
                smooth,
                tail_share,
                smoothing,
                UNIT,
                keep,
            )
            ps[M_LEVEL] = calibrate(
                M_LEVEL, abs(row[F_L15]), iv, cal_sorted, cal_ring, smooth, tail_share, smoothing, UNIT, keep
            )
            # A record counts on the point it happens, once a day of history defines "the range", and
            # only beyond a tolerance of RECORD_TOLERANCE of the range (noise grazes its extremes).
            rec = 0.0
            if sc[LAST_T] - sc[T0] >= DAY:
                rec = max(math.expm1(abs(row[F_REC])) - RECORD_TOLERANCE, 0.0)
            ps[M_RECORD] = calibrate(
                M_RECORD, rec, iv, cal_sorted, cal_ring, smooth, tail_share, 0, RECORD_TOLERANCE, keep
            )
            if rec == 0.0:
                ps[M_RECORD] = 1.0
            # the forest learns this series' usual combinations from a reservoir sample of its rows
            size = iv[RES_SIZE]
            if size < reservoir.shape[0]:
                reservoir[size, :] = row32
                iv[RES_SIZE] = size + 1
            elif rand_uniform(iv) < reservoir.shape[0] * step / RESERVOIR_HORIZON:
                reservoir[int(rand_uniform(iv) * size), :] = row32
        if (iv[FITS] == 0 and iv[RES_SIZE] >= warmup_points) or (
            iv[FITS] > 0 and t - sc[LAST_FIT_T] >= refit_seconds
        ):
            fit_forest(reservoir, iv[RES_SIZE], tree_feat, tree_thr, iv, tree_samples)
            iv[FITS] += 1
            sc[LAST_FIT_T] = t
        if n_peaks > 0:  # the refractory window moves on: blocks older than it are forgotten
            b = int(t // block_seconds)
            bid = int(sc[PEAK_BLOCK]) if sc[N] > 1 else b
            for j in range(bid + 1, min(b, bid + n_peaks) + 1):
                peaks[j % n_peaks] = 1.0
            sc[PEAK_BLOCK] = max(b, bid)
        # combine: two of the three consensus members must agree (the geometric mean of the two rarest),
        # times the record's probability
        scored = sc[N] >= min_points and iv[CAL_N + M_SEASONAL] >= MIN_CALIBRATION
        prob = math.nan
        score = math.nan
        q = 1.0
        q_score = 1.0
        rarest = -1
        if scored:
            logs = math.log(ps[M_SEASONAL]) + math.log(ps[M_LEVEL])
            if iv[FITS] > 0 and iv[CAL_N + M_FOREST] >= MIN_CALIBRATION:
                logs += math.log(ps[M_FOREST]) - math.log(max(ps[M_FOREST], ps[M_SEASONAL], ps[M_LEVEL]))
            # kept as float32 tail probabilities, so every score is 1 - (a float32): the same number
            # whether it comes straight out of this loop or back from the recent-points ring
            # a rarity per REFERENCE_STEP of series time, not per point (one threshold, one false-alarm
            # rate per week, whatever the step)
            rarity = math.exp(logs / 2.0) * ps[M_RECORD] * REFERENCE_STEP / step
            if base[2] > 0.0:  # this time of day has shown this value on earlier days: at most daily
                rarity = max(rarity, REFERENCE_STEP / DAY)
            q = float(np.float32(max(min(rarity, 1.0), P_COMBINED_FLOOR)))
            prob = 1.0 - q
            rarest = 0
            for m in range(1, 4):
                if ps[m] < ps[rarest]:
                    rarest = m
            score = prob
            q_score = q
            if n_peaks > 0 and np.float32(q) >= peaks.min():  # no higher than a point of the window
                q_score = float(np.float32(1.0 - prob * repeat_factor))
                score = 1.0 - q_score
            else:
                sc[ALERT_T] = t
                sc[ALERT_ROUTINE] = base[2]
                for j in range(row.shape[0]):
                    alert_row[j] = row[j]
                for m in range(4):
                    alert_p[m] = ps[m]
        if n_peaks > 0 and not math.isnan(prob):
            slot_b = int(sc[PEAK_BLOCK]) % n_peaks
            peaks[slot_b] = min(peaks[slot_b], q)
        slot = int(sc[N] - 1) % n_recent
        recent_t[slot] = t
        recent_s[slot] = math.nan if math.isnan(score) else q_score
        recent_p[slot] = math.nan if math.isnan(prob) else q
        sc[LAST_ROUTINE] = base[2]
        for j in range(row.shape[0]):
            last_row[j] = row[j]
        for m in range(4):
            last_p[m] = ps[m]
        out[0, k] = score
        out[1, k] = prob
        out[2, k] = base[0]
        out[3, k] = base[1]
        out[4, k] = rarest


def _guard_the_cache() -> None:
    import sys

    from detectors import calibration as calibration_module
    from detectors import features as features_module
    from detectors import forest as forest_module
    from detectors.jit_cache import compiled_functions, guard

    guard(compiled_functions(features_module, forest_module, calibration_module, sys.modules[__name__]))


_guard_the_cache()


@njit(cache=True)
def recent_in_order(recent_t: Arr, recent_s: Arr, recent_p: Arr, points: int) -> tuple[Arr, Arr, Arr]:
    """The recent-points ring (slot (n - 1) % size holds point n) as arrays, oldest first."""
    size = recent_t.shape[0]
    have = min(points, size)
    t = np.empty(have)
    s = np.empty(have, dtype=np.float32)
    p = np.empty(have, dtype=np.float32)
    for i in range(have):
        j = (points - have + i) % size
        t[i], s[i], p[i] = recent_t[j], recent_s[j], recent_p[j]
    return t, s, p


@njit(cache=True)
def window_peaks(times: Arr, tail_s: Arr, tail_p: Arr, cut: float) -> tuple[int, int]:
    """Indices of the lowest alert-score tail and the lowest probability tail among the points after
    `cut` (times never go back; the latest of equals), -1 where none of them was scored."""
    k_s, k_p = -1, -1
    for k in range(times.shape[0] - 1, -1, -1):
        if times[k] <= cut:
            break
        if tail_s[k] == tail_s[k] and (k_s < 0 or tail_s[k] < tail_s[k_s]):
            k_s = k
        if tail_p[k] == tail_p[k] and (k_p < 0 or tail_p[k] < tail_p[k_p]):
            k_p = k
    return k_s, k_p
