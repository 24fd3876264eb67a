"""psql's look, without a server: result tables, errors, statement splitting and the REPL.

The table layout follows psql's default ``\\pset format aligned`` with ``border 1``
(src/fe_utils/print.c): headers centred, ``-+-`` rule, numeric types right-aligned, NULL as
an empty cell, ``+`` marking a value that continues on the next line, ``(N rows)`` footer
and a blank line. Errors follow libpq's default verbosity: ``ERROR:  message``, a
``LINE n:`` excerpt with a caret under the error position, then ``DETAIL:`` and ``HINT:``.
"""

from __future__ import annotations

import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from sqlvec import errors
from sqlvec.exec.functions.context import current_session
from sqlvec.index.progress import PATTERN as PROGRESS
from sqlvec.result import Result

# psql right-aligns these types (column_type_alignment): int2, int4, int8, float4, float8,
# numeric, oid, xid, xid8, cid, money.
RIGHT_ALIGNED_OIDS = frozenset({21, 23, 20, 700, 701, 1700, 26, 28, 5069, 29, 790})


# -- cell layout (pg_wcsformat / pg_wcssize) -----------------------------------------------
def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` occupies (East Asian wide characters count twice)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def cell_lines(value: str) -> list[tuple[str, int]]:
    """Split a value into display lines with their widths, as psql renders them.

    Tabs expand to the next multiple of 8 columns, ``\\r`` shows as ``\\r`` and other
    control characters as ``\\xNN``.
    """
    out = []
    for raw in value.split("\n"):
        if raw.isprintable():
            out.append((raw, display_width(raw)))
            continue
        parts: list[str] = []
        width = 0
        for ch in raw:
            if ch == "\t":
                pad = 8 - width % 8
                parts.append(" " * pad)
                width += pad
            elif ch == "\r":
                parts.append("\\r")
                width += 2
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                parts.append(f"\\x{ord(ch):02X}")
                width += 4
            else:
                parts.append(ch)
                width += _char_width(ch)
        out.append(("".join(parts), width))
    return out


def format_table(
    headers: Sequence[str], right_align: Sequence[bool], rows: Sequence[Sequence[str]], footer: str
) -> str:
    """psql's aligned table (border 1) for cells that are already text ('' for NULL)."""
    ncols = len(headers)
    head = [cell_lines(h) for h in headers]
    body = [[cell_lines(v) for v in row] for row in rows]
    widths = [max(w for _, w in lines) for lines in head]
    for row in body:
        for j, lines in enumerate(row):
            widths[j] = max(widths[j], max(w for _, w in lines))

    out: list[str] = []
    # Header: centred, extra space on the right; "+" where a header continues.
    depth = max((len(lines) for lines in head), default=0)
    for n in range(depth):
        line = []
        for j, lines in enumerate(head):
            line.append(" ")
            if n < len(lines):
                text, w = lines[n]
                space = widths[j] - w
                line.append(" " * (space // 2) + text + " " * ((space + 1) // 2))
                line.append("+" if n + 1 < len(lines) else " ")
            else:
                line.append(" " * widths[j] + " ")
            if j < ncols - 1:
                line.append("|")
        out.append("".join(line))
    out.append("-" + "-+-".join("-" * w for w in widths) + "-")

    for row in body:
        for n in range(max((len(lines) for lines in row), default=0)):
            line = []
            for j, lines in enumerate(row):
                last = j == ncols - 1
                line.append(" ")
                if n < len(lines):
                    text, w = lines[n]
                    more = n + 1 < len(lines)
                    if right_align[j]:
                        line.append(" " * (widths[j] - w) + text)
                    else:
                        # The last column is not padded unless a "+" must line up after it.
                        line.append(text + (" " * (widths[j] - w) if not last or more else ""))
                    if more:
                        line.append("+")
                    elif not last:
                        line.append(" ")
                elif not last:
                    line.append(" " * widths[j] + " ")
                if not last:
                    line.append("|")
            out.append("".join(line))
    out.append(footer)
    return "\n".join(out) + "\n\n"


def row_footer(n: int) -> str:
    return "(1 row)" if n == 1 else f"({n} rows)"


# -- results ---------------------------------------------------------------------------------
def result_text(result: Result) -> list[list[str | None]]:
    """The rows of a result in PostgreSQL text output (None for NULL), column-wise converted."""
    from sqlvec.types.arrow import text_out_array

    table = result.table
    columns = result.columns or []
    if table is None or not columns:
        return [[] for _ in range(table.num_rows if table is not None else 0)]
    converted = []
    for i, col in enumerate(columns):
        arr = table.column(i).combine_chunks()
        text = text_out_array(arr, col.type)
        converted.append(text.to_pylist() if hasattr(text, "to_pylist") else list(text))
    return [list(r) for r in zip(*converted)]


def format_result(result: Result) -> str:
    """What psql prints for one statement's result (table and/or command tag)."""
    if not result.returns_rows:
        return result.tag + "\n" if result.tag else ""
    columns = result.columns or []
    rows = result_text(result)
    text = format_table(
        [c.name for c in columns],
        [c.type.oid in RIGHT_ALIGNED_OIDS for c in columns],
        [["" if v is None else v for v in row] for row in rows],
        row_footer(len(rows)),
    )
    # psql also prints the command tag after the rows of INSERT/UPDATE/DELETE/MERGE RETURNING.
    if result.tag.split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        text += result.tag + "\n"
    return text


# -- errors (libpq's pqBuildErrorMessage3 / reportErrorPosition) ---------------------------
_DISPLAY_SIZE = 60  # screen columns of query text shown around the error position
_MIN_RIGHT_CUT = 10  # keep this many columns after the caret when cutting the line


def error_position_lines(query: str, position: int) -> list[str]:
    """``LINE n: ...`` and the caret line for a 1-based character position, as libpq does."""
    loc = position - 1
    if loc < 0 or loc > len(query):
        return []
    text = query.replace("\t", " ")
    # Line containing loc: a lone \r, a lone \n or \r\n ends a line.
    line_no, begin = 1, 0
    for i, ch in enumerate(text[:loc]):
        if ch in "\r\n":
            if ch == "\r" or i == 0 or text[i - 1] != "\r":
                line_no += 1
            begin = i + 1
    end = loc
    while end < len(text) and text[end] not in "\r\n":
        end += 1
    cols = [0]  # screen column at the start of each character of the line, relative to begin
    for ch in text[begin:end]:
        cols.append(cols[-1] + max(_char_width(ch), 1))

    def col(i: int) -> int:
        return cols[i - begin]

    beg_trunc = end_trunc = False
    if col(end) - col(begin) > _DISPLAY_SIZE:
        if col(begin) + _DISPLAY_SIZE >= col(loc) + _MIN_RIGHT_CUT:
            while col(end) - col(begin) > _DISPLAY_SIZE:
                end -= 1
            end_trunc = True
        else:
            while col(loc) + _MIN_RIGHT_CUT < col(end):
                end -= 1
                end_trunc = True
            first = begin
            while col(end) - col(first) > _DISPLAY_SIZE:
                first += 1
                beg_trunc = True
            offset = col(first)
            cols = [c - offset for c in cols]
            cols, begin = cols[first - begin :], first
    prefix = f"LINE {line_no}: " + ("..." if beg_trunc else "")
    excerpt = text[begin:end] + ("..." if end_trunc else "")
    return [prefix + excerpt, " " * (len(prefix) + col(loc)) + "^"]


def format_error(exc: BaseException, query: str | None = None) -> str:
    """``ERROR:  message`` with position, DETAIL and HINT lines, as psql prints an error."""
    if not isinstance(exc, errors.Error):
        # An engine bug is still reported the way the server would report it.
        return f"ERROR:  {type(exc).__name__}: {exc}\n"
    lines = [f"{exc.severity}:  {exc.message}"]
    if exc.position and query is not None:
        lines.extend(error_position_lines(query, exc.position))
    if exc.detail:
        lines.append(f"DETAIL:  {exc.detail}")
    if exc.hint:
        lines.append(f"HINT:  {exc.hint}")
    return "\n".join(lines) + "\n"


def format_timing(elapsed_ms: float) -> str:
    """psql's ``\\timing`` line."""
    if elapsed_ms < 1000.0:
        return f"Time: {elapsed_ms:.3f} ms"
    seconds = elapsed_ms / 1000.0
    minutes, seconds = divmod(seconds, 60.0)
    if minutes < 60:
        return f"Time: {elapsed_ms:.3f} ms ({int(minutes):02d}:{seconds:06.3f})"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"Time: {elapsed_ms:.3f} ms ({int(hours):02d}:{int(minutes):02d}:{seconds:06.3f})"
    days, hours = divmod(hours, 24)
    return f"Time: {elapsed_ms:.3f} ms ({days:.0f} d {int(hours):02d}:{int(minutes):02d}:{seconds:06.3f})"


# -- statement splitting (psqlscan) --------------------------------------------------------
class StatementSplitter:
    """Cuts input lines into statements at ``;`` outside quotes, dollar quotes, comments and
    parentheses, as psql does. ``state`` gives psql's %R prompt character."""

    def __init__(self) -> None:
        self.buffer: list[str] = []  # text of the statement being collected
        self.start_line = 0  # input line on which the current statement began
        self._mode = ""  # '' normal, "'" string, 'e' E-string, '"' identifier, '$' dollar, '*'
        self._dollar_tag = ""
        self._comment_depth = 0
        self._parens = 0

    @property
    def pending(self) -> str:
        return "".join(self.buffer).strip()

    @property
    def state(self) -> str:
        """'=' nothing pending, '-' a statement continues, or the open quote/comment/paren."""
        if self._mode:
            return {"e": "'", "*": "*"}.get(self._mode, self._mode)
        if self._parens > 0:
            return "("
        return "-" if self.pending else "="

    def reset(self) -> None:
        self.__init__()

    def feed(self, line: str, line_no: int = 0) -> list[tuple[str, int]]:
        """Add one input line (without its newline); return the statements it completed."""
        done: list[tuple[str, int]] = []
        text = line + "\n"
        i, n = 0, len(text)
        start = 0  # start of the slice of ``text`` not yet copied into the buffer
        while i < n:
            ch = text[i]
            mode = self._mode
            if not self.buffer and i == start and not mode:
                # Leading whitespace and -- comments are dropped, as psql does.
                if ch.isspace():
                    i += 1
                    start = i
                    continue
                if text.startswith("--", i):
                    start = n
                    break
                self.start_line = line_no
            if mode == "":
                if ch == ";" and self._parens == 0:
                    self.buffer.append(text[start : i + 1])
                    done.append(("".join(self.buffer).strip(), self.start_line))
                    self.buffer = []
                    start = i + 1
                elif ch == "'":
                    prev = text[i - 1] if i else ""
                    before = text[i - 2] if i > 1 else ""
                    escaped = prev in "eE" and not (before.isalnum() or before == "_")
                    self._mode = "e" if escaped else "'"
                elif ch == '"':
                    self._mode = '"'
                elif ch == "$" and not (i and (text[i - 1].isalnum() or text[i - 1] in "_$")):
                    tag = _dollar_tag(text, i)
                    if tag is not None:
                        self._mode, self._dollar_tag = "$", tag
                        i += len(tag) - 1
                elif text.startswith("--", i):
                    i = n - 1  # rest of the line is a comment (kept in the statement text)
                elif text.startswith("/*", i):
                    self._mode, self._comment_depth = "*", 1
                    i += 1
                elif ch == "(":
                    self._parens += 1
                elif ch == ")" and self._parens > 0:
                    self._parens -= 1
            elif mode == "'" and ch == "'":
                self._mode = ""  # a doubled '' re-enters the string on the next character
            elif mode == "e":
                if ch == "\\":
                    i += 1
                elif ch == "'":
                    self._mode = ""
            elif mode == '"' and ch == '"':
                self._mode = ""
            elif mode == "$" and text.startswith(self._dollar_tag, i):
                i += len(self._dollar_tag) - 1
                self._mode = ""
            elif mode == "*":
                if text.startswith("*/", i):
                    self._comment_depth -= 1
                    i += 1
                    if self._comment_depth == 0:
                        self._mode = ""
                elif text.startswith("/*", i):
                    self._comment_depth += 1
                    i += 1
            i += 1
        rest = text[start:]
        if self.buffer or rest.strip():
            self.buffer.append(rest)
        return done


def _dollar_tag(text: str, i: int) -> str | None:
    """The ``$tag$`` opening a dollar quote at ``i``, or None (``$1`` is a parameter)."""
    j = i + 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_" or ord(text[j]) > 127):
        j += 1
    if j < len(text) and text[j] == "$" and not text[i + 1 : i + 2].isdigit():
        return text[i : j + 1]
    return None


# -- the interactive terminal ----------------------------------------------------------------
HELP = """General
  \\q                     quit sqlvec
  \\?                     show this help
  \\timing [on|off]       toggle timing of commands
  \\g                     execute the query buffer
  \\r                     reset (clear) the query buffer

Informational
  \\d[S+] [NAME]          not supported yet (comes with the catalog)

End a statement with a semicolon to run it.
"""


class Shell:
    """Runs SQL text through a session and prints what psql would print."""

    def __init__(
        self,
        session: Any,
        *,
        database: str = "postgres",
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.session = session
        self.database = database
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.timing = False
        self.quit = False
        self.splitter = StatementSplitter()
        self._where: tuple[str, int] | None = None  # (file name, line) for error prefixes
        # notices sent while a statement runs (index build progress) are shown as they come
        session.notice_sink = self._live_notice
        self.meta: dict[str, Callable[[list[str]], bool]] = {
            "q": self._quit,
            "quit": self._quit,
            "?": self._help,
            "timing": self._timing,
            "g": self._go,
            "r": self._reset,
            "d": self._describe,
        }

    # -- running SQL -----------------------------------------------------------------------
    def run_sql(self, sql: str) -> bool:
        """Run every statement in ``sql``, printing each result; False after an error."""
        started = time.perf_counter()
        try:
            for result in self.session.execute_iter(sql):
                self._print_notices(result)
                # text output follows the session's settings (extra_float_digits)
                with current_session(self.session):
                    self.out.write(format_result(result))
        except errors.Error as exc:
            self._print_notices_of(exc)
            self._error(format_error(exc, sql))
            return False
        except Exception as exc:  # noqa: BLE001 - an engine bug must not kill the shell
            self._error(format_error(exc, sql))
            return False
        finally:
            if self.timing:
                self.out.write(format_timing((time.perf_counter() - started) * 1000) + "\n")
            self.out.flush()
        return True

    def run_command(self, text: str) -> bool:
        """``-c``: a backslash command or SQL text (all its results are printed)."""
        if text.lstrip().startswith("\\"):
            return self.run_meta(text.strip())
        return self.run_sql(text)

    def run_lines(
        self, lines: Iterable[str], name: str | None = None, stop_on_error: bool = False
    ) -> bool:
        """Run a script (``-f`` or piped input). Returns False if any statement failed."""
        ok = True
        for line_no, line in enumerate(lines, 1):
            if not self._feed(line.rstrip("\n"), line_no, name):
                ok = False
                if stop_on_error:
                    return False
            if self.quit:
                return ok
        if self.splitter.pending:  # psql runs a last statement that lacks its semicolon
            self._where = (name, self.splitter.start_line) if name else None
            ok = self.run_sql(self.splitter.pending) and ok
            self.splitter.reset()
        return ok

    def _feed(self, line: str, line_no: int, name: str | None) -> bool:
        ok = True
        if self.splitter.state in "=-(" and line.lstrip().startswith("\\"):
            self._where = (name, line_no) if name else None
            return self.run_meta(line.strip())
        for stmt, start in self.splitter.feed(line, line_no):
            self._where = (name, start) if name else None
            ok = self.run_sql(stmt) and ok
        return ok

    # -- backslash commands ----------------------------------------------------------------
    def run_meta(self, text: str) -> bool:
        words = text[1:].split()
        name = words[0] if words else ""
        handler = self.meta.get(name)
        if handler is None and name[:1] == "d":
            handler = self._describe
        if handler is None:
            self._error(f"invalid command \\{name}\nTry \\? for help.\n")
            return False
        return handler(words[1:])

    def _quit(self, args: list[str]) -> bool:
        self.quit = True
        return True

    def _help(self, args: list[str]) -> bool:
        self.out.write(HELP)
        return True

    def _timing(self, args: list[str]) -> bool:
        choice = args[0].lower() if args else ""
        self.timing = {"on": True, "off": False}.get(choice, not self.timing)
        self.out.write(f"Timing is {'on' if self.timing else 'off'}.\n")
        return True

    def _go(self, args: list[str]) -> bool:
        sql = self.splitter.pending
        self.splitter.reset()
        return self.run_sql(sql) if sql else True

    def _reset(self, args: list[str]) -> bool:
        self.splitter.reset()
        self.out.write("Query buffer reset (cleared).\n")
        return True

    def _describe(self, args: list[str]) -> bool:
        # \d needs pg_catalog, which arrives with the catalog work: say so rather than guess.
        self._error("\\d is not supported yet\n")
        return False

    # -- output helpers --------------------------------------------------------------------
    def _error(self, text: str) -> None:
        if self._where:
            text = f"sqlvec:{self._where[0]}:{self._where[1]}: " + text
        self.out.flush()
        self.err.write(text)
        self.err.flush()

    def _live_notice(self, n) -> None:
        """A notice during a statement: build progress as a bar on a terminal, else (and
        for other notices) the line psql prints."""
        m = PROGRESS.match(n.message)
        if m is None or not self.err.isatty():
            self.err.write(f"{n.severity}:  {n.message}\n")
        else:
            pct = int(m["pct"])
            bar = "#" * (pct * 30 // 100)
            end = "\n" if pct >= 100 and m["done"] == m["total"] else ""
            self.err.write(f"\r{m['method']} build [{bar:<30}] {pct:3d}%  segment {m['done']}/{m['total']}{end}")
        self.err.flush()

    def _print_notices(self, result: Result) -> None:
        for n in result.notices:
            self.err.write(f"{n.severity}:  {n.message}\n")
            if n.detail:
                self.err.write(f"DETAIL:  {n.detail}\n")
            if n.hint:
                self.err.write(f"HINT:  {n.hint}\n")

    def _print_notices_of(self, exc: BaseException) -> None:
        for result in getattr(exc, "results", ()):  # results an engine attaches, if any
            self._print_notices(result)

    # -- the REPL --------------------------------------------------------------------------
    def prompt(self) -> str:
        """psql's PROMPT1/PROMPT2: ``postgres=# ``, ``postgres-# ``, ``postgres=*# `` ..."""
        status = getattr(self.session, "transaction_status", "I")
        tx = {"T": "*", "E": "!"}.get(status, "")
        return f"{self.database}{self.splitter.state}{tx}# "

    def interact(self, banner: str) -> None:
        history = _open_history()
        self.out.write(banner)
        line_no = 0
        try:
            while not self.quit:
                try:
                    line = input(self.prompt())
                except EOFError:
                    self.out.write("\\q\n")
                    break
                except KeyboardInterrupt:
                    self.out.write("\n")
                    self.splitter.reset()
                    continue
                line_no += 1
                if not self.splitter.pending and line.strip() in ("quit", "exit"):
                    break
                try:
                    self._feed(line, line_no, None)
                except KeyboardInterrupt:
                    self._error(
                        "Cancel request sent\nERROR:  canceling statement due to user request\n"
                    )
        finally:
            if history:
                history()


def _open_history() -> Callable[[], None] | None:
    """Load ~/.sqlvec_history into readline; return the function that saves it."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: no history, still a shell
        return None
    path = os.path.join(os.path.expanduser("~"), ".sqlvec_history")
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(500)

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError:
            pass

    return save
