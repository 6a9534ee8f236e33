"""The streaming kernel: one compiled loop that turns a series' next points into anomaly scores.

Everything a series keeps between calls lives in `KernelState` (numpy arrays, about 49 kB), and
everything that happens to a point happens in `_run`, compiled once by numba: features, the series'
own isolation forest (refitted on a reservoir sample of its feature rows), per-signal calibration,
the combination and the alert de-duplication. The backtest, the live detector and the sweeps call
the same function, so they compute the same numbers.

Only this module imports numba; it is imported when something is scored, never at CLI start-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from detectors.signals import (
    DAY,
    F_DIFF,
    F_GAP,
    F_L1D,
    F_L1H,
    F_L15,
    F_REC,
    F_TOD,
    F_V1D,
    F_V1H,
    F_Z1D,
    F_Z1H,
    FOREST_FEATURES,
    HOUR,
    M_FOREST,
    M_LEVEL,
    M_RECORD,
    M_SEASONAL,
    MEMBERS,
    N_FEATURES,
    TAU_MIN_STEPS,
    TAUS,
)  # fmt: skip

# ----------------------------------------------------------------------------------------------
# Layout of the scalar state (`sc`, float64) and the counters (`iv`, int64).
N, T0, LAST_T, LAST_X, STEP = 0, 1, 2, 3, 4
MEAN, VAR, CNT = 5, 9, 13  # 4 running means, variances and counts (time constants TAUS)
DIFF_VAR, LEVEL, DAY_RES_VAR, BLOCK_ID, ALERT_T = 17, 18, 19, 20, 21
N_SCALARS = 24
FITS, SINCE_FIT, RES_SIZE, RNG_STATE, CAL_N, CAL_POS, SM_N = 0, 1, 2, 3, 4, 8, 12
N_COUNTERS = 16

DAY_BINS = 48
RECORD_BLOCKS = 168  # hourly block maxima/minima of the last 7 days
CLIP_SIGMA = 6.0
FOREST_COLUMNS = np.array(FOREST_FEATURES, dtype=np.int64)
Arr = np.ndarray  # the compiled functions take plain arrays (numba ignores these annotations)
N_MEMBERS = len(MEMBERS)

RESERVOIR = 256  # feature rows the forest is refitted on
RESERVOIR_HORIZON = 2016.0  # a row's mean age in the reservoir, in points (a week at 5 min)
SETTLE_POINTS = 48  # points that only teach the running statistics (4 h at 5 min)
MIN_CALIBRATION = 50  # values a signal needs before its probabilities mean anything
MIN_TAIL = 200  # values before the tail beyond the rarest seen is extrapolated
P_FLOOR = 1e-12  # of one signal
P_COMBINED_FLOOR = 1e-15  # of a point: 1 - 1e-15 is still below 1.0 in float64
UNIT = 1e-3  # the smallest scale of a tail: signals are in (signed-log) sigmas or forest scores
# Records closer than this share of the 7-day range to its extreme do not count (as in HTM's spatial
# anomaly rule, whose tolerance is the same 5%).
RECORD_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class KernelParams:
    """The settings the kernel reads (from `DetectorSettings`)."""

    seed: int
    n_trees: int
    tree_samples: int
    warmup_points: int
    refit_interval: int
    calibration_window: int
    calibration_horizon: int
    smoothing_points: int
    tail_share: float
    min_points: int
    refractory_points: int
    repeat_factor: float
    recent_points: int


@dataclass(slots=True)
class KernelState:
    """Everything one series keeps between calls (plain arrays: cheap to pickle and to size)."""

    sc: np.ndarray
    iv: np.ndarray
    day_profile: np.ndarray
    day_seen: np.ndarray
    block_hi: np.ndarray
    block_lo: np.ndarray
    reservoir: np.ndarray
    tree_feat: np.ndarray
    tree_thr: np.ndarray
    cal_sorted: np.ndarray
    cal_ring: np.ndarray
    smooth: np.ndarray
    peaks: np.ndarray
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
            day_profile=np.zeros(DAY_BINS),
            day_seen=np.zeros(DAY_BINS, dtype=np.int32),
            block_hi=np.full(RECORD_BLOCKS, -np.inf),
            block_lo=np.full(RECORD_BLOCKS, np.inf),
            reservoir=np.zeros((RESERVOIR, len(FOREST_COLUMNS)), dtype=np.float32),
            tree_feat=np.full((p.n_trees, nodes), -1, dtype=np.int8),
            tree_thr=np.zeros((p.n_trees, nodes), dtype=np.float32),
            cal_sorted=np.zeros((N_MEMBERS, p.calibration_window), dtype=np.float32),
            cal_ring=np.zeros((N_MEMBERS, p.calibration_window), dtype=np.float32),
            smooth=np.zeros((N_MEMBERS, p.smoothing_points)),
            peaks=np.ones(p.refractory_points, dtype=np.float32),  # tail probabilities (1 - score)
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
    _run(
        st.sc, st.iv, st.day_profile, st.day_seen, st.block_hi, st.block_lo, st.reservoir, st.tree_feat,
        st.tree_thr, st.cal_sorted, st.cal_ring, st.smooth, st.peaks, st.recent_t, st.recent_s, st.recent_p,
        st.last_row, st.last_p, st.alert_row, st.alert_p,
        timestamps if timestamps.dtype == np.float64 else timestamps.astype(np.float64),
        values if values.dtype == np.float64 else values.astype(np.float64),
        out, FOREST_COLUMNS, p.tree_samples, p.warmup_points, p.refit_interval, p.tail_share, p.min_points,
        p.repeat_factor, min(1.0, p.calibration_window / p.calibration_horizon),
    )  # fmt: skip
    return Scores(out[0], out[1], out[2], out[3], out[4])


# ----------------------------------------------------------------------------------------------
# The compiled part.


@njit(cache=True)
def _slog(z: float) -> float:
    return math.copysign(math.log1p(abs(z)), z)


@njit(cache=True)
def _rand(iv: np.ndarray) -> float:
    """Uniform in [0, 1) from a splitmix64 stream kept in the counters (deterministic, picklable)."""
    x = np.uint64(iv[RNG_STATE]) + np.uint64(0x9E3779B97F4A7C15)
    iv[RNG_STATE] = np.int64(x & np.uint64(0x7FFFFFFFFFFFFFFF))
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True)
def _c(n: float) -> float:
    """Average path length of an unsuccessful search in a binary search tree of n points."""
    if n <= 1.0:
        return 0.0
    if n <= 2.0:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649) - 2.0 * (n - 1.0) / n


@njit(cache=True)
def _fit(reservoir: Arr, size: int, tree_feat: Arr, tree_thr: Arr, iv: Arr, tree_samples: int) -> None:
    """Grow every tree of the forest on its own random sample of the reservoir (heap layout:
    the children of node i are 2i+1 and 2i+2; a leaf has feature -1 and its path length as threshold)."""
    n_trees, nodes = tree_feat.shape
    depth_limit = round(math.log2(nodes + 1)) - 1
    m = min(tree_samples, size)
    n_feat = reservoir.shape[1]
    order = np.arange(size)
    work = np.empty(m, dtype=np.int64)
    stack_node = np.empty(nodes, dtype=np.int64)
    stack_lo = np.empty(nodes, dtype=np.int64)
    stack_hi = np.empty(nodes, dtype=np.int64)
    stack_depth = np.empty(nodes, dtype=np.int64)
    for t in range(n_trees):
        for i in range(m):  # partial Fisher-Yates: a sample without replacement
            j = i + int(_rand(iv) * (size - i))
            order[i], order[j] = order[j], order[i]
            work[i] = order[i]
        tree_feat[t, :] = -1
        tree_thr[t, :] = 0.0
        top = 0
        stack_node[0], stack_lo[0], stack_hi[0], stack_depth[0] = 0, 0, m, 0
        top = 1
        while top > 0:
            top -= 1
            node, lo, hi, depth = stack_node[top], stack_lo[top], stack_hi[top], stack_depth[top]
            count = hi - lo
            split_feature = -1
            lo_v = 0.0
            hi_v = 0.0
            if depth < depth_limit and count > 1:
                start = int(_rand(iv) * n_feat)
                for k in range(n_feat):  # a random feature that is not constant here
                    f = (start + k) % n_feat
                    a = reservoir[work[lo], f]
                    b = a
                    for r in range(lo + 1, hi):
                        v = reservoir[work[r], f]
                        a = min(a, v)
                        b = max(b, v)
                    if b > a:
                        split_feature, lo_v, hi_v = f, a, b
                        break
            if split_feature < 0:
                tree_feat[t, node] = -1
                tree_thr[t, node] = depth + _c(count)
                continue
            thr = np.float32(lo_v + _rand(iv) * (hi_v - lo_v))
            if thr <= lo_v:
                thr = np.float32(hi_v)
            i, j = lo, hi - 1
            while i <= j:  # rows below the split go left
                if reservoir[work[i], split_feature] < thr:
                    i += 1
                else:
                    work[i], work[j] = work[j], work[i]
                    j -= 1
            tree_feat[t, node] = split_feature
            tree_thr[t, node] = thr
            for child, clo, chi in ((2 * node + 1, lo, i), (2 * node + 2, i, hi)):
                stack_node[top], stack_lo[top], stack_hi[top], stack_depth[top] = child, clo, chi, depth + 1
                top += 1


@njit(cache=True)
def _forest_raw(row32: Arr, tree_feat: Arr, tree_thr: Arr, psi: float) -> float:
    """Isolation-forest anomaly score of one row: 2^(-mean path length / c(psi)), about 0.3-0.8."""
    n_trees = tree_feat.shape[0]
    total = 0.0
    for t in range(n_trees):
        node = 0
        depth = 0
        while tree_feat[t, node] >= 0:
            node = 2 * node + 1 if row32[tree_feat[t, node]] < tree_thr[t, node] else 2 * node + 2
            depth += 1
        total += tree_thr[t, node]
    return float(2.0 ** (-(total / n_trees) / max(_c(psi), 1e-9)))


@njit(cache=True)
def _tail(sorted_m: Arr, n: int, tail_share: float, r: float, unit: float) -> float:
    """Share of the window at least as high as r; beyond the top `tail_share` an exponential tail
    (peaks over threshold) whose scale is never below a quarter of the median-to-tail distance, so a
    window of near-identical values does not turn a tiny wiggle into a one-in-a-trillion event."""
    r32 = np.float32(r)
    k = min(int((1.0 - tail_share) * n), n - 1)
    u = sorted_m[k]
    if r32 <= u or n < MIN_TAIL:
        lo, hi = 0, n  # first index with value >= r32
        while lo < hi:
            mid = (lo + hi) // 2
            if sorted_m[mid] < r32:
                lo = mid + 1
            else:
                hi = mid
        return (n - lo + 1.0) / (n + 1.0)
    beta = _tail_scale(sorted_m, n, k, unit)
    share = (n - k) / (n + 1.0)
    return max(share * math.exp(-(r32 - u) / beta), P_FLOOR)


@njit(cache=True)
def _tail_scale(sorted_m: Arr, n: int, k: int, unit: float) -> float:
    """Scale of the exponential tail above sorted_m[k]: the mean excess, but never below a quarter of
    the median-to-tail distance (nor `unit`)."""
    u = sorted_m[k]
    excess = 0.0
    for i in range(k, n):
        excess += sorted_m[i] - u
    return float(max(excess / (n - k), 0.25 * (u - sorted_m[n // 2]), unit, 1e-6 * abs(u)))


@njit(cache=True)
def _push(sorted_m: Arr, ring_m: Arr, n: int, pos: int, r: float, slot: int) -> tuple[int, int]:
    """Insert r into the sorted window; when it is full, r takes ring slot `slot` (evicting its value)."""
    window = ring_m.shape[0]
    r32 = np.float32(r)
    if n == window:
        pos = slot
        old = ring_m[pos]
        i = 0
        while sorted_m[i] != old:
            i += 1
        for q in range(i, n - 1):
            sorted_m[q] = sorted_m[q + 1]
        n -= 1
    j = n
    while j > 0 and sorted_m[j - 1] > r32:
        sorted_m[j] = sorted_m[j - 1]
        j -= 1
    sorted_m[j] = r32
    ring_m[pos] = r32
    return n + 1, (pos + 1) % window


@njit(cache=True)
def _calibrate(
    m: int, raw: float, iv: Arr, cal_sorted: Arr, cal_ring: Arr, smooth: Arr, tail_share: float,
    smoothing: int, unit: float, keep: float,
) -> float:  # fmt: skip
    """Tail probability of member m's next raw value (smoothed over `smoothing` points), then remember it;
    1.0 while the member has too little history."""
    width = smooth.shape[1] if smoothing else 1
    k = iv[SM_N + m]
    smooth[m, k % width] = raw
    iv[SM_N + m] = k + 1
    have = min(k + 1, width)
    value = 0.0
    for i in range(have):
        value += smooth[m, i]
    value /= have
    n = iv[CAL_N + m]
    p = 1.0 if n < MIN_CALIBRATION else _tail(cal_sorted[m], n, tail_share, value, unit)
    if n >= MIN_TAIL:  # robust: an anomaly may stretch the window by one tail scale a point
        k = min(int((1.0 - tail_share) * n), n - 1)
        value = min(value, cal_sorted[m, n - 1] + _tail_scale(cal_sorted[m], n, k, unit))
    window = cal_ring.shape[1]
    if n < window:
        iv[CAL_N + m], iv[CAL_POS + m] = _push(cal_sorted[m], cal_ring[m], n, n, value, 0)
    elif _rand(iv) < keep:  # a full window keeps a random sample: memory of `window / keep` points
        _push(cal_sorted[m], cal_ring[m], n, 0, value, int(_rand(iv) * window))
    return p


@njit(cache=True)
def _record(sc: Arr, block_hi: Arr, block_lo: Arr, t: float, x: float, floor: float) -> float:
    """How far x goes beyond the highest (+) or lowest (-) value of the last 7 days, in units of that
    range (signed log); 0 inside it. Then folds x into its hourly block."""
    b = int(t // HOUR)
    bid = int(sc[BLOCK_ID])
    if b > bid:
        for k in range(bid + 1, min(b, bid + RECORD_BLOCKS) + 1):
            block_hi[k % RECORD_BLOCKS] = -np.inf
            block_lo[k % RECORD_BLOCKS] = np.inf
        sc[BLOCK_ID] = b
        bid = b
    hi = block_hi.max()
    lo = block_lo.min()
    out = 0.0
    if math.isfinite(hi) and math.isfinite(lo):
        span = max(hi - lo, floor)
        if x > hi:
            out = math.log1p((x - hi) / span)
        elif x < lo:
            out = -math.log1p((lo - x) / span)
    slot = bid % RECORD_BLOCKS
    block_hi[slot] = max(block_hi[slot], x)
    block_lo[slot] = min(block_lo[slot], x)
    return out


@njit(cache=True)
def _features(
    sc: Arr, day_profile: Arr, day_seen: Arr, block_hi: Arr, block_lo: Arr, t: float, x: float,
    row: Arr, base: Arr,
) -> None:  # fmt: skip
    """Feature row of point (t, x) from the state left by earlier points; then fold the point in.
    `base` receives the expected value and its spread (for charts)."""
    first = sc[N] == 0
    if first:
        for i in range(4):
            sc[MEAN + i] = x
            sc[VAR + i] = 0.0
            sc[CNT + i] = 0.0
        sc[T0] = t
        sc[LAST_T] = t
        sc[LAST_X] = x
        sc[LEVEL] = abs(x)
        sc[BLOCK_ID] = t // HOUR
    t = max(t, sc[LAST_T])
    dt = t - sc[LAST_T]
    if not first and dt > 0:
        sc[STEP] = dt if math.isnan(sc[STEP]) else sc[STEP] + 0.05 * (min(dt, 4 * sc[STEP]) - sc[STEP])
    step = sc[STEP] if sc[STEP] > 0 else 300.0
    elapsed = dt if dt > 0 else step * 0.1
    floor = 1e-3 * sc[LEVEL] + 1e-12
    f2 = floor * floor
    means = np.empty(4)
    sds = np.empty(4)
    new_means = np.empty(4)
    new_vars = np.empty(4)
    for i in range(4):
        means[i] = sc[MEAN + i]
        sds[i] = math.sqrt(sc[VAR + i] + f2)
        tau = max(TAUS[i], TAU_MIN_STEPS[i] * step)
        a = max(1.0 - math.exp(-elapsed / tau), 1.0 / (sc[CNT + i] + 1.0))
        d = x - means[i]
        lim = CLIP_SIGMA * sds[i]
        if sc[CNT + i] > 10 and abs(d) > lim:
            d = math.copysign(lim, d)
        new_means[i] = means[i] + a * d
        new_vars[i] = (1.0 - a) * (sc[VAR + i] + a * d * d)
    diff = 0.0 if first else x - sc[LAST_X]
    diff_sd = math.sqrt(sc[DIFF_VAR] + f2)
    day_bin = int((t % DAY) // (DAY / DAY_BINS))
    res_sd = math.sqrt(sc[DAY_RES_VAR] + f2)
    if day_seen[day_bin] > 0 and t - sc[T0] >= DAY:
        expected, spread = day_profile[day_bin], res_sd
    else:
        expected, spread = means[2], sds[2]
    base[0], base[1] = expected, spread
    if first:
        for j in range(N_FEATURES):
            row[j] = 0.0
    else:
        row[F_Z1D] = _slog((x - means[2]) / sds[2])
        row[F_Z1H] = _slog((x - means[1]) / sds[1])
        row[F_DIFF] = _slog(diff / diff_sd)
        row[F_L1H] = _slog((new_means[1] - means[2]) / sds[2])
        row[F_L15] = _slog((new_means[0] - means[3]) / sds[3])
        row[F_L1D] = _slog((new_means[2] - means[3]) / sds[3])
        row[F_V1H] = 0.5 * math.log((new_vars[1] + f2) / (sc[VAR + 2] + f2))
        row[F_V1D] = 0.5 * math.log((new_vars[2] + f2) / (sc[VAR + 3] + f2))
        row[F_TOD] = _slog((x - expected) / spread)
        row[F_GAP] = math.log1p(max(dt / step - 1.0, 0.0))
    rec = _record(sc, block_hi, block_lo, t, x, floor)
    row[F_REC] = 0.0 if first else rec
    # fold the point in
    n = sc[N]
    a_day = max(1.0 - math.exp(-elapsed / DAY), 1.0 / (n + 1.0))
    if not first:
        dd = diff
        if abs(diff) > CLIP_SIGMA * diff_sd and n >= 10:
            dd = math.copysign(CLIP_SIGMA * diff_sd, diff)
        sc[DIFF_VAR] += max(a_day, 1.0 / n) * (dd * dd - sc[DIFF_VAR])
    for i in range(4):
        sc[MEAN + i] = new_means[i]
        sc[VAR + i] = new_vars[i]
        sc[CNT + i] += 1.0
    sc[LEVEL] += a_day * (abs(x) - sc[LEVEL])
    if day_seen[day_bin] > 0:
        res = x - day_profile[day_bin]
        rr = res if abs(res) <= CLIP_SIGMA * res_sd or n < 10 else CLIP_SIGMA * res_sd  # robust scale
        sc[DAY_RES_VAR] += a_day * (rr * rr - sc[DAY_RES_VAR])
        day_profile[day_bin] += (1.0 - math.exp(-elapsed / (3.0 * DAY / DAY_BINS))) * res
    else:
        day_profile[day_bin] = x
    day_seen[day_bin] = min(day_seen[day_bin] + 1, 1_000_000)
    sc[N] = n + 1.0
    sc[LAST_T] = t
    sc[LAST_X] = x


@njit(cache=True)
def _run(
    sc: Arr, iv: Arr, day_profile: Arr, day_seen: Arr, block_hi: Arr, block_lo: Arr, reservoir: Arr,
    tree_feat: Arr, tree_thr: Arr, cal_sorted: Arr, cal_ring: Arr, smooth: Arr, peaks: Arr, recent_t: Arr,
    recent_s: Arr, recent_p: Arr, last_row: Arr, last_p: Arr, alert_row: Arr, alert_p: Arr,
    timestamps: Arr, values: Arr, out: Arr, forest_features: Arr, tree_samples: int, warmup_points: int,
    refit_interval: int, tail_share: float, min_points: int, repeat_factor: float, keep: float,
) -> None:  # fmt: skip
    n_forest = forest_features.shape[0]
    row = np.zeros(last_row.shape[0])
    row32 = np.zeros(n_forest, dtype=np.float32)
    base = np.zeros(2)
    smoothing = smooth.shape[1]
    n_peaks = peaks.shape[0]
    n_recent = recent_t.shape[0]
    for k in range(values.shape[0]):
        t = max(timestamps[k], sc[LAST_T]) if sc[N] > 0 else timestamps[k]
        x = values[k]
        _features(sc, day_profile, day_seen, block_hi, block_lo, t, x, row, base)
        for j in range(n_forest):
            row32[j] = np.float32(row[forest_features[j]])
        # members: raw signals, each calibrated on this series' own recent history. The first
        # SETTLE_POINTS points only teach the running statistics: their features are measured
        # against statistics that have not settled, and would teach calibration and forest that
        # wild values are normal.
        ps = np.ones(4)
        if sc[N] > SETTLE_POINTS:
            if iv[FITS] > 0:
                psi = float(min(tree_samples, iv[RES_SIZE]))
                raw = _forest_raw(row32, tree_feat, tree_thr, psi)
                ps[M_FOREST] = _calibrate(
                    M_FOREST, raw, iv, cal_sorted, cal_ring, smooth, tail_share, smoothing, UNIT, keep
                )
            ps[M_SEASONAL] = _calibrate(
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
            ps[M_LEVEL] = _calibrate(
                M_LEVEL, abs(row[F_L15]), iv, cal_sorted, cal_ring, smooth, tail_share, smoothing, UNIT, keep
            )
            # A record counts on the point it happens, once a day of history defines "the range", and
            # only beyond a tolerance of RECORD_TOLERANCE of the range (noise grazes its extremes).
            rec = 0.0
            if sc[LAST_T] - sc[T0] >= DAY:
                rec = max(math.expm1(abs(row[F_REC])) - RECORD_TOLERANCE, 0.0)
            ps[M_RECORD] = _calibrate(
                M_RECORD, rec, iv, cal_sorted, cal_ring, smooth, tail_share, 0, RECORD_TOLERANCE, keep
            )
            if rec == 0.0:
                ps[M_RECORD] = 1.0
            # the forest learns this series' usual combinations from a reservoir sample of its rows
            size = iv[RES_SIZE]
            if size < reservoir.shape[0]:
                reservoir[size, :] = row32
                iv[RES_SIZE] = size + 1
            elif _rand(iv) < reservoir.shape[0] / RESERVOIR_HORIZON:
                reservoir[int(_rand(iv) * size), :] = row32
        iv[SINCE_FIT] += 1
        if (iv[FITS] == 0 and iv[RES_SIZE] >= warmup_points) or (
            iv[FITS] > 0 and iv[SINCE_FIT] >= refit_interval
        ):
            _fit(reservoir, iv[RES_SIZE], tree_feat, tree_thr, iv, tree_samples)
            iv[FITS] += 1
            iv[SINCE_FIT] = 0
        # combine: geometric mean of the consensus members, times the record's probability
        scored = sc[N] >= min_points and iv[CAL_N + M_SEASONAL] >= MIN_CALIBRATION
        prob = math.nan
        score = math.nan
        q = 1.0
        q_score = 1.0
        rarest = -1
        if scored:
            logs = math.log(ps[M_SEASONAL]) + math.log(ps[M_LEVEL])
            count = 2.0
            if iv[FITS] > 0 and iv[CAL_N + M_FOREST] >= MIN_CALIBRATION:
                logs += math.log(ps[M_FOREST])
                count += 1.0
            # kept as float32 tail probabilities, so every score is 1 - (a float32): the same number
            # whether it comes straight out of this loop or back from the recent-points ring
            q = float(np.float32(max(math.exp(logs / count) * ps[M_RECORD], P_COMBINED_FLOOR)))
            prob = 1.0 - q
            rarest = 0
            for m in range(1, 4):
                if ps[m] < ps[rarest]:
                    rarest = m
            score = prob
            q_score = q
            if n_peaks > 0 and np.float32(q) >= peaks.min():  # no higher than one of the last n_peaks
                q_score = float(np.float32(1.0 - prob * repeat_factor))
                score = 1.0 - q_score
            else:
                sc[ALERT_T] = t
                for j in range(row.shape[0]):
                    alert_row[j] = row[j]
                for m in range(4):
                    alert_p[m] = ps[m]
        if n_peaks > 0:
            peaks[int(sc[N] - 1) % n_peaks] = 1.0 if math.isnan(prob) else q
        slot = int(sc[N] - 1) % n_recent
        recent_t[slot] = t
        recent_s[slot] = math.nan if math.isnan(score) else q_score
        recent_p[slot] = math.nan if math.isnan(prob) else q
        for j in range(row.shape[0]):
            last_row[j] = row[j]
        for m in range(4):
            last_p[m] = ps[m]
        out[0, k] = score
        out[1, k] = prob
        out[2, k] = base[0]
        out[3, k] = base[1]
        out[4, k] = rarest
