"""SQL functions, operators and aggregates: the registry and one module per family.

The binder calls :func:`resolve_function`, :func:`resolve_operator` and
:func:`resolve_aggregate`; each returns the chosen overload, the type every argument must be
cast to, and the result type. See registry.py for the resolution rules.
"""

from sqlvec.exec.functions.registry import (
    AggOverload,
    Datum,
    Overload,
    is_aggregate,
    resolve_aggregate,
    resolve_function,
    resolve_operator,
)

__all__ = [
    "AggOverload",
    "Datum",
    "Overload",
    "is_aggregate",
    "resolve_aggregate",
    "resolve_function",
    "resolve_operator",
]
