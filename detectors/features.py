"""Streaming, scale-free features of one metric series.

Every feature of a point is computed from that point and the state left by earlier points only
(no look-ahead), in O(1) time and a few kilobytes per series. Steps may be irregular and gaps are
allowed: every running statistic decays with elapsed time, not with the number of points.

The features are z-scores and log-ratios against the series' own running statistics, squashed with
a signed log, so one isolation forest can be shared by many series of any unit and scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FEATURE_SCHEMA_VERSION = 2

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

# Time constants of the running mean/variance pairs, and how the explanations name them.
TAUS = (15 * MINUTE, HOUR, DAY, WEEK)
TAU_NAMES = ("15-min", "1-hour", "1-day", "7-day")
_FAST, _HOUR, _DAY, _WEEK = range(4)

DAY_BINS = 48  # half-hour bins of the daily profile
WEEK_BINS = 168  # hourly bins of the weekly profile
_DAY_BIN = DAY / DAY_BINS
_WEEK_BIN = WEEK / WEEK_BINS
# Bins forget with a memory of a few visits (a visit lasts one bin width).
_DAY_MEMORY = 3.0 * _DAY_BIN
_WEEK_MEMORY = 2.0 * _WEEK_BIN
_CLIP_SIGMA = 6.0  # updates of running statistics are winsorised at this many sigmas
# The record signal compares a value with the extremes of the last 7 days, kept as hourly block
# maxima and minima (168 + 168 floats), so "7 days" means the last 7 days to 7 days + 1 hour.
RECORD_BLOCK = HOUR
RECORD_BLOCKS = 168

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
    "z_time_of_week",
    "gap",
    "record_7d",
)
N_FEATURES = len(FEATURE_NAMES)


def slog(z: float) -> float:
    """Signed log: keeps sign and order, turns a z of 1e6 into 13.8 so no feature dominates."""
    return math.copysign(math.log1p(abs(z)), z)


def unslog(f: float) -> float:
    return math.copysign(math.expm1(abs(f)), f)


@dataclass(slots=True)
class FeatureState:
    """Running statistics of one series. `update` turns the next point into its feature row."""

    n: int = 0
    t0: float = math.nan
    last_t: float = math.nan
    last_x: float = math.nan
    step: float = math.nan  # typical seconds between points (running median-ish)
    means: np.ndarray | None = None
    variances: np.ndarray | None = None
    counts: np.ndarray | None = None
    diff_var: float = 0.0
    level: float = 0.0  # running mean of |x|: sets the noise floor of flat series
    day_profile: np.ndarray | None = None
    day_seen: np.ndarray | None = None
    day_res_var: float = 0.0
    week_profile: np.ndarray | None = None
    week_seen: np.ndarray | None = None
    week_res_var: float = 0.0
    block_hi: np.ndarray | None = None  # hourly maxima of the last 7 days (ring by hour number)
    block_lo: np.ndarray | None = None
    block_id: int = 0  # hour number of the newest block

    def _init(self, t: float, x: float) -> None:
        k = len(TAUS)
        self.means = np.full(k, x)
        self.variances = np.zeros(k)
        self.counts = np.zeros(k)
        self.day_profile = np.zeros(DAY_BINS)
        self.day_seen = np.zeros(DAY_BINS, dtype=np.int16)
        self.week_profile = np.zeros(WEEK_BINS)
        self.week_seen = np.zeros(WEEK_BINS, dtype=np.int16)
        self.block_hi = np.full(RECORD_BLOCKS, -np.inf)
        self.block_lo = np.full(RECORD_BLOCKS, np.inf)
        self.block_id = int(t // RECORD_BLOCK)
        self.level = abs(x)
        self.t0 = self.last_t = t
        self.last_x = x

    def update(self, t: float, x: float) -> list[float]:
        """Feature row of the point (t seconds since the epoch, value x); then fold it into the state."""
        if self.means is None:
            self._init(t, x)
        assert self.means is not None and self.variances is not None and self.counts is not None
        dt = max(t - self.last_t, 0.0) if self.n else 0.0
        if self.n >= 1 and dt > 0:
            self.step = (
                dt if math.isnan(self.step) else self.step + 0.05 * (min(dt, 4 * self.step) - self.step)
            )
        step = self.step if not math.isnan(self.step) and self.step > 0 else 300.0
        elapsed = dt if dt > 0 else step * 0.1

        floor = 1e-3 * self.level + 1e-12
        means = [float(v) for v in self.means]
        sds = [math.sqrt(float(v) + floor * floor) for v in self.variances]
        first = self.n == 0

        def z(a: float, b: float, sd: float) -> float:
            return 0.0 if first else slog((a - b) / sd)

        diff = 0.0 if first else x - self.last_x
        diff_sd = math.sqrt(self.diff_var + floor * floor)

        # Running statistics including this point, for the short windows (level and variance shift).
        alphas = [
            max(1.0 - math.exp(-elapsed / tau), 1.0 / (c + 1.0))
            for tau, c in zip(TAUS, self.counts, strict=True)
        ]
        new_means, new_vars = [], []
        for i in range(len(TAUS)):
            d = x - means[i]
            lim = _CLIP_SIGMA * sds[i]
            if self.counts[i] > 10 and abs(d) > lim:
                d = math.copysign(lim, d)
            a = alphas[i]
            new_means.append(means[i] + a * d)
            new_vars.append((1.0 - a) * (float(self.variances[i]) + a * d * d))

        day_bin = int((t % DAY) // _DAY_BIN)
        week_bin = int(((t + 4 * DAY) % WEEK) // _WEEK_BIN)  # weeks start on Monday 00:00 UTC
        assert self.day_profile is not None and self.day_seen is not None
        assert self.week_profile is not None and self.week_seen is not None
        res_day_sd = math.sqrt(self.day_res_var + floor * floor)
        res_week_sd = math.sqrt(self.week_res_var + floor * floor)
        # Until the series has a full day (week) behind it, the seasonal context falls back to the baseline.
        if self.day_seen[day_bin] and t - self.t0 >= DAY:
            z_day = slog((x - self.day_profile[day_bin]) / res_day_sd)
        else:
            z_day = z(x, means[_DAY], sds[_DAY])
        if self.week_seen[week_bin] and t - self.t0 >= WEEK:
            z_week = slog((x - self.week_profile[week_bin]) / res_week_sd)
        else:
            z_week = z_day

        def log_ratio(v_short: float, v_long: float) -> float:
            return 0.0 if first else 0.5 * math.log((v_short + floor * floor) / (v_long + floor * floor))

        record = self._record(t, x, floor)

        row = [
            z(x, means[_DAY], sds[_DAY]),
            z(x, means[_HOUR], sds[_HOUR]),
            0.0 if first else slog(diff / diff_sd),
            z(new_means[_HOUR], means[_DAY], sds[_DAY]),
            z(new_means[_FAST], means[_WEEK], sds[_WEEK]),
            z(new_means[_DAY], means[_WEEK], sds[_WEEK]),
            log_ratio(new_vars[_HOUR], float(self.variances[_DAY])),
            log_ratio(new_vars[_DAY], float(self.variances[_WEEK])),
            z_day,
            z_week,
            0.0 if first else math.log1p(max(dt / step - 1.0, 0.0)),
            record,
        ]

        # Fold the point in.
        a_day = 1.0 - math.exp(-elapsed / DAY)
        if not first:
            dd = (
                diff
                if abs(diff) <= _CLIP_SIGMA * diff_sd or self.n < 10
                else math.copysign(_CLIP_SIGMA * diff_sd, diff)
            )
            self.diff_var += max(a_day, 1.0 / self.n) * (dd * dd - self.diff_var)
        self.means = np.array(new_means)
        self.variances = np.array(new_vars)
        self.counts += 1
        self.level += max(a_day, 1.0 / (self.n + 1)) * (abs(x) - self.level)
        self._update_profile(self.day_profile, self.day_seen, day_bin, x, elapsed, _DAY_MEMORY, "day")
        self._update_profile(self.week_profile, self.week_seen, week_bin, x, elapsed, _WEEK_MEMORY, "week")
        self.n += 1
        self.last_t, self.last_x = max(t, self.last_t) if self.n > 1 else t, x
        return row

    def _record(self, t: float, x: float, floor: float) -> float:
        """How far `x` goes beyond the highest (+) or lowest (-) value of the last 7 days, in units of
        that range (signed log); 0 inside the range. Then folds `x` into its hourly block."""
        hi_blocks, lo_blocks = self.block_hi, self.block_lo
        assert hi_blocks is not None and lo_blocks is not None
        b = int(t // RECORD_BLOCK)
        if b > self.block_id:  # blocks of the hours that have passed start empty
            for k in range(self.block_id + 1, min(b, self.block_id + RECORD_BLOCKS) + 1):
                hi_blocks[k % RECORD_BLOCKS] = -np.inf
                lo_blocks[k % RECORD_BLOCKS] = np.inf
            self.block_id = b
        hi, lo = float(hi_blocks.max()), float(lo_blocks.min())
        out = 0.0
        if math.isfinite(hi) and math.isfinite(lo):
            span = max(hi - lo, floor)
            if x > hi:
                out = math.log1p((x - hi) / span)
            elif x < lo:
                out = -math.log1p((lo - x) / span)
        slot = self.block_id % RECORD_BLOCKS
        hi_blocks[slot] = max(float(hi_blocks[slot]), x)
        lo_blocks[slot] = min(float(lo_blocks[slot]), x)
        return out

    def _update_profile(
        self,
        profile: np.ndarray,
        seen: np.ndarray,
        b: int,
        x: float,
        elapsed: float,
        memory: float,
        kind: str,
    ) -> None:
        a_res = max(1.0 - math.exp(-elapsed / DAY), 1.0 / (self.n + 1))
        if seen[b]:
            res = x - float(profile[b])
            if kind == "day":
                self.day_res_var += a_res * (res * res - self.day_res_var)
            else:
                self.week_res_var += a_res * (res * res - self.week_res_var)
            profile[b] += (1.0 - math.exp(-elapsed / memory)) * res
        else:
            profile[b] = x
        seen[b] = min(int(seen[b]) + 1, 30000)

    def seasonality(self) -> float:
        """How much of the day-scale variance the daily profile explains (0 none, 1 all)."""
        if self.variances is None or self.variances[_DAY] <= 0:
            return 0.0
        return max(0.0, 1.0 - self.day_res_var / float(self.variances[_DAY]))


def features_of(state: FeatureState, timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Feature rows of consecutive points, updating `state` as a stream would."""
    out = np.empty((len(values), N_FEATURES))
    for i, (t, x) in enumerate(zip(timestamps.tolist(), values.tolist(), strict=True)):
        out[i] = state.update(t, x)
    return out


def feature_index(*names: str) -> list[int]:
    return [FEATURE_NAMES.index(n) for n in names]


# The forest sees the features that carry signal on their own; the rest only feed explanations
# (more features dilute an isolation forest: each split picks one at random).
FOREST_FEATURES = feature_index("z_time_of_day", "level_15m_vs_7d", "z_value_1d", "var_1h_vs_1d", "z_diff")
SEASONAL_FEATURE = FEATURE_NAMES.index("z_time_of_day")
LEVEL_FEATURE = FEATURE_NAMES.index("level_15m_vs_7d")
RECORD_FEATURE = FEATURE_NAMES.index("record_7d")
