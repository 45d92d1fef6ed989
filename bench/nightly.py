"""The nightly run at 10k, 100k and 1M opportunities (1, 10 and 100 stores of 10,000) on
PostgreSQL, against a floor: the same selections and writes as hand-written SQL statements.

Every measured run happens inside a transaction that is rolled back, so the implementation and
the floor start from the same data each time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.harness import Row, bench_app

PER_STORE = 10_000
CONSULTANTS = 10
SIZES = (1, 10, 100)  # stores


def _generate(engine: Engine, stores: int) -> None:
    """Stores of 10,000 opportunities in every state, with a realistic active book (~2.6%)."""
    from core.rules.rulesets import create_default_rules
    from core.security import hash_password

    pw = hash_password("bench")
    with Session(engine) as s, s.begin():
        s.execute(
            text(
                "INSERT INTO stores (code, name, timezone, default_locale, active, created_at) "
                "SELECT 'N' || lpad(g::text, 3, '0'), 'Bench ' || g, 'Asia/Shanghai', 'zh', "
                "true, now() AT TIME ZONE 'UTC' FROM generate_series(1, :n) g"
            ),
            {"n": stores},
        )
        store_ids = s.execute(
            text("SELECT id FROM stores WHERE code LIKE 'N%' ORDER BY id")
        ).scalars()
        for store_id in store_ids.all():
            create_default_rules(s, store_id)
        s.execute(
            text(
                "INSERT INTO users (store_id, username, display_name, password_hash, role, "
                "active, created_at) SELECT st.id, st.code || '-c' || k, 'C' || k, :pw, "
                "'consultant', true, now() AT TIME ZONE 'UTC' "
                "FROM stores st, generate_series(0, :k - 1) k WHERE st.code LIKE 'N%'"
            ),
            {"pw": pw, "k": CONSULTANTS},
        )
        s.execute(
            text(
                "INSERT INTO consultant_settings (user_id, store_id, active, presence) "
                "SELECT u.id, u.store_id, true, 'off_duty' FROM users u JOIN stores st "
                "ON st.id = u.store_id WHERE st.code LIKE 'N%' AND u.role = 'consultant'"
            )
        )
        s.execute(
            text(
                "CREATE TEMP TABLE seat ON COMMIT DROP AS SELECT store_id, id AS user_id, "
                "row_number() OVER (PARTITION BY store_id ORDER BY id) - 1 AS k FROM users "
                "WHERE role = 'consultant'"
            )
        )
        s.execute(
            text(
                "INSERT INTO customers (store_id, mobile, surname, title, created_at, "
                "consent_notice_version, consent_at, do_not_contact) "
                "SELECT st.id, '13' || lpad((st.id * 100000 + g)::text, 9, '0'), '王', 'mr', "
                "now() AT TIME ZONE 'UTC' - interval '400 days', "
                "CASE WHEN g % 10 = 0 THEN NULL ELSE '2026-01' END, "
                "CASE WHEN g % 10 = 0 THEN NULL ELSE now() AT TIME ZONE 'UTC' "
                "- interval '400 days' END, g % 97 = 0 "
                "FROM stores st, generate_series(1, :n) g WHERE st.code LIKE 'N%'"
            ),
            {"n": PER_STORE},
        )
        # bucket = position in a thousand: 0-7 H, 8-15 A, 16-23 B, 24-25 new, 26-27 pool,
        # 28-179 C, 180-479 O, 480-999 F
        s.execute(
            text(
                """
                INSERT INTO opportunities (store_id, customer_id, owner_id, status, grade,
                    created_at, graded_at, graded_by, dormant_by, last_follow_up_at,
                    last_visit_at, pool_since, pool_reason, next_callback_on, closed_at)
                SELECT c.store_id, c.id,
                    CASE WHEN b < 26 OR b >= 180 THEN seat.user_id END,
                    CASE WHEN b < 180 THEN 'open' WHEN b < 480 THEN 'won' ELSE 'lost' END,
                    CASE WHEN b < 8 THEN 'H' WHEN b < 16 THEN 'A' WHEN b < 24 THEN 'B'
                         WHEN b < 26 THEN NULL WHEN b < 28 THEN 'A' WHEN b < 180 THEN 'C'
                         WHEN b < 480 THEN 'O' ELSE 'F' END,
                    t0 - interval '1 day' * (c.id % 400) - interval '30 days',
                    t0 - interval '1 day' * (c.id % 365) - interval '1 hour' * (c.id % 11),
                    seat.user_id,
                    CASE WHEN b >= 28 AND b < 180 THEN seat.user_id END,
                    t0 - interval '1 day' * (c.id % 9) - interval '1 hour' * (c.id % 7),
                    t0 - interval '1 day' * (c.id % 40),
                    CASE WHEN b IN (26, 27) THEN t0 - interval '1 hour' * (c.id % 50) END,
                    CASE WHEN b IN (26, 27) THEN 'returned' END,
                    CASE WHEN b >= 28 AND b < 180 AND c.id % 50 = 0
                         THEN CAST(t0 + interval '8 hours' AS date) END,
                    CASE WHEN b >= 180 THEN t0 - interval '1 day' * (c.id % 365) END
                FROM (SELECT c.*, (c.id % 1000) AS b,
                             now() AT TIME ZONE 'UTC' AS t0 FROM customers c) c
                JOIN stores st ON st.id = c.store_id AND st.code LIKE 'N%'
                JOIN seat ON seat.store_id = c.store_id AND seat.k = c.id % :k
                """
            ),
            {"k": CONSULTANTS},
        )
        # yesterday's unanswered calls, to be retried
        s.execute(
            text(
                "INSERT INTO callback_tasks (store_id, customer_id, opportunity_id, kind, "
                "due_on, attempt, status, created_at, completed_at, call_result, outcome) "
                "SELECT o.store_id, o.customer_id, o.id, 'dormant', CURRENT_DATE - 1, 1, "
                "'done', now() AT TIME ZONE 'UTC' - interval '1 day', "
                "now() AT TIME ZONE 'UTC' - interval '20 hours', 'no_answer', 'unreachable' "
                "FROM opportunities o JOIN stores st ON st.id = o.store_id "
                "WHERE st.code LIKE 'N%' AND o.grade = 'C' AND o.id % 40 = 3"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


FLOOR_CALLBACKS = """
WITH cand AS (
  SELECT o.customer_id, o.id AS opportunity_id, 'dormant' AS kind, 3 AS priority,
         NULL::varchar AS stall_rule, NULL::int AS overdue_days, o.dormant_by AS consultant_id,
         1 AS attempt
  FROM opportunities o
  WHERE o.store_id = :s AND o.status = 'open' AND o.grade = 'C'
    AND o.graded_at >= :y0 AND o.graded_at < :y1
    AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.opportunity_id = o.id
                    AND t.kind = 'dormant' AND t.created_at >= o.graded_at)
  UNION ALL
  SELECT o.customer_id, o.id, 'defeat', 1, NULL, NULL, o.graded_by, 1
  FROM opportunities o JOIN users u ON u.id = o.graded_by
  WHERE o.store_id = :s AND o.status = 'lost' AND u.role = 'consultant'
    AND o.graded_at >= :y0 AND o.graded_at < :y1
    AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.opportunity_id = o.id
                    AND t.kind = 'defeat' AND t.created_at >= o.graded_at)
  UNION ALL
  SELECT customer_id, id, 'stalled', 2, 'follow_up', overdue, owner_id, 1 FROM (
    SELECT o.*, (CAST(:d AS date) - CAST((GREATEST(coalesce(o.last_follow_up_at, o.created_at),
        coalesce(o.last_visit_at, o.created_at), coalesce(o.graded_at, o.created_at))
        AT TIME ZONE 'UTC') AT TIME ZONE :tz AS date))
        - CASE o.grade WHEN 'H' THEN 2 WHEN 'A' THEN 4 WHEN 'B' THEN 7 END AS overdue
    FROM opportunities o
    WHERE o.store_id = :s AND o.status = 'open' AND o.grade IN ('H', 'A', 'B')
      AND o.owner_id IS NOT NULL) o
  WHERE overdue > 0 AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.opportunity_id = o.id
      AND t.kind = 'stalled' AND t.stall_rule = 'follow_up'
      AND t.created_at >= GREATEST(coalesce(o.last_follow_up_at, o.created_at),
        coalesce(o.last_visit_at, o.created_at), coalesce(o.graded_at, o.created_at)))
  UNION ALL
  SELECT customer_id, id, 'stalled', 2, 'cycle', overdue, owner_id, 1 FROM (
    SELECT o.*, (CAST(:d AS date) - CAST((coalesce(o.last_visit_at, o.created_at)
        AT TIME ZONE 'UTC') AT TIME ZONE :tz AS date))
        - CASE o.grade WHEN 'H' THEN 7 WHEN 'A' THEN 15 WHEN 'B' THEN 30 END AS overdue
    FROM opportunities o
    WHERE o.store_id = :s AND o.status = 'open' AND o.grade IN ('H', 'A', 'B')
      AND o.owner_id IS NOT NULL) o
  WHERE overdue > 0 AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.opportunity_id = o.id
      AND t.kind = 'stalled' AND t.stall_rule = 'cycle'
      AND t.created_at >= coalesce(o.last_visit_at, o.created_at))
  UNION ALL
  SELECT o.customer_id, o.id, 'scheduled', 5, NULL, NULL, coalesce(o.dormant_by, o.owner_id), 1
  FROM opportunities o
  WHERE o.store_id = :s AND o.status = 'open' AND o.next_callback_on <= :d
  UNION ALL
  SELECT t.customer_id, t.opportunity_id, 'retry', 4, NULL, NULL, t.consultant_id, t.attempt + 1
  FROM callback_tasks t
  WHERE t.store_id = :s AND t.status = 'done' AND t.outcome = 'unreachable'
    AND t.completed_at < :d0 AND t.attempt < 3
    AND NOT EXISTS (SELECT 1 FROM callback_tasks t2 WHERE t2.customer_id = t.customer_id
                    AND t2.id > t.id)
), ranked AS (
  SELECT cand.*, row_number() OVER (PARTITION BY cand.customer_id
                                    ORDER BY priority, coalesce(overdue_days, 0) DESC) AS rank
  FROM cand JOIN customers c ON c.id = cand.customer_id
  WHERE c.store_id = :s AND c.consent_at IS NOT NULL AND NOT c.do_not_contact
    AND NOT EXISTS (SELECT 1 FROM callback_tasks t WHERE t.customer_id = cand.customer_id
                    AND t.status = 'open')
)
INSERT INTO callback_tasks (store_id, customer_id, opportunity_id, kind, due_on, stall_rule,
    overdue_days, consultant_id, attempt, status, created_at)
SELECT :s, customer_id, opportunity_id, kind, :d, stall_rule, overdue_days, consultant_id,
       attempt, 'open', :now FROM ranked WHERE rank = 1
"""

FLOOR_STEPS = [
    FLOOR_CALLBACKS,
    "UPDATE opportunities SET next_callback_on = NULL WHERE id IN (SELECT opportunity_id "
    "FROM callback_tasks WHERE store_id = :s AND created_at = :now AND kind = 'scheduled')",
    "SELECT kind, count(*) FROM callback_tasks WHERE store_id = :s AND created_at = :now "
    "GROUP BY kind",
    # loads against caps, then the pool in order
    "SELECT u.id, coalesce(l.n, 0), coalesce(cs.load_cap, 30) FROM users u "
    "JOIN consultant_settings cs ON cs.user_id = u.id LEFT JOIN (SELECT owner_id, count(*) n "
    "FROM opportunities WHERE store_id = :s AND status = 'open' AND (grade IS NULL OR grade "
    "IN ('H','A','B')) GROUP BY owner_id) l ON l.owner_id = u.id WHERE u.store_id = :s "
    "AND u.role = 'consultant'",
    "SELECT id, grade, declined_owner_id FROM opportunities WHERE store_id = :s "
    "AND status = 'open' AND owner_id IS NULL AND pool_since IS NOT NULL "
    "ORDER BY grade, pool_since, id",
]


def _floor_store(session: Session, store_id: int, params: dict[str, Any]) -> None:
    p = {**params, "s": store_id}
    for sql in FLOOR_STEPS:
        session.execute(text(sql), p)
    pool = session.execute(text(FLOOR_STEPS[-1]), p).all()
    seats = session.execute(text(FLOOR_STEPS[-2]), p).all()
    if pool and seats:
        rows = [{"o": o_id, "u": seats[i % len(seats)][0]} for i, (o_id, _, _) in enumerate(pool)]
        session.execute(
            text(
                "INSERT INTO assignments (store_id, opportunity_id, to_owner_id, assigned_at, "
                "reason) VALUES (:s, :o, :u, :now, 'refill')"
            ),
            [{**r, "s": store_id, "now": params["now"]} for r in rows],
        )
        session.execute(
            text(
                "UPDATE opportunities SET owner_id = :u, pool_since = NULL, pool_reason = NULL, "
                "next_follow_up_due = :d WHERE id = :o"
            ),
            [{**r, "d": params["d"]} for r in rows],
        )
        session.execute(
            text("UPDATE consultant_settings SET last_refill_at = :now WHERE user_id = :u"),
            [{"u": u, "now": params["now"]} for u in {r["u"] for r in rows}],
        )


def _timed(engine: Engine, store_ids: list[int], work: Any) -> float:
    total = 0.0
    for store_id in store_ids:
        with Session(engine) as session:
            session.begin()
            start = time.perf_counter()
            work(session, store_id)
            session.flush()
            total += time.perf_counter() - start
            session.rollback()
    return total


def run(database_url: str) -> list[Row]:
    from flask_migrate import upgrade

    from core.nightly import run as nightly
    from core.timeutil import day_bounds_utc, local_date
    from extensions import db

    app = bench_app(database_url)
    with app.app_context():
        upgrade()
        engine = db.engine
        started = time.perf_counter()
        _generate(engine, max(SIZES))
        generated = time.perf_counter() - started
    print(f"generated {max(SIZES) * PER_STORE:,} opportunities in {generated:.0f} s")
    with Session(engine) as s:
        all_ids = (
            s.execute(text("SELECT id FROM stores WHERE code LIKE 'N%' ORDER BY id"))
            .scalars()
            .all()
        )
    now = datetime.now(UTC)
    day = local_date(now, "Asia/Shanghai")
    d0, _ = day_bounds_utc(day, "Asia/Shanghai")
    y0, y1 = day_bounds_utc(day - timedelta(days=1), "Asia/Shanghai")
    params = {
        "d": day,
        "d0": d0.replace(tzinfo=None),
        "y0": y0.replace(tzinfo=None),
        "y1": y1.replace(tzinfo=None),
        "now": now.replace(tzinfo=None),
        "tz": "Asia/Shanghai",
    }

    def implementation(session: Session, store_id: int) -> None:
        ctx = nightly.store_context(session, store_id, day, now, None)
        nightly.run(session, ctx)

    rows = []
    for stores in SIZES:
        ids = all_ids[:stores]
        floor = min(_timed(engine, ids, lambda s, i: _floor_store(s, i, params)) for _ in range(2))
        ours = min(_timed(engine, ids, implementation) for _ in range(2))
        size = f"{stores * PER_STORE:,}"
        rows.append(
            Row(
                f"nightly run, {stores} store(s)",
                "postgresql",
                size,
                ours * 1000,
                floor * 1000,
                None,
            )
        )
    rows.append(_retention(engine, all_ids[0], now))
    with app.app_context():
        db.engine.dispose()
    return rows


PURGE_FLOOR = [
    "DELETE FROM audit_events WHERE store_id = :s",
    "DELETE FROM assignments WHERE store_id = :s",
    "DELETE FROM follow_ups WHERE opportunity_id IN "
    "(SELECT id FROM opportunities WHERE store_id = :s)",
    "DELETE FROM needs_assessments WHERE opportunity_id IN "
    "(SELECT id FROM opportunities WHERE store_id = :s)",
    "DELETE FROM callback_tasks WHERE store_id = :s",
    "UPDATE invitations SET visit_id = NULL WHERE store_id = :s",
    "DELETE FROM visits WHERE store_id = :s",
    "DELETE FROM invitations WHERE store_id = :s",
    "DELETE FROM opportunities WHERE store_id = :s",
    "DELETE FROM customers WHERE store_id = :s",
]


def _retention(engine: Engine, store_id: int, now: datetime) -> Row:
    """The retention purge of a store whose every customer has expired (three years on), against
    the same rows deleted by store, without the expiry conditions."""
    from core.nightly import retention

    later = now + timedelta(days=3 * 366)

    def purge(session: Session, store_id: int) -> None:
        assert retention.purge(session, store_id, later, "Asia/Shanghai") > 0

    def floor(session: Session, store_id: int) -> None:
        for sql in PURGE_FLOOR:
            session.execute(text(sql), {"s": store_id})

    return Row(
        "retention purge, every customer",
        "postgresql",
        f"{PER_STORE:,}",
        min(_timed(engine, [store_id], purge) for _ in range(2)) * 1000,
        min(_timed(engine, [store_id], floor) for _ in range(2)) * 1000,
        None,
    )
