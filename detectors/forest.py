"""The isolation forest, compiled: random numbers kept in the state, fitting on a reservoir sample
and scoring one row. Liu et al.'s algorithm as scikit-learn implements it (the reference test loads
scikit-learn's trees into this layout and gets the same scores)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from detectors.layout import RNG_STATE, Arr


@njit(cache=True)
def rand_uniform(iv: np.ndarray) -> float:
    """Uniform in [0, 1) from a splitmix64 stream kept in the counters (deterministic, picklable)."""
    x = np.uint64(iv[RNG_STATE]) + np.uint64(0x9E3779B97F4A7C15)
    iv[RNG_STATE] = np.int64(x & np.uint64(0x7FFFFFFFFFFFFFFF))
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True)
def avg_path(n: float) -> float:
    """Average path length of an unsuccessful search in a binary search tree of n points."""
    if n <= 1.0:
        return 0.0
    if n <= 2.0:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649) - 2.0 * (n - 1.0) / n


@njit(cache=True)
def fit_forest(reservoir: Arr, size: int, tree_feat: Arr, tree_thr: Arr, iv: Arr, tree_samples: int) -> None:
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
            j = i + int(rand_uniform(iv) * (size - i))
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
                start = int(rand_uniform(iv) * n_feat)
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
                tree_thr[t, node] = depth + avg_path(count)
                continue
            thr = np.float32(lo_v + rand_uniform(iv) * (hi_v - lo_v))
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
def forest_score(row32: Arr, tree_feat: Arr, tree_thr: Arr, psi: float) -> float:
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
    return float(2.0 ** (-(total / n_trees) / max(avg_path(psi), 1e-9)))
