"""The analytics page on PostgreSQL: one store of 100,000 opportunities read by its manager
(rows per consultant) and a group of 100 stores with 1,000,000 read by an admin (rows per
store), against a floor measured in the same run: one COUNT(*) over the same opportunities.
Each is measured as the report's core call and as the whole page (a signed-in GET, rendered);
each export's table alone too.

The data is nightly.py's (opportunities in every state over a year), built with its builder,
then given what the analytics read: visits (a first visit each, a revisit for three in ten),
needs analyses, invitations, completed callbacks with answers and overturned defeats.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench import nightly
from bench.harness import Row, bench_app, median_ms

STORE_SIZE = 100_000
PASSWORD = "bench-password"
GROUP_STORES = 100  # of nightly.PER_STORE (10,000) each

EXTEND = [
    # a first visit for every opportunity, received by its consultant
    """
    INSERT INTO visits (store_id, customer_id, opportunity_id, consultant_id, source, purpose,
        party_size, status, is_first_visit, checked_in_at, assigned_at, reception_started_at,
        reception_ended_at)
    SELECT o.store_id, o.customer_id, o.id, o.graded_by, 'kiosk', 'look', 1, 'finished', true,
        o.created_at, o.created_at + interval '1 minute' * (o.id % 5),
        o.created_at + interval '1 minute' * (o.id % 5 + 2),
        o.created_at + interval '1 minute' * (o.id % 50 + 20)
    FROM opportunities o
    """,
    # a revisit for three in ten
    """
    INSERT INTO visits (store_id, customer_id, opportunity_id, consultant_id, source, purpose,
        party_size, status, is_first_visit, checked_in_at, assigned_at, reception_started_at,
        reception_ended_at)
    SELECT o.store_id, o.customer_id, o.id, o.graded_by, 'reception', 'test_drive', 2,
        'finished', false, o.created_at + interval '3 days',
        o.created_at + interval '3 days 1 minute', o.created_at + interval '3 days 3 minutes',
        o.created_at + interval '3 days 45 minutes'
    FROM opportunities o WHERE o.id % 10 < 3
    """,
    # a needs analysis for every customer graded (and half of the closed ones)
    """
    INSERT INTO needs_assessments (opportunity_id, rule_set_id, assessed_by, assessed_at, score,
        computed_grade, grade)
    SELECT o.id, r.id, o.graded_by, o.created_at + interval '1 hour', 40,
        CASE WHEN o.grade IN ('H', 'A', 'B', 'C') THEN o.grade ELSE 'B' END,
        CASE WHEN o.grade IN ('H', 'A', 'B', 'C') THEN o.grade ELSE 'B' END
    FROM opportunities o JOIN rule_sets r ON r.store_id = o.store_id
    WHERE o.grade IN ('H', 'A', 'B', 'C') OR o.id % 2 = 0
    """,
    # what core.opportunities.assess keeps on the opportunity: its first analysis
    """
    UPDATE opportunities o SET first_assessed_at = a.assessed_at, first_assessed_by = a.assessed_by
    FROM needs_assessments a WHERE a.opportunity_id = o.id
    """,
    # an invitation for one in five
    """
    INSERT INTO invitations (store_id, opportunity_id, customer_id, consultant_id, created_by,
        created_at, scheduled_at, status, source)
    SELECT o.store_id, o.id, o.customer_id, o.graded_by, o.graded_by,
        o.created_at + interval '2 days', o.created_at + interval '4 days',
        CASE WHEN o.id % 10 < 3 THEN 'honoured' ELSE 'missed' END, 'consultant'
    FROM opportunities o WHERE o.id % 5 = 0
    """,
    # completed callbacks: every dormant customer, one defeat in four; two in three reached
    """
    INSERT INTO callback_tasks (store_id, customer_id, opportunity_id, kind, due_on,
        consultant_id, attempt, status, created_at, completed_at, call_result, outcome)
    SELECT o.store_id, o.customer_id, o.id,
        CASE WHEN o.grade = 'C' THEN 'dormant' ELSE 'defeat' END,
        CAST(o.graded_at + interval '1 day' AS date), o.graded_by, 1, 'done', o.graded_at,
        o.graded_at + interval '1 day',
        CASE WHEN o.id % 3 = 0 THEN 'no_answer' ELSE 'reached' END,
        CASE WHEN o.id % 3 = 0 THEN 'unreachable' WHEN o.id % 4 = 1 THEN 'bought_elsewhere'
             WHEN o.id % 4 = 2 THEN 'invite_back' ELSE 'call_again' END
    FROM opportunities o WHERE o.grade = 'C' OR (o.grade = 'F' AND o.id % 4 = 0)
    """,
    """
    INSERT INTO callback_answers (task_id, remembers_consultant, satisfaction,
        received_follow_up, has_bought, bought_reason, bought_brand, would_revisit)
    SELECT t.id, true, 1 + t.id % 5, t.id % 2 = 0, t.outcome = 'bought_elsewhere',
        CASE WHEN t.outcome = 'bought_elsewhere' THEN
            (ARRAY['价格更低', '朋友推荐', '提车更快', '离家近'])[1 + t.id % 4] END,
        CASE WHEN t.outcome = 'bought_elsewhere' THEN
            (ARRAY['大众', '本田', '比亚迪', '特斯拉', '吉利'])[1 + t.id % 5] END,
        CASE WHEN t.outcome = 'bought_elsewhere' THEN NULL ELSE t.id % 2 = 1 END
    FROM callback_tasks t WHERE t.call_result = 'reached' AND t.completed_at IS NOT NULL
    """,
    # defeats with reasons and brands; a few overturned
    """
    UPDATE opportunities SET
        defeat_reason = (ARRAY['other_brand', 'other_brand', 'price', 'financing',
                               'no_longer_needs', 'other'])[1 + id % 6],
        competitor_brand = CASE WHEN id % 6 < 2 THEN
            (ARRAY['大众', '本田', '比亚迪', '特斯拉', '吉利'])[1 + id % 5] END
    WHERE status = 'lost'
    """,
    """
    UPDATE opportunities SET status = 'open', grade = NULL, closed_at = NULL,
        defeat_reason = NULL, competitor_brand = NULL, owner_id = NULL,
        defeat_overturned_at = graded_at + interval '1 day'
    WHERE status = 'lost' AND id % 4 = 0 AND id % 25 = 0
    """,
]


def _generate(engine: Engine) -> tuple[int, list[int]]:
    """The big store (built by nightly's builder at 100,000 per store, then set apart by its
    code), the group (nightly's builder at its 10,000 per store), then the analytics data."""
    per_store = nightly.PER_STORE
    try:
        nightly.PER_STORE = STORE_SIZE
        nightly._generate(engine, 1)
    finally:
        nightly.PER_STORE = per_store
    with Session(engine) as s, s.begin():
        big = s.execute(text("UPDATE stores SET code = 'S001' WHERE code = 'N001' RETURNING id"))
        store_id = big.scalar_one()
        s.execute(
            text("UPDATE users SET username = 'S' || substr(username, 2) WHERE store_id = :s"),
            {"s": store_id},
        )
    nightly._generate(engine, GROUP_STORES)
    with Session(engine) as s, s.begin():
        for sql in EXTEND:
            s.execute(text(sql))
        group = s.execute(text("SELECT id FROM stores WHERE code LIKE 'N%' ORDER BY id"))
        group_ids = list(group.scalars())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return store_id, group_ids


def _reader(store_id: int, role: str) -> str:
    """A member of staff who reads the analytics page: their user name."""
    from core.security import hash_password
    from core.stores.service import create_staff
    from extensions import db

    username = f"reader-{role}"
    create_staff(
        db.session,
        store_id=store_id,
        username=username,
        display_name=role,
        role=role,
        password_hash=hash_password(PASSWORD),
    )
    return username


def _statements(engine: Engine, call: Any) -> int:
    from tests.querycount import count_statements

    with count_statements(engine) as seen:
        call()
    return len(seen)


def run(database_url: str, dbname: str = "postgresql") -> list[Row]:
    from flask_migrate import upgrade

    from console import analytics_tables
    from core.analytics import report as analytics
    from core.timeutil import local_date
    from extensions import db

    app = bench_app(database_url)
    with app.app_context():
        upgrade()
        engine = db.engine
        started = time.perf_counter()
        store_id, group_ids = _generate(engine)
        print(
            f"analytics: generated {STORE_SIZE:,} + {GROUP_STORES * nightly.PER_STORE:,} "
            f"opportunities with visits and callbacks in {time.perf_counter() - started:.0f} s"
        )
        # who reads the pages: the big store's manager, and an admin (the whole group)
        readers = {
            "store": _reader(store_id, "manager"),
            "group": _reader(group_ids[0], "admin"),
        }
        db.session.commit()
    clients = {}
    for label, username in readers.items():
        clients[label] = app.test_client()
        clients[label].post("/console/login", data={"username": username, "password": PASSWORD})
    now = datetime.now(UTC)
    today = local_date(now, "Asia/Shanghai")
    periods = {"30 days": today - timedelta(days=29), "1 year": today - timedelta(days=365)}
    rows: list[Row] = []
    with Session(engine) as session:
        cases = [
            ("store", [store_id], analytics.BY_CONSULTANT, f"{STORE_SIZE:,}", 7),
            ("group", group_ids, analytics.BY_STORE, f"{len(group_ids) * nightly.PER_STORE:,}", 3),
        ]
        for label, ids, by, size, repeat in cases:

            def floor(ids: list[int] = ids) -> None:
                session.execute(
                    text("SELECT count(*) FROM opportunities WHERE store_id = ANY(:ids)"),
                    {"ids": ids},
                ).scalar()

            floor_ms = median_ms(floor, repeat=repeat, warmup=1)
            for period_name, start in periods.items():

                def page(ids: list[int] = ids, by: str = by, start: Any = start) -> None:
                    analytics.report(session, ids, start, today, by=by, now=now)
                    session.rollback()

                ms = median_ms(page, repeat=repeat, warmup=1)
                rows.append(
                    Row(
                        f"analytics report, {label}, {period_name}",
                        dbname,
                        size,
                        ms,
                        floor_ms,
                        _statements(engine, page),
                    )
                )
                path = f"/console/analytics?from={start}&to={today}"

                def get(label: str = label, path: str = path) -> None:
                    response = clients[label].get(path)
                    assert response.status_code == 200, response.status_code

                rows.append(
                    Row(
                        f"analytics page GET, {label}, {period_name}",
                        dbname,
                        # an admin's group is every active store: the big one too
                        size
                        if label == "store"
                        else f"{STORE_SIZE + len(ids) * nightly.PER_STORE:,}",
                        median_ms(get, repeat=repeat, warmup=1),
                        floor_ms,
                        _statements(engine, get),
                    )
                )
            for name in ("funnel", "callbacks", "defeat_rows", "workload"):

                def export(ids: list[int] = ids, by: str = by, name: str = name) -> None:
                    analytics_tables.table(
                        session, name, ids, periods["1 year"], today, by=by, now=now
                    )
                    session.rollback()

                rows.append(
                    Row(
                        f"analytics export {name}, {label}",
                        dbname,
                        size,
                        median_ms(export, repeat=repeat, warmup=1),
                        floor_ms,
                        _statements(engine, export),
                    )
                )
    with app.app_context():
        db.engine.dispose()
    return rows
