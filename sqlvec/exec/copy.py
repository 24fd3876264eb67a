"""The COPY statement: bulk load (COPY ... FROM) and unload (COPY ... TO).

COPY FROM STDIN / TO STDOUT talk to the client through ``session.copy_channel`` (the wire
server sets one; see ``sqlvec.wire.copy``)::

    channel.copy_in(binary, ncols) -> iterator of data chunks (CopyFail raises 57014)
    channel.copy_out(binary, ncols) -> writer with .write(bytes) per row and .done()

A server-side file (``COPY t FROM '/path'``) needs a superuser, as in PostgreSQL. A load
reads all of its data, converts it column by column (``copyformat``), fills defaults,
checks constraints and inserts every row in one batch of the statement's transaction:
any error, or the client's CopyFail, writes nothing.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec import copyformat as F
from sqlvec.exec.relation import ExecContext
from sqlvec.grammar import ParsedStatement, to_sql
from sqlvec.grammar import parse as grammar_parse
from sqlvec.grammar import utility as U
from sqlvec.plan import expr as E
from sqlvec.result import Result


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_file_access(session, writing: bool) -> None:
    role = session.db.role(session.user)
    if role is None or not role.superuser:
        word = "to" if writing else "from"
        raise errors.InsufficientPrivilege(
            f"permission denied to COPY {word} a file",
            detail=f"Only roles with privileges of the \"pg_{'write' if writing else 'read'}_server_files\" role may COPY {word} a file.",
            hint="Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.",
        )


def _channel(session, what: str):
    channel = getattr(session, "copy_channel", None)
    if channel is None:
        raise errors.FeatureNotSupported(f"COPY {what} is only available through the wire protocol")
    return channel


def _target_columns(table: Table, names: tuple[str, ...] | None) -> list[int]:
    if names is None:
        return list(range(len(table.columns)))
    by_name = {c.name: i for i, c in enumerate(table.columns)}
    out: list[int] = []
    for n in names:
        if n not in by_name:
            raise errors.UndefinedColumn(f'column "{n}" of relation "{table.name}" does not exist')
        if by_name[n] in out:
            raise errors.DuplicateColumn(f'column "{n}" specified more than once')
        out.append(by_name[n])
    return out


def _resolve(session, name: U.QualifiedName) -> Table:
    node = exp.Table(this=exp.to_identifier(name.name), db=exp.to_identifier(name.schema) if name.schema else None)
    return session.resolve_table(node)


def run_copy(session, st, values, many: bool) -> Result:
    node: U.CopyStmt = st.ast
    opts = F.CopyOptions.from_statement(node.options)
    if node.target == "program":
        raise errors.FeatureNotSupported("COPY PROGRAM is not supported")
    if node.is_from:
        return _copy_from(session, node, opts)
    return _copy_to(session, node, opts)


# -- COPY FROM ----------------------------------------------------------------------------------


def _copy_from(session, node: U.CopyStmt, opts: F.CopyOptions) -> Result:
    if node.table is None:
        raise errors.SyntaxError("COPY FROM needs a table")
    table = _resolve(session, node.table)
    session.check_writable("COPY FROM")
    targets = _target_columns(table, node.columns)
    names = [table.columns[i].name for i in targets]
    types = [table.columns[i].type for i in targets]
    if node.target == "file":
        _check_file_access(session, writing=False)
        try:
            with open(node.filename or "", "rb") as f:
                data = f.read()
        except OSError as exc:
            raise errors.UndefinedFile(f'could not open file "{node.filename}" for reading: {exc.strerror}') from None
    else:
        chunks = _channel(session, "FROM STDIN").copy_in(opts.binary, len(targets))
        data = b"".join(chunks)
    session.check_interrupt()
    if opts.binary:
        parsed = F.parse_binary(data, types, names, table.name)
    else:
        parsed = F.parse_text(data, names, opts, table.name)
    given = {}
    for j, i in enumerate(targets):
        col = parsed.columns[j]
        col = _force_nulls(col, names[j], opts) if not opts.binary else col
        given[i] = F.to_column(col, types[j], table.name, names[j], parsed.first_line)
    n = parsed.nrows
    return Result(f"COPY {_insert(session, table, given, n)}")


def _force_nulls(col, name: str, opts: F.CopyOptions):
    """CSV's FORCE_NOT_NULL (the null string reads as a value) and FORCE_NULL."""
    import pyarrow.compute as pc

    def named(spec) -> bool:
        return spec == "*" or name in spec

    if named(opts.force_not_null) and col.null_count:
        col = col.fill_null(opts.null)
    if named(opts.force_null):
        col = pc.if_else(pc.equal(col, opts.null), pa.scalar(None, pa.string()), col)
    return col


def _insert(session, table: Table, given: dict[int, pa.Array], n: int) -> int:
    from sqlvec.exec.dml import InsertPlan, insert_rows

    binder = session.new_binder([])
    defaults = session.default_exprs(table, binder)
    checks = session.check_exprs(table, binder)
    ctx = ExecContext(session.txn, [], {"engine": session.db.engine, "session": session}, session.check_interrupt)
    cols = []
    for i, c in enumerate(table.columns):
        if i in given:
            cols.append(given[i])
            continue
        arr = E.broadcast(defaults[i].eval(ctx.eval_ctx([], n)), n)
        cols.append(arr if arr.type == c.type.arrow_type() else arr.cast(c.type.arrow_type()))
    plan = InsertPlan(table, [], None, list(range(len(table.columns))), defaults, checks, bulk=True)
    return insert_rows(ctx, plan, cols, n).count


# -- COPY TO ------------------------------------------------------------------------------------


def _copy_to(session, node: U.CopyStmt, opts: F.CopyOptions) -> Result:
    from sqlvec import statements

    if node.query is not None:
        text = f"/* COPY */ {to_sql(node.query)}"
        query = ParsedStatement(text, 0, node.query, 0)
    else:
        assert node.table is not None
        table = _resolve(session, node.table)
        targets = _target_columns(table, node.columns)
        cols = ", ".join(_quote(table.columns[i].name) for i in targets)
        query = grammar_parse(f"SELECT {cols} FROM {_quote(table.schema)}.{_quote(table.name)}")[0]
    result = statements.run(session, query, None, False)
    if result.columns is None or result.table is None:
        raise errors.FeatureNotSupported("COPY query must have a RETURNING clause")
    data = result.table
    types = [c.type for c in result.columns]
    names = [c.name for c in result.columns]
    n = data.num_rows
    if node.target == "file":
        _check_file_access(session, writing=True)
        try:
            with open(node.filename or "", "wb") as f:
                for piece in _rendered(data, types, names, opts):
                    f.write(piece)
        except OSError as exc:
            raise errors.UndefinedFile(f'could not open file "{node.filename}" for writing: {exc.strerror}') from None
        return Result(f"COPY {n}")
    out = _channel(session, "TO STDOUT").copy_out(opts.binary, len(types))
    for piece in _rendered(data, types, names, opts):
        out.write(piece)
    out.done()
    return Result(f"COPY {n}")


def _rendered(data: pa.Table, types, names, opts: F.CopyOptions):
    """The output, one piece per row (as PostgreSQL sends one CopyData per row: psycopg's
    row reader relies on it); binary's header rides on the first row and its trailer alone."""
    if opts.binary:
        rows = F.render_binary(data, types)
        if not rows:
            yield F.BINARY_HEADER + F.BINARY_TRAILER
            return
        yield F.BINARY_HEADER + rows[0]
        yield from rows[1:]
        yield F.BINARY_TRAILER
        return
    if opts.header:
        yield F.header_line(names, opts)
    for lo in range(0, data.num_rows, 8192):
        chunk = F.render_text(data.slice(lo, 8192), types, names, opts)
        yield from chunk.to_pylist()
