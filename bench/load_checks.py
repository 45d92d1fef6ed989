"""What the load test reads from the database: the invariants after the run, the nightly runs and
what they changed, and the few probes the faults need (a check-in in flight, lock waiters)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from core import schema  # noqa: F401  (every model, for the metadata)
from core.checkin.models import Visit
from core.dispatch.authority import candidates
from core.dispatch.load import grade_counts_towards_load
from core.dispatch.models import Assignment
from core.enums import AssignmentReason
from core.nightly.models import JobRun
from core.opportunities.models import Customer, Opportunity

# A customer already theirs may take a consultant past the cap (core/dispatch/authority.py
# passed_over: ``own``); these are the reasons such an assignment is recorded with, as the
# random-months test (tests/unit/test_dispatch_properties.py) reads them.
OWN_REASONS = {
    AssignmentReason.RETURNING_OWNER.value,
    AssignmentReason.INVITED.value,
    AssignmentReason.REINVITE.value,
}
FINISHED = ("succeeded", "failed", "skipped")


def engine_for(database_url: str) -> Engine:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)


def count_visits(engine: Engine, store_id: int, key: str, mobile: str) -> tuple[int, int]:
    """Visits recorded with this idempotency key, customers with this mobile."""
    with engine.connect() as conn:
        visits = conn.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.store_id == store_id, Visit.idempotency_key == key)
        )
        customers = conn.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.store_id == store_id, Customer.mobile == mobile)
        )
    return int(visits or 0), int(customers or 0)


# --- probes for the faults -----------------------------------------------------------------------

_IN_CHECKIN = text(
    "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction') "
    "AND query ~ '(earlier_visit|INSERT INTO (customers|opportunities|visits|consent_records))'"
)


def checkins_in_flight(conn: Connection) -> set[int]:
    """The client ports of database connections in the middle of a check-in's transaction."""
    return {int(port) for port in conn.execute(_IN_CHECKIN).scalars() if port is not None}


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def hold_store(engine: Engine, store_id: int) -> Connection:
    """Hold the store's row so that its lock (``core.locks.lock_store``: FOR UPDATE) waits,
    until the connection is closed. FOR NO KEY UPDATE: rows that merely refer to the store (the
    manager's new job run) are still written."""
    conn = engine.connect()
    conn.begin()
    conn.execute(text("SELECT id FROM stores WHERE id = :s FOR NO KEY UPDATE"), {"s": store_id})
    return conn


# --- nightly runs --------------------------------------------------------------------------------


def last_run_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.max(JobRun.id), 0))) or 0)


def runs_after(engine: Engine, after_id: int, kind: str = "nightly") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(JobRun.id, JobRun.store_id, JobRun.status, JobRun.counts, JobRun.error)
            .where(JobRun.id > after_id, JobRun.kind == kind)
            .order_by(JobRun.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def wait_runs(
    engine: Engine, after_id: int, expected: int, timeout: float, kind: str = "nightly"
) -> list[dict[str, Any]]:
    """The runs made after ``after_id`` once ``expected`` of them are finished (or the time
    is up: then as they are)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_after(engine, after_id, kind)
        finished = [r for r in runs if r["status"] in FINISHED]
        if len(finished) >= expected or time.monotonic() > deadline:
            return runs
        time.sleep(0.3)


def changes(counts: dict[str, Any] | None) -> int:
    """What a nightly run changed, by its own counts (``unplaced`` is a state, not a change)."""
    return sum(int(v) for k, v in (counts or {}).items() if k != "unplaced")


def snapshot(engine: Engine) -> str:
    """A digest of everything a nightly run may change (job runs and audit events aside)."""
    queries = [
        "SELECT id, owner_id, owner_since, pool_since, pool_reason, status, grade, "
        "next_callback_on, next_follow_up_due FROM opportunities ORDER BY id",
        "SELECT id, store_id, customer_id, opportunity_id, kind, due_on, status, attempt, "
        "stall_rule, overdue_days, consultant_id FROM callback_tasks ORDER BY id",
        "SELECT count(*), max(id) FROM assignments",
        "SELECT id FROM customers ORDER BY id",
        "SELECT id, status, consultant_id FROM visits ORDER BY id",
        "SELECT user_id, presence, last_walk_in_at, last_refill_at, current_visit_id "
        "FROM consultant_settings ORDER BY user_id",
    ]
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for query in queries:
            for row in conn.execute(text(query)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def above_cap(engine: Engine, store_ids: list[int]) -> list[tuple[int, int, int]]:
    """Active consultants whose load is above their cap, as dispatch sees them."""
    found = []
    with Session(engine) as session:
        for store_id in store_ids:
            for seat in candidates(session, store_id):
                if seat.active and seat.load > seat.cap:
                    found.append((seat.user_id, seat.load, seat.cap))
    return found


# --- the invariants ------------------------------------------------------------------------------


def invariants(engine: Engine, since: datetime) -> dict[str, int]:
    """Counted over the whole database after the run: duplicates, caps passed, the visits of
    the load and how they were given out."""
    figures: dict[str, int] = {}
    with engine.connect() as conn:
        figures["duplicate_visits"] = int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT store_id, idempotency_key FROM visits "
                    "WHERE idempotency_key IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d"
                )
            )
            or 0
        )
        figures["duplicate_customers"] = int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT store_id, mobile FROM customers "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d"
                )
            )
            or 0
        )
        figures["open_opportunities_twice"] = int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT customer_id FROM opportunities "
                    "WHERE status = 'open' GROUP BY 1 HAVING count(*) > 1) d"
                )
            )
            or 0
        )
        rows = conn.execute(
            select(
                Assignment.reason,
                Assignment.from_owner_id,
                Assignment.to_owner_id,
                Assignment.to_load,
                Assignment.to_cap,
                Assignment.visit_id,
                Opportunity.grade,
            )
            .join(Opportunity, Opportunity.id == Assignment.opportunity_id)
            .where(Assignment.assigned_at >= since, Assignment.to_owner_id.is_not(None))
        ).all()
        past_cap = own_past_cap = 0
        for r in rows:
            counted = r.from_owner_id != r.to_owner_id and grade_counts_towards_load(r.grade)
            if r.to_load is None or r.to_cap is None or r.to_load < r.to_cap:
                continue
            if r.reason in OWN_REASONS:
                own_past_cap += 1
            elif counted:
                past_cap += 1
        figures["assignments"] = len(rows)
        figures["walk_in_assignments"] = sum(1 for r in rows if r.visit_id is not None)
        figures["past_cap"] = past_cap
        figures["own_past_cap"] = own_past_cap
        status_rows = conn.execute(
            select(Visit.status, func.count())
            .where(Visit.checked_in_at >= since, Visit.source == "kiosk")
            .group_by(Visit.status)
        ).all()
        for status, n in status_rows:
            figures[f"visits_{status}"] = int(n)
        figures["visits"] = sum(int(n) for _, n in status_rows)
    return figures


def visits_by_key(engine: Engine, since: datetime) -> dict[tuple[int, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Visit.store_id, Visit.idempotency_key, func.count())
            .where(Visit.checked_in_at >= since, Visit.idempotency_key.is_not(None))
            .group_by(Visit.store_id, Visit.idempotency_key)
        ).all()
    return {(s, str(k)): int(n) for s, k, n in rows}
