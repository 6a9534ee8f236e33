"""The isolation forest at the core of the detector, refitted on a sliding history of feature rows."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from detectors.features import FOREST_FEATURES
from detectors.settings import DetectorSettings


class ForestModel:
    """One isolation forest and the history of feature rows it is refitted on.

    `private=True` keeps the last `history_window` rows (one series' own sliding history, as in a
    backtest). `private=False` is the model many series share: its history is a fixed-size sample
    in which every new row evicts a random old one, so it mixes all series and forgets old rows
    gradually; features are normalised per series, so one forest fits them all.
    """

    def __init__(self, settings: DetectorSettings, *, private: bool, capacity: int | None = None) -> None:
        self.settings = settings
        self.private = private
        self.capacity = capacity or settings.history_window
        self._rows = np.empty((self.capacity, len(FOREST_FEATURES)), dtype=np.float32)
        self._size = 0
        self._next = 0  # ring position (private) or rows ever added (shared)
        self._rng = np.random.default_rng(settings.seed)
        self.forest: IsolationForest | None = None
        self.rows_since_fit = 0
        self.fits = 0

    @property
    def fitted(self) -> bool:
        return self.forest is not None

    def __len__(self) -> int:
        return self._size

    def rows_until_due(self) -> int:
        """New rows after which `fit` is due (0 when it is due now)."""
        if self.forest is None:
            return max(self.settings.warmup_points - self._size, 0)
        interval = self.settings.refit_interval if self.private else self.settings.shared_refit_rows
        return max(interval - self.rows_since_fit, 0)

    def add(self, rows: np.ndarray) -> None:
        for row in rows:
            if self._size < self.capacity:
                slot = self._size if not self.private else self._next % self.capacity
                self._size += 1
            elif self.private:
                slot = self._next % self.capacity
            else:
                slot = int(self._rng.integers(self.capacity))
            self._rows[slot] = row
            self._next += 1
        self.rows_since_fit += len(rows)

    def history(self) -> np.ndarray:
        """Training rows, oldest first for a private model."""
        if not self.private or self._size < self.capacity:
            return self._rows[: self._size]
        k = self._next % self.capacity
        return np.concatenate([self._rows[k:], self._rows[:k]])

    def fit(self) -> None:
        rows = self.history().astype(np.float64)
        forest = IsolationForest(
            n_estimators=self.settings.n_estimators,
            max_samples=min(self.settings.max_samples, len(rows)),
            random_state=self.settings.seed * 7919 + self.fits,
        )
        forest.fit(rows)
        self.forest = forest
        self.rows_since_fit = 0
        self.fits += 1

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """Raw anomaly scores (higher is more anomalous, about 0.3 to 0.8), one batch call."""
        if self.forest is None:
            raise RuntimeError("forest not fitted")
        if len(rows) == 0:
            return np.empty(0)
        scores: np.ndarray = self.forest.score_samples(np.asarray(rows, dtype=np.float64))
        return -scores
