"""Raw scores to a tail probability that means the same on every series.

A series keeps a sliding window of its recent (smoothed) raw scores. A new score's tail probability
`p` is the share of that window at least as high; beyond the window's top `tail_share` the tail is
modelled as exponential (peaks over threshold), so a score far above anything seen gets a `p` far
below 1 / window instead of stopping there. `1 - p` reads as "rarer than (1 - p) of what this series
did recently", whatever the series' unit, scale or noise.
"""

from __future__ import annotations

import math

import numpy as np

MIN_CALIBRATION = 50  # raw scores a series needs before its probabilities mean anything
P_FLOOR = 1e-12


class ScoreCalibrator:
    """Sliding-window calibration of one signal of one series, with consecutive-point smoothing.

    State is two float32 arrays of `window` entries (the window in arrival order and sorted), so a
    window of 1008 costs 8 KB.
    """

    __slots__ = ("_n", "_pos", "_recent", "_ring", "_sorted", "smoothing", "tail_share", "window")

    def __init__(self, *, window: int, tail_share: float, smoothing: int) -> None:
        self.window = window
        self.tail_share = tail_share
        self.smoothing = smoothing
        self._ring = np.zeros(window, dtype=np.float32)
        self._sorted = np.zeros(window, dtype=np.float32)
        self._n = 0
        self._pos = 0
        self._recent: list[float] = []

    def __len__(self) -> int:
        return self._n

    def tail_probability(self, r: float) -> float | None:
        """Share of the window at least as high as `r` (None while there are too few scores)."""
        n = self._n
        if n < MIN_CALIBRATION:
            return None
        values = self._sorted[:n]
        k = min(int((1.0 - self.tail_share) * n), n - 1)
        u = float(values[k])
        r32 = float(np.float32(r))
        if r32 <= u:
            return (n - int(np.searchsorted(values, r32, side="left")) + 1) / (n + 1)
        beta = max(float(values[k:].mean()) - u, 1e-9 * (abs(u) + 1.0))
        share = (n - k) / (n + 1)
        return max(share * math.exp(-(r32 - u) / beta), P_FLOOR)

    def push(self, r: float) -> None:
        r32 = np.float32(r)
        s = self._sorted
        if self._n == self.window:
            old = self._ring[self._pos]
            i = int(np.searchsorted(s[: self._n], old, side="left"))
            s[i : self._n - 1] = s[i + 1 : self._n]
            self._n -= 1
        j = int(np.searchsorted(s[: self._n], r32, side="left"))
        s[j + 1 : self._n + 1] = s[j : self._n]
        s[j] = r32
        self._n += 1
        self._ring[self._pos] = r32
        self._pos = (self._pos + 1) % self.window

    def probability(self, raw: float) -> float | None:
        """Tail probability of the next point from its raw signal; then remember it."""
        self._recent.append(raw)
        if len(self._recent) > self.smoothing:
            del self._recent[0]
        smoothed = sum(self._recent) / len(self._recent)
        p = self.tail_probability(smoothed)
        self.push(smoothed)
        return p

    def nbytes(self) -> int:
        return self._ring.nbytes + self._sorted.nbytes + 8 * len(self._recent)
