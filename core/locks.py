"""Locks that serialise work on one store across processes and machines."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session


def lock_store(session: Session, store_id: int) -> None:
    """Serialise dispatch within a store until the transaction ends.

    PostgreSQL: a row lock on the store. SQLite: the database's write lock, taken by a first
    write (other writers wait for it, up to the busy timeout).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT id FROM stores WHERE id = :id FOR UPDATE"), {"id": store_id})
    else:
        session.execute(text("UPDATE stores SET active = active WHERE id = :id"), {"id": store_id})


def try_lock(session: Session, store_id: int, run_on: date) -> bool:
    """Take the store's nightly lock for the rest of the transaction, or return False.

    PostgreSQL: a transaction-level advisory lock; it is released by commit, rollback or the
    death of the connection (a killed worker leaves no lock behind). SQLite: the database's
    write lock, taken by a first write and waited for up to the busy timeout.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = (store_id << 20) ^ run_on.toordinal()
        return bool(session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())
    try:
        session.execute(text("UPDATE stores SET active = active WHERE id = :id"), {"id": store_id})
    except OperationalError:
        return False
    return True
