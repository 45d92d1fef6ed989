"""The load test's data: a dealer group of stores, each with consultants under load caps, a
manager, customer service, enrolled kiosks, and customers in every state (open opportunities
near or past a cap, dormant C, buyers, defeats, the refill pool, customers forgotten for four
years). Staff and stores through the core services; customers set-wise, as bench/harness does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from core import schema  # noqa: F401  (every model, for the metadata)
from core.checkin.models import Visit
from core.db import utcnow
from core.enums import Presence, Role
from core.opportunities.models import ConsentRecord, Customer, Opportunity
from core.stores import kiosks
from core.stores.service import create_staff, create_store
from tests.factories import PASSWORD, password_hash

CITIES = ["杭州", "宁波", "温州", "绍兴", "嘉兴", "湖州", "金华", "台州", "苏州", "无锡", "常州"]
DEALERS = [
    ("一汽丰田", "丰田", ["卡罗拉", "凯美瑞", "RAV4荣放", "亚洲龙"]),
    ("广汽本田", "本田", ["雅阁", "型格", "皓影", "飞度"]),
    ("上汽大众", "大众", ["帕萨特", "途观L", "朗逸", "ID.4"]),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["磊", "娜", "伟", "洋", "静", "强", "芳", "涛", "军", "敏", "杰", "丽"]
CAPS = [15, 20, 25, None, 30, 40]  # None: the store's default cap (30)
DEFAULT_CAP = 30


@dataclass
class StoreSeed:
    id: int
    code: str
    name: str
    index: int
    manager: str
    consultants: list[str]
    kiosk_tokens: list[str]
    returning: list[str]  # mobiles of customers the store knows (not the forgotten ones)


@dataclass
class Seeded:
    stores: list[StoreSeed]
    admin: str
    password: str = PASSWORD
    counts: dict[str, int] = field(default_factory=dict)


def seed(
    database_url: str,
    *,
    stores: int,
    consultants: int,
    kiosks_per_store: int,
    room: tuple[int, int],
    seed_value: int = 15,
) -> Seeded:
    """Seed the database; ``room``: how far below their cap consultants start (a range)."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    rnd = random.Random(seed_value)
    result = Seeded(stores=[], admin="")
    totals = {"customers": 0, "opportunities": 0, "visits": 0}
    try:
        with Session(engine) as session, session.begin():
            for i in range(stores):
                store_seed, counts = _seed_store(
                    session, rnd, i, consultants, kiosks_per_store, room
                )
                result.stores.append(store_seed)
                for k, v in counts.items():
                    totals[k] += v
            admin = create_staff(
                session,
                store_id=result.stores[0].id,
                username="lt.admin",
                display_name="赵敏",
                role=Role.ADMIN,
                password_hash=password_hash(),
            )
            result.admin = admin.username
    finally:
        engine.dispose()
    result.counts = totals
    return result


def _seed_store(
    session: Session,
    rnd: random.Random,
    i: int,
    n_consultants: int,
    n_kiosks: int,
    room: tuple[int, int],
) -> tuple[StoreSeed, dict[str, int]]:
    dealer, brand, models = DEALERS[i % len(DEALERS)]
    city = CITIES[i % len(CITIES)]
    code = f"LT{i + 1:02d}"
    store = create_store(
        session,
        code=code,
        name=f"{city}{dealer}4S店",
        car_models=[(m, brand) for m in models],
    )
    hashed = password_hash()

    def staff(username: str, role: Role, cap: int | None = None) -> int:
        name = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
        user = create_staff(
            session,
            store_id=store.id,
            username=username,
            display_name=name,
            role=role,
            password_hash=hashed,
            load_cap=cap,
            presence=Presence.ON_DUTY if role == Role.CONSULTANT else Presence.OFF_DUTY,
        )
        return user.id

    prefix = code.lower()
    manager = f"{prefix}.manager"
    staff(manager, Role.MANAGER)
    agent_id = staff(f"{prefix}.cs", Role.CS_AGENT)
    consultants: list[tuple[str, int, int]] = []  # username, id, cap
    for j in range(n_consultants):
        cap = CAPS[j % len(CAPS)]
        username = f"{prefix}.sales{j + 1}"
        consultants.append((username, staff(username, Role.CONSULTANT, cap), cap or DEFAULT_CAP))
    tokens = [
        kiosks.enrol(
            session, store_id=store.id, name=f"入口平板 {k + 1}", role="cs_agent", user_id=agent_id
        )
        for k in range(n_kiosks)
    ]

    now = utcnow()
    serial = iter(range(1, 100_000))
    customers: list[dict[str, object]] = []
    opportunities: list[dict[str, object]] = []  # keyed by the customer's mobile
    visits: list[tuple[str, int]] = []  # mobile, days ago

    def customer(days_ago: int, consented: bool = True) -> str:
        mobile = f"13{i % 10}{next(serial):08d}"
        customers.append(
            {
                "store_id": store.id,
                "mobile": mobile,
                "surname": rnd.choice(SURNAMES),
                "title": rnd.choice(("mr", "ms")),
                "created_at": now - timedelta(days=days_ago),
                "consent_notice_version": "2026-01" if consented else None,
                "consent_at": now - timedelta(days=days_ago) if consented else None,
            }
        )
        visits.append((mobile, days_ago))
        return mobile

    def opportunity(mobile: str, **columns: object) -> None:
        opportunities.append({"mobile": mobile, "store_id": store.id, **columns})

    for n, (_username, user_id, cap) in enumerate(consultants):
        # one consultant per store above the cap (it was lowered): the night releases the excess
        load = cap + 3 if n == 1 else max(0, cap - rnd.randint(*room))
        for _ in range(load):
            days = rnd.randint(1, 20)
            grade = rnd.choice([None, "H", "A", "A", "B", "B"])
            graded = now - timedelta(days=days) if grade else None
            opportunity(
                customer(days),
                owner_id=user_id,
                owner_since=now - timedelta(days=days),
                status="open",
                grade=grade,
                graded_at=graded,
                graded_by=user_id if grade else None,
                created_at=now - timedelta(days=days),
                last_visit_at=now - timedelta(days=days),
                next_follow_up_due=(now + timedelta(days=rnd.randint(-2, 5))).date(),
            )
        for _ in range(4):  # buyers who come back go to who sold them the car
            days = rnd.randint(5, 90)
            opportunity(
                customer(days),
                owner_id=user_id,
                status="won",
                grade="O",
                graded_at=now - timedelta(days=days),
                graded_by=user_id,
                closed_at=now - timedelta(days=days),
                order_deposit=5000,
            )
        for _ in range(2):  # defeats of yesterday: tonight's defeat callbacks
            opportunity(
                customer(3),
                owner_id=user_id,
                status="lost",
                grade="F",
                graded_at=now - timedelta(days=1),
                graded_by=user_id,
                closed_at=now - timedelta(days=1),
                defeat_reason="price",
            )
        for _ in range(3):  # dormant customers: customer service calls them
            days = rnd.randint(8, 40)
            opportunity(
                customer(days),
                status="open",
                grade="C",
                graded_at=now - timedelta(days=days),
                graded_by=user_id,
                dormant_by=user_id,
                created_at=now - timedelta(days=days + 3),
            )
    for _ in range(12):  # the refill pool
        days = rnd.randint(1, 10)
        opportunity(
            customer(days),
            status="open",
            grade=rnd.choice([None, "H", "A", "B"]),
            graded_at=now - timedelta(days=days),
            pool_since=now - timedelta(days=days),
            pool_reason="waiting",
            created_at=now - timedelta(days=days),
        )
    returning = [c["mobile"] for c in customers]
    for _ in range(5):  # nobody in contact for four years: the night deletes them
        forgotten = customer(4 * 365, consented=False)
        opportunity(
            forgotten,
            status="lost",
            grade="F",
            graded_at=now - timedelta(days=4 * 365),
            closed_at=now - timedelta(days=4 * 365),
            created_at=now - timedelta(days=4 * 365),
        )

    session.execute(insert(Customer), customers)
    ids = dict(
        session.execute(
            select(Customer.mobile, Customer.id).where(Customer.store_id == store.id)
        ).all()
    )
    session.execute(
        insert(ConsentRecord),
        [
            {
                "customer_id": ids[str(c["mobile"])],
                "granted": True,
                "notice_version": "2026-01",
                "channel": "kiosk",
                "recorded_at": c["created_at"],
            }
            for c in customers
            if c["consent_at"] is not None
        ],
    )
    session.execute(
        insert(Opportunity),
        [
            {**{k: v for k, v in o.items() if k != "mobile"}, "customer_id": ids[str(o["mobile"])]}
            for o in opportunities
        ],
    )
    session.execute(
        insert(Visit),
        [
            {
                "store_id": store.id,
                "customer_id": ids[mobile],
                "source": "kiosk",
                "purpose": "look",
                "status": "finished",
                "party_size": 1,
                "checked_in_at": now - timedelta(days=days, hours=2),
                "is_first_visit": True,
            }
            for mobile, days in visits
        ],
    )
    rnd.shuffle(returning)
    return (
        StoreSeed(
            id=store.id,
            code=code,
            name=store.name,
            index=i,
            manager=manager,
            consultants=[c[0] for c in consultants],
            kiosk_tokens=tokens,
            returning=returning,
        ),
        {"customers": len(customers), "opportunities": len(opportunities), "visits": len(visits)},
    )
