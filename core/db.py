"""Declarative base, column types and time helpers shared by every model.

Timestamps are stored as UTC and read back as aware UTC datetimes on every database;
calendar dates ("next day", "due on") are the store's local dates and are stored as DATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    CursorResult,
    DateTime,
    ForeignKey,
    MetaData,
    Result,
    Table,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp kept as naive UTC in the database and returned aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def one_of(column: str, values: Iterable[str], *, nullable: bool = False) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``values`` (an enum class or a list)."""
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


def fk(target: str, ondelete: str | None = None, use_alter: bool = False, **kw: Any) -> Any:
    return mapped_column(ForeignKey(target, ondelete=ondelete, use_alter=use_alter), **kw)


def expire_loaded(session: Session, model: type[Any], key: int | None) -> None:
    """A row changed with a Core statement: the object this session holds for it, if any,
    reloads when it is next read."""
    if key is None:
        return
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        session.expire(loaded)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for set-based statements (typed: ``__table__`` is not)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def rowcount(result: Result[Any]) -> int:
    """The number of rows an UPDATE or DELETE changed."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def configure_sqlite(engine: Engine) -> Engine:
    """On SQLite, every new connection of ``engine`` enforces foreign keys, waits for a lock
    instead of failing at once and uses the write-ahead log (readers do not block the writer).
    The app, the worker and the tests call it on each engine they make; other databases are left
    as they are. Calling it twice attaches the listener once."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
