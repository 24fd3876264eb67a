"""DateStyle and IntervalStyle: reading the settings as PostgreSQL does, and the session's
current values for the text input/output functions.

DateStyle has two parts: the output style (ISO, SQL, Postgres, German) and the field order
for reading ambiguous dates such as ``01/02/2020`` (MDY, DMY, YMD). A value may name either
or both; the part not named is kept from the current value, except that German alone also
selects DMY (PostgreSQL's check_datestyle). The stored value is always ``Style, ORDER``.
"""

from __future__ import annotations

import re

from sqlvec import errors

STYLES = {"ISO": "ISO", "SQL": "SQL", "POSTGRES": "Postgres", "GERMAN": "German"}
ORDERS = {"YMD": "YMD", "DMY": "DMY", "EURO": "DMY", "EUROPEAN": "DMY", "MDY": "MDY",
          "US": "MDY", "NONEURO": "MDY", "NONEUROPEAN": "MDY"}
DEFAULT_DATESTYLE = ("ISO", "MDY")


def _settings():
    from sqlvec.exec.functions.context import peek_session

    return getattr(peek_session(), "settings", None)


def _current_datestyle() -> tuple[str, str]:
    settings = _settings()
    if settings is None:
        return DEFAULT_DATESTYLE
    try:
        style, _, order = settings.get("DateStyle").partition(", ")
    except Exception:  # noqa: BLE001 - a session without the setting uses the default
        return DEFAULT_DATESTYLE
    return (style, order) if style in STYLES.values() and order in ORDERS.values() \
        else DEFAULT_DATESTYLE


def normalize_datestyle(value: str) -> str:
    """``'german'`` -> ``German, DMY``; ``'ymd'`` -> ``ISO, YMD`` (from ISO, MDY)."""
    style = order = None
    for word in (w for w in re.split(r"[\s,]+", value.strip().upper()) if w):
        if word in STYLES:
            if style is not None and style != STYLES[word]:
                raise errors.InvalidParameterValue(
                    f'invalid value for parameter "DateStyle": "{value}"',
                    detail='Conflicting "datestyle" specifications.')
            style = STYLES[word]
        elif word in ORDERS:
            if order is not None and order != ORDERS[word]:
                raise errors.InvalidParameterValue(
                    f'invalid value for parameter "DateStyle": "{value}"',
                    detail='Conflicting "datestyle" specifications.')
            order = ORDERS[word]
        elif word == "DEFAULT":
            style, order = DEFAULT_DATESTYLE
        else:
            raise errors.InvalidParameterValue(
                f'invalid value for parameter "DateStyle": "{value}"',
                detail=f'Unrecognized key word: "{word.lower()}".')
    cur_style, cur_order = _current_datestyle()
    if order is None:
        order = "DMY" if style == "German" else cur_order
    return f"{style or cur_style}, {order}"


def datestyle() -> tuple[str, str]:
    """(output style, field order) of the statement's session: ('ISO', 'MDY') by default."""
    return _current_datestyle()


def intervalstyle() -> str:
    settings = _settings()
    if settings is None:
        return "postgres"
    try:
        return settings.get("IntervalStyle")
    except Exception:  # noqa: BLE001 - a session without the setting uses the default
        return "postgres"
