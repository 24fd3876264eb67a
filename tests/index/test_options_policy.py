"""pgvector's option ranges and errors; the exact/index selectivity policy."""

from __future__ import annotations

import pytest

from sqlvec.errors import InternalError_, InvalidParameterValue
from sqlvec.index import structure_for
from sqlvec.index.options import check_dimensions, validate_options
from sqlvec.index.policy import plan_search


def test_defaults():
    assert validate_options("hnsw", {}) == {"m": 16, "ef_construction": 64}
    assert validate_options("ivfflat", {"LISTS": "7"}) == {"lists": 7}


@pytest.mark.parametrize("kind,opts,message,detail", [
    ("hnsw", {"m": 1}, 'value 1 out of bounds for option "m"',
     'Valid values are between "2" and "100".'),
    ("hnsw", {"m": 101}, 'value 101 out of bounds for option "m"',
     'Valid values are between "2" and "100".'),
    ("hnsw", {"ef_construction": 3}, 'value 3 out of bounds for option "ef_construction"',
     'Valid values are between "4" and "1000".'),
    ("ivfflat", {"lists": 0}, 'value 0 out of bounds for option "lists"',
     'Valid values are between "1" and "32768".'),
    ("hnsw", {"m": 32, "ef_construction": 40},
     "ef_construction must be greater than or equal to 2 * m", None),
    ("hnsw", {"lists": 3}, 'unrecognized parameter "lists"', None),
    ("hnsw", {"m": "x"}, 'invalid value for integer option "m": x', None),
])
def test_option_errors(kind, opts, message, detail):
    with pytest.raises(InvalidParameterValue) as exc:
        validate_options(kind, opts)
    assert exc.value.message == message and exc.value.detail == detail
    assert exc.value.sqlstate == "22023"


def test_dimensions():
    check_dimensions("hnsw", 16000)
    with pytest.raises(InternalError_, match="more than 16000 dimensions for hnsw index"):
        check_dimensions("hnsw", 16001)
    with pytest.raises(InternalError_, match="column does not have dimensions"):
        check_dimensions("ivfflat", -1)


def test_structure_for():
    assert structure_for("hnsw", "cosine") == "hnsw"
    assert structure_for("hnsw", "l1") == "flat"
    assert structure_for("ivfflat", "hamming") == "flat"


def test_policy():
    assert plan_search(200_000, 200_000, 10) == "index"
    assert plan_search(200_000, 1_000, 10) == "exact"
    assert plan_search(200_000, 2_000, 10) == "exact"  # 1%
    assert plan_search(200_000, 100_000, 10) == "index_filtered"
    assert plan_search(1_000, 900, 10) == "exact"  # tiny segments
