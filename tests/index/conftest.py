"""Shared data for index tests: seeded clustered vectors, and exact answers from the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from sqlvec.exec import kernels

N, DIM, CLUSTERS = 20_000, 64, 40


def clustered(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows around CLUSTERS fixed centres (the same for every seed: queries come from the
    distribution of the data)."""
    centres = np.random.default_rng(0).normal(size=(CLUSTERS, dim)).astype(np.float32) * 2
    rng = np.random.default_rng(seed)
    labels = rng.integers(CLUSTERS, size=n)
    x = centres[labels] + rng.normal(size=(n, dim)).astype(np.float32)
    return x.astype(np.float32), labels


@pytest.fixture(scope="session")
def data() -> np.ndarray:
    return clustered(N, DIM, 1)[0]


@pytest.fixture(scope="session")
def cluster_labels() -> np.ndarray:
    return clustered(N, DIM, 1)[1]


@pytest.fixture(scope="session")
def queries() -> np.ndarray:
    return clustered(60, DIM, 2)[0]


def recall(got: np.ndarray, matrix: np.ndarray, q: np.ndarray, k: int, metric: str,
           mask: np.ndarray | None = None) -> float:
    want, _ = kernels.topk(matrix, q, k, metric, mask=mask)
    if len(want) == 0:
        return 1.0
    return len(set(got.tolist()) & set(want.tolist())) / len(want)
