"""Keep BLAS to one thread in the server process.

The server's parallelism is its connections: every connection's thread runs its own
matrix-vector product (numpy releases the GIL). OpenBLAS's own worker threads on top of that
oversubscribe the cores, and they busy-wait for each other: with the client or another
connection on the second core, one 10k x 128 ``sgemv`` measured 9 ms instead of 0.13 ms
(exact k-NN 67 QPS on one connection, 343 with one BLAS thread). PostgreSQL also scans
with one core per query.

numpy's bundled OpenBLAS has no Python API for this, so the setter is looked up in the
shared objects this process has loaded (what threadpoolctl does). An explicit
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` in the environment wins.
"""

from __future__ import annotations

import ctypes
import os

# symbol names of openblas_set_num_threads across builds (plain, 64-bit ints, scipy-openblas)
_SETTERS = (
    "openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
)


def _loaded_openblas() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:  # not Linux: leave BLAS as it is
        return []
    return sorted(p for p in paths if p.startswith("/"))


def limit_blas_threads(n: int = 1) -> int:
    """Set every loaded OpenBLAS to ``n`` threads; returns how many libraries were set."""
    if os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return 0
    import numpy  # noqa: F401  (loads numpy's OpenBLAS, so that it is in the maps)

    done = 0
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                done += 1
                break
    return done


__all__ = ["limit_blas_threads"]
