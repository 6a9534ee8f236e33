"""Per-signal calibration, compiled: a raw signal value becomes a tail probability on its own series
(an empirical window with an exponential tail beyond its top share)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from detectors.forest import rand_uniform
from detectors.layout import CAL_N, CAL_POS, MIN_CALIBRATION, MIN_TAIL, P_FLOOR, SM_N, Arr


@njit(cache=True)
def tail_probability(sorted_m: Arr, n: int, tail_share: float, r: float, unit: float) -> float:
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
    beta = tail_scale(sorted_m, n, k, unit)
    share = (n - k) / (n + 1.0)
    return max(share * math.exp(-(r32 - u) / beta), P_FLOOR)


@njit(cache=True)
def tail_scale(sorted_m: Arr, n: int, k: int, unit: float) -> float:
    """Scale of the exponential tail above sorted_m[k]: the mean excess, but never below a quarter of
    the median-to-tail distance (nor `unit`)."""
    u = sorted_m[k]
    excess = 0.0
    for i in range(k, n):
        excess += sorted_m[i] - u
    return float(max(excess / (n - k), 0.25 * (u - sorted_m[n // 2]), unit, 1e-6 * abs(u)))


@njit(cache=True)
def push_sorted(sorted_m: Arr, ring_m: Arr, n: int, pos: int, r: float, slot: int) -> tuple[int, int]:
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
def calibrate(
    m: int, raw: float, iv: Arr, cal_sorted: Arr, cal_ring: Arr, smooth: Arr, tail_share: float,
    width: int, unit: float, keep: float,
) -> float:  # fmt: skip
    """Tail probability of member m's next raw value (the mean of its last `width` raw values, at most
    the smoothing ring's size), then remember it; 1.0 while the member has too little history."""
    ring = smooth.shape[1]
    k = iv[SM_N + m]
    smooth[m, k % ring] = raw
    iv[SM_N + m] = k + 1
    have = min(k + 1, max(1, min(width, ring)))
    value = 0.0
    for i in range(have):
        value += smooth[m, (k - i) % ring]
    value /= have
    n = iv[CAL_N + m]
    p = 1.0 if n < MIN_CALIBRATION else tail_probability(cal_sorted[m], n, tail_share, value, unit)
    if n >= MIN_TAIL:  # robust: an anomaly may stretch the window by one tail scale a point
        k = min(int((1.0 - tail_share) * n), n - 1)
        value = min(value, cal_sorted[m, n - 1] + tail_scale(cal_sorted[m], n, k, unit))
    window = cal_ring.shape[1]
    if n < window:
        iv[CAL_N + m], iv[CAL_POS + m] = push_sorted(cal_sorted[m], cal_ring[m], n, n, value, 0)
    elif rand_uniform(iv) < keep:  # a full window keeps a random sample: memory of `window / keep` points
        push_sorted(cal_sorted[m], cal_ring[m], n, 0, value, int(rand_uniform(iv) * window))
    return p
