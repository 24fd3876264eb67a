"""Copy-on-write maps for a transaction's private catalog.

A transaction that runs DDL needs a catalog it may change in place (callers append columns,
rename tables, pop indexes) without touching the published one that other sessions read.
Deep-copying the whole catalog made every DDL cost O(catalog size). Instead the private
catalog's dicts are :class:`CowMap` s over the published dicts: they share every object until
it is handed out, and clone an object the first time a caller gets it (by ``[]``, ``get``,
``values()`` ...), since whoever gets an object may change it. Name lookups that only compare
names read the shared objects without cloning (:meth:`CowMap.raw_values`).

Each map remembers, per key it handed out, assigned or deleted, the object the published
catalog had there (:attr:`CowMap.origins`): that is what the commit persists as a delta
(sqlvec.catalog.serde.catalog_delta), so the WAL record of a DDL is as small as its change.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterator
from typing import Any

MISSING: Any = object()  # an origin: the key did not exist in the published catalog

_Handler = Callable[[Any], Any]
_HANDLERS: dict[type, _Handler] = {}


def clone(value: Any) -> Any:
    """A private copy of a catalog object: containers and plain objects are copied, immutable
    values (scalars, frozen dataclasses such as SqlType, enums) are shared. Several times
    faster than ``copy.deepcopy``, which also copies every column's type."""
    h = _HANDLERS.get(type(value))
    if h is None:
        h = _HANDLERS[type(value)] = _handler_for(type(value))
    return h(value)


def _same(v: Any) -> Any:
    return v


def _clone_obj(v: Any) -> Any:
    new = object.__new__(type(v))
    new.__dict__.update({k: clone(x) for k, x in v.__dict__.items()})
    return new


def _handler_for(t: type) -> _Handler:
    if t in (str, int, float, bool, bytes, type(None), complex) or issubclass(t, enum.Enum):
        return _same
    params = getattr(t, "__dataclass_params__", None)
    if params is not None and params.frozen:
        return _same  # SqlType, TypeDef: never changed after construction
    if t is list:
        return lambda v: [clone(x) for x in v]
    if t is dict:
        return lambda v: {k: clone(x) for k, x in v.items()}
    if t is tuple:
        return lambda v: tuple(clone(x) for x in v)
    if t is set:
        return set.copy
    if hasattr(t, "__dict__") and not hasattr(t, "__slots__") and t.__module__.startswith("sqlvec."):
        return _clone_obj
    return copy.deepcopy


def same_object(a: Any, b: Any) -> bool:
    """Whether a clone still equals its origin (so the commit need not persist it)."""
    return a is b or (type(a) is type(b) and getattr(a, "__dict__", a) == getattr(b, "__dict__", b))


class CowMap(dict):
    """A dict over a published dict's objects that clones each one on first hand-out.

    Keys, ``in`` and ``len`` read the shared table; everything that returns a value returns
    this map's private copy. ``dict.copy(m)`` / ``dict.values(m)`` give the raw (possibly
    shared) objects: only for code that does not change them.
    """

    __slots__ = ("_clone", "_owned", "origins")

    def __init__(self, src: dict, cloner: Callable[[Any], Any] = clone) -> None:
        super().__init__(_raw(src))
        self._clone = cloner
        self._owned: set = set()  # keys whose value is this map's own copy
        # key -> the published catalog's object (or MISSING); inherited by copies, so a
        # savepoint's copy still knows what changed since the published catalog
        self.origins: dict = dict(src.origins) if isinstance(src, CowMap) else {}

    # -- the copy-on-write core ---------------------------------------------------------
    def _own(self, key: Any) -> Any:
        v = dict.__getitem__(self, key)
        if key not in self._owned:
            if key not in self.origins:
                self.origins[key] = v
            v = self._clone(v)
            dict.__setitem__(self, key, v)
            self._owned.add(key)
        return v

    def _touch(self, key: Any) -> None:
        if key not in self.origins:
            self.origins[key] = dict.get(self, key, MISSING)

    def freeze(self) -> None:
        """Another catalog now shares this map's objects (a savepoint's copy): clone again
        before the next hand-out."""
        self._owned = set()

    def raw_values(self) -> Iterator[Any]:
        """The objects without cloning: for reads that change nothing (name lookups)."""
        return iter(dict.values(self))

    # -- dict interface -------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return self._own(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._own(key) if dict.__contains__(self, key) else default

    def __setitem__(self, key: Any, value: Any) -> None:
        self._touch(key)
        dict.__setitem__(self, key, value)
        self._owned.add(key)

    def __delitem__(self, key: Any) -> None:
        self._touch(key)
        dict.__delitem__(self, key)
        self._owned.discard(key)

    def pop(self, key: Any, *default: Any) -> Any:
        if dict.__contains__(self, key):
            v = self._own(key)
            del self[key]
            return v
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[Any, Any]:
        key = next(reversed(dict.keys(self)))
        return key, self.pop(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return self._own(key)
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def clear(self) -> None:
        for k in list(dict.keys(self)):
            del self[k]

    # A list, not a view: callers may change the map while they iterate it.
    def values(self) -> list[Any]:  # type: ignore[override]
        return [self._own(k) for k in list(dict.keys(self))]

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        return [(k, self._own(k)) for k in list(dict.keys(self))]

    def __iter__(self) -> Iterator[Any]:
        # overriding __iter__ also stops dict(m) / {**m} from copying the raw shared objects
        return iter(list(dict.keys(self)))

    def copy(self) -> dict:  # type: ignore[override]
        return dict(self.items())

    def __deepcopy__(self, memo: dict) -> dict:
        return copy.deepcopy(dict(self.items()), memo)

    def __reduce__(self) -> Any:
        return (dict, (dict(self.items()),))

    def changes(self) -> Iterator[tuple[Any, Any, Any]]:
        """(key, origin, current) for each key whose object differs from the published
        catalog's (MISSING for an absent side)."""
        for key, origin in self.origins.items():
            cur = dict.get(self, key, MISSING)
            if cur is origin or (cur is MISSING and origin is MISSING):
                continue
            yield key, origin, cur


def _raw(m: dict) -> dict:
    """A plain dict of the objects as stored (no hand-out). dict.copy and dict(m) would go
    through CowMap's __getitem__; the C items view of the raw table does not."""
    return dict(dict.items(m)) if isinstance(m, CowMap) else dict.copy(m)


def plain(m: dict) -> dict:
    """The raw dict behind a map (a plain dict stays as it is): what a published catalog
    keeps, so readers pay no copy-on-write."""
    return _raw(m) if isinstance(m, CowMap) else m
