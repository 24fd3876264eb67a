"""Time zones as PostgreSQL reads them, and whole-column conversions between UTC instants and
wall-clock times.

A :class:`Zone` is a table of transitions (UTC seconds) and the UTC offset and abbreviation in
force between them, so that a column of instants converts with one ``np.searchsorted``
instead of a Python call per row. Named zones come from the IANA database that ``zoneinfo``
reads (the system's /usr/share/zoneinfo, else the ``tzdata`` package): the TZif file gives the
listed transitions, and a "slim" file's POSIX footer rule (yearly DST after the last listed
transition) is expanded lazily by probing ``zoneinfo`` for the years a column reaches.

The TimeZone setting reads its value as PostgreSQL's check_timezone does:

* a bare number is hours *east* of UTC in the SQL sign convention (``5``, ``+05``, ``-7``,
  ``5.5``), shown as ``<+05>-05``;
* otherwise a zone name (case-insensitive: ``europe/berlin`` is ``Europe/Berlin``);
* otherwise a POSIX spec without DST rules, whose sign is *inverted*: ``UTC+5`` and
  ``+05:30`` are west of UTC, ``<+03>-3`` is east.

Wall-clock times that a transition skips or repeats resolve as in PostgreSQL's
DetermineTimeZoneOffset: in a spring-forward gap the offset from before the transition applies
(02:30 New York on the day clocks go forward is 03:30 EDT), in a fall-back overlap the offset
from after it (01:30 is read as EST).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import os
import re
import struct
import zoneinfo

import numpy as np

USEC = 1_000_000
# the ±infinity sentinels (datetime.max/min, see datetimes.py) in microseconds since 1970
POS_INF_US = 253_402_300_799_999_999
NEG_INF_US = -62_135_596_800_000_000
_FAR_YEAR = 9999


class Zone:
    """A time zone: ``name`` as SHOW TimeZone prints it, and its offset table."""

    def __init__(self, name: str, offsets: list[int], abbrevs: list[str],
                 transitions: list[int] | None = None, key: str | None = None,
                 rule: bool = False):
        self.name = name
        self._trans = list(transitions or [])  # UTC seconds, ascending
        self._offs = list(offsets)  # seconds east of UTC; len = len(_trans) + 1
        self._abbr = list(abbrevs)
        self._key = key  # zoneinfo key, to expand a POSIX rule past the last transition
        self._rule = rule and key is not None
        self._done_until = (dt.datetime.fromtimestamp(self._trans[-1], dt.UTC).year
                            if self._trans else 1970)
        self._arrays()

    def _arrays(self) -> None:
        self._t = np.asarray(self._trans, dtype=np.int64)
        self._o = np.asarray(self._offs, dtype=np.int64)
        lo = np.minimum(self._o[:-1], self._o[1:])
        hi = np.maximum(self._o[:-1], self._o[1:])
        # the wall-clock window each transition makes ambiguous or skips
        self._local_lo = self._t + lo
        self._local_hi = self._t + hi

    @property
    def fixed(self) -> bool:
        return not self._trans and not self._rule

    # -- expanding a POSIX rule ------------------------------------------------------------
    def _ensure(self, max_sec: int) -> None:
        if not self._rule:
            return
        year = min(dt.datetime.fromtimestamp(max(min(max_sec, POS_INF_US // USEC), 0),
                                             dt.UTC).year + 1, _FAR_YEAR - 1)
        if year <= self._done_until:
            return
        zi = zoneinfo.ZoneInfo(self._key)  # type: ignore[arg-type]

        def at(sec: int) -> tuple[int, str]:
            d = dt.datetime.fromtimestamp(sec, zi)
            return int(d.utcoffset().total_seconds()), d.tzname() or ""  # type: ignore[union-attr]

        # from the last transition known (listed, or found by an earlier expansion)
        sec = self._trans[-1] + 1 if self._trans else int(
            dt.datetime(self._done_until + 1, 1, 1, tzinfo=dt.UTC).timestamp())
        end = int(dt.datetime(year, 12, 31, tzinfo=dt.UTC).timestamp())
        cur = at(sec)
        step = 86400 * 7  # no zone changes its offset twice within a week
        while sec < end:
            nxt = at(sec + step)
            if nxt != cur:
                lo, hi = sec, sec + step  # at(lo) == cur, at(hi) != cur
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if at(mid) == cur:
                        lo = mid
                    else:
                        hi = mid
                if not self._trans or hi > self._trans[-1]:
                    self._trans.append(hi)
                    self._offs.append(nxt[0])
                    self._abbr.append(nxt[1])
                cur = nxt
            sec += step
        self._done_until = year
        self._arrays()

    def _ensure_for(self, secs: np.ndarray) -> None:
        if self._rule and secs.size:
            finite = secs[secs < POS_INF_US // USEC - 86400 * 2]  # ±infinity needs no rule
            if finite.size:
                self._ensure(int(finite.max()))

    # -- whole columns ---------------------------------------------------------------------
    def utc_offsets(self, utc_us: np.ndarray) -> np.ndarray:
        """Seconds east of UTC at each instant (microseconds since 1970, UTC)."""
        if self.fixed:
            return np.full(utc_us.shape, self._offs[0], dtype=np.int64)
        secs = np.floor_divide(utc_us, USEC)
        self._ensure_for(secs)
        return self._o[np.searchsorted(self._t, secs, side="right")]

    def local_offsets(self, local_us: np.ndarray) -> np.ndarray:
        """Seconds east of UTC that apply to each wall-clock time (PostgreSQL's choice in
        gaps and overlaps, see the module docstring)."""
        if self.fixed:
            return np.full(local_us.shape, self._offs[0], dtype=np.int64)
        secs = np.floor_divide(local_us, USEC)
        self._ensure_for(secs + 86400)
        k = np.searchsorted(self._local_lo, secs, side="right") - 1
        kk = np.maximum(k, 0)
        before, after = self._o[kk], self._o[kk + 1]
        inside = (k >= 0) & (secs < self._local_hi[kk])
        # gap (after > before): the earlier offset; overlap: the later one
        chosen = np.where(inside & (after > before), before, after)
        return np.where(k < 0, self._o[0], chosen)

    def to_local(self, utc_us: np.ndarray) -> np.ndarray:
        """Wall-clock microseconds of UTC instants; ±infinity stays as it is."""
        utc_us = np.asarray(utc_us, dtype=np.int64)
        out = utc_us + self.utc_offsets(utc_us) * USEC
        return np.where(_infinite(utc_us), utc_us, out)

    def to_utc(self, local_us: np.ndarray) -> np.ndarray:
        """UTC instants of wall-clock microseconds; ±infinity stays as it is."""
        local_us = np.asarray(local_us, dtype=np.int64)
        out = local_us - self.local_offsets(local_us) * USEC
        return np.where(_infinite(local_us), local_us, out)

    def abbrevs(self, utc_us: np.ndarray) -> np.ndarray:
        """Abbreviation (EST, CEST, LMT; '' for an unnamed POSIX offset) at each instant."""
        if self.fixed:
            return np.full(utc_us.shape, self._abbr[0], dtype=object)
        self.utc_offsets(utc_us)  # expands the rule as far as needed
        names = np.asarray(self._abbr, dtype=object)
        return names[np.searchsorted(self._t, np.floor_divide(utc_us, USEC), side="right")]

    # -- one value -------------------------------------------------------------------------
    def offset_at_utc(self, utc_us: int) -> int:
        return int(self.utc_offsets(np.array([utc_us], dtype=np.int64))[0])

    def offset_at_local(self, local_us: int) -> int:
        return int(self.local_offsets(np.array([local_us], dtype=np.int64))[0])

    @functools.cached_property
    def tzinfo(self) -> dt.tzinfo:
        """A Python tzinfo with this table's answers (for per-value Python code)."""
        return _TableTz(self)

    def __repr__(self) -> str:
        return f"Zone({self.name!r})"


def _infinite(us: np.ndarray) -> np.ndarray:
    return (us >= POS_INF_US) | (us <= NEG_INF_US)


def _us(d: dt.datetime) -> int:
    naive = d.replace(tzinfo=None)
    return (naive - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


class _TableTz(dt.tzinfo):
    def __init__(self, zone: Zone):
        self.zone = zone

    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        if d is None:
            return dt.timedelta(seconds=self.zone._offs[0])
        return dt.timedelta(seconds=self.zone.offset_at_local(_us(d)))

    def dst(self, d: dt.datetime | None) -> dt.timedelta | None:
        return None

    def tzname(self, d: dt.datetime | None) -> str:
        if d is None:
            return self.zone._abbr[0]
        utc = _us(d) - self.zone.offset_at_local(_us(d)) * USEC
        return str(self.zone.abbrevs(np.array([utc], dtype=np.int64))[0])

    def fromutc(self, d: dt.datetime) -> dt.datetime:
        off = self.zone.offset_at_utc(_us(d))
        return d + dt.timedelta(seconds=off)

    def __repr__(self) -> str:
        return f"<Zone {self.zone.name}>"


# --- loading --------------------------------------------------------------------------------


def _tzif_bytes(key: str) -> bytes | None:
    if not key or key.startswith("/") or ".." in key.split("/"):
        return None
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, key)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    try:
        res = importlib.resources.files("tzdata").joinpath("zoneinfo", *key.split("/"))
        return res.read_bytes() if res.is_file() else None
    except (ModuleNotFoundError, OSError):
        return None


def _parse_tzif(data: bytes) -> tuple[list[int], list[int], list[str], str] | None:
    """(transitions, offsets, abbreviations, POSIX footer) of a TZif file (RFC 8536)."""
    if data[:4] != b"TZif":
        return None
    version = data[4:5]
    counts = struct.unpack(">6l", data[20:44])
    isut, isstd, leap, timecnt, typecnt, charcnt = counts
    pos, tsize = 44, 4
    if version >= b"2":
        pos += timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
        isut, isstd, leap, timecnt, typecnt, charcnt = struct.unpack(">6l", data[pos + 20:pos + 44])
        pos, tsize = pos + 44, 8
    times = list(struct.unpack(f">{timecnt}{'q' if tsize == 8 else 'l'}",
                               data[pos:pos + timecnt * tsize]))
    pos += timecnt * tsize
    idx = list(data[pos:pos + timecnt])
    pos += timecnt
    types = [struct.unpack(">lBB", data[pos + 6 * i:pos + 6 * i + 6]) for i in range(typecnt)]
    pos += 6 * typecnt
    chars = data[pos:pos + charcnt]
    pos += charcnt + leap * (tsize + 4) + isstd + isut
    footer = data[pos:].strip(b"\n").decode("ascii", "replace") if tsize == 8 else ""

    def abbr(i: int) -> str:
        start = types[i][2]
        return chars[start:chars.index(b"\0", start)].decode("ascii", "replace")

    # before the first transition, the first local time type applies (RFC 8536 3.2)
    offsets = [types[0][0]] + [types[i][0] for i in idx]
    abbrevs = [abbr(0)] + [abbr(i) for i in idx]
    return times, offsets, abbrevs, footer


@functools.cache
def _zone_names() -> dict[str, str]:
    return {n.lower(): n for n in zoneinfo.available_timezones()}


def _named_zone(text: str) -> Zone | None:
    key = text
    data = _tzif_bytes(key)
    if data is None:
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", text):
            return None
        key = _zone_names().get(text.lower(), "")
        data = _tzif_bytes(key) if key else None
        if data is None:
            return None
    parsed = _parse_tzif(data)
    if parsed is None:
        return None
    times, offsets, abbrevs, footer = parsed
    # keep the canonical spelling, as PostgreSQL does ('utc' is shown as UTC)
    return Zone(key, offsets, abbrevs, times, key=key, rule="," in footer)


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*")
_POSIX = re.compile(r"(<[^<>]+>|[A-Za-z]{3,}|)([+-]?)(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?")


def _hms(seconds: int, always_minutes: bool = False) -> str:
    """``05``, ``05:30``, ``05:30:15`` (no sign) of a non-negative number of seconds."""
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = f"{h:02d}"
    if m or s or always_minutes:
        out += f":{m:02d}"
    if s:
        out += f":{s:02d}"
    return out


def offset_zone(east_seconds: int) -> Zone:
    """The zone a numeric TimeZone or ``SET TIME ZONE INTERVAL`` makes: ``<+05:30>-05:30``."""
    sign = "+" if east_seconds >= 0 else "-"
    abbr = sign + _hms(abs(east_seconds))
    posix = ("-" if east_seconds >= 0 else "+") + _hms(abs(east_seconds))
    return Zone(f"<{abbr}>{posix}", [east_seconds], [abbr])


def _posix_zone(text: str) -> Zone | None:
    m = _POSIX.fullmatch(text)
    if m is None:
        return None
    name, sign, h, mi, s = m.groups()
    west = int(h) * 3600 + int(mi or 0) * 60 + int(s or 0)
    if int(h) > 24 or int(mi or 0) > 59 or int(s or 0) > 59:
        return None
    east = west if sign == "-" else -west  # POSIX counts hours west of Greenwich
    return Zone(text, [east], [name.strip("<>")])


@functools.lru_cache(maxsize=256)
def parse_zone(text: str, numeric_is_hours: bool = True) -> Zone | None:
    """The zone ``text`` names, or None. ``numeric_is_hours``: a bare number is an hour offset
    in the SQL sign convention (the TimeZone setting); AT TIME ZONE reads '+02' as POSIX."""
    s = text.strip()
    if not s:
        return None
    if numeric_is_hours and _NUMBER.fullmatch(s):
        try:
            hours = float(s)
        except ValueError:
            return None
        if abs(hours) > 15 * 24:
            return None
        return offset_zone(round(hours * 3600))
    return _named_zone(s) or _posix_zone(s)


UTC_ZONE = Zone("UTC", [0], ["UTC"])


def session_zone() -> Zone:
    """The TimeZone of the statement's session (UTC outside a statement)."""
    from sqlvec.exec.functions.context import peek_session

    settings = getattr(peek_session(), "settings", None)
    if settings is None:
        return UTC_ZONE
    try:
        name = settings.get("TimeZone")
    except Exception:  # noqa: BLE001 - a session without the setting uses the default
        return UTC_ZONE
    if name == "UTC":
        return UTC_ZONE
    return parse_zone(name) or UTC_ZONE


def format_offset(east_seconds: int, always_minutes: bool = False) -> str:
    """``+05:30``, ``-05``, ``+00:53:28``: an offset as timestamptz output prints it."""
    return ("-" if east_seconds < 0 else "+") + _hms(abs(east_seconds), always_minutes)


__all__ = ["Zone", "UTC_ZONE", "parse_zone", "offset_zone", "session_zone", "format_offset",
           "POS_INF_US", "NEG_INF_US"]
