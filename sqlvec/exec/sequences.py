"""nextval, currval, setval and lastval.

Sequences are non-transactional, as in PostgreSQL: a value handed out is never handed out
again, even if the transaction that took it rolls back. The storage engine keeps each
sequence's counter durable (``seq_alloc``); a sequence's START and INCREMENT map counter
values 1, 2, 3 ... to start, start + increment, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.catalog.model import Sequence
from sqlvec.plan import expr as E
from sqlvec.types import registry as T


def values_for(seq: Sequence, first: int, n: int) -> np.ndarray:
    vals = seq.start + (np.arange(first, first + n, dtype=np.int64) - 1) * seq.increment
    if len(vals) and (vals.max() > seq.max_value or vals.min() < seq.min_value):
        if seq.cycle:
            span = seq.max_value - seq.min_value + 1
            base = seq.min_value if seq.increment > 0 else seq.max_value
            vals = base + (vals - base) % span if seq.increment > 0 else base - (base - vals) % span
        else:
            which = "maximum" if seq.increment > 0 else "minimum"
            bound = seq.max_value if seq.increment > 0 else seq.min_value
            raise errors.DataException(
                f'nextval: reached {which} value of sequence "{seq.name}" ({bound})', sqlstate="2200H"
            )
    return vals


@dataclass(eq=False)
class SequenceCall(E.Expr):
    kind: str  # nextval | currval | setval | lastval
    seq: Sequence | None
    args: list[E.Expr]
    type: Any = T.INT8
    volatile: bool = True

    def children(self) -> list[E.Expr]:
        return self.args

    def eval(self, ctx: E.EvalContext):
        session = ctx.stmt["session"]
        engine = session.db.engine
        n = max(ctx.n, 1)
        if self.kind == "nextval":
            first = engine.seq_alloc(self.seq.oid, n)
            vals = values_for(self.seq, first, n)
            session.seq_last[self.seq.oid] = int(vals[-1])
            session.seq_lastval = int(vals[-1])
            arr = pa.array(vals, pa.int64())
            return arr if ctx.n else arr[0]
        if self.kind == "currval":
            v = session.seq_last.get(self.seq.oid)
            if v is None:
                raise errors.ObjectNotInPrerequisiteState(
                    f'currval of sequence "{self.seq.name}" is not yet defined in this session'
                )
            return pa.scalar(v, pa.int64())
        if self.kind == "lastval":
            if session.seq_lastval is None:
                raise errors.ObjectNotInPrerequisiteState("lastval is not yet defined in this session")
            return pa.scalar(session.seq_lastval, pa.int64())
        # setval(seq, value [, is_called])
        v = self.args[1].eval(ctx)
        value = v.as_py() if isinstance(v, pa.Scalar) else E.broadcast(v, 1)[0].as_py()
        called = True
        if len(self.args) > 2:
            c = self.args[2].eval(ctx)
            called = bool(c.as_py() if isinstance(c, pa.Scalar) else c[0].as_py())
        if not self.seq.min_value <= value <= self.seq.max_value:
            raise errors.NumericValueOutOfRange(
                f'setval: value {value} is out of bounds for sequence "{self.seq.name}" '
                f"({self.seq.min_value}..{self.seq.max_value})"
            )
        # counter c gives start + (c - 1) * increment: the next counter is the one after value
        counter = (value - self.seq.start) // self.seq.increment + 1
        engine.seq_set(self.seq.oid, counter + 1 if called else counter)
        if called:
            session.seq_last[self.seq.oid] = value
        return pa.scalar(value, pa.int64())


def bind_sequence_call(session, binder, name: str, args: list[E.Expr]) -> E.Expr:
    if name == "lastval":
        return SequenceCall("lastval", None, [])
    if not args or not isinstance(args[0], E.Const):
        raise errors.FeatureNotSupported(f"{name}() needs a constant sequence name")
    raw = str(args[0].value.as_py())
    schema, _, seqname = raw.rpartition(".")
    db = session.catalog().database(session.database)
    seq = db.find_sequence(seqname.strip('"'), schema or None, session.search_path())
    if seq is None:
        raise errors.UndefinedTable(f'relation "{raw}" does not exist')
    from sqlvec.privileges import require_sequence_call

    require_sequence_call(session, seq, name)
    rest = [binder.coerce(a, T.INT8 if i == 0 else T.BOOL, "i") for i, a in enumerate(args[1:])]
    return SequenceCall(name, seq, [args[0], *rest])
