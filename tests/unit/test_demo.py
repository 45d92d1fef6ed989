"""The demo store: created once, consistent with the rules, deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.db import Base, configure_sqlite
from core.enums import CallbackKind, CallbackStatus, Role, VisitStatus
from core.opportunities.models import Customer, Opportunity
from core.rules.models import RuleSet
from core.stores.models import ConsultantSettings, Store, User
from demo.data import DEMO_STORE_CODE, DemoSummary, demo_logins, load_demo

TODAY = date(2026, 11, 29)


def _engine() -> Engine:
    engine = configure_sqlite(create_engine("sqlite://"))
    Base.metadata.create_all(engine)
    return engine


def _table_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Session, DemoSummary]]:
    engine = _engine()
    with Session(engine) as session:
        summary = load_demo(session, today=TODAY)
        session.commit()
        yield session, summary
    engine.dispose()


def test_creates_the_store_with_its_staff(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    assert summary.created
    store = session.get(Store, summary.store_id)
    assert store is not None and store.code == DEMO_STORE_CODE
    assert store.timezone == "Asia/Shanghai" and store.default_locale == "zh"
    assert len(store.car_models) == 10
    roles = {username: role for username, role in session.execute(select(User.username, User.role))}
    assert len(roles) == 12
    assert roles == {login.username: login.role for login in demo_logins()}
    assert list(roles.values()).count(Role.CONSULTANT) == 8
    assert list(roles.values()).count(Role.CS_AGENT) == 2
    assert summary.counts["customers"] == session.scalar(select(func.count(Customer.id)))
    assert 350 <= summary.counts["customers"] <= 550


def test_every_grade_and_a_new_opportunity(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    grades = set(session.scalars(select(Opportunity.grade).distinct()))
    assert {"H", "A", "B", "C", "O", "F"} <= grades
    ungraded_open = session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.status == "open", Opportunity.grade.is_(None))
    )
    assert ungraded_open and ungraded_open >= 1


def test_every_visit_status(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    statuses = set(session.scalars(select(Visit.status).distinct()))
    assert statuses == {s.value for s in VisitStatus}


def test_every_callback_kind_on_todays_worklist(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    open_tasks = session.scalars(
        select(CallbackTask).where(CallbackTask.status == CallbackStatus.OPEN)
    ).all()
    assert all(task.due_on <= TODAY for task in open_tasks)
    assert {task.kind for task in open_tasks} == {k.value for k in CallbackKind}
    assert 10 <= len(open_tasks) <= 40


def test_no_consultant_over_their_cap(demo: tuple[Session, DemoSummary]) -> None:
    session, _ = demo
    default_cap = session.scalars(select(RuleSet.default_load_cap)).one()
    caps = {
        user_id: cap if cap is not None else default_cap
        for user_id, cap in session.execute(
            select(ConsultantSettings.user_id, ConsultantSettings.load_cap)
        )
    }
    load_query = (
        select(Opportunity.owner_id, func.count())
        .where(
            Opportunity.status == "open",
            Opportunity.owner_id.is_not(None),
            Opportunity.grade.is_(None) | Opportunity.grade.in_(("H", "A", "B")),
        )
        .group_by(Opportunity.owner_id)
    )
    loads = {owner_id: n for owner_id, n in session.execute(load_query)}
    assert set(loads) <= set(caps)
    assert all(loads[user_id] <= caps[user_id] for user_id in loads), (loads, caps)


def test_no_open_task_for_a_customer_who_may_not_be_called(
    demo: tuple[Session, DemoSummary],
) -> None:
    session, _ = demo
    blocked = session.scalar(
        select(func.count())
        .select_from(CallbackTask)
        .join(Customer, Customer.id == CallbackTask.customer_id)
        .where(
            CallbackTask.status == CallbackStatus.OPEN,
            Customer.consent_at.is_(None) | Customer.do_not_contact,
        )
    )
    assert blocked == 0
    assert session.scalar(select(func.count()).where(Customer.do_not_contact)) >= 1
    assert session.scalar(select(func.count()).where(Customer.consent_at.is_(None))) >= 1


def test_a_second_load_changes_nothing(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    before = _table_counts(session)
    again = load_demo(session, today=TODAY)
    session.flush()
    assert not again.created
    assert again.store_id == summary.store_id
    assert _table_counts(session) == before


def test_same_seed_same_data(demo: tuple[Session, DemoSummary]) -> None:
    session, summary = demo
    engine = _engine()
    with Session(engine) as other:
        repeat = load_demo(other, today=TODAY)
        other.commit()
        assert repeat.counts == summary.counts
        assert _table_counts(other) == _table_counts(session)
    engine.dispose()
