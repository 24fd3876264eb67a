"""Helpers: call a resolved operator/function/aggregate the way the executor will."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec.functions import resolve_aggregate, resolve_function, resolve_operator


def _n(args):
    return next((len(a) for a in args if isinstance(a, pa.Array)), 1)


def _as_py(res):
    return res.as_py() if isinstance(res, pa.Scalar) else res.to_pylist()


@pytest.fixture
def op():
    def call(symbol, left_t, right_t, *args):
        ov, targets, ret = resolve_operator(symbol, left_t, right_t)
        return _as_py(ov.impl(list(args), targets, _n(args)))

    return call


@pytest.fixture
def fn():
    def call(name, types, *args):
        ov, targets, ret = resolve_function(name, types)
        return _as_py(ov.impl(list(args), targets, _n(args)))

    return call


@pytest.fixture
def agg():
    def call(name, types, args, groups, n_groups, distinct=False):
        ov, targets, ret = resolve_aggregate(name, types)
        res = ov.impl(args, np.asarray(groups, dtype=np.int64), n_groups, distinct)
        return res.to_pylist(), ret

    return call
