"""Run-time settings (GUCs): SET, SHOW, RESET, SET LOCAL.

Each setting is one row in SETTINGS: its default, the function that checks and normalises a
new value (raising PostgreSQL's errors), and a description for SHOW ALL / pg_settings.
Dotted names that no module declares are *placeholders*, as in PostgreSQL: any
``myapp.flag`` may be set and read back as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlvec import errors


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    check: Callable[[str, str], str]  # (name, value) -> normalised value
    description: str
    read_only: bool = False


def _text(name: str, v: str) -> str:
    return v


def _bool(name: str, v: str) -> str:
    s = v.strip().lower()
    if s in ("on", "true", "yes", "1", "t", "y"):
        return "on"
    if s in ("off", "false", "no", "0", "f", "n"):
        return "off"
    raise errors.InvalidParameterValue(f'parameter "{name}" requires a Boolean value')


def _int_range(lo: int, hi: int) -> Callable[[str, str], str]:
    def check(name: str, v: str) -> str:
        try:
            x = int(str(v).strip())
        except ValueError:
            raise errors.InvalidParameterValue(f'invalid value for parameter "{name}": "{v}"') from None
        if not lo <= x <= hi:
            raise errors.InvalidParameterValue(
                f'{x} is outside the valid range for parameter "{name}" ({lo} .. {hi})'
            )
        return str(x)

    return check


def _enum(*choices: str) -> Callable[[str, str], str]:
    def check(name: str, v: str) -> str:
        s = v.strip().lower()
        if s not in choices:
            raise errors.InvalidParameterValue(
                f'invalid value for parameter "{name}": "{v}"',
                hint="Available values: " + ", ".join(choices) + ".",
            )
        return s

    return check


def _fraction(name: str, v: str) -> str:
    try:
        x = float(str(v).strip())
    except ValueError:
        raise errors.InvalidParameterValue(f'invalid value for parameter "{name}": "{v}"') from None
    if not 0.0 < x <= 1.0:
        raise errors.InvalidParameterValue(
            f'{x:g} is outside the valid range for parameter "{name}" (0 .. 1)')
    return f"{x:g}"


# PostgreSQL's time units for a setting whose base unit is ms (guc.c's memory/time tables)
_MS_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_MS_MAX = 2**31 - 1


def duration_ms(text: str) -> int | None:
    """Milliseconds of ``500``, ``250ms``, ``5s``, ``1min`` (PostgreSQL's GUC units) or of an
    interval literal (``'5 seconds'``); None when it is neither."""
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?)\s*([a-z]*)\s*", text)
    if m is not None and m.group(2) in ("", *_MS_UNITS):
        return round(float(m.group(1)) * _MS_UNITS.get(m.group(2), 1))
    from sqlvec.types import registry as T

    try:
        iv = T.INTERVAL.defn.text_in(text, -1)
    except errors.Error:
        return None
    if iv.months:
        return None  # a month has no fixed length
    return round((iv.days * 86_400_000_000 + iv.microseconds) / 1000)


def _duration(name: str, v: str) -> str:
    ms = duration_ms(str(v))
    if ms is None:
        raise errors.InvalidParameterValue(
            f'invalid value for parameter "{name}": "{v}"',
            hint='Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".')
    if not 0 <= ms <= _MS_MAX:
        raise errors.InvalidParameterValue(
            f'{ms} ms is outside the valid range for parameter "{name}" (0 ms .. {_MS_MAX} ms)')
    # shown in the largest unit that divides it, as PostgreSQL shows statement_timeout
    for unit in ("d", "h", "min", "s"):
        if ms and ms % _MS_UNITS[unit] == 0:
            return f"{ms // _MS_UNITS[unit]}{unit}"
    return f"{ms}ms" if ms else "0"


def _timezone(name: str, v: str) -> str:
    # zone names, numeric hour offsets and POSIX specs as PostgreSQL's check_timezone reads
    # them; the stored value is what SHOW prints ('europe/berlin' -> Europe/Berlin, 5 -> <+05>-05)
    from sqlvec.types.datetime_zone import parse_zone

    zone = parse_zone(str(v))
    if zone is None:
        raise errors.InvalidParameterValue(f'invalid value for parameter "TimeZone": "{v}"')
    return zone.name


def _encoding(name: str, v: str) -> str:
    # PostgreSQL ignores case and punctuation in encoding names ('utf-8', "UTF8", unicode)
    s = "".join(ch for ch in v.upper() if ch.isalnum())
    if s in ("UTF8", "UNICODE"):
        return "UTF8"
    raise errors.InvalidParameterValue(f'invalid value for parameter "client_encoding": "{v}"')


def _datestyle(name: str, v: str) -> str:
    # output style and input field order, each kept from the current value when not given
    from sqlvec.types.datetime_style import normalize_datestyle

    return normalize_datestyle(str(v))


SETTINGS: dict[str, Setting] = {
    s.name.lower(): s
    for s in [
        Setting("application_name", "", _text, "Sets the application name to be reported in statistics and logs."),
        Setting("client_encoding", "UTF8", _encoding, "Sets the client's character set encoding."),
        Setting("DateStyle", "ISO, MDY", _datestyle, "Sets the display format for date and time values."),
        Setting("IntervalStyle", "postgres", _enum("postgres", "iso_8601"), "Sets the display format for interval values."),
        Setting("TimeZone", "UTC", _timezone, "Sets the time zone for displaying and interpreting time stamps."),
        Setting("extra_float_digits", "1", _int_range(-15, 3), "Sets the number of digits displayed for floating-point values."),
        Setting("search_path", '"$user", public', _text, "Sets the schema search order for names that are not schema-qualified."),
        Setting("standard_conforming_strings", "on", _bool, "Causes '...' strings to treat backslashes literally.", read_only=False),
        Setting("synchronous_commit", "on", _enum("on", "off", "local", "remote_write", "remote_apply"), "Sets the current transaction's synchronization level."),
        Setting("statement_timeout", "0", _duration, "Sets the maximum allowed duration of any statement (ms)."),
        Setting("lock_timeout", "0", _duration, "Sets the maximum allowed duration of any wait for a lock (ms)."),
        Setting("idle_in_transaction_session_timeout", "0", _duration, "Sets the maximum allowed idle time between queries, when in a transaction (ms)."),
        Setting("transaction_isolation", "repeatable read", _enum("read committed", "repeatable read", "serializable", "read uncommitted"), "Sets the current transaction's isolation level."),
        Setting("default_transaction_isolation", "repeatable read", _enum("read committed", "repeatable read", "serializable", "read uncommitted"), "Sets the transaction isolation level of each new transaction."),
        Setting("transaction_read_only", "off", _bool, "Sets the current transaction's read-only status."),
        Setting("default_transaction_read_only", "off", _bool, "Sets the default read-only status of new transactions."),
        Setting("server_version", "16.4", _text, "Shows the server version.", read_only=True),
        Setting("server_version_num", "160004", _text, "Shows the server version as an integer.", read_only=True),
        Setting("server_encoding", "UTF8", _text, "Shows the server (database) character set encoding.", read_only=True),
        Setting("integer_datetimes", "on", _bool, "Shows whether datetimes are integer based.", read_only=True),
        Setting("max_identifier_length", "63", _text, "Shows the maximum identifier length.", read_only=True),
        Setting("client_min_messages", "notice", _enum("debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error"), "Sets the message levels that are sent to the client."),
        Setting("row_security", "on", _bool, "Enable row security."),
        # SET ROLE / SET SESSION AUTHORIZATION (checked by sqlvec.exec.set_role)
        Setting("role", "none", _text, "Sets the current role."),
        Setting("session_authorization", "", _text, "Sets the session user name."),
        Setting("bytea_output", "hex", _enum("hex"), "Sets the output format for bytea."),
        Setting("lc_messages", "C", _text, "Sets the language in which messages are displayed."),
        Setting("lc_monetary", "C", _text, "Sets the locale for formatting monetary amounts."),
        Setting("lc_numeric", "C", _text, "Sets the locale for formatting numbers."),
        Setting("lc_time", "C", _text, "Sets the locale for formatting date and time values."),
        # read by clients' introspection (SQLAlchemy's reflection asks for the access method)
        Setting("default_table_access_method", "heap", _text, "Sets the default table access method for new tables."),
        Setting("default_tablespace", "", _text, "Sets the default tablespace to create tables and indexes in."),
        # asyncpg turns JIT off around its type introspection (set_config('jit', 'off', false));
        # sqlvec compiles nothing, so it is off
        Setting("jit", "off", _bool, "Allow JIT compilation."),
        # pgvector's settings, with its ranges
        Setting("hnsw.ef_search", "40", _int_range(1, 1000), "Sets the size of the dynamic candidate list for search"),
        Setting("hnsw.iterative_scan", "off", _enum("off", "relaxed_order", "strict_order"), "Sets the mode for iterative scans (sqlvec always returns k rows when k match)"),
        Setting("hnsw.max_scan_tuples", "20000", _int_range(1, 2**31 - 1), "Sets the max number of tuples to visit for iterative scans"),
        Setting("hnsw.scan_mem_multiplier", "1", _int_range(1, 1000), "Sets the multiple of work_mem to use for iterative scans"),
        Setting("sqlvec.compaction_min_rows", "0", _int_range(0, 2**31 - 1), "Sealed segments with fewer rows are merged by compaction (0: a quarter of the seal size)"),
        Setting("sqlvec.compaction_deleted_fraction", "0.2", _fraction, "Sealed segments with at least this fraction of deleted rows are rewritten by compaction"),
        Setting("sqlvec.compaction_target_bytes", str(1 << 30), _int_range(0, 2**62), "Compaction merges consecutive sealed segments into segments of up to this many bytes, one index each (0: no merging of clean segments)"),
        Setting("sqlvec.compaction_interval", "60", _int_range(0, 2**31 - 1), "Seconds between background compaction passes (0: only VACUUM compacts)"),
        Setting("sqlvec.consistency", "strong", _enum("strong", "bounded", "session", "eventually"), "Sets the snapshot a read-only statement outside a transaction block sees (docs/consistency.md)"),
        Setting("sqlvec.staleness", "0", _duration, "Sets how old a snapshot the bounded consistency level may read (ms)"),
        Setting("sqlvec.bulk_load_rows", "50000", _int_range(0, 2**31 - 1), "COPY FROM and INSERT ... SELECT of at least this many rows write sealed segments directly, without logging the rows (0: never)"),
        Setting("sqlvec.growing_segment_max_bytes", "268435456", _int_range(0, 2**62), "Bytes of growing (unsealed) segments over all tables above which the largest is sealed; this session's commits enforce its value, the server default otherwise (0: no limit)"),
        Setting("ivfflat.probes", "1", _int_range(1, 32768), "Sets the number of probes"),
        Setting("ivfflat.iterative_scan", "off", _enum("off", "relaxed_order"), "Sets the mode for iterative scans (sqlvec always returns k rows when k match)"),
        Setting("ivfflat.max_probes", "32768", _int_range(1, 32768), "Sets the max number of probes for iterative scans"),
    ]
}


def lookup(name: str) -> Setting | None:
    return SETTINGS.get(name.lower())


class SessionSettings:
    """A session's values: session-level SETs plus a SET LOCAL overlay for the transaction."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self.local: dict[str, str] = {}
        self.version = 0  # bumped by every change: keys derived from settings are cached on it
        self._tuples: dict[tuple[str, ...], tuple[int, tuple[str, ...]]] = {}

    @property
    def values(self) -> dict[str, str]:
        return self._values

    @values.setter
    def values(self, values: dict[str, str]) -> None:  # a rollback restoring earlier SETs
        self._values = values
        self.version += 1

    def tuple_of(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The values of ``names``, recomputed only after a change (per-statement cache keys
        read them on every execution)."""
        hit = self._tuples.get(names)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        out = tuple(self.get(n) for n in names)
        self._tuples[names] = (self.version, out)
        return out

    def timeout_ms(self) -> int:
        """statement_timeout in milliseconds (it reads '5s', '1min' ... as PostgreSQL does)."""
        hit = self._tuples.get("statement_timeout_ms")
        if hit is not None and hit[0] == self.version:
            return hit[1]
        ms = duration_ms(self.get("statement_timeout")) or 0
        self._tuples["statement_timeout_ms"] = (self.version, ms)
        return ms

    def get(self, name: str) -> str:
        key = name.lower()
        if key in self.local:
            return self.local[key]
        if key in self.values:
            return self.values[key]
        if key == "transaction_isolation":
            # outside BEGIN ISOLATION LEVEL / SET TRANSACTION: the session's default
            return self.get("default_transaction_isolation")
        s = SETTINGS.get(key)
        if s is not None:
            return s.default
        raise errors.UndefinedObject(f'unrecognized configuration parameter "{name}"')

    def set(self, name: str, value: str | None, *, local: bool = False) -> None:
        self.version += 1
        key = name.lower()
        s = SETTINGS.get(key)
        if s is None and "." not in key:
            raise errors.UndefinedObject(f'unrecognized configuration parameter "{name}"')
        if s is not None and s.read_only:
            raise errors.Error(f'parameter "{s.name}" cannot be changed', sqlstate="55P02")
        if value is None:  # RESET / SET ... TO DEFAULT
            if s is None:
                # a placeholder (dotted) setting stays defined, as the empty string
                (self.local if local else self.values)[key] = ""
                return
            (self.local if local else self.values).pop(key, None)
            if local:
                self.local[key] = s.default
            return
        v = s.check(s.name, value) if s is not None else value
        (self.local if local else self.values)[key] = v

    def reset_all(self) -> None:
        self.version += 1
        self.values.clear()
        self.local.clear()

    def end_transaction(self) -> None:
        if self.local:
            self.version += 1
            self.local.clear()

    def all(self) -> list[tuple[str, str, str]]:
        return [(s.name, self.get(s.name), s.description) for s in sorted(SETTINGS.values(), key=lambda s: s.name.lower())]

    def display_name(self, name: str) -> str:
        s = SETTINGS.get(name.lower())
        return s.name.lower() if s is not None else name
