"""Where a series' streaming state keeps what (indices into its arrays) and the kernel's fixed sizes
and constants. Plain Python: the compiled modules read these as globals (frozen at compile time)."""

from __future__ import annotations

import numpy as np

from detectors.signals import FOREST_FEATURES, MEMBERS

# Layout of the scalar state (`sc`, float64) and the counters (`iv`, int64).
N, T0, LAST_T, LAST_X, STEP = 0, 1, 2, 3, 4
MEAN, VAR, CNT = 5, 9, 13  # 4 running means, variances and counts (time constants TAUS)
DIFF_VAR, LEVEL, DAY_RES_VAR, BLOCK_ID, ALERT_T = 17, 18, 19, 20, 21
PEAK_BLOCK, LAST_FIT_T = 22, 23  # the refractory window's current block; when the forest was last fitted
CUR_BIN, CUR_HI, CUR_LO = 24, 25, 26  # the time-of-day bin being visited, its high and low so far
LAST_ROUTINE, ALERT_ROUTINE = 27, 28  # 1.0 when that point's time of day had shown its value before
N_SCALARS = 29
FITS, DT_N, RES_SIZE, RNG_STATE, CAL_N, CAL_POS, SM_N = 0, 1, 2, 3, 4, 8, 12
N_COUNTERS = 16

# Durations are settings in minutes; a series converts them to its own points with its step, the
# median of its last STEP_SAMPLES time steps (robust to gaps, repeats and jitter).
STEP_SAMPLES = 15
DEFAULT_STEP = 300.0  # seconds, until a series has shown its step
# Scores are rarities per REFERENCE_STEP of series time: a point of an hourly series stands for 12
# five-minute intervals, so a threshold means the same number of false alarms per week at any step.
REFERENCE_STEP = 300.0
SMOOTH_MAX = 32  # the most raw values a signal is smoothed over (the ring each signal keeps)
PEAK_BLOCKS = 48  # the refractory window, as block minima of tail probabilities

DAY_BINS = 48
ENVELOPE_DECAY = 0.8668778997501816  # exp(-1/7): a time of day's high and low fade over a week of visits
RECORD_BLOCKS = 168  # hourly block maxima/minima of the last 7 days
CLIP_SIGMA = 6.0
FOREST_COLUMNS = np.array(FOREST_FEATURES, dtype=np.int64)
Arr = np.ndarray  # the compiled functions take plain arrays (numba ignores these annotations)
N_MEMBERS = len(MEMBERS)

RESERVOIR = 256  # feature rows the forest is refitted on
RESERVOIR_HORIZON = 7 * 86400.0  # a row's mean age in the reservoir, in seconds (a week)
# The first points only teach the running statistics: SETTLE_SECONDS of them, and at least
# SETTLE_POINTS (4 hours: 48 points at 5 minutes; 24 points, a day, at an hour).
SETTLE_POINTS = 24
SETTLE_SECONDS = 4 * 3600.0
MIN_CALIBRATION = 30  # values a signal needs before its probabilities mean anything
MIN_TAIL = 200  # values before the tail beyond the rarest seen is extrapolated
P_FLOOR = 1e-12  # of one signal
P_COMBINED_FLOOR = 1e-15  # of a point: 1 - 1e-15 is still below 1.0 in float64
UNIT = 1e-3  # the smallest scale of a tail: signals are in (signed-log) sigmas or forest scores
# Records closer than this share of the 7-day range to its extreme do not count (as in HTM's spatial
# anomaly rule, whose tolerance is the same 5%).
RECORD_TOLERANCE = 0.05
