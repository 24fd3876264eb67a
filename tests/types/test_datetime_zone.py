"""Time zone tables (sqlvec.types.datetime_zone) against zoneinfo, PostgreSQL's reading of
TimeZone values, and the column text output against the one-value output."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import zoneinfo

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec.functions.context import current_session
from sqlvec.settings import SessionSettings
from sqlvec.types import datetime_text as TX
from sqlvec.types import datetime_zone as Z

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/Sao_Paulo", "Europe/Dublin", "Africa/Casablanca"]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _instants(seed: int, n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = int((dt.datetime(1850, 1, 1, tzinfo=dt.UTC) - EPOCH).total_seconds())
    hi = int((dt.datetime(2200, 1, 1, tzinfo=dt.UTC) - EPOCH).total_seconds())
    return rng.integers(lo, hi, n, dtype=np.int64) * 1_000_000 + rng.integers(0, 10**6, n)


@pytest.mark.parametrize("name", ZONES)
def test_utc_offsets_match_zoneinfo(name: str) -> None:
    zone = Z.parse_zone(name)
    assert zone is not None and zone.name == name
    us = _instants(len(name))
    got = zone.utc_offsets(us)
    zi = zoneinfo.ZoneInfo(name)
    want = [int((EPOCH + dt.timedelta(microseconds=int(u))).astimezone(zi).utcoffset()
                .total_seconds()) for u in us]
    assert got.tolist() == want
    abbr = zone.abbrevs(us[:200])
    assert abbr.tolist() == [(EPOCH + dt.timedelta(microseconds=int(u))).astimezone(zi).tzname()
                             for u in us[:200]]


def test_slim_tzdata_file_expands_its_rule() -> None:
    """The tzdata package ships "slim" files: transitions end early and a POSIX rule says
    the rest. Years past the listed transitions must still change offset twice a year."""
    data = importlib.resources.files("tzdata").joinpath(
        "zoneinfo", "America", "New_York").read_bytes()
    times, offsets, abbrevs, footer = Z._parse_tzif(data)
    assert "," in footer
    zone = Z.Zone("America/New_York", offsets, abbrevs, times, key="America/New_York", rule=True)
    us = _instants(7)
    zi = zoneinfo.ZoneInfo("America/New_York")
    want = [int((EPOCH + dt.timedelta(microseconds=int(u))).astimezone(zi).utcoffset()
                .total_seconds()) for u in us]
    assert zone.utc_offsets(us).tolist() == want


def _local_us(s: str) -> int:
    return (dt.datetime.fromisoformat(s) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize(("name", "wall", "offset_h"), [
    ("America/New_York", "2020-03-08 02:30", -5),  # gap: the offset from before
    ("America/New_York", "2020-11-01 01:30", -5),  # overlap: the offset from after
    ("America/New_York", "2020-11-01 00:59", -4),
    ("America/New_York", "2020-11-01 02:00", -5),
    ("Europe/Berlin", "2021-03-28 02:15", 1),
    ("Europe/Berlin", "2021-10-31 02:15", 1),
    ("Europe/Berlin", "2150-10-31 02:15", 1),  # rule years
    ("Australia/Lord_Howe", "2021-04-04 01:45", 10.5),
])
def test_local_time_resolution(name: str, wall: str, offset_h: float) -> None:
    zone = Z.parse_zone(name)
    assert zone.offset_at_local(_local_us(wall)) == round(offset_h * 3600)


@pytest.mark.parametrize(("text", "shown", "east"), [
    ("UTC", "UTC", 0), ("utc", "UTC", 0), ("europe/berlin", "Europe/Berlin", None),
    ("5", "<+05>-05", 18000), ("+05", "<+05>-05", 18000), ("-7", "<-07>+07", -25200),
    ("5.5", "<+05:30>-05:30", 19800), ("UTC+5", "UTC+5", -18000), ("+05:30", "+05:30", -19800),
    ("<+03>-3", "<+03>-3", 10800), ("<+05:30>-05:30", "<+05:30>-05:30", 19800),
    ("EST", "EST", -18000),
])
def test_time_zone_setting_values(text: str, shown: str, east: int | None) -> None:
    zone = Z.parse_zone(text)
    assert zone is not None and zone.name == shown
    if east is not None:
        assert zone.offset_at_utc(0) == east
        # what SHOW prints reads back as the same zone
        assert Z.parse_zone(zone.name).offset_at_utc(0) == east


@pytest.mark.parametrize("text", ["Foo/Bar", "PST", "Z", "", "../etc/passwd", "UTC+99"])
def test_invalid_time_zones(text: str) -> None:
    assert Z.parse_zone(text) is None


def test_at_time_zone_reads_numbers_as_posix() -> None:
    assert Z.parse_zone("+02", numeric_is_hours=False).offset_at_utc(0) == -7200
    assert Z.parse_zone("+02").offset_at_utc(0) == 7200


def test_infinity_is_not_shifted() -> None:
    zone = Z.parse_zone("Asia/Tokyo")
    us = np.array([Z.POS_INF_US, Z.NEG_INF_US, 0], dtype=np.int64)
    assert zone.to_local(us).tolist() == [Z.POS_INF_US, Z.NEG_INF_US, 9 * 3600 * 10**6]
    assert zone.to_utc(us).tolist() == [Z.POS_INF_US, Z.NEG_INF_US, -9 * 3600 * 10**6]


class _Session:
    def __init__(self, **values: str) -> None:
        self.settings = SessionSettings()
        for k, v in values.items():
            self.settings.set(k, v)


@pytest.mark.parametrize("style", ["ISO, MDY", "SQL, DMY", "SQL, MDY", "German", "Postgres, MDY",
                                   "Postgres, DMY"])
@pytest.mark.parametrize("tz", ["Europe/Berlin", "+05:30", "5.5", "America/St_Johns"])
def test_column_output_equals_value_output(style: str, tz: str) -> None:
    us = np.concatenate([_instants(3, 400), [Z.POS_INF_US, Z.NEG_INF_US, 0]])
    arr = pa.array(us, pa.int64()).cast(pa.timestamp("us", "UTC"))
    arr = pa.concat_arrays([arr, pa.nulls(1, arr.type)])
    with current_session(_Session(TimeZone=tz, DateStyle=style)):
        zone = Z.session_zone()
        column = TX.format_timestamp_column(arr, True).to_pylist()
        values = [None if v is None else TX.format_timestamp(v.replace(tzinfo=dt.UTC), zone)
                  for v in arr.to_pylist()]
        assert column == values
        naive = arr.cast(pa.timestamp("us"))
        assert TX.format_timestamp_column(naive, False).to_pylist() == [
            None if v is None else TX.format_timestamp(v) for v in naive.to_pylist()]
        dates = pa.array([dt.date(999, 1, 2), dt.date(2020, 2, 29), dt.date.max, dt.date.min,
                          None], pa.date32())
        assert TX.format_date_column(dates).to_pylist() == [
            None if d is None else TX.format_date(d) for d in dates.to_pylist()]


def test_session_text_output() -> None:
    v = dt.datetime(2020, 7, 1, 12, 34, 56, 500000, tzinfo=dt.UTC)
    with current_session(_Session(TimeZone="America/New_York")):
        assert TX.format_timestamp(v, Z.session_zone()) == "2020-07-01 08:34:56.5-04"
    with current_session(_Session(TimeZone="America/New_York", DateStyle="Postgres, DMY")):
        assert TX.format_timestamp(v, Z.session_zone()) == "Wed 01 Jul 08:34:56.5 2020 EDT"
    with current_session(_Session(TimeZone="Europe/Berlin")):
        old = dt.datetime(1850, 1, 1, 12, tzinfo=dt.UTC)
        assert TX.format_timestamp(old, Z.session_zone()) == "1850-01-01 12:53:28+00:53:28"
