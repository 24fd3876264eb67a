"""Consistency levels: which MVCC snapshot a read-only statement sees (Milvus's four levels).

``sqlvec.consistency`` (SET / SET LOCAL) or a table's ``WITH (consistency = ...)`` chooses:

- strong      the latest durable commit (the default: what a PostgreSQL user expects);
- session     at least the session's own last write;
- bounded     a snapshot no older than ``sqlvec.staleness``;
- eventually  no lower bound.

Taking the latest snapshot never waits here (a commit is visible once durable), so what a
weaker level can buy is not a shorter wait but less exact search: each weaker level reads the
newest snapshot its bound allows among those whose rows all sit in fully indexed sealed
segments (or in a table's open growing segment, searched exactly under every level). Rows of
segments sealed but still waiting for their vector index builds are then not in the snapshot,
so a top-k during heavy ingest uses the graphs instead of scanning those segments. It is
still one snapshot at one commit timestamp: never torn, never uncommitted, only older.

Reading an older snapshot is safe only at or after the engine's horizon (compaction drops,
and indexes mark deleted, rows deleted at or before the oldest active snapshot). So each
engine keeps a *pin*: a registered snapshot at the indexed floor (every row at or before it
is in a fully indexed sealed segment), advanced by weak reads and released when they stop.
Every weak read is at or after the pin, and the floor only moves forward as builds finish,
so a segment sealed later is never inside a pinned read. See docs/consistency.md.
"""

from __future__ import annotations

import bisect
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from sqlvec import errors
from sqlvec.grammar import utility as U
from sqlvec.settings import duration_ms

if TYPE_CHECKING:
    from sqlvec.storage import StorageEngine
    from sqlvec.storage.txn import Snapshot, Txn

LEVELS = ("strong", "bounded", "session", "eventually")
SETTING = "sqlvec.consistency"
STALENESS = "sqlvec.staleness"
OPTION = "consistency"  # CREATE TABLE ... WITH (consistency = '...')
PIN_IDLE_SECONDS = 30.0  # a pin no weak read used for this long is released
MAX_SAMPLES = 4096  # (time, visible ts) samples kept for bounded reads
_WRITE_TS = "_consistency_write_ts"  # session attribute: visible ts after its last write
_SWAPPED = "_consistency_swapped"  # session attribute: the block's txn is a weak one
_WEAK_ISOLATION = ("read committed", "read uncommitted")
# anything in a statement that writes or locks: such statements read the latest commit
_NOT_READ = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Lock, exp.Into)


# -- table option ---------------------------------------------------------------------------
def check_table_option(table) -> None:
    """Validate and normalise ``consistency`` in a table's options (CREATE / ALTER ... SET)."""
    if OPTION not in table.options:
        return
    raw = table.options[OPTION]
    text = "true" if raw is None else str(raw)  # a bare option means true, as in reloptions
    level = text.strip().lower()
    if level not in LEVELS:
        raise errors.InvalidParameterValue(
            f'invalid value for enum option "{OPTION}": {text}',
            detail='Valid values are "strong", "bounded", "session", and "eventually".')
    table.options[OPTION] = level


# -- which levels apply -------------------------------------------------------------------------
def is_read(ast) -> bool:
    """A statement that only reads: a query without data-modifying CTEs, FOR UPDATE/SHARE or
    INTO (EXPLAIN of one too). Anything else takes the latest snapshot."""
    if isinstance(ast, U.ExplainStmt):
        ast = ast.statement
    if not isinstance(ast, (exp.Query, exp.Values)):
        return False
    return ast.find(*_NOT_READ) is None


def levels(session, st) -> tuple[str, ...]:
    """The levels in force for statement ``st``: SET LOCAL, else SET, else the defaults of the
    tables the statement names (all of them are honoured), else strong."""
    s = session.settings
    explicit = s.local.get(SETTING) or s.values.get(SETTING)
    if explicit:
        return (explicit,)
    return _table_levels(session, st.ast) or ("strong",)


_DEFAULTS: dict[tuple[int, str], tuple[object, int, frozenset[str]]] = {}
_DEFAULTS_LOCK = threading.Lock()


def _names_with_default(session) -> frozenset[str]:
    """Names of the tables of the session's database that declare a consistency default,
    cached per published catalog (a transaction's private catalog is not cached)."""
    cat = session.catalog()
    key = (id(cat), session.database)
    hit = _DEFAULTS.get(key)
    if hit is not None and hit[0] is cat and hit[1] == cat.version:
        return hit[2]
    db = cat.database(session.database)
    names = frozenset(t.name for t in db.tables.values() if t.options.get(OPTION))
    if session.txn_catalog is None:
        with _DEFAULTS_LOCK:
            if len(_DEFAULTS) > 64:
                _DEFAULTS.clear()
            _DEFAULTS[key] = (cat, cat.version, names)
    return names


def _table_levels(session, ast) -> tuple[str, ...]:
    names = _names_with_default(session)
    if not names:
        return ()  # the common case: no table declares one, no walk over the statement
    if isinstance(ast, U.ExplainStmt):
        ast = ast.statement
    if not isinstance(ast, exp.Expression):
        return ()
    db = session.catalog().database(session.database)
    path = session.search_path()
    out: dict[str, None] = {}
    for node in ast.find_all(exp.Table):
        t = db.find_table(node.name, node.db or None, path)
        if t is not None:  # a table without a default is read strong (CTEs, views: skipped)
            out[t.options.get(OPTION) or "strong"] = None
    return tuple(out)


# -- per engine: the pin and the visible-ts samples ---------------------------------------------
class _State:
    """One engine's shared consistency state (never references the engine: see _STATES)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pin: Snapshot | None = None
        self.used = 0.0
        self.timer: threading.Timer | None = None
        self.samples: deque[tuple[float, int]] = deque()  # (monotonic time, visible ts)
        self.keep = 0.0  # seconds of samples the largest staleness asked for needs

    def pin_at_most(self, engine: StorageEngine, floor: int, now: float) -> Snapshot:
        """A registered snapshot at or below every ts a weak read may now choose, moved up to
        ``floor`` when it can (an older one is raised to the horizon by the engine)."""
        with self.lock:
            pin = self.pin
            if pin is None or floor > pin.ts:
                # while the old pin is held the horizon is <= pin.ts < floor: no raise happens
                self.pin = pin = engine.snapshot(floor)
            self.used = now
            if self.timer is None:
                self._arm(PIN_IDLE_SECONDS)
            return pin

    def _arm(self, delay: float) -> None:
        self.timer = threading.Timer(delay, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        with self.lock:
            idle = time.monotonic() - self.used
            if idle >= PIN_IDLE_SECONDS:
                self.pin, self.timer = None, None  # the engine's WeakSet forgets it
            else:
                self._arm(PIN_IDLE_SECONDS - idle)

    def bounded_floor(self, visible: int, staleness: float, now: float) -> int:
        """The oldest snapshot no older than ``staleness`` seconds: the visible ts of the
        first sample taken at or after ``now - staleness`` (visible ts only grows, so it is at
        least what was visible then); the current one when no sample is that recent."""
        with self.lock:
            samples = self.samples
            if not samples or samples[-1][1] != visible:
                samples.append((now, visible))
            self.keep = max(self.keep, staleness)
            cutoff = now - self.keep
            while len(samples) > 1 and (samples[0][0] < cutoff or len(samples) > MAX_SAMPLES):
                samples.popleft()
            i = bisect.bisect_left(samples, (now - staleness, -1))
            return samples[i][1] if i < len(samples) else visible


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(engine: StorageEngine) -> _State:
    st = _STATES.get(engine)
    if st is None:
        with _STATES_LOCK:
            st = _STATES.get(engine)
            if st is None:
                st = _STATES[engine] = _State()
    return st


# -- the indexed horizon ----------------------------------------------------------------------
def indexed_horizon(engine: StorageEngine) -> tuple[int, int]:
    """``(floor, reach)``: the newest commit ts at or before which every row of a table with
    a vector index lies in a sealed segment built for all its indexes (``floor``), or in such
    a segment or the table's open growing segment (``reach``). Both <= the visible ts."""
    visible = engine.visible_ts  # rows committed after this have larger xmin anyway
    floor = reach = visible
    tables = engine._tables
    for oid, specs in list(engine._indexes.specs.items()):
        table = tables.get(oid) if specs else None
        if table is None:
            continue
        growing = table.growing
        for seg in table.segments:
            mvcc = seg.mvcc
            if mvcc.n == 0:
                continue
            if seg.sealed:
                slots = seg.vector_indexes
                if all(k in slots for k in specs):
                    continue
                is_open = False
            else:
                is_open = seg is growing and not seg.closed
            first = 0 if mvcc.xmin is None else int(mvcc.xmin[0])
            floor = min(floor, first - 1)
            if not is_open:
                reach = min(reach, first - 1)
    return max(floor, 0), max(reach, 0)


def unindexed_rows(engine: StorageEngine, ts: int) -> int:
    """Rows a snapshot at ``ts`` would search exactly in sealed segments lacking an index
    (closed growing segments awaiting their seal count too): what weak levels avoid."""
    total = 0
    for oid, specs in list(engine._indexes.specs.items()):
        table = engine._tables.get(oid) if specs else None
        if table is None:
            continue
        for seg in table.segments:
            if seg.sealed and all(k in seg.vector_indexes for k in specs):
                continue
            if not seg.sealed and seg is table.growing and not seg.closed:
                continue
            total += seg.mvcc.visible_prefix(ts)
    return total


# -- lower bounds per level -------------------------------------------------------------------
def _strong(st: _State, session, visible: int, now: float) -> int:
    return visible


def _session(st: _State, session, visible: int, now: float) -> int:
    return getattr(session, _WRITE_TS, 0)


def _bounded(st: _State, session, visible: int, now: float) -> int:
    ms = duration_ms(session.settings.get(STALENESS)) or 0
    if ms <= 0:
        return visible
    return st.bounded_floor(visible, ms / 1000.0, now)


def _eventually(st: _State, session, visible: int, now: float) -> int:
    return 0


LOWER_BOUND: dict[str, Callable[[_State, object, int, float], int]] = {
    "strong": _strong, "session": _session, "bounded": _bounded, "eventually": _eventually,
}


def snapshot_ts(session, level_names: tuple[str, ...]) -> tuple[int, Snapshot]:
    """The ts a read under these levels uses, and the pin that keeps it readable (hold it
    until the transaction is registered). Never waits."""
    engine = session.db.engine
    state = _state(engine)
    now = time.monotonic()  # before reading the visible ts: a sample never overstates it
    visible = engine.visible_ts
    lower = max(LOWER_BOUND[lv](state, session, visible, now) for lv in level_names)
    floor, reach = indexed_horizon(engine)
    # kept up to date even when this read is the newest, so that the next one can be older
    pin = state.pin_at_most(engine, floor, now)
    return min(visible, max(lower, reach, pin.ts)), pin


# -- the session hooks ------------------------------------------------------------------------
def begin(session, st) -> Txn:
    """The storage transaction for statement ``st`` run alone (autocommit), or for a
    transaction block when ``st`` is None (blocks start strong; see :func:`in_block`)."""
    engine = session.db.engine
    if st is not None:
        lv = levels(session, st)
        if lv != ("strong",) and is_read(st.ast):
            return _weak_begin(session, lv)
    txn = engine.begin()
    _note_writes(session, txn)
    if st is None:
        setattr(session, _SWAPPED, False)
    return txn


def read_begin(session, st, lv: tuple[str, ...] | None = None):
    """What a statement known to only read (the short path of a prepared top-k,
    sqlvec.exec.fast_topk) reads when it runs alone, given its levels ``lv`` (default: read
    now): the latest commit as a bare registered Snapshot when strong — nothing to note
    after it, since it writes nothing — else the weak level's transaction. End it with
    :func:`read_end`."""
    if lv is None:
        lv = levels(session, st)
    if lv != ("strong",):
        return _weak_begin(session, lv)
    return session.db.engine.snapshot()


def read_end(session, reader) -> None:
    if hasattr(reader, "rollback"):  # a Txn (weak level)
        reader.rollback()
    else:
        session.db.engine.release(reader)


def in_block(session, st) -> None:
    """Before a statement inside a transaction block. Under READ COMMITTED, a read under a
    weak level (or after one) gets its own snapshot until the transaction first writes;
    REPEATABLE READ and SERIALIZABLE blocks keep the one strong snapshot they began with."""
    txn = session.txn
    if txn is None or session.txn_catalog is not None or txn.own_tables() \
            or txn.catalog_change is not None:
        return
    if _isolation(session) not in _WEAK_ISOLATION:
        return
    lv = levels(session, st)
    swapped = getattr(session, _SWAPPED, False)
    if (lv == ("strong",) and not swapped) or not is_read(st.ast):
        return
    new = _weak_begin(session, lv) if lv != ("strong",) else session.db.engine.begin()
    _note_writes(session, new)  # later writes of the block go to the new transaction
    session.txn = new
    setattr(session, _SWAPPED, lv != ("strong",))
    txn.rollback()


def _weak_begin(session, lv: tuple[str, ...]) -> Txn:
    ts, pin = snapshot_ts(session, lv)
    txn = session.db.engine.begin(ts)
    del pin  # registered: the transaction itself holds the horizon now
    return txn


def _isolation(session) -> str:
    s = session.settings
    return (s.local.get("transaction_isolation") or s.values.get("transaction_isolation")
            or s.get("default_transaction_isolation"))


def _note_writes(session, txn: Txn) -> None:
    """After the transaction commits, if it wrote: the session level's lower bound becomes
    the visible ts then (at least the commit's own ts: a commit returns once visible)."""
    engine = session.db.engine

    def note() -> None:
        if txn.own_tables() or txn.catalog_change is not None:
            seen = engine.visible_ts
            if seen > getattr(session, _WRITE_TS, 0):
                setattr(session, _WRITE_TS, seen)

    session.after_commit(note)


__all__ = ["LEVELS", "begin", "check_table_option", "in_block", "indexed_horizon", "is_read",
           "levels", "snapshot_ts", "unindexed_rows"]
