"""The binder: sqlglot expressions -> typed, bound expressions (sqlvec.plan.expr).

It resolves names against a :class:`Scope`, resolves functions and operators to overloads
(sqlvec.exec.functions), inserts the implicit casts PostgreSQL would insert, gives types to
untyped literals and parameters from their context, and folds constant sub-expressions.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec import records
from sqlvec.exec.functions.registry import is_aggregate, resolve_function, resolve_operator
from sqlvec.grammar import expressions as vx
from sqlvec.grammar import to_sql
from sqlvec.plan import expr as E
from sqlvec.plan import rows
from sqlvec.plan.scope import Scope
from sqlvec.types import registry as T
from sqlvec.types.arrow import to_arrow
from sqlvec.types.base import SqlType
from sqlvec.types.casts import cast_array, common_supertype, find_cast

# sqlglot class -> PostgreSQL operator name
BINARY_OPS: dict[type, str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
    exp.Pow: "^",
    exp.DPipe: "||",
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.Like: "~~",
    exp.ILike: "~~*",
    exp.RegexpLike: "~",
    exp.RegexpILike: "~*",
    exp.BitwiseAnd: "&",
    exp.BitwiseOr: "|",
    exp.BitwiseXor: "#",
    exp.BitwiseLeftShift: "<<",
    exp.BitwiseRightShift: ">>",
    exp.ArrayContainsAll: "@>",
    exp.ArrayContainedBy: "<@",
    exp.ArrayOverlaps: "&&",
    exp.JSONBExtract: "#>",
    exp.JSONBExtractScalar: "#>>",
    exp.JSONBContainsTopKey: "?",
    exp.JSONBContainsAnyTopKeys: "?|",
    exp.JSONBContainsAllTopKeys: "?&",
    exp.JSONBDeleteAtPath: "#-",
    vx.L2Distance: "<->",
    vx.NegInnerProduct: "<#>",
    vx.CosineDistance: "<=>",
    vx.L1Distance: "<+>",
    vx.HammingDistance: "<~>",
    vx.JaccardDistance: "<%>",
}
NEGATED_OPS = {"~~": "!~~", "~~*": "!~~*", "~": "!~", "~*": "!~*"}
UNARY_OPS: dict[type, str] = {exp.Neg: "-", exp.BitwiseNot: "~"}

# sqlglot function classes whose PostgreSQL name or argument order differs from the generic rule
# (name = class key, arguments in arg_types order).
FUNCTION_NAMES: dict[type, tuple[str, tuple[str, ...]]] = {
    exp.StrPosition: ("strpos", ("this", "substr")),
    exp.TimestampTrunc: ("date_trunc", ("unit", "this", "zone")),
    exp.DateTrunc: ("date_trunc", ("unit", "this", "zone")),
    exp.Extract: ("extract", ("this", "expression")),
    exp.CurrentTimestamp: ("now", ()),
    exp.CurrentDate: ("current_date", ()),
    exp.Length: ("length", ("this",)),
    exp.LogicalAnd: ("bool_and", ("this",)),
    exp.LogicalOr: ("bool_or", ("this",)),
    exp.ArrayAgg: ("array_agg", ("this",)),
    exp.GroupConcat: ("string_agg", ("this", "separator")),
    exp.Stddev: ("stddev", ("this",)),
    exp.StddevPop: ("stddev_pop", ("this",)),
    exp.StddevSamp: ("stddev_samp", ("this",)),
    exp.Variance: ("variance", ("this",)),
    exp.VariancePop: ("var_pop", ("this",)),
    exp.Avg: ("avg", ("this",)),
    exp.Pow: ("power", ("this", "expression")),
    exp.Substring: ("substring", ("this", "start", "length")),
    exp.Log: ("log", ("this", "expression")),
    exp.Ln: ("ln", ("this",)),
    exp.Round: ("round", ("this", "decimals")),
    exp.Ceil: ("ceil", ("this",)),
    exp.Floor: ("floor", ("this",)),
    exp.Left: ("left", ("this", "expression")),
    exp.Right: ("right", ("this", "expression")),
    exp.Concat: ("concat", ("expressions",)),
    exp.ConcatWs: ("concat_ws", ("expressions",)),
    exp.StartsWith: ("starts_with", ("this", "expression")),
    exp.MD5: ("md5", ("this",)),
    exp.Initcap: ("initcap", ("this",)),
    exp.RegexpReplace: ("regexp_replace", ("this", "expression", "replacement", "modifiers")),
    exp.SplitPart: ("split_part", ("this", "delimiter", "part_index")),
    exp.Trunc: ("trunc", ("this", "decimals")),
    # set-returning functions (sqlvec.exec.srf)
    exp.Explode: ("unnest", ("this", "expressions")),
    exp.Unnest: ("unnest", ("expressions",)),
    exp.ExplodingGenerateSeries: ("generate_series", ("start", "end", "step")),
    exp.GenerateSeries: ("generate_series", ("start", "end", "step")),
    exp.CurrentVersion: ("version", ()),
    exp.UnixToTime: ("to_timestamp", ("this",)),
    exp.CurrentUser: ("current_user", ()),
    exp.SessionUser: ("session_user", ()),
    exp.CurrentSchema: ("current_schema", ()),
    exp.CurrentDatabase: ("current_database", ()),
    exp.CurrentCatalog: ("current_catalog", ()),
}
# bare words that PostgreSQL reads as functions when no column has the name
NILADIC = {"user": "current_user", "current_role": "current_user"}
# catalog vector types index from 0, other arrays from 1
ZERO_BASED = {"int2vector", "oidvector"}

STMT_FUNCTIONS = {"now", "current_timestamp", "transaction_timestamp", "current_date", "localtimestamp",
                  "localtime"}


def literal_type_of_int(v: int) -> SqlType:
    if -(2**31) <= v < 2**31:
        return T.INT4
    if -(2**63) <= v < 2**63:
        return T.INT8
    return T.NUMERIC


def const(value, t: SqlType) -> E.Const:
    """A constant of SQL type t from a Python value (None = NULL)."""
    if t is T.UNKNOWN or t.defn is T.UNKNOWN.defn:
        return E.Const(pa.scalar(value, pa.string()), t)
    return E.Const(to_arrow([value], t)[0], t)


class Binder:
    """Binds expressions for one statement. ``params`` holds the statement's parameter types;
    UNKNOWN entries are filled in from context as binding discovers them."""

    def __init__(self, params: list[SqlType] | None = None, *, subquery: Callable | None = None):
        self.params: list[SqlType] = list(params or [])
        self.subquery = subquery  # planner callback for scalar subqueries (later issue)
        self.aggregate_hook: Callable | None = None  # set by the SELECT planner while binding an aggregating query
        self.queries = None  # the QueryPlanner (set by it): plans subqueries met in expressions
        self.sequence_call: Callable | None = None  # (name, args) -> Expr for nextval & co

    # -- entry points ---------------------------------------------------------------------------
    def bind(self, node: exp.Expression, scope: Scope) -> E.Expr:
        try:
            return self._bind(node, scope)
        except errors.Error as exc:
            locate(exc, node)
            raise

    def _bind(self, node: exp.Expression, scope: Scope) -> E.Expr:
        hook = self.aggregate_hook
        if hook is not None:
            hit = hook(node, scope)
            if hit is not None:
                return hit
        m = getattr(self, "_b_" + type(node).__name__, None)
        if m is not None:
            return m(node, scope)
        op = BINARY_OPS.get(type(node))
        if op is not None:
            return self._binary(op, node.this, node.expression, scope, node)
        uop = UNARY_OPS.get(type(node))
        if uop is not None:
            return self.operator(uop, None, self.bind(node.this, scope))
        if isinstance(node, exp.Func):
            return self._function(node, scope)
        raise errors.FeatureNotSupported(f"unsupported expression: {to_sql(node)[:200]}")

    def bind_bool(self, node: exp.Expression, scope: Scope, clause: str) -> E.Expr:
        e = self.bind(node, scope)
        if e.type.defn is T.UNKNOWN.defn:
            return self.coerce(e, T.BOOL, "i")
        if e.type.defn is not T.BOOL.defn:
            raise errors.DatatypeMismatch(f"argument of {clause} must be type boolean, not type {e.type}")
        return e

    # -- coercion ------------------------------------------------------------------------------
    def coerce(self, e: E.Expr, target: SqlType, context: str, *, column: str | None = None) -> E.Expr:
        """Cast e to target if a cast of the given context ('i', 'a', 'e') exists."""
        src = e.type
        if src == target:
            return e
        if isinstance(e, E.ParamRef) and src.defn is T.UNKNOWN.defn:
            self.params[e.index] = target
            return E.ParamRef(e.index, target)
        if src.defn is T.UNKNOWN.defn and isinstance(e, E.Const):
            return self._cast_const(e, target, explicit=context == "e")
        if src.defn is target.defn and src.elem == target.elem and target.typmod == -1:
            return e  # only the typmod differs and the target has none: no work
        cast = find_cast(src, target)
        allowed = {"i": "i", "a": "ia", "e": "iae"}[context]
        if cast is None or cast.context not in allowed:
            if context == "a" and column is not None:
                raise errors.DatatypeMismatch(
                    f'column "{column}" is of type {target} but expression is of type {src}',
                    hint="You will need to rewrite or cast the expression.",
                )
            if context == "e" or cast is None:
                raise errors.CannotCoerce(f"cannot cast type {src} to {target}")
            raise errors.DatatypeMismatch(f"cannot cast type {src} to {target} implicitly")
        explicit = context == "e"
        fn: Callable[[pa.Array], pa.Array] = lambda arr, s=src, t=target, x=explicit: cast_array(arr, s, t, x)  # noqa: E731
        return E.fold(E.Cast(e, target, fn))

    def _cast_const(self, c: E.Const, target: SqlType, explicit: bool = False) -> E.Expr:
        """An untyped literal becomes a value of the target type through its input function.
        An explicit cast to a length-limited type truncates ('abcdef'::varchar(3) is 'abc')
        where an assignment raises, as in PostgreSQL."""
        if not c.value.is_valid:
            return E.Const(pa.nulls(1, target.arrow_type())[0], target)
        text = c.value.as_py()
        if explicit and target.typmod >= 0 and target.defn in (T.VARCHAR.defn, T.BPCHAR.defn):
            base = SqlType(target.defn)
            arr = cast_array(to_arrow([base.defn.text_in(text, -1)], base), base, target, True)
            return E.Const(arr[0], target)
        return const(target.defn.text_in(text, target.typmod), target)

    def unify(self, exprs: list[E.Expr], what: str) -> tuple[list[E.Expr], SqlType]:
        """Resolve a common type for CASE/COALESCE/IN/VALUES branches and cast to it."""
        t = common_supertype([e.type for e in exprs])
        if t.defn is T.UNKNOWN.defn:
            t = T.TEXT
        return [self.coerce(e, t, "i") for e in exprs], t

    # -- operators and functions ----------------------------------------------------------------
    def operator(self, op: str, left: E.Expr | None, right: E.Expr) -> E.Expr:
        args = [right] if left is None else [left, right]
        ov, casts, ret = resolve_operator(op, None if left is None else left.type, right.type)
        args = [self.coerce(a, t, "i") for a, t in zip(args, casts)]
        return E.fold(E.Call(op, ov.impl, args, ret, volatile=ov.volatile))

    def call(self, name: str, args: list[E.Expr]) -> E.Expr:
        ov, casts, ret = resolve_function(name, [a.type for a in args])
        args = [self.coerce(a, t, "i") for a, t in zip(args, casts)]
        return E.fold(E.Call(name, ov.impl, args, ret, volatile=ov.volatile))

    def _binary(self, op: str, left: exp.Expression, right: exp.Expression, scope: Scope, node) -> E.Expr:
        if node is not None and isinstance(node, (exp.Like, exp.ILike)) and node.args.get("escape"):
            raise errors.FeatureNotSupported("LIKE ... ESCAPE is not supported yet")
        if isinstance(right, exp.Anonymous) and right.name.lower() in ("all", "any", "some") and len(right.expressions) == 1:
            # sqlglot reads ALL(...) / SOME(...) after some operators as plain calls
            cls = exp.All if right.name.lower() == "all" else exp.Any
            right = cls(this=right.expressions[0])
        if isinstance(right, (exp.Any, exp.All)):
            return self._quantified(op, left, right, scope)
        lhs, rhs = self.bind(left, scope), self.bind(right, scope)
        if rows.is_row(lhs) or rows.is_row(rhs):
            return rows.compare_rows(self, op, lhs, rhs)  # (a, b) < (c, d): field by field
        return self.operator(op, lhs, rhs)

    def _quantified(self, op: str, left, right, scope: Scope) -> E.Expr:
        from sqlvec.plan.query import ArrayQuantified

        how = "any" if isinstance(right, exp.Any) else "all"
        inner = right.this.this if isinstance(right.this, exp.Paren) else right.this
        arg = self.bind(left, scope)
        if isinstance(inner, (exp.Select, exp.Subquery, exp.Union)):
            return self.queries.subquery_expr(inner, scope, how, arg, op)
        arr = self.bind(inner, scope)
        if arr.type.defn is T.UNKNOWN.defn:
            arr = self.coerce(arr, T.array_of(arg.type if arg.type.defn is not T.UNKNOWN.defn else T.TEXT), "i")
        if not arr.type.is_array:
            raise errors.DatatypeMismatch("op ANY/ALL (array) requires array on right side")
        if arg.type.defn is T.UNKNOWN.defn:
            arg = self.coerce(arg, arr.type.elem, "i")
        cmp = self.operator(op, E.ColRef(0, arg.type), E.ColRef(1, arr.type.elem))
        return ArrayQuantified(arg, arr, cmp, how)

    def _b_Subquery(self, node: exp.Subquery, scope: Scope) -> E.Expr:
        return self.queries.subquery_expr(node.this, scope, "scalar")

    def _b_Exists(self, node: exp.Exists, scope: Scope) -> E.Expr:
        return self.queries.subquery_expr(node.this, scope, "exists")

    def _function(self, node: exp.Func, scope: Scope) -> E.Expr:
        name, argnodes = function_signature(node)
        if is_aggregate(name):
            raise errors.GroupingError(f"aggregate functions are not allowed in this context: {name}")
        if name in STMT_FUNCTIONS and not argnodes:
            return self.stmt_function(name)
        if name in ("nextval", "currval", "setval", "lastval") and self.sequence_call is not None:
            return self.sequence_call(name, [self.bind(a, scope) for a in argnodes])
        if name == "pg_typeof" and len(argnodes) == 1:
            t = self.bind(argnodes[0], scope).type  # regtype prints without the typmod
            bare = T.array_of(SqlType(t.elem.defn)) if t.is_array else SqlType(t.defn)
            # regtype names bpchar "character" (format_type without a typmod says bpchar)
            return const("character" if bare.defn is T.BPCHAR.defn else str(bare), T.TEXT)
        if name == "extract" and isinstance(argnodes[0], (exp.Var, exp.Identifier, exp.Column)):
            argnodes = [exp.Literal.string(argnodes[0].name.lower()), argnodes[1]]
        if name == "date_trunc" and isinstance(argnodes[0], (exp.Var, exp.Identifier, exp.Column)):
            argnodes = [exp.Literal.string(argnodes[0].name.lower()), *argnodes[1:]]
        return self.call(name, [self.bind(a, scope) for a in argnodes])

    def stmt_function(self, name: str) -> E.Expr:
        if name in _LOCAL_NOW:  # wall-clock values of now() in the session's TimeZone
            t = T.DATE if name == "current_date" else T.TIME if name == "localtime" else T.TIMESTAMP
            return E.StmtValue(name, lambda stmt: _LOCAL_NOW[name](_stmt_now(stmt)), t)
        return E.StmtValue("now", _make_now, T.TIMESTAMPTZ)

    # -- leaves ---------------------------------------------------------------------------------
    def _b_Literal(self, node: exp.Literal, scope: Scope) -> E.Expr:
        text = node.this
        if node.is_string:
            return const(text, T.UNKNOWN)
        if text.isdigit():
            v = int(text)
            t = literal_type_of_int(v)
            return const(Decimal(v) if t is T.NUMERIC else v, t)
        try:
            return const(Decimal(text), T.NUMERIC)
        except Exception as exc:  # noqa: BLE001 - report as PostgreSQL would
            raise errors.SyntaxError(f'syntax error at or near "{text}"') from exc

    def _b_Boolean(self, node, scope):
        return const(bool(node.this), T.BOOL)

    def _b_Null(self, node, scope):
        return E.Const(pa.scalar(None, pa.string()), T.UNKNOWN)

    def _b_Paren(self, node, scope):
        return self.bind(node.this, scope)

    def _b_Param(self, node, scope):
        i = node.args["index"] - 1
        while len(self.params) <= i:
            self.params.append(T.UNKNOWN)
        return E.ParamRef(i, self.params[i])

    def _b_Column(self, node: exp.Column, scope: Scope):
        if isinstance(node.this, exp.Star):
            raise errors.FeatureNotSupported("* is not allowed here")
        try:
            c = scope.resolve(node.name, node.table or None)
        except (errors.UndefinedColumn, errors.UndefinedTable):
            hit = scope.resolve_outer(node.name, node.table or None) if scope.parent is not None else None
            if hit is None:
                if not node.table and not node.this.quoted and node.name in NILADIC:
                    return self.call(NILADIC[node.name], [])
                raise
            from sqlvec.plan.query import OuterRef

            depth, oc = hit
            return OuterRef(depth, oc.index, oc.type)
        return E.ColRef(c.index, c.type, c.name, c.table_oid, c.attnum)

    def _b_Identifier(self, node, scope):
        c = scope.resolve(node.name)
        return E.ColRef(c.index, c.type, c.name, c.table_oid, c.attnum)

    def _b_HexString(self, node, scope):
        return const(bytes.fromhex(node.this), T.BYTEA)

    def _b_ByteString(self, node, scope):
        return const(node.this, T.UNKNOWN)

    def _b_Interval(self, node: exp.Interval, scope):
        text = node.this.name if isinstance(node.this, exp.Literal) else node.this.sql()
        unit = node.args.get("unit")
        if unit is not None:
            text = f"{text} {unit.name}"
        return self._cast_const(const(text, T.UNKNOWN), T.INTERVAL)

    # -- composite ------------------------------------------------------------------------------
    def _b_Cast(self, node: exp.Cast, scope):
        target = T.from_sqlglot(node.args["to"])
        return self.coerce(self.bind(node.this, scope), target, "e")

    _b_TryCast = _b_Cast

    def _b_And(self, node, scope):
        return E.BoolOp("and", [self.bind_bool(node.this, scope, "AND"), self.bind_bool(node.expression, scope, "AND")])

    def _b_Or(self, node, scope):
        return E.BoolOp("or", [self.bind_bool(node.this, scope, "OR"), self.bind_bool(node.expression, scope, "OR")])

    def _b_Not(self, node, scope):
        inner = node.this
        if isinstance(inner, (exp.Like, exp.ILike, exp.RegexpLike, exp.RegexpILike)):
            op = NEGATED_OPS[BINARY_OPS[type(inner)]]
            return self._binary(op, inner.this, inner.expression, scope, inner)
        if isinstance(inner, exp.In):
            return self._in(inner, scope, negate=True)
        return E.fold(E.Not(self.bind_bool(inner, scope, "NOT")))

    def _b_Escape(self, node: exp.Escape, scope):
        like = node.this
        negate = isinstance(like, exp.Not)
        if negate:
            like = like.this
        op = {exp.Like: "~~", exp.ILike: "~~*"}.get(type(like))
        if op is None:
            raise errors.FeatureNotSupported("ESCAPE is only supported with LIKE and ILIKE")
        if like.args.get("negate"):
            negate = not negate
        pattern = self.call("like_escape", [self.bind(like.expression, scope), self.bind(node.expression, scope)])
        e = self.operator("!" + op if negate else op, self.bind(like.this, scope), pattern)
        return e

    def _b_SimilarTo(self, node, scope):
        # x SIMILAR TO p  ==  x ~ similar_to_escape(p)
        pattern = self.call("similar_to_escape", [self.bind(node.expression, scope)])
        op = "!~" if node.args.get("negate") else "~"
        return self.operator(op, self.bind(node.this, scope), pattern)

    def _b_AtTimeZone(self, node, scope):
        arg = self.bind(node.this, scope)
        zone = self.bind(node.args["zone"], scope)
        return self.call("timezone", [zone, arg])

    def _b_BitString(self, node, scope):
        return self._cast_const(const(node.this, T.UNKNOWN), T.BIT)

    def _b_Like(self, node, scope):
        op = "!~~" if node.args.get("negate") else "~~"
        return self._binary(op, node.this, node.expression, scope, node)

    def _b_ILike(self, node, scope):
        op = "!~~*" if node.args.get("negate") else "~~*"
        return self._binary(op, node.this, node.expression, scope, node)

    def _b_Is(self, node: exp.Is, scope):
        negate = bool(node.args.get("negate"))
        right = node.expression
        if isinstance(node.this, exp.Tuple) and isinstance(right, exp.Null):
            # a row IS NULL when every field is; IS NOT NULL when every field is not
            parts = [E.IsNull(self.bind(x, scope), negate) for x in node.this.expressions]
            return E.fold(E.BoolOp("and", parts)) if len(parts) > 1 else parts[0]
        arg = self.bind(node.this, scope)
        if isinstance(right, exp.Null):
            return E.IsNull(arg, negate)
        if isinstance(right, exp.Boolean):
            return E.IsBool(self.coerce(arg, T.BOOL, "i"), bool(right.this), negate)
        raise errors.FeatureNotSupported(f"unsupported IS form: {to_sql(node)}")

    def _b_NullSafeEQ(self, node, scope):
        return self._distinct(node, scope, negate=True)

    def _b_NullSafeNEQ(self, node, scope):
        return self._distinct(node, scope, negate=False)

    def _distinct(self, node, scope, negate: bool) -> E.Expr:
        # a IS DISTINCT FROM b == coalesce(a <> b, a IS NULL <> b IS NULL)
        a, b = self.bind(node.this, scope), self.bind(node.expression, scope)
        ne = self.operator("<>", a, b)
        nulls_differ = self.operator("<>", E.IsNull(a), E.IsNull(b))
        out: E.Expr = E.Coalesce([ne, nulls_differ], T.BOOL)
        return E.fold(E.Not(out) if negate else out)

    def _b_Between(self, node: exp.Between, scope):
        a = self.bind(node.this, scope)
        low, high = self.bind(node.args["low"], scope), self.bind(node.args["high"], scope)
        inside = E.BoolOp("and", [self.operator(">=", a, low), self.operator("<=", a, high)])
        if node.args.get("symmetric"):
            # BETWEEN SYMMETRIC: either order of the bounds
            swapped = E.BoolOp("and", [self.operator(">=", a, high), self.operator("<=", a, low)])
            return E.fold(E.BoolOp("or", [inside, swapped]))
        return E.fold(inside)

    def _b_In(self, node: exp.In, scope):
        return self._in(node, scope, negate=False)

    def _in(self, node: exp.In, scope, negate: bool) -> E.Expr:
        arg = self.bind(node.this, scope)
        if node.args.get("query") is not None:
            q = node.args["query"]
            e = self.queries.subquery_expr(q.this if isinstance(q, exp.Subquery) else q, scope, "in", arg, "=")
            return E.Not(e) if negate else e
        items = [self.bind(x, scope) for x in node.expressions]
        if rows.is_row(arg):
            return rows.row_in(self, arg, items, negate)
        if arg.type.defn is not T.UNKNOWN.defn:
            # untyped literals take the probe's type (PostgreSQL resolves x IN ('1', '2') so)
            items = [self.coerce(i, arg.type, "i") if i.type.defn is T.UNKNOWN.defn else i for i in items]
        unified, t = self.unify([arg, *items], "IN")
        arg, items = unified[0], unified[1:]
        # a hash lookup compares storage values: right for most types, not for numeric kept as
        # decimal text ("1" vs "1.0"), which compares by value through the = operator instead
        if all(i.is_const for i in items) and not arg.type.is_array and t.defn is not T.NUMERIC.defn:
            values = pa.array([i.value.as_py() for i in items], type=t.arrow_type())
            return E.fold(E.InList(arg, values, negate))
        eqs = [self.operator("=", arg, i) for i in items]
        out: E.Expr = E.BoolOp("or", eqs) if len(eqs) > 1 else eqs[0]
        return E.fold(E.Not(out) if negate else out)

    def _b_Case(self, node: exp.Case, scope):
        subject = node.args.get("this")
        subj = self.bind(subject, scope) if subject is not None else None
        conds, vals = [], []
        default = node.args.get("default")
        ifs = list(node.args.get("ifs") or [])
        unreachable: list[exp.Expression] = []  # typed for the result type, never evaluated
        for pos, w in enumerate(ifs):
            if subj is not None:
                cond = self.operator("=", subj, self.bind(w.this, scope))
            else:
                cond = self.bind_bool(w.this, scope, "CASE/WHEN")
            if isinstance(cond, E.Const):
                if not (cond.value.is_valid and cond.value.as_py()):
                    unreachable.append(w.args["true"])  # never taken: dropped, as PostgreSQL does
                    continue
                # always taken: it ends the CASE
                unreachable += [x.args["true"] for x in ifs[pos + 1:]] + ([default] if default is not None else [])
                default = w.args["true"]
                break
            conds.append(cond)
            vals.append(self.bind(w.args["true"], scope))
        dflt = self.bind(default, scope) if default is not None else None
        typed = []
        for x in unreachable:
            try:
                typed.append(self.bind(x, scope))
            except errors.Error:
                pass  # a folding error in a branch that is never taken does not count
        if not conds:
            if dflt is None:
                return E.Const(pa.nulls(1, pa.string())[0], T.UNKNOWN)
            if typed:
                _, t = self.unify([dflt, *typed], "CASE")
                return self.coerce(dflt, t, "i")
            return dflt
        unified, t = self.unify(vals + ([dflt] if dflt is not None else []) + typed, "CASE")
        vals = unified[: len(vals)]
        dflt = unified[-1] if dflt is not None else None
        return E.fold(E.Case(list(zip(conds, vals)), dflt, t))

    def _b_If(self, node, scope):
        cond = self.bind_bool(node.this, scope, "CASE/WHEN")
        (a, b), t = self.unify([self.bind(node.args["true"], scope), self.bind(node.args.get("false") or exp.Null(), scope)], "CASE")
        return E.fold(E.Case([(cond, a)], b, t))

    def _b_Coalesce(self, node, scope):
        args = []
        settled = False  # a non-NULL constant came: later arguments are never evaluated
        for x in [node.this, *node.expressions]:
            if settled:
                try:  # still typed (for the result type), but their folding errors don't count
                    args.append(self.bind(x, scope))
                except errors.Error:
                    pass
                continue
            a = self.bind(x, scope)
            if isinstance(a, E.Const) and not a.value.is_valid and a.type.defn is T.UNKNOWN.defn:
                continue  # an untyped NULL contributes nothing
            args.append(a)
            settled = isinstance(a, E.Const) and a.value.is_valid
        if not args:
            return E.Const(pa.nulls(1, pa.string())[0], T.UNKNOWN)
        args, t = self.unify(args, "COALESCE")
        return E.fold(E.Coalesce(args, t))

    def _b_Nullif(self, node, scope):
        a, b = self.bind(node.this, scope), self.bind(node.expression, scope)
        eq = self.operator("=", a, b)
        return E.fold(E.Case([(eq, E.Const(pa.nulls(1, a.type.arrow_type())[0], a.type))], a, a.type))

    def _b_Array(self, node: exp.Array, scope):
        if len(node.expressions) == 1 and isinstance(node.expressions[0], (exp.Select, exp.Union, exp.Subquery)):
            q = node.expressions[0]
            return self.queries.subquery_expr(q.this if isinstance(q, exp.Subquery) else q, scope, "array")
        items = [self.bind(x, scope) for x in node.expressions]
        if not items:
            raise errors.IndeterminateDatatype("cannot determine type of empty array", hint="Explicitly cast to the desired type, for example ARRAY[]::integer[].")
        items, t = self.unify(items, "ARRAY")
        return self.call("__array_build", items) if not all(i.is_const for i in items) else const(
            [i.value.as_py() for i in items], T.array_of(t)
        )

    def _b_Greatest(self, node, scope):
        args = [self.bind(node.this, scope)] + [self.bind(x, scope) for x in node.expressions]
        args, _ = self.unify(args, "GREATEST")
        return self.call("greatest", args)

    def _b_Least(self, node, scope):
        args = [self.bind(node.this, scope)] + [self.bind(x, scope) for x in node.expressions]
        args, _ = self.unify(args, "LEAST")
        return self.call("least", args)

    def _b_Trim(self, node: exp.Trim, scope):
        pos = (node.args.get("position") or "BOTH").upper()
        name = {"BOTH": "btrim", "LEADING": "ltrim", "TRAILING": "rtrim"}[pos]
        args = [self.bind(node.this, scope)]
        if node.expression is not None:
            args.append(self.bind(node.expression, scope))
        return self.call(name, args)

    def _b_JSONExtract(self, node, scope):
        return self._json_arrow("->", node, scope)

    def _b_JSONExtractScalar(self, node, scope):
        return self._json_arrow("->>", node, scope)

    def _json_arrow(self, op: str, node, scope) -> E.Expr:
        """a -> 'k' / a -> 1: sqlglot turns the key into a JSON path; turn it back."""
        key = node.expression
        if isinstance(key, exp.JSONPath):
            parts = [p for p in key.expressions if not isinstance(p, exp.JSONPathRoot)]
            if len(parts) != 1:
                raise errors.FeatureNotSupported(f"unsupported JSON path: {to_sql(node)[:80]}")
            p = parts[0]
            if isinstance(p, exp.JSONPathSubscript):
                k: E.Expr = const(int(p.this), T.INT4)
            else:
                k = const(str(p.this), T.UNKNOWN)
        else:
            k = self.bind(key, scope)
        return self.operator(op, self.bind(node.this, scope), k)

    def _b_Neg(self, node: exp.Neg, scope):
        # PostgreSQL's parser folds "-" and a numeric constant into one negative constant,
        # so -2147483648 is an integer (and -2147483648 - 1 overflows), as there
        inner = node.this
        if isinstance(inner, exp.Literal) and not inner.is_string:
            text = "-" + inner.this
            if inner.this.isdigit():
                v = int(text)
                t = literal_type_of_int(v)
                return const(Decimal(v) if t is T.NUMERIC else v, t)
            return const(Decimal(text), T.NUMERIC)
        return self.operator("-", None, self.bind(inner, scope))

    def _b_Dot(self, node: exp.Dot, scope):
        # schema-qualified function: pg_catalog.pg_table_is_visible(oid)
        if isinstance(node.expression, exp.Func) and isinstance(node.this, (exp.Identifier, exp.Var)):
            return self.bind(node.expression, scope)
        # field selection: (record).name
        if isinstance(node.this, exp.Paren) and isinstance(node.expression, exp.Identifier):
            return records.select_field(self.bind(node.this, scope), node.expression.name)
        raise errors.FeatureNotSupported(f"unsupported expression: {to_sql(node)[:120]}")

    def _b_Operator(self, node: exp.Operator, scope):
        # OPERATOR(pg_catalog.~): the schema does not matter here
        op = str(node.args.get("operator")).split(".")[-1].strip()
        return self.operator(op, self.bind(node.this, scope), self.bind(node.expression, scope))

    def _b_Collate(self, node: exp.Collate, scope):
        # text compares by code point (C collation); the collations clients name are accepted
        name = node.expression.name if isinstance(node.expression, (exp.Column, exp.Identifier, exp.Var)) else ""
        if name.lower().strip('"') not in ("default", "c", "posix", "ucs_basic"):
            raise errors.UndefinedObject(f'collation "{name}" for encoding "UTF8" does not exist')
        return self.bind(node.this, scope)

    def _b_Bracket(self, node: exp.Bracket, scope):
        arr = self.bind(node.this, scope)
        if len(node.expressions) != 1:
            raise errors.FeatureNotSupported("multidimensional subscripts are not supported")
        sub_node = node.expressions[0]
        zero = arr.type.name in ZERO_BASED
        # subscripts arrive as written (the dialect's INDEX_OFFSET is 0); int2vector /
        # oidvector count from 0 in PostgreSQL, so their element k is array position k + 1
        shift = 1 if zero else 0
        if zero:
            from sqlvec.exec.srf import _vector_as_array

            arr = _vector_as_array(arr)
        if isinstance(sub_node, exp.Slice):
            lo = self._subscript(sub_node.this, scope, shift) if sub_node.this is not None else const(None, T.INT4)
            hi = self._subscript(sub_node.expression, scope, shift) if sub_node.expression is not None else const(None, T.INT4)
            return self.call("__array_slice", [arr, lo, hi])
        return self.call("__array_subscript", [arr, self._subscript(sub_node, scope, shift)])

    def _subscript(self, node: exp.Expression, scope, shift: int) -> E.Expr:
        e = self.coerce(self.bind(node, scope), T.INT4, "i") if not isinstance(node, exp.Literal) else None
        if e is None:
            e = self.coerce(self.bind(node, scope), T.INT4, "i")
        return self.operator("+", e, const(shift, T.INT4)) if shift else e

    def _b_Anonymous(self, node: exp.Anonymous, scope):
        from sqlvec.exec import fulltext  # score(), snippet(), text_match(), fts_*()

        if node.name.lower() == "row":
            return rows.row_constructor(self, [self.bind(x, scope) for x in node.expressions])
        hit = fulltext.bind_special(self, node, scope)
        return hit if hit is not None else self._function(node, scope)

    def _b_Tuple(self, node: exp.Tuple, scope):
        return rows.row_constructor(self, [self.bind(x, scope) for x in node.expressions])

    def _b_Bm25Match(self, node, scope):
        from sqlvec.exec import fulltext

        return fulltext.bind_match(self, node, scope)

    def _b_Window(self, node, scope):
        # window calls reach here only where the SELECT planner's stage hook is not installed
        raise errors.WindowingError("window functions are not allowed in this context")

    def _b_Star(self, node, scope):
        raise errors.FeatureNotSupported("* is not allowed here")


def locate(exc: errors.Error, node: exp.Expression) -> None:
    """Give an error the position of the node it is about, as PostgreSQL reports it (the
    innermost node wins: the first call on the way out sets it)."""
    if exc.position is not None or getattr(exc, "stmt_position", None) is not None:
        return
    for n in node.walk():
        start = n.meta.get("start") if isinstance(n, exp.Expression) and n._meta else None
        if start is not None:
            exc.stmt_position = start
            return


def _pg_name(cls: type) -> str:
    """The name under which a sqlglot function class is registered with us: the first of its
    SQL spellings we know (GEN_RANDOM_UUID for exp.Uuid), else its first spelling."""
    from sqlvec.exec.functions.registry import functions

    # sqlglot spells JSONB... classes J_S_O_N_B_...
    names = [n.lower().replace("j_s_o_n_b", "jsonb").replace("j_s_o_n", "json") for n in cls.sql_names()] or [cls.key]
    known = functions()
    return next((n for n in names if n in known or is_aggregate(n)), names[0])


def function_signature(node: exp.Func) -> tuple[str, list[exp.Expression]]:
    """PostgreSQL function name and argument nodes of a sqlglot function node."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), list(node.expressions)
    spec = FUNCTION_NAMES.get(type(node))
    keys = spec[1] if spec else tuple(node.arg_types)
    name = spec[0] if spec else _pg_name(type(node))
    args: list[exp.Expression] = []
    for k in keys:
        v = node.args.get(k)
        if v is None:
            continue
        if isinstance(v, list):
            args.extend(v)
        elif isinstance(v, exp.Expression):
            args.append(v)
    return name, args


def _make_now(stmt: dict) -> pa.Scalar:
    ts = stmt.get("now_value") or _dt.datetime.now(_dt.UTC)
    return pa.scalar(ts, pa.timestamp("us", tz="UTC"))


def _stmt_now(stmt: dict) -> pa.Scalar:
    # the same instant as now() in this statement (StmtValue "now" caches it under its key)
    if stmt.get("now") is None:
        stmt["now"] = _make_now(stmt)
    return stmt["now"]


def _local_now(t: SqlType):
    def make(now: pa.Scalar) -> pa.Scalar:
        from sqlvec.types.datetime_casts import cast_datetime

        return cast_datetime(pa.array([now]), T.TIMESTAMPTZ, t)[0]

    return make


_LOCAL_NOW = {"current_date": _local_now(T.DATE), "localtimestamp": _local_now(T.TIMESTAMP),
              "localtime": _local_now(T.TIME)}


def output_name(node: exp.Expression) -> str:
    """The column name PostgreSQL gives an unaliased select-list expression."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Paren):
        return output_name(node.this)
    if isinstance(node, exp.Dot):
        # (f(x)).n is named n; schema.f(x) is named f
        return node.expression.name if isinstance(node.expression, exp.Identifier) else output_name(node.expression)
    if isinstance(node, (exp.Window, exp.Filter, exp.WithinGroup)):
        return output_name(node.this)  # sum(x) FILTER (...) OVER (...) is named sum
    if isinstance(node, (exp.Cast, exp.TryCast)):
        inner = output_name(node.this)
        if inner != "?column?":
            return inner
        return T.from_sqlglot(node.args["to"]).defn.extra.get("internal_name", T.from_sqlglot(node.args["to"]).name)
    if isinstance(node, exp.Func):
        if isinstance(node, exp.Anonymous):
            return node.name.lower()
        if isinstance(node, exp.CurrentTimestamp):
            return "now" if node.args.get("sysdate") is None else "current_timestamp"
        if isinstance(node, exp.Count):
            return "count"
        name, _ = function_signature(node)
        return name
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Array):
        return "array"
    if isinstance(node, exp.Boolean):
        return "bool"
    return "?column?"
