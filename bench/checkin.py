"""One kiosk check-in of a new visitor handed to a consultant: server time of the request that
records the visit (the consent step of the kiosk), against a floor (a minimal Flask endpoint
doing one INSERT on the same database), with the SQL statements it issues, at two sizes of
history.

Three more rows per size take the request apart. "its database time": the time the check-in
spends inside the database driver (its statements with their round trips, the commit, the
connection check), against the same for the floor. "its frame": the same consent request with the
check-in replaced by the floor's one INSERT (device check, session cookie, rate-limit decorator,
redirect: everything the kiosk does around a check-in), against the floor. "bound": the frame
plus the database time the check-in adds to it, against the floor: the ratio the check-in would
reach with its SQL as it is and its own Python (deciding, building the rows) taking no time.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine

from bench.harness import Row, bench_app, seed_customers
from core.checkin.models import Visit
from core.checkin.service import CheckInResult
from core.db import utcnow
from core.enums import Presence, Role
from core.opportunities.models import Opportunity
from core.security import hash_password
from core.stores.kiosks import enrol
from core.stores.models import CarModel
from core.stores.service import create_staff, create_store
from tests.querycount import count_statements
from web.kiosk_device import KIOSK_COOKIE

SIZES = (1_000, 20_000)  # customers, each with a visit and an opportunity
FLOOR_INSERT = text("INSERT INTO audit_events (action, at) VALUES ('bench', :at)")


def _seed_history(session, store_id: int, consultants: list[int], n: int, offset: int) -> None:
    rnd = random.Random(offset)
    now = utcnow()
    ids = seed_customers(session, store_id, n, offset=offset, prefix="15")
    session.execute(
        insert(Opportunity),
        [
            {
                "store_id": store_id,
                "customer_id": cid,
                "owner_id": rnd.choice(consultants),
                "status": "lost",
                "grade": "F",
            }
            for cid in ids
        ],
    )
    session.execute(
        insert(Visit),
        [
            {
                "store_id": store_id,
                "customer_id": cid,
                "source": "kiosk",
                "purpose": "look",
                "status": "finished",
                "checked_in_at": now - timedelta(days=rnd.randint(1, 300)),
            }
            for cid in ids
        ],
    )


@contextmanager
def driver_time(engine: Engine) -> Iterator[list[float]]:
    """Seconds spent inside the database driver while the block runs: each statement (with its
    round trip and, on PostgreSQL, the transaction's BEGIN), each commit and connection check."""
    spent: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        spent.append(time.perf_counter() - conn.info.pop("bench_started"))

    def timing(method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - started)

        return timed

    dialect = engine.dialect
    originals = {name: getattr(dialect, name) for name in ("do_commit", "do_ping")}
    for name, method in originals.items():
        setattr(dialect, name, timing(method))
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "after_cursor_execute", after)
        event.remove(engine, "before_cursor_execute", before)
        for name in originals:
            delattr(dialect, name)  # back to the class's methods


def _sample(fn: Callable[[], object], engine: Engine) -> tuple[float, float]:
    """Milliseconds of one call: in all, and inside the database driver."""
    with driver_time(engine) as spent:
        started = time.perf_counter()
        fn()
        total = time.perf_counter() - started
    return total * 1000, sum(spent) * 1000


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Median time in all and inside the driver."""
    return statistics.median(t for t, _ in samples), statistics.median(d for _, d in samples)


@contextmanager
def _check_in_replaced_by_one_insert() -> Iterator[None]:
    """The kiosk's consent step with ``check_in`` doing only the floor's INSERT."""
    import kiosk.views

    original = kiosk.views.check_in

    def one_insert(session: Any, request: Any, now: Any) -> CheckInResult:
        session.execute(FLOOR_INSERT, {"at": now.replace(tzinfo=None)})
        return CheckInResult(0, 0, 1, "C0", None, returning=False)

    kiosk.views.check_in = one_insert  # type: ignore[assignment]
    try:
        yield
    finally:
        kiosk.views.check_in = original


def run(database_url: str, label: str) -> list[Row]:
    from flask_migrate import upgrade

    from extensions import db

    app = bench_app(
        database_url,
        RATELIMIT_ENABLED=False,  # the bench checks in far faster than any visitor
    )

    @app.route("/_floor_insert", methods=["POST"])
    def floor():  # type: ignore[no-untyped-def]
        db.session.execute(FLOOR_INSERT, {"at": utcnow().replace(tzinfo=None)})
        return "", 204

    with app.app_context():
        upgrade()
        store = create_store(db.session, code="K1", name="Bench", car_models=[("卡罗拉", "丰田")])
        pw = hash_password("bench")
        consultants = [
            create_staff(
                db.session,
                store_id=store.id,
                username=f"k-c{i}",
                display_name=f"C{i}",
                role=Role.CONSULTANT,
                password_hash=pw,
                presence=Presence.ON_DUTY,
            ).id
            for i in range(8)
        ]
        agent = create_staff(
            db.session,
            store_id=store.id,
            username="k-cs",
            display_name="CS",
            role=Role.CS_AGENT,
            password_hash=pw,
        )
        token = enrol(
            db.session, store_id=store.id, name="bench", role=agent.role, user_id=agent.id
        )
        model_id = db.session.scalar(select(CarModel.id).where(CarModel.store_id == store.id))
        db.session.commit()
        engine = db.engine
        store_id = store.id

    client = app.test_client()
    client.set_cookie(KIOSK_COOKIE, token)
    mobiles = (f"13{n:09d}" for n in itertools.count(1))

    def prepare() -> None:
        """The steps before the one that records the visit (not timed). Earlier visitors have
        been received, so every measured check-in takes the same path: the rotation."""
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE visits SET status = 'finished' WHERE store_id = :s AND status IN "
                    "('waiting', 'assigned', 'in_reception')"
                ),
                {"s": store_id},
            )
        client.get("/kiosk/reset")
        client.post("/kiosk/mobile", data={"mobile": next(mobiles)})
        client.post("/kiosk/name", data={"surname": "王", "title": "mr"})
        client.post(
            "/kiosk/interest",
            data={"car_model": str(model_id), "purpose": "look", "party_size": "2"},
        )
        client.get("/kiosk/consent")

    def check_in() -> None:
        response = client.post("/kiosk/consent", data={"consent": "yes"})
        assert response.status_code == 303, response.status_code

    rows: list[Row] = []
    seeded = 0
    for size in SIZES:
        with app.app_context():
            _seed_history(db.session, store_id, consultants, size - seeded, offset=seeded)
            db.session.commit()
            if engine.dialect.name == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
        seeded = size
        for _ in range(5):
            client.post("/_floor_insert")
        floor_ms, floor_db = _medians(
            [_sample(lambda: client.post("/_floor_insert"), engine) for _ in range(60)]
        )
        prepare()
        with count_statements(engine) as statements:
            check_in()
        samples = []
        for _ in range(40):
            prepare()
            samples.append(_sample(check_in, engine))
        ours_ms, ours_db = _medians(samples)
        frame = []
        with _check_in_replaced_by_one_insert():
            for _ in range(40):
                prepare()
                frame.append(_sample(check_in, engine))
        frame_ms, frame_db = _medians(frame)
        n, at = len(statements), f"{size:,}"
        rows += [
            Row("kiosk check-in (consent step)", label, at, ours_ms, floor_ms, n),
            Row("  its database time", label, at, ours_db, floor_db, n),
            Row("  its frame: check-in -> 1 INSERT", label, at, frame_ms, floor_ms, None),
            Row(
                "  bound: frame + its added db",
                label,
                at,
                frame_ms + ours_db - frame_db,
                floor_ms,
                n,
            ),
        ]
    with app.app_context():
        db.engine.dispose()
    return rows
