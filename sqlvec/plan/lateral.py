"""Planning functions in FROM and LATERAL items.

A function in FROM may read the columns of the FROM items to its left (it is implicitly
LATERAL): its arguments are bound against their scope and evaluated over their rows. A LATERAL
subquery is planned with the left items as its enclosing scope; the columns it captures decide
the combinations it is run for.
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.exec.lateral import FunctionRel, LateralRel
from sqlvec.exec.nodes import RelNode
from sqlvec.exec.srf import SrfCall, bind_srf, srf_name
from sqlvec.grammar import to_sql
from sqlvec.plan import expr as E
from sqlvec.plan.binder import function_signature, output_name
from sqlvec.plan.scope import Scope, ScopeColumn
from sqlvec.plan.stages import forbid


def _parts(item: exp.Expression):
    """(function node, alias node, ordinality, ordinality column name) of a FROM function item,
    or None when the item is not a function."""
    alias = item.args.get("alias")
    lateral = isinstance(item, exp.Lateral)
    inner = item.this if lateral else item
    if isinstance(inner, exp.Table) and isinstance(inner.this, exp.Func):
        alias = inner.args.get("alias") or alias
        return inner.this, alias, bool(inner.args.get("ordinality") or item.args.get("ordinality")), None
    if isinstance(inner, exp.Unnest):
        alias = inner.args.get("alias") or alias
        off = inner.args.get("offset")
        name = off.name if isinstance(off, exp.Identifier) else None
        return inner, alias, bool(off), name
    if lateral and isinstance(inner, exp.Func):
        return inner, alias, bool(item.args.get("ordinality")), None
    return None


def _bind_call(binder, func: exp.Expression, scope: Scope) -> SrfCall:
    forbid_aggregates(func)
    name = srf_name(func)
    if isinstance(func, exp.Unnest):
        argnodes = list(func.expressions)
    else:
        argnodes = function_signature(func)[1]
    if name is None:
        # an ordinary function in FROM: one row with its value
        e = binder.bind(func, scope)
        return SrfCall(output_name(func), _scalar_impl(e), [e], [(output_name(func), e.type)])
    for a in argnodes:
        forbid(a, "functions in FROM")
    args = [binder.bind(a, scope) for a in argnodes]
    return bind_srf(binder, name, args, in_from=True)


def forbid_aggregates(func: exp.Expression) -> None:
    from sqlvec.plan.select import _has_aggregate

    if _has_aggregate(func):
        raise errors.GroupingError("aggregate functions are not allowed in functions in FROM")


def _scalar_impl(e: E.Expr):
    import numpy as np

    def impl(vals, types, n):
        return np.arange(n), [vals[0]]

    return impl


def _scope(call: SrfCall, alias_node, ordinality: bool, ord_name: str | None, base: int) -> list[ScopeColumn]:
    alias = alias_node.name if alias_node is not None and alias_node.name else call.name
    names = [c[0] for c in call.columns]
    if len(names) == 1 and names[0] == call.name:
        names = [alias]  # a function returning a base type: its column takes the table alias
    types = [c[1] for c in call.columns]
    if ordinality:
        from sqlvec.types import registry as T

        names.append(ord_name or "ordinality")
        types.append(T.INT8)
    col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    if len(col_aliases) > len(names):
        raise errors.InvalidColumnReference(
            f'table "{alias}" has {len(names)} columns available but {len(col_aliases)} columns specified')
    names = col_aliases + names[len(col_aliases):]
    return [ScopeColumn(nm, t, base + i, alias) for i, (nm, t) in enumerate(zip(names, types))]


def function_scan(binder, item: exp.Expression, outer: Scope | None) -> RelNode:
    """A function as the first FROM item (nothing to its left)."""
    parts = _parts(item)
    if parts is None:
        raise errors.FeatureNotSupported(f"FROM item not supported yet: {to_sql(item)[:80]}")
    if isinstance(item, exp.Lateral) and not isinstance(parts[0], exp.Func | exp.Unnest):
        raise errors.FeatureNotSupported("LATERAL subquery as the first FROM item")
    func, alias, ordinality, ord_name = parts
    call = _bind_call(binder, func, Scope([], outer))
    return FunctionRel(None, call, ordinality, "inner", _scope(call, alias, ordinality, ord_name, 0))


def _kind(j: exp.Join, left: RelNode, refs: set[int]) -> str | None:
    """inner or left; None for a RIGHT/FULL join without lateral references (an ordinary join)."""
    side = (j.args.get("side") or "").lower()
    if side in ("right", "full"):
        if not refs:
            return None
        table = next(c.table for c in left.scope if c.index in refs)
        raise errors.InvalidColumnReference(
            f'invalid reference to FROM-clause entry for table "{table}"',
            detail="The combining JOIN type must be INNER or LEFT for a LATERAL reference.")
    return "left" if side == "left" else "inner"


def join_item(planner, left: RelNode, j: exp.Join, outer: Scope | None) -> RelNode | None:
    """left JOIN <function or LATERAL item>, or None for an item the ordinary join handles."""
    item = j.this
    parts = _parts(item)
    sub = item.this if isinstance(item, exp.Lateral) else item
    lateral_sub = isinstance(sub, exp.Subquery) and (isinstance(item, exp.Lateral) or sub.args.get("lateral"))
    if parts is None and not lateral_sub:
        return None
    if j.args.get("using"):
        raise errors.FeatureNotSupported("JOIN ... USING with a function or LATERAL item is not supported yet")
    b = planner.b
    nl = len(left.scope)
    lscope = Scope(list(left.scope), outer)
    if parts is not None:
        func, alias, ordinality, ord_name = parts
        call = _bind_call(b, func, lscope)
        rscope = _scope(call, alias, ordinality, ord_name, nl)
        node = FunctionRel(left, call, ordinality, "inner", list(left.scope) + rscope)
        refs = E.referenced_columns(call.args)
    else:
        capture: set[int] = set()
        lscope.captures.append(capture)
        try:
            plan = planner.queries.plan_query(sub.this, lscope)
        finally:
            lscope.captures.pop()
        alias_node = item.args.get("alias") or sub.args.get("alias")
        if alias_node is None or not alias_node.name:
            raise errors.SyntaxError("subquery in FROM must have an alias", hint="For example, FROM (SELECT ...) [AS] foo.")
        names = [c.name for c in plan.columns]
        aliases = [c.name for c in alias_node.columns] if alias_node.columns else []
        names = aliases + names[len(aliases):]
        rscope = [ScopeColumn(nm, c.type, nl + i, alias_node.name) for i, (nm, c) in enumerate(zip(names, plan.columns))]
        node = LateralRel(left, plan, sorted(capture), "inner", list(left.scope) + rscope)
        refs = capture
    kind = _kind(j, left, refs)
    if kind is None:
        return None
    node.kind = kind
    on = j.args.get("on")
    if on is not None and not (isinstance(on, exp.Boolean) and on.this):
        forbid(on, "JOIN conditions")
        node.residual = b.bind_bool(on, Scope(node.scope, outer), "JOIN/ON")
    elif node.kind == "left" and on is None:
        raise errors.SyntaxError('syntax error at or near "LEFT JOIN"')
    return node
