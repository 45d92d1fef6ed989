"""One kiosk check-in of a new visitor handed to a consultant: server time of the request that
records the visit (the consent step of the kiosk), against a floor (a minimal Flask endpoint
doing one INSERT on the same database), with the SQL statements it issues, at two sizes of
history."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from sqlalchemy import insert, select, text

from bench.harness import Row, bench_app, median_ms, seed_customers
from core.db import utcnow
from core.enums import Presence, Role
from core.kiosks import enrol
from core.models import CarModel, Opportunity, Visit
from core.security import hash_password
from core.stores import create_staff, create_store
from tests.querycount import count_statements
from web.kiosk_device import KIOSK_COOKIE

SIZES = (1_000, 20_000)  # customers, each with a visit and an opportunity


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


def run(database_url: str, label: str) -> list[Row]:
    from flask_migrate import upgrade

    from extensions import db

    app = bench_app(
        database_url,
        RATELIMIT_ENABLED=False,  # the bench checks in far faster than any visitor
    )

    @app.route("/_floor_insert", methods=["POST"])
    def floor():  # type: ignore[no-untyped-def]
        db.session.execute(
            text("INSERT INTO audit_events (action, at) VALUES ('bench', :at)"),
            {"at": utcnow().replace(tzinfo=None)},
        )
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
        floor_ms = median_ms(lambda: client.post("/_floor_insert"))
        prepare()
        with count_statements(engine) as statements:
            check_in()
        samples = []
        for _ in range(40):
            prepare()
            samples.append(median_ms(check_in, repeat=1, warmup=0))
        samples.sort()
        rows.append(
            Row(
                "kiosk check-in (consent step)",
                label,
                f"{size:,}",
                samples[len(samples) // 2],
                floor_ms,
                len(statements),
            )
        )
    with app.app_context():
        db.engine.dispose()
    return rows
