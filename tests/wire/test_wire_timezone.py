"""TimeZone and DateStyle through the wire server: the zone a client sends at startup (as
pgJDBC sends its JVM's zone), ParameterStatus when it changes, and Python datetimes that
round-trip through timestamptz in text and binary in a zone with a half-hour offset."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import psycopg
import pytest
import rawclient as W

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
VALUES = [
    dt.datetime(2020, 1, 1, 5, 30, tzinfo=KOLKATA),
    dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=dt.UTC),
    dt.datetime(2021, 3, 28, 3, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")),  # just after DST
    dt.datetime(1850, 6, 1, 12, 0, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("binary", [False, True])
def test_psycopg_round_trip_in_kolkata(database: str, binary: bool) -> None:
    with psycopg.connect(database, options="-c TimeZone=Asia/Kolkata", autocommit=True) as conn:
        assert conn.info.parameter_status("TimeZone") == "Asia/Kolkata"
        assert conn.execute("SHOW TimeZone").fetchone() == ("Asia/Kolkata",)
        conn.execute("CREATE TABLE ev (id int, at timestamptz)")
        with conn.cursor(binary=binary) as cur:
            cur.executemany("INSERT INTO ev VALUES (%s, %s)", list(enumerate(VALUES)))
            cur.execute("SELECT at FROM ev ORDER BY id")
            got = [r[0] for r in cur.fetchall()]
        assert got == VALUES
        # psycopg returns them in the connection's zone, as with PostgreSQL
        assert all(v.utcoffset() == dt.timedelta(hours=5, minutes=30) for v in got[:2])
        text = conn.execute("SELECT at::text FROM ev ORDER BY id").fetchall()
        assert [t for (t,) in text] == [
            "2020-01-01 05:30:00+05:30",
            "2000-01-01 05:29:59.123456+05:30",
            "2021-03-28 07:00:00+05:30",
            "1850-06-01 17:53:28+05:53:28",  # local mean time of Kolkata before 1854
        ]
        # a timestamptz written without an offset is read in the session's zone
        conn.execute("INSERT INTO ev VALUES (9, '2020-06-01 12:00')")
        (v,) = conn.execute("SELECT at FROM ev WHERE id = 9").fetchone()
        assert v == dt.datetime(2020, 6, 1, 6, 30, tzinfo=dt.UTC)


def test_set_time_zone_reports_parameter_status(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.info.parameter_status("TimeZone") == "UTC"
        conn.execute("SET TIME ZONE 'america/new_york'")
        assert conn.info.parameter_status("TimeZone") == "America/New_York"
        (v,) = conn.execute("SELECT '2020-07-01 12:00+00'::timestamptz").fetchone()
        assert v.utcoffset() == dt.timedelta(hours=-4)
        conn.execute("SET DateStyle = 'German'")
        assert conn.info.parameter_status("DateStyle") == "German, DMY"
        assert conn.execute("SELECT '2020-07-01'::date::text").fetchone() == ("01.07.2020",)
        conn.execute("RESET TimeZone")
        assert conn.info.parameter_status("TimeZone") == "UTC"
        with pytest.raises(psycopg.errors.InvalidParameterValue,
                           match='invalid value for parameter "TimeZone": "Foo/Bar"'):
            conn.execute("SET TIME ZONE 'Foo/Bar'")


def test_startup_packet_time_zone(server) -> None:
    """A raw startup packet with TimeZone, as pgJDBC sends it: reported back, and applied."""
    raw = W.RawClient(server.host, server.port)
    try:
        msgs = raw.login(TimeZone="Europe/Berlin", DateStyle="ISO")
        status = dict(p[:-1].split(b"\0", 1) for k, p in msgs if k == b"S")
        assert status[b"TimeZone"] == b"Europe/Berlin"
        assert status[b"DateStyle"] == b"ISO, MDY"
        raw.send(W.query("SELECT '2020-01-01 00:00+00'::timestamptz"))
        rows = [W.data_row(p) for k, p in raw.until(b"Z") if k == b"D"]
        assert rows == [[b"2020-01-01 01:00:00+01"]]
    finally:
        raw.close()
