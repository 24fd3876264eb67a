"""The server keeps numpy's OpenBLAS to one thread (connections are the parallelism)."""

from __future__ import annotations

import subprocess
import sys


def test_limit_blas_threads_sets_the_loaded_openblas():
    code = (
        "import ctypes, numpy\n"
        "from sqlvec.wire.blas import _loaded_openblas, limit_blas_threads\n"
        "libs = _loaded_openblas()\n"
        "n = limit_blas_threads(1)\n"
        "if not libs:\n"
        "    print('none', n)\n"
        "else:\n"
        "    lib = ctypes.CDLL(libs[0])\n"
        "    get = next(getattr(lib, g) for g in ('openblas_get_num_threads', 'openblas_get_num_threads64_',"
        " 'scipy_openblas_get_num_threads64_', 'scipy_openblas_get_num_threads') if hasattr(lib, g))\n"
        "    print(get(), n)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    if out[0] == "none":  # numpy built without OpenBLAS: nothing to limit
        assert out[1] == "0"
    else:
        assert out == ["1", "1"]


def test_explicit_environment_wins():
    code = "from sqlvec.wire.blas import limit_blas_threads; print(limit_blas_threads(1))"
    env = dict(__import__("os").environ, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "0"
