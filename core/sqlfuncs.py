"""Small SQL constructs that differ between PostgreSQL and SQLite.

Timestamps are stored as naive UTC. A store's local calendar date of a timestamp is exact on
PostgreSQL (``AT TIME ZONE``); SQLite has no time zones, so there the store's UTC offset on the
run date is applied (exact for zones without daylight saving, such as Asia/Shanghai).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class local_date(FunctionElement[date]):
    """local_date(timestamp_column, tz_name, sqlite_offset) -> DATE in the store's calendar."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "postgresql")
def _local_date_pg(element: local_date, compiler: Any, **kw: Any) -> str:
    column, tz, _offset = list(element.clauses)
    return (
        f"CAST(({compiler.process(column, **kw)} AT TIME ZONE 'UTC') "
        f"AT TIME ZONE {compiler.process(tz, **kw)} AS DATE)"
    )


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    column, _tz, offset = list(element.clauses)
    return f"date({compiler.process(column, **kw)}, {compiler.process(offset, **kw)})"


class days_between(FunctionElement[int]):
    """days_between(later_date, earlier_date) -> whole days from the second to the first."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


class greatest(FunctionElement[Any]):
    """The largest of its (non-null) arguments."""

    inherit_cache = True
    name = "greatest"


@compiles(greatest, "postgresql")
def _greatest_pg(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"MAX({compiler.process(element.clauses, **kw)})"


def sqlite_offset(timezone: str, on: date) -> str:
    """The store's UTC offset at noon on ``on``, as a SQLite date modifier ('+480 minutes')."""
    offset = datetime.combine(on, time(12), tzinfo=ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"{minutes:+d} minutes"


class total_seconds(FunctionElement[float]):
    """total_seconds(later_ts, earlier_ts) -> an aggregate: the sum over the rows of the
    seconds from the second timestamp to the first (fractional; rows where either is NULL do
    not count), for averages of durations computed in SQL. PostgreSQL adds the intervals and
    converts the sum once, rather than converting each row's."""

    type = Float()
    inherit_cache = True
    name = "total_seconds"


@compiles(total_seconds, "postgresql")
def _total_seconds_pg(element: total_seconds, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"EXTRACT(EPOCH FROM sum({compiler.process(later, **kw)} - "
        f"{compiler.process(earlier, **kw)}))"
    )


@compiles(total_seconds, "sqlite")
def _total_seconds_sqlite(element: total_seconds, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"sum((julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)})) * 86400.0)"
    )
