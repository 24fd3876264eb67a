"""IVFFlat (k-means lists, probes, widening) and the exact flat index (l1, bits)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec import kernels
from sqlvec.index import FlatIndex, IvfFlatIndex
from sqlvec.index.flat import packed_bits
from sqlvec.index.kmeans import kmeans, nearest_centre

from .conftest import recall


@pytest.fixture(scope="module")
def ivf(data):
    return IvfFlatIndex.build(data, "l2", {"lists": 50}, threads=2)


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [10, 10], [-10, 10]], np.float32)
    x = (centres[rng.integers(3, size=3000)] + rng.normal(size=(3000, 2)) * 0.5).astype(
        np.float32)
    got = kmeans(x, 3, seed=1)
    labels, _ = nearest_centre(centres, got)
    assert sorted(labels.tolist()) == [0, 1, 2]
    assert np.abs(got[labels] - centres).max() < 0.2


def test_ivf_recall_grows_with_probes(ivf, data, queries):
    by_probes = {}
    for probes in (1, 5, 50):
        scores = [recall(ivf.search(q, 10, probes=probes)[0], data, q, 10, "l2")
                  for q in queries]
        by_probes[probes] = float(np.mean(scores))
    assert by_probes[5] >= 0.95
    assert by_probes[50] == 1.0
    assert ivf.search(queries[0], 10, probes=50)[2]  # every list probed: exact


def test_ivf_widens_under_filter(ivf, data, queries):
    rng = np.random.default_rng(4)
    allowed = rng.random(len(data)) < 0.002
    for q in queries[:10]:
        offs, _d, _e = ivf.search(q, 10, allowed=allowed, probes=1)
        assert len(offs) == 10 and allowed[offs].all()


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_ivf_other_metrics(data, queries, metric):
    idx = IvfFlatIndex.build(data, metric, {"lists": 20}, threads=2)
    scores = [recall(idx.search(q, 10, probes=4)[0], data, q, 10, metric) for q in queries]
    assert np.mean(scores) >= 0.9


def test_ivf_save_load_mmap(tmp_path, ivf, data, queries):
    path = str(tmp_path / "9.ivf")
    ivf.save(path)
    back = IvfFlatIndex.load(path, data, mmap=True)
    assert isinstance(back._perm, np.memmap)
    assert back.options == {"lists": 50} and back.nbytes == ivf.nbytes
    for q in queries[:5]:
        np.testing.assert_array_equal(ivf.search(q, 10, probes=3)[0],
                                      back.search(q, 10, probes=3)[0])


def test_ivf_deleted(data, queries):
    idx = IvfFlatIndex.build(data, "l2", {"lists": 10}, threads=1)
    gone = idx.search(queries[0], 10, probes=10)[0]
    idx.mark_deleted(gone)
    assert not set(idx.search(queries[0], 10, probes=10)[0].tolist()) & set(gone.tolist())


def test_flat_l1_is_exact(data, queries):
    idx = FlatIndex.build(data, "l1", {}, threads=1)
    allowed = np.random.default_rng(5).random(len(data)) < 0.3
    offs, dist, exact = idx.search(queries[0], 10, allowed=allowed)
    want, wd = kernels.topk(data, queries[0], 10, "l1", mask=allowed)
    assert exact
    np.testing.assert_array_equal(offs, want)
    np.testing.assert_array_equal(dist, wd)


@pytest.mark.parametrize("metric", ["hamming", "jaccard"])
def test_flat_bits(tmp_path, metric):
    rng = np.random.default_rng(6)
    rows = [bytes(rng.integers(0, 256, size=2, dtype=np.uint8)) for _ in range(300)]
    arr = pa.StructArray.from_arrays(
        [pa.array([12] * 300, pa.int32()),
         pa.array([bytes([r[0], r[1] & 0xF0]) for r in rows], pa.binary())],
        names=["nbits", "data"])
    packed, nbits = packed_bits(arr)
    assert nbits == 12 and packed.shape == (300, 2)
    idx = FlatIndex.build(packed, metric, {"nbits": nbits}, threads=1)
    q = packed[7]
    offs, dist, exact = idx.search(q, 5)
    full = kernels.bit_distances(packed, q, nbits, metric)
    assert exact and offs[0] == 7 and dist[0] == 0
    np.testing.assert_array_equal(dist, np.sort(full)[:5])
    idx.save(str(tmp_path / "1.flat"))
    back = FlatIndex.load(str(tmp_path / "1.flat"), packed)
    np.testing.assert_array_equal(back.search(q, 5)[0], offs)
    r_offs, r_d, _ = back.range_search(q, 3, inclusive=True)
    assert set(r_offs.tolist()) == set(np.flatnonzero(full <= 3).tolist())
