"""sqlglot ``exp.DataType`` -> SqlType, as PostgreSQL reads the same type name.

What sqlglot 30 (read="postgres") produces: ``vector(3)`` -> DType.VECTOR with a
DataTypeParam; ``halfvec``/``sparsevec``/``varbit`` -> DType.USERDEFINED with ``kind`` set to
the name; ``real`` -> FLOAT; ``float``/``float8``/``double precision`` -> DOUBLE (``float(p)``
keeps p); ``bytea`` -> VARBINARY; ``int[]`` -> ARRAY with the element in ``expressions``.
``bit varying`` comes out as plain BIT (sqlglot drops "varying"; ``varbit`` is exact).
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec.errors import FeatureNotSupported, InvalidParameterValue
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType

_D = exp.DataType.Type
_BY_DTYPE: dict[object, SqlType] = {
    _D.BOOLEAN: R.BOOL,
    _D.SMALLINT: R.INT2,
    _D.INT: R.INT4,
    _D.BIGINT: R.INT8,
    _D.SERIAL: R.INT4,  # the binder creates the sequence; the column type is the integer
    _D.SMALLSERIAL: R.INT2,
    _D.BIGSERIAL: R.INT8,
    _D.FLOAT: R.FLOAT4,
    _D.DOUBLE: R.FLOAT8,
    _D.DECIMAL: R.NUMERIC,
    _D.TEXT: R.TEXT,
    _D.VARCHAR: R.VARCHAR,
    _D.CHAR: R.BPCHAR,
    _D.BPCHAR: R.BPCHAR,
    _D.VARBINARY: R.BYTEA,
    _D.BINARY: R.BYTEA,
    _D.UUID: R.UUID,
    _D.DATE: R.DATE,
    _D.TIME: R.TIME,
    _D.TIMESTAMP: R.TIMESTAMP,
    _D.TIMESTAMPTZ: R.TIMESTAMPTZ,
    _D.INTERVAL: R.INTERVAL,
    _D.JSON: R.JSON,
    _D.JSONB: R.JSONB,
    _D.VECTOR: R.VECTOR,
    _D.BIT: R.BIT,
    _D.UNKNOWN: R.UNKNOWN,
}
for _name in ("NUMERIC", "BIGDECIMAL"):
    if hasattr(_D, _name):
        _BY_DTYPE[getattr(_D, _name)] = R.NUMERIC


def _params(dt: exp.DataType) -> list[int]:
    out = []
    for p in dt.expressions:
        node = p.this if isinstance(p, exp.DataTypeParam) else p
        try:
            out.append(int(node.name if isinstance(node, exp.Expression) else node))
        except ValueError:
            raise InvalidParameterValue("type modifiers must be simple constants or identifiers") from None
    return out


def from_sqlglot(dt: exp.DataType) -> SqlType:
    """The SqlType that PostgreSQL gives the type written in ``dt``."""
    this = dt.this
    if this == _D.ARRAY:
        if not dt.expressions:
            raise FeatureNotSupported("array type without element type")
        return R.array_of(from_sqlglot(dt.expressions[0]))
    if this == _D.USERDEFINED:
        kind = dt.args.get("kind")
        kname = kind.name if isinstance(kind, exp.Expression) else str(kind)
        if isinstance(kind, exp.Identifier) and kind.quoted and kname == "char":
            kname = '"char"'  # the one-byte system type, not character(1)
        base = R.type_by_name(kname)
    elif isinstance(this, exp.Interval):
        return R.INTERVAL  # "interval day" etc.: fields restrict input only
    elif isinstance(this, str):
        base = R.type_by_name(this)
    else:
        base = _BY_DTYPE.get(this)  # type: ignore[assignment]
        if base is None:
            raise FeatureNotSupported(f'type "{this.value.lower()}" is not supported')
    params = _params(dt)
    if base is R.FLOAT8 and params:
        # float(p): p binary digits; up to 24 is real (PostgreSQL's rule)
        p = params[0]
        if p < 1:
            raise InvalidParameterValue("precision for type float must be at least 1 bit")
        if p > 53:
            raise InvalidParameterValue("precision for type float must be less than 54 bits")
        return R.FLOAT4 if p <= 24 else R.FLOAT8
    if not params:
        if base in (R.BPCHAR, R.BIT) and this != _D.BPCHAR:
            return R.with_typmod(base, 1)  # char and bit alone mean length 1
        return base
    return R.with_typmod(base, *params)


# types sqlglot knows by a DType of their own that the catalog types module defines
_BY_DTYPE[_D.NAME] = R.type_by_name("name")
