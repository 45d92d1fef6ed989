"""The what-if preview of the rules page for a store of 10,000 opportunities (target: under 2 s),
against a floor measured in the same run on the same data: one nightly run of the store in a
transaction that is rolled back. The preview runs the night twice (rules in force, proposed
rules) inside savepoints, so a ratio near 2 is what to expect.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.harness import Row, bench_app, seed_customers

OPPORTUNITIES = 10_000
CONSULTANTS = 10
REPEAT = 7


def _opportunity(i: int, customer_id: int, owner: int, t0: datetime) -> dict[str, Any]:
    """The same mix as bench/nightly.py: per thousand, 8 H, 8 A, 8 B, 2 new, 2 in the pool,
    152 dormant (C), 300 ordered, 520 lost."""
    b = i % 1000
    grade: str | None
    if b < 8:
        grade = "H"
    elif b < 16:
        grade = "A"
    elif b < 24:
        grade = "B"
    elif b < 26:
        grade = None
    elif b < 28:
        grade = "A"
    elif b < 180:
        grade = "C"
    elif b < 480:
        grade = "O"
    else:
        grade = "F"
    status = "open" if b < 180 else ("won" if b < 480 else "lost")
    return {
        "store_id": None,  # filled in by the caller
        "customer_id": customer_id,
        "owner_id": owner if (b < 26 or b >= 180) else None,
        "status": status,
        "grade": grade,
        "created_at": t0 - timedelta(days=i % 400 + 30),
        "graded_at": t0 - timedelta(days=i % 365, hours=i % 11),
        "graded_by": owner,
        "dormant_by": owner if 28 <= b < 180 else None,
        "last_follow_up_at": t0 - timedelta(days=i % 9, hours=i % 7),
        "last_visit_at": t0 - timedelta(days=i % 40),
        "pool_since": t0 - timedelta(hours=i % 50) if b in (26, 27) else None,
        "pool_reason": "returned" if b in (26, 27) else None,
        "next_callback_on": (t0 + timedelta(hours=8)).date()
        if 28 <= b < 180 and i % 50 == 0
        else None,
        "closed_at": t0 - timedelta(days=i % 365) if b >= 180 else None,
    }


def _generate(session: Session, now: datetime) -> tuple[int, list[int]]:
    from core.callbacks.models import CallbackTask
    from core.enums import Role
    from core.opportunities.models import Customer, Opportunity
    from core.security import hash_password
    from core.stores.service import create_staff, create_store

    store = create_store(session, code="W1", name="What-if", car_models=[("卡罗拉", "丰田")])
    pw = hash_password("bench")
    consultants = [
        create_staff(
            session,
            store_id=store.id,
            username=f"w-c{k}",
            display_name=f"C{k}",
            role=Role.CONSULTANT,
            password_hash=pw,
        ).id
        for k in range(CONSULTANTS)
    ]
    ids = sorted(seed_customers(session, store.id, OPPORTUNITIES, offset=0, prefix="13"))
    consent = now - timedelta(days=400)
    session.execute(
        Customer.__table__.update()
        .where(Customer.store_id == store.id, Customer.id % 10 != 0)
        .values(consent_notice_version="2026-01", consent_at=consent)
    )
    rows = []
    for i, customer_id in enumerate(ids, start=1):
        row = _opportunity(i, customer_id, consultants[i % CONSULTANTS], now)
        row["store_id"] = store.id
        rows.append(row)
    session.execute(insert(Opportunity), rows)
    # yesterday's unanswered calls, to be retried tonight
    retries = session.execute(
        select(Opportunity.id, Opportunity.customer_id).where(
            Opportunity.store_id == store.id, Opportunity.grade == "C", Opportunity.id % 40 == 3
        )
    ).all()
    if retries:
        session.execute(
            insert(CallbackTask),
            [
                {
                    "store_id": store.id,
                    "customer_id": customer_id,
                    "opportunity_id": opp_id,
                    "kind": "dormant",
                    "due_on": (now - timedelta(days=1)).date(),
                    "attempt": 1,
                    "status": "done",
                    "created_at": now - timedelta(days=1),
                    "completed_at": now - timedelta(hours=20),
                    "call_result": "no_answer",
                    "outcome": "unreachable",
                }
                for opp_id, customer_id in retries
            ],
        )
    session.commit()
    return store.id, consultants


def _median_ms(engine: Engine, work: Any) -> float:
    samples = []
    for n in range(REPEAT + 1):
        with Session(engine) as session:
            session.begin()
            start = time.perf_counter()
            work(session)
            elapsed = time.perf_counter() - start
            session.rollback()
        if n:  # the first one warms the caches
            samples.append(elapsed * 1000)
    return statistics.median(samples)


def run(database_url: str, label: str) -> list[Row]:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from core.callbacks.models import CallbackTask
    from core.dispatch.models import Assignment
    from core.nightly import run as nightly
    from core.nightly import whatif
    from core.rules import admin as rule_admin
    from core.timeutil import local_date
    from extensions import db
    from tests.querycount import count_statements

    app = bench_app(database_url)
    now = datetime.now(UTC)
    with app.app_context():
        upgrade()
        engine = db.engine
        with Session(engine) as session:
            store_id, consultants = _generate(session, now)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    day = local_date(now, "Asia/Shanghai")

    def proposal(session: Session) -> rule_admin.DispatchRules:
        # a tighter store cap, one consultant with more room, H followed up every 3 days,
        # one consultant leaves
        return rule_admin.validate_dispatch(
            session,
            store_id,
            20,
            2,
            {"H": (3, 7), "A": (4, 15), "B": (7, 30)},
            {consultants[0]: (None, False), consultants[1]: (40, True)},
        )

    def preview(session: Session) -> None:
        whatif.preview(session, store_id, now, proposal(session), run_on=day)

    def one_night(session: Session) -> None:
        ctx = nightly.store_context(session, store_id, day, now, None)
        nightly.run(session, ctx)

    floor = _median_ms(engine, one_night)
    ours = _median_ms(engine, preview)

    def rows(session: Session) -> tuple[int, int]:
        return (
            session.scalar(select(func.count()).select_from(CallbackTask)) or 0,
            session.scalar(select(func.count()).select_from(Assignment)) or 0,
        )

    with Session(engine) as session:
        session.begin()
        change = proposal(session)
        before = rows(session)
        with count_statements(engine) as statements:
            result = whatif.preview(session, store_id, now, change, run_on=day)
        left = rows(session)
        session.rollback()
    print(
        f"what-if ({label}): tonight {result.current.total_tasks} -> "
        f"{result.proposed.total_tasks} tasks, released {result.current.released_over_cap} -> "
        f"{result.proposed.released_over_cap} over cap and {result.proposed.released_inactive} "
        f"inactive, refilled {result.current.refilled} -> {result.proposed.refilled}, unplaced "
        f"{result.current.unplaced} -> {result.proposed.unplaced}; rows (tasks, assignments) "
        f"before {before}, after {left}"
    )
    with app.app_context():
        db.engine.dispose()
    size = f"{OPPORTUNITIES:,}"
    return [
        Row("what-if preview (floor: 1 night)", label, size, ours, floor, len(statements)),
    ]
