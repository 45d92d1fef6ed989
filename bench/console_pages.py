"""Console pages: server time of a request against a floor (a minimal endpoint doing one
indexed SELECT on the same database), at two store sizes, with the statements issued."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import insert, text

from bench.harness import Row, bench_app, median_ms, seed_customers
from core.enums import Presence, Role
from core.opportunities.models import Opportunity
from core.security import hash_password
from core.stores.service import create_staff, create_store
from tests.querycount import count_statements

PASSWORD = "bench-password"


def _seed(session, store_id: int, consultants: list[int], n: int, offset: int) -> None:
    """``n`` customers with one open opportunity each, inserted set-wise."""
    rnd = random.Random(n)
    ids = seed_customers(session, store_id, n, offset=offset, prefix="13")
    today = date.today()
    session.execute(
        insert(Opportunity),
        [
            {
                "store_id": store_id,
                "customer_id": cid,
                "owner_id": rnd.choice(consultants),
                "status": "open",
                "grade": rnd.choice(["H", "A", "B", "C", None]),
                "next_follow_up_due": today + timedelta(days=rnd.randint(-5, 10)),
            }
            for cid in ids
        ],
    )


def run(database_url: str, label: str, sizes: tuple[int, ...] = (1_000, 20_000)) -> list[Row]:
    from flask_migrate import upgrade

    from extensions import db

    app = bench_app(database_url)

    @app.route("/_floor")
    def floor():  # type: ignore[no-untyped-def]
        return {"n": db.session.execute(text("SELECT id FROM stores WHERE id = 1")).scalar()}

    with app.app_context():
        upgrade()
        store = create_store(db.session, code="B1", name="Bench", car_models=[("卡罗拉", "丰田")])
        pw = hash_password(PASSWORD)
        staff = {
            role: create_staff(
                db.session,
                store_id=store.id,
                username=f"b-{role}",
                display_name=role,
                role=role,
                password_hash=pw,
            ).id
            for role in ("manager", "consultant")
        }
        consultants = [staff["consultant"]] + [
            create_staff(
                db.session,
                store_id=store.id,
                username=f"b-c{i}",
                display_name=f"c{i}",
                role=Role.CONSULTANT,
                password_hash=pw,
                presence=Presence.ON_DUTY,
            ).id
            for i in range(7)
        ]
        db.session.commit()
        engine = db.engine
        store_id = store.id

    clients = {}
    for role in ("manager", "consultant"):
        client = app.test_client()
        client.post("/console/login", data={"username": f"b-{role}", "password": PASSWORD})
        clients[role] = client

    cases = [
        ("floor: one SELECT", "manager", "/_floor"),
        ("manager start page", "manager", "/console/"),
        ("manager team page", "manager", "/console/team"),
        ("customer search (last 4 digits)", "manager", "/console/customers?q=0042"),
        ("consultant start page", "consultant", "/console/"),
        ("consultant customers", "consultant", "/console/customers"),
    ]
    rows: list[Row] = []
    seeded = 0
    for size in sizes:
        with app.app_context():
            _seed(db.session, store_id, consultants, size - seeded, offset=seeded)
            db.session.commit()
            if engine.dialect.name == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
        seeded = size
        floor_ms = median_ms(lambda: clients["manager"].get("/_floor"))
        for name, role, path in cases:
            client = clients[role]
            assert client.get(path).status_code == 200, path
            with count_statements(engine) as statements:
                client.get(path)
            ms = median_ms(lambda c=client, p=path: c.get(p))
            rows.append(Row(name, label, f"{size:,}", ms, floor_ms, len(statements)))
    with app.app_context():
        db.engine.dispose()
    return rows
