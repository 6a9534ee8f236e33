"""The kernel's isolation forest scores exactly as scikit-learn's reference `IsolationForest` does.

The detector grows and walks its trees in numba (docs/detector.md, "Speed: why a numba forest"),
but the scoring rule must stay Liu et al.'s isolation forest as scikit-learn implements it: given
the same trees, `forest_score` must give sklearn's `-score_samples` (2^(-E[h(x)]/c(psi))).
scikit-learn is a dev dependency, kept as the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detectors.forest import avg_path, forest_score


def heap_trees(forest: IsolationForest, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's fitted trees in the kernel's heap layout (children of i at 2i+1 and 2i+2; a leaf has
    feature -1 and its path length, depth + c(samples in the leaf), as threshold)."""
    n_trees = len(forest.estimators_)
    feat = np.full((n_trees, nodes), -1, dtype=np.int64)
    thr = np.zeros((n_trees, nodes), dtype=np.float32)
    for t, estimator in enumerate(forest.estimators_):
        tree = estimator.tree_
        stack = [(0, 0, 0)]  # (sklearn node, heap node, depth)
        while stack:
            node, heap, depth = stack.pop()
            left, right = tree.children_left[node], tree.children_right[node]
            if left == -1:
                feat[t, heap] = -1
                thr[t, heap] = depth + avg_path(float(tree.n_node_samples[node]))
                continue
            # sklearn sends x <= threshold left, the kernel x < threshold: the next float32 up agrees
            # on every float32 input.
            feat[t, heap] = forest.estimators_features_[t][tree.feature[node]]
            thr[t, heap] = np.nextafter(np.float32(tree.threshold[node]), np.float32(np.inf))
            stack += [(left, 2 * heap + 1, depth + 1), (right, 2 * heap + 2, depth + 1)]
    return feat, thr


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_scores_sklearn_trees_like_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(2_000, 5)).astype(np.float32)
    probe = np.vstack([rng.normal(size=(300, 5)), rng.normal(4.0, 1.0, size=(20, 5))]).astype(np.float32)
    psi = 64
    forest = IsolationForest(n_estimators=32, max_samples=psi, random_state=seed).fit(train)
    depth = int(np.ceil(np.log2(psi)))
    feat, thr = heap_trees(forest, nodes=2 ** (depth + 1) - 1)

    ours = np.array([forest_score(row, feat, thr, float(psi)) for row in probe])
    reference = -forest.score_samples(probe)

    np.testing.assert_allclose(ours, reference, rtol=1e-5)
    # and the planted outliers are what both rank highest
    assert set(np.argsort(ours)[-20:]) == set(range(300, 320))
