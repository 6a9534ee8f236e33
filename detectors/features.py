"""Features of one point, compiled: running means and variances that decay with elapsed time, the
time-of-day profile, level and variance shifts, and the 7-day record."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from detectors.layout import (
    BLOCK_ID,
    CLIP_SIGMA,
    CNT,
    CUR_BIN,
    CUR_HI,
    CUR_LO,
    DAY_BINS,
    DAY_RES_VAR,
    DEFAULT_STEP,
    DIFF_VAR,
    DT_N,
    ENVELOPE_DECAY,
    LAST_T,
    LAST_X,
    LEVEL,
    MEAN,
    RECORD_BLOCKS,
    STEP,
    T0,
    VAR,
    Arr,
    N,
)  # fmt: skip
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
    HOUR,
    N_FEATURES,
    TAU_MIN_STEPS,
    TAUS,
)  # fmt: skip


@njit(cache=True)
def slog(z: float) -> float:
    return math.copysign(math.log1p(abs(z)), z)


@njit(cache=True)
def update_step(sc: Arr, iv: Arr, dts: Arr, dt: float) -> None:
    """The series' step: the median of its last len(dts) positive time steps (a gap or a burst of
    jittered points does not move it; a change of sampling rate does, within len(dts) points)."""
    n = iv[DT_N]
    dts[n % dts.shape[0]] = dt
    iv[DT_N] = n + 1
    sc[STEP] = np.median(dts[: min(n + 1, dts.shape[0])])


@njit(cache=True)
def record_excess(sc: Arr, block_hi: Arr, block_lo: Arr, t: float, x: float, floor: float) -> float:
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
def inside_envelope(day_envelope: Arr, day_bin: int, x: float) -> bool:
    """Whether x lies within the high and low that its time-of-day bin or a neighbour reached on earlier
    days (a daily job's spike, the dip after it). Rows 0-1 of `day_envelope` hold each bin's faded
    high/low before its latest visit, rows 2-3 its latest visit's; the bin before this one was last
    visited today, so only its earlier visits count."""
    hi, lo = -math.inf, math.inf
    for db in (-1, 0, 1):
        b = (day_bin + db) % DAY_BINS
        for r in (0, 2):
            if (r == 0 or db >= 0) and day_envelope[r, b] == day_envelope[r, b]:
                hi, lo = max(hi, day_envelope[r, b]), min(lo, day_envelope[r + 1, b])
    return lo <= x <= hi


@njit(cache=True)
def visit_envelope(sc: Arr, day_envelope: Arr, day_profile: Arr, day_bin: int, x: float, first: bool) -> None:
    """Track the high and low of the current visit of a time-of-day bin; when the visit ends it becomes
    the bin's latest visit, and the one before is folded into the bin's envelope, whose older extremes
    fade towards the bin's level over a week of visits."""
    if not first and day_bin == int(sc[CUR_BIN]):
        sc[CUR_HI], sc[CUR_LO] = max(sc[CUR_HI], x), min(sc[CUR_LO], x)
        return
    if not first:
        b = int(sc[CUR_BIN])
        last_hi, last_lo = day_envelope[2, b], day_envelope[3, b]
        if last_hi == last_hi:
            hi, lo, mid = day_envelope[0, b], day_envelope[1, b], day_profile[b]
            if hi == hi:
                last_hi = max(last_hi, mid + (hi - mid) * ENVELOPE_DECAY)
                last_lo = min(last_lo, mid + (lo - mid) * ENVELOPE_DECAY)
            day_envelope[0, b], day_envelope[1, b] = last_hi, last_lo
        day_envelope[2, b], day_envelope[3, b] = sc[CUR_HI], sc[CUR_LO]
    sc[CUR_BIN], sc[CUR_HI], sc[CUR_LO] = day_bin, x, x


@njit(cache=True)
def features(
    sc: Arr, iv: Arr, dts: Arr, day_profile: Arr, day_seen: Arr, day_envelope: Arr, block_hi: Arr,
    block_lo: Arr, t: float, x: float, row: Arr, base: Arr,
) -> None:  # fmt: skip
    """Feature row of point (t, x) from the state left by earlier points; then fold the point in.
    `base` receives the expected value and its spread (for charts), and 1.0 when the value lies inside
    the range its time of day (its half-hour and the two next to it) showed on earlier days."""
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
        update_step(sc, iv, dts, dt)
    step = sc[STEP] if sc[STEP] > 0 else DEFAULT_STEP
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
    base[2] = 1.0 if t - sc[T0] >= DAY and inside_envelope(day_envelope, day_bin, x) else 0.0
    if first:
        for j in range(N_FEATURES):
            row[j] = 0.0
    else:
        row[F_Z1D] = slog((x - means[2]) / sds[2])
        row[F_Z1H] = slog((x - means[1]) / sds[1])
        row[F_DIFF] = slog(diff / diff_sd)
        row[F_L1H] = slog((new_means[1] - means[2]) / sds[2])
        row[F_L15] = slog((new_means[0] - means[3]) / sds[3])
        row[F_L1D] = slog((new_means[2] - means[3]) / sds[3])
        row[F_V1H] = 0.5 * math.log((new_vars[1] + f2) / (sc[VAR + 2] + f2))
        row[F_V1D] = 0.5 * math.log((new_vars[2] + f2) / (sc[VAR + 3] + f2))
        row[F_TOD] = slog((x - expected) / spread)
        row[F_GAP] = math.log1p(max(dt / step - 1.0, 0.0))
    rec = record_excess(sc, block_hi, block_lo, t, x, floor)
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
    visit_envelope(sc, day_envelope, day_profile, day_bin, x, first)
    sc[N] = n + 1.0
    sc[LAST_T] = t
    sc[LAST_X] = x
