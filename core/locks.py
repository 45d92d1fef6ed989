"""Locks that serialise work on one store across processes and machines.

**The lock order.** Every service that changes a store's dispatch state takes
``lock_store(session, store_id)`` before its first write, and before it reads what it decides
on; only then does it touch other rows. Dispatch state is what a check-in, the waiting queue,
the refill or customer service decide on or change: visits, consultants' settings (presence,
the visit in reception, the last walk-in, cap, active), opportunities' owners, grades and
status, declines, invitations and callback tasks (their claims and outcomes). The services
that do: the check-in; the floor (the waiting queue, presence, the start and end of a
reception, a visitor who left, the desk sending a visitor to another consultant); the
consultant's grading, order, defeat and follow-up; callback claims and outcomes and the refill
on demand; the manager's rules, a consultant's cap, reassignment, a decline lifted; the nightly
run, its what-if preview and the retention purge. A second call in the same transaction is
harmless (the lock is already held).
What is decided on is read after the lock, from the database: an object the session loaded
before it (``session.get`` returns it as it was) is as old as that earlier read.

Why first: with two orders, two transactions can each hold what the other waits for. A
reception that ended wrote the visit and the consultant's row and then waited for the store,
while a check-in held the store and waited for that consultant's row: a deadlock. Writes that
come before the lock count even when they look unrelated: on PostgreSQL a row that refers to
the store (an assignment, an audit event, an invitation) takes a key-share lock on the store's
row, and that lock and the store lock (FOR UPDATE) wait for each other.

The nightly run takes its advisory lock (``try_lock``) first, then the store lock: the
advisory lock never waits on PostgreSQL, and nothing else takes it.
"""

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
