"""Demo data: one Chinese 4S store with 60 days of history made by the real rules.

``load_demo`` sets the store up (its car models, staff, consultants' settings, default rules
and kiosk, through core's helpers), then plays the 60 days through the real services
(demo/story.py): every visit, grading, follow-up, callback, assignment and nightly run is one
the rules produced. Nothing is committed here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.models import Assignment
from core.enums import CallbackStatus, Role
from core.nightly.models import JobRun
from core.opportunities.models import (
    Customer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.rules.models import RuleSet
from core.rules.rulesets import current_rules
from core.security import hash_password
from core.stores import kiosks
from core.stores.models import CarModel, KioskDevice, Store, User
from core.stores.service import create_staff, create_store
from core.timeutil import local_date, local_moment
from demo import people
from demo.story import HISTORY_DAYS, Cast, Story

DEMO_STORE_CODE = "HZ01"
DEMO_PASSWORD = "demo1234"
DEMO_STORE_NAME = "杭州西溪一汽丰田4S店"
TIMEZONE = "Asia/Shanghai"
SET_UP_DAYS = 21  # the store was set up three weeks before its history starts
# The demo clock stops at this local time on ``today`` (or earlier when that is the real now).
_DEMO_NOW = time(15, 30)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    display_name: str


@dataclass(frozen=True)
class DemoSummary:
    store_id: int
    created: bool
    logins: tuple[DemoLogin, ...]
    counts: dict[str, int]


def demo_logins() -> tuple[DemoLogin, ...]:
    """The demo sign-ins (all with DEMO_PASSWORD)."""
    return tuple(DemoLogin(u, r.value, n) for u, r, n in people.STAFF)


def load_demo(session: Session, *, today: date | None = None, seed: int = 42) -> DemoSummary:
    """Create the demo store with its history once; do nothing if it exists. Never commits."""
    existing = session.scalars(select(Store).where(Store.code == DEMO_STORE_CODE)).first()
    if existing is not None:
        return DemoSummary(existing.id, False, demo_logins(), {})
    taken = session.scalars(
        select(User.username).where(User.username.in_([u for u, _, _ in people.STAFF]))
    ).all()
    if taken:
        raise ValueError(f"demo usernames already in use: {', '.join(sorted(taken))}")
    day, now = demo_clock(today)
    cast = _set_up(session, day, now)
    Story(session, random.Random(seed), cast, day, now).play()
    session.flush()
    return DemoSummary(cast.store_id, True, demo_logins(), demo_counts(session, cast.store_id))


def demo_clock(today: date | None) -> tuple[date, datetime]:
    """The store-local 'today' and the moment the simulated history stops."""
    real_now = utcnow()
    real_today = local_date(real_now, TIMEZONE)
    day = today or real_today
    now = local_moment(day, _DEMO_NOW, TIMEZONE)
    if day == real_today:
        now = min(now, real_now)
    return day, now.replace(second=0, microsecond=0)


def _set_up(session: Session, today: date, now: datetime) -> Cast:
    """The store, its car models, staff, consultants' caps, default rules and kiosk."""
    first_day = today - timedelta(days=HISTORY_DAYS - 1)
    set_up_at = local_moment(first_day - timedelta(days=SET_UP_DAYS), time(10, 0), TIMEZONE)
    store = create_store(
        session,
        code=DEMO_STORE_CODE,
        name=DEMO_STORE_NAME,
        timezone=TIMEZONE,
        car_models=[(name, brand) for name, brand, _ in people.CAR_MODELS],
    )
    store.default_locale = "zh"
    store.created_at = set_up_at
    password_hash = hash_password(DEMO_PASSWORD)  # once: scrypt is slow on purpose
    users: dict[str, User] = {}
    for username, role, name in people.STAFF:
        profile = people.PROFILES.get(username)
        user = create_staff(
            session,
            store_id=store.id,
            username=username,
            display_name=name,
            role=role,
            password_hash=password_hash,
            load_cap=profile.load_cap if profile else None,
        )
        user.locale = "zh"
        user.created_at = set_up_at
        users[username] = user
    rule_set = session.scalars(select(RuleSet).where(RuleSet.store_id == store.id)).one()
    rule_set.created_by = users["manager"].id
    rule_set.created_at = set_up_at
    kiosks.enrol(
        session,
        store_id=store.id,
        name=people.KIOSK_NAME,
        role=Role.ADMIN.value,
        user_id=users["admin"].id,
    )
    kiosk = session.scalars(select(KioskDevice).where(KioskDevice.store_id == store.id)).one()
    kiosk.enrolled_at = set_up_at + timedelta(hours=1)
    kiosk.last_seen_at = now - timedelta(minutes=2)
    session.flush()
    models = session.execute(
        select(CarModel.id, CarModel.name).where(CarModel.store_id == store.id)
    ).all()
    popularity = {name: weight for name, _, weight in people.CAR_MODELS}
    return Cast(
        store_id=store.id,
        timezone=TIMEZONE,
        admin_id=users["admin"].id,
        manager_id=users["manager"].id,
        agent_ids=(users["cs1"].id, users["cs2"].id),
        consultants=tuple(
            (users[u].id, u, users[u].display_name) for u in people.PROFILES if u in users
        ),
        kiosk_id=kiosk.id,
        car_models=tuple(sorted((i, n, popularity[n]) for i, n in models)),
        rules=current_rules(session, store.id),
    )


def demo_counts(session: Session, store_id: int) -> dict[str, int]:
    """Rows of the demo store, by kind: one statement each."""

    def count(model: type, *where: ColumnElement[bool], join: type | None = None) -> int:
        query = select(func.count()).select_from(model)
        if join is not None:
            query = query.join(join)
        return int(session.scalar(query.where(*where)) or 0)

    in_store = Opportunity.store_id == store_id
    return {
        "staff": count(User, User.store_id == store_id),
        "car_models": count(CarModel, CarModel.store_id == store_id),
        "customers": count(Customer, Customer.store_id == store_id),
        "visits": count(Visit, Visit.store_id == store_id),
        "opportunities": count(Opportunity, in_store),
        "needs_assessments": count(NeedsAssessment, in_store, join=Opportunity),
        "follow_ups": count(FollowUp, in_store, join=Opportunity),
        "invitations": count(Invitation, Invitation.store_id == store_id),
        "callback_tasks": count(CallbackTask, CallbackTask.store_id == store_id),
        "open_callback_tasks": count(
            CallbackTask,
            CallbackTask.store_id == store_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
        ),
        "assignments": count(Assignment, Assignment.store_id == store_id),
        "job_runs": count(JobRun, JobRun.store_id == store_id),
        "audit_events": count(AuditEvent, AuditEvent.store_id == store_id),
    }
