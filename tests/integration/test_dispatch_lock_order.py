"""No two paths that change a store's dispatch state deadlock (DESIGN.md section 6): each races
a check-in, with real threads and a session each, many rounds over.

PostgreSQL only. There a service that writes rows (a visit, a consultant's settings row, an
opportunity; any row that refers to the store, which takes a key-share lock on it) and only
then asks for the store's lock waits for a check-in that holds the store's lock and wants one of
those rows: a deadlock. SQLite has one writer at a time, so nothing there can cross.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.callbacks import claims
from core.callbacks import service as callbacks
from core.callbacks.models import CallbackTask
from core.checkin import floor
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.authority import candidates
from core.dispatch.models import Assignment
from core.enums import BUSY, JobKind, OpportunityStatus, Presence, Role
from core.nightly import jobruns
from core.nightly.models import JobRun
from core.opportunities import actions
from core.opportunities.models import Customer, Invitation, Opportunity
from core.rules import admin
from core.rules.rulesets import current_rules
from core.stores.models import ConsultantSettings, Store, User
from core.timeutil import local_date

ROUNDS = 30
BUDGET = 45.0  # seconds per race: a deadlock costs PostgreSQL's deadlock_timeout (1 s) to find
MIN_ROUNDS = 10
# How much later one side starts, round after round (negative: the other side): every other
# round starts both at once, the others shift one side by 5 to 35 ms (a side takes 10 to 50 ms),
# so that the writes of one meet every moment of the other, not only its start.
OFFSETS = tuple(x for k in range(1, 8) for x in (0.0, 0.005 * k, 0.0, -0.005 * k))


@pytest.fixture
def postgres(app_engine):
    if app_engine.dialect.name != "postgresql":
        pytest.skip("row locks and deadlocks: PostgreSQL only (SQLite has one writer at a time)")


# --- the race ----------------------------------------------------------------------------------


@dataclass
class Given:
    """One round's store, people and customers (ids only: each thread has its own session)."""

    store_id: int
    x: int  # the consultant the race is about
    now: datetime
    other: int | None = None  # a second member of staff (consultant, agent or manager)
    manager: int | None = None
    customer: Customer | None = None  # the returning customer who checks in
    opportunity_id: int | None = None  # theirs
    visit_id: int | None = None  # a visit in reception with x
    waiting_id: int | None = None  # a visitor in the queue
    task_id: int | None = None
    job_run_id: int | None = None


Step = Callable[[Session, Given], Any]


def race(app, app_engine, setup: Callable[[], Given], left: Step, right: Step, check: Step):
    """``left`` and ``right`` at the same instant, round after round (fresh rows each round):
    neither may raise, and the store must be consistent after each round."""
    failed: list[tuple[int, list[str]]] = []
    rounds = 0
    deadline = time.monotonic() + BUDGET
    while rounds < ROUNDS and time.monotonic() < deadline:
        given = setup()
        start = threading.Barrier(2)
        errors: list[str] = []

        offset = OFFSETS[rounds % len(OFFSETS)]
        threads = [
            threading.Thread(
                target=_play, args=(app, app_engine, step, given, start, errors, delay)
            )
            for step, delay in ((left, max(offset, 0.0)), (right, max(-offset, 0.0)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if any(thread.is_alive() for thread in threads):
            errors.append("a thread hung")
        rounds += 1
        if not errors:
            with Session(app_engine) as session:
                try:
                    consistent(session, given.store_id)
                    check(session, given)
                except AssertionError as exc:
                    errors.append(f"check: {exc}")
        if errors:
            failed.append((rounds, errors))
        if any(thread.is_alive() for thread in threads):
            break
    deadlocks = sum(1 for _n, errors in failed if any("Deadlock" in e for e in errors))
    assert not failed, (
        f"{len(failed)} of {rounds} rounds failed ({deadlocks} deadlocked); first: {failed[:2]}"
    )
    assert rounds >= MIN_ROUNDS, f"only {rounds} rounds in {BUDGET} s"


def _play(
    app,
    app_engine,
    step: Step,
    given: Given,
    start: threading.Barrier,
    errors: list[str],
    delay: float,
) -> None:
    """One side of the race, in a session of its own, committed."""
    try:
        with app.app_context(), Session(app_engine) as session:
            start.wait(timeout=30)
            if delay:
                time.sleep(delay)
            step(session, given)
            session.commit()
    except Exception as exc:  # every exception is a failure of the round
        errors.append(f"{step.__name__}: {type(exc).__name__}: {str(exc)[:300]}")


def consistent(session: Session, store_id: int) -> None:
    """The invariants of dispatch: each visit assigned at most once, and to the consultant it
    shows; nobody past the cap; one open opportunity per customer."""
    twice = session.execute(
        select(Assignment.visit_id)
        .where(Assignment.store_id == store_id, Assignment.visit_id.is_not(None))
        .group_by(Assignment.visit_id)
        .having(func.count() > 1)
    ).all()
    assert not twice, f"visits assigned twice: {twice}"
    for visit in session.scalars(select(Visit).where(Visit.store_id == store_id)):
        given_to = session.scalars(
            select(Assignment.to_owner_id).where(Assignment.visit_id == visit.id)
        ).all()
        if visit.status == "waiting":
            assert visit.consultant_id is None and not given_to, (visit.id, given_to)
        elif given_to:  # (the rounds' earlier visits were written without one)
            assert given_to == [visit.consultant_id], (visit.id, visit.consultant_id, given_to)
    cap = current_rules(session, store_id).default_load_cap
    for seat in candidates(session, store_id, cap):
        assert seat.load <= seat.cap, f"past the cap: {seat}"
    doubled = session.execute(
        select(Opportunity.customer_id)
        .where(
            Opportunity.store_id == store_id,
            Opportunity.status == OpportunityStatus.OPEN.value,
        )
        .group_by(Opportunity.customer_id)
        .having(func.count() > 1)
    ).all()
    assert not doubled, f"customers with two open opportunities: {doubled}"


# --- rounds' rows -------------------------------------------------------------------------------


def _store(committed, cap: int = 5, presence: Presence = Presence.ON_DUTY) -> Given:
    store = committed.store()
    x = committed.consultant(store, cap=cap, presence=presence, name="X")
    return Given(store_id=store.id, x=x.id, now=utcnow())


def _returning(committed, given: Given, grade: str | None = "A") -> None:
    """A customer of x's who came before and checks in again."""
    store = committed.session.get(Store, given.store_id)
    owner = committed.session.get(User, given.x)
    customer = committed.customer(store)
    opportunity = committed.opportunity(
        customer, owner=owner, grade=grade, last_visit_at=given.now - timedelta(days=3)
    )
    committed.visit(customer, consultant=owner, opportunity_id=opportunity.id)
    given.customer, given.opportunity_id = customer, opportunity.id


def _in_reception(committed, given: Given) -> None:
    """x is receiving a visitor."""
    store = committed.session.get(Store, given.store_id)
    customer = committed.customer(store)
    opportunity = committed.opportunity(customer, owner=committed.session.get(User, given.x))
    visit = committed.visit(
        customer,
        consultant=committed.session.get(User, given.x),
        opportunity_id=opportunity.id,
        status="in_reception",
        assigned_at=given.now - timedelta(minutes=20),
        reception_started_at=given.now - timedelta(minutes=15),
    )
    committed.session.get(ConsultantSettings, given.x).current_visit_id = visit.id
    committed.session.commit()
    given.visit_id = visit.id


def _waiting(committed, given: Given) -> None:
    """A new visitor waits in the queue."""
    store = committed.session.get(Store, given.store_id)
    customer = committed.customer(store)
    opportunity = committed.opportunity(customer)
    visit = committed.visit(
        customer, opportunity_id=opportunity.id, status="waiting", checked_in_at=given.now
    )
    given.waiting_id = visit.id


def _check_in(mobile: str, store_id: int, key: str) -> checkin.CheckIn:
    return checkin.CheckIn(
        store_id=store_id,
        mobile=mobile,
        purpose="look",
        surname="张",
        title="mr",
        idempotency_key=key,
    )


def returning_checks_in(session: Session, given: Given) -> None:
    assert given.customer is not None
    checkin.check_in(session, _check_in(given.customer.mobile, given.store_id, "again"), utcnow())


def newcomer_checks_in(session: Session, given: Given) -> None:
    checkin.check_in(
        session, _check_in(f"137{given.store_id:08d}", given.store_id, "new"), utcnow()
    )


def _new_visit(session: Session, given: Given, key: str) -> Visit:
    visit = session.scalars(
        select(Visit).where(Visit.store_id == given.store_id, Visit.idempotency_key == key)
    ).one()
    return visit


# --- the races -----------------------------------------------------------------------------------


def test_ending_a_reception_while_the_consultants_customer_checks_in(
    postgres, app, app_engine, committed
):
    """The case of the issue: the reception ends (the visit and x's settings row are written)
    as x's returning customer checks in (the store is locked, then x's row is written)."""

    def setup() -> Given:
        given = _store(committed)
        _in_reception(committed, given)
        _waiting(committed, given)
        _returning(committed, given)
        return given

    def end_reception(session: Session, given: Given) -> None:
        assert given.visit_id is not None
        floor.end_reception(session, given.store_id, given.x, given.visit_id, utcnow())

    def check(session: Session, given: Given) -> None:
        assert session.get(Visit, given.visit_id).status == "finished"
        again = _new_visit(session, given, "again")
        assert again.consultant_id == given.x  # their own consultant, on duty
        assert session.get(ConsultantSettings, given.x).current_visit_id is None

    race(app, app_engine, setup, end_reception, returning_checks_in, check)


def test_coming_on_duty_while_a_visitor_checks_in(postgres, app, app_engine, committed):
    """x comes back from a break and takes the waiting visitor; a new visitor checks in."""

    def setup() -> Given:
        given = _store(committed, presence=Presence.ON_BREAK)
        _waiting(committed, given)
        _returning(committed, given)
        return given

    def on_duty(session: Session, given: Given) -> None:
        floor.set_presence(session, given.store_id, given.x, Presence.ON_DUTY.value, utcnow())

    def check(session: Session, given: Given) -> None:
        assert session.get(ConsultantSettings, given.x).presence == Presence.ON_DUTY.value
        # the first in the queue goes to x, whoever came first; x is then busy
        assert session.get(Visit, given.waiting_id).consultant_id == given.x
        again = _new_visit(session, given, "again")
        assert again.consultant_id in (None, given.x)

    race(app, app_engine, setup, on_duty, returning_checks_in, check)


def test_a_visitor_leaving_the_queue_while_a_reception_ends(postgres, app, app_engine, committed):
    """The desk marks the waiting visitor as left just as x's reception ends (and the queue is
    handed out)."""

    def setup() -> Given:
        given = _store(committed)
        given.other = committed.user(committed.session.get(Store, given.store_id), Role.CS_AGENT).id
        _in_reception(committed, given)
        _waiting(committed, given)
        return given

    def left(session: Session, given: Given) -> None:
        assert given.other is not None and given.waiting_id is not None
        floor.mark_left(session, given.store_id, given.waiting_id, given.other, utcnow())

    def end_reception(session: Session, given: Given) -> None:
        assert given.visit_id is not None
        floor.end_reception(session, given.store_id, given.x, given.visit_id, utcnow())

    def check(session: Session, given: Given) -> None:
        assert session.get(Visit, given.waiting_id).status == "left"
        assert session.get(Visit, given.visit_id).status == "finished"
        busy = session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.consultant_id == given.x, Visit.status.in_(BUSY))
        )
        assert busy == 0

    race(app, app_engine, setup, left, end_reception, check)


def _stalled_task(committed, given: Given, claimed: bool) -> None:
    store = committed.session.get(Store, given.store_id)
    agent = committed.user(store, Role.CS_AGENT)
    assert given.customer is not None
    task = committed.callback_task(
        given.customer,
        kind="stalled",
        due_on=local_date(given.now, store.timezone),
        opportunity_id=given.opportunity_id,
        consultant_id=given.x,
        stall_rule="follow_up",
        overdue_days=2,
        claimed_by=agent.id if claimed else None,
        claimed_at=given.now - timedelta(minutes=2) if claimed else None,
    )
    given.other, given.task_id = agent.id, task.id


def test_claiming_a_callback_while_the_customer_checks_in(postgres, app, app_engine, committed):
    def setup() -> Given:
        given = _store(committed)
        _returning(committed, given)
        _stalled_task(committed, given, claimed=False)
        return given

    def claim(session: Session, given: Given) -> None:
        assert given.task_id is not None and given.other is not None
        claims.claim(session, given.store_id, given.task_id, given.other, utcnow())

    def check(session: Session, given: Given) -> None:
        assert session.get(CallbackTask, given.task_id).claimed_by == given.other
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, claim, returning_checks_in, check)


INVITED = callbacks.CallbackForm(
    call_result="reached",
    remembers_consultant=True,
    satisfaction=4,
    received_follow_up=False,
    has_bought=False,
    would_revisit=True,
    same_consultant_ok=True,
    concerns="价格还想再谈谈",
    other_brands="本田",
    outcome="invite_back",
    invite_time=clock(10, 30),
)


def test_a_callback_outcome_while_the_customer_checks_in(postgres, app, app_engine, committed):
    """The agent invites the customer back (the opportunity and an invitation are written) as
    the customer walks in."""

    def setup() -> Given:
        given = _store(committed)
        _returning(committed, given)
        _stalled_task(committed, given, claimed=True)
        return given

    def record(session: Session, given: Given) -> None:
        assert given.task_id is not None and given.other is not None
        day: date = local_date(given.now, "Asia/Shanghai") + timedelta(days=2)
        form = replace(INVITED, invite_date=day)
        callbacks.record_callback(
            session, given.store_id, given.task_id, given.other, utcnow(), form
        )

    def check(session: Session, given: Given) -> None:
        assert session.get(CallbackTask, given.task_id).status == "done"
        invitation = session.scalars(
            select(Invitation).where(Invitation.opportunity_id == given.opportunity_id)
        ).one()
        assert invitation.consultant_id == given.x
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, record, returning_checks_in, check)


def test_a_manager_reassigning_while_the_customer_checks_in(postgres, app, app_engine, committed):
    def setup() -> Given:
        given = _store(committed)
        store = committed.session.get(Store, given.store_id)
        given.other = committed.consultant(store, cap=5, name="Z").id
        given.manager = committed.user(store, Role.MANAGER).id
        _returning(committed, given)
        return given

    def reassign(session: Session, given: Given) -> None:
        assert given.opportunity_id is not None and given.manager is not None
        admin.reassign(
            session,
            given.store_id,
            given.manager,
            utcnow(),
            [given.opportunity_id],
            given.other,
            "X is on leave next month",
        )

    def check(session: Session, given: Given) -> None:
        assert session.get(Opportunity, given.opportunity_id).owner_id == given.other
        assert _new_visit(session, given, "again").consultant_id in (given.x, given.other)

    race(app, app_engine, setup, reassign, returning_checks_in, check)


def test_a_manager_changing_a_cap_while_the_customer_checks_in(
    postgres, app, app_engine, committed
):
    def setup() -> Given:
        given = _store(committed)
        store = committed.session.get(Store, given.store_id)
        given.other = committed.user(store, Role.MANAGER).id
        _returning(committed, given)
        return given

    def set_cap(session: Session, given: Given) -> None:
        assert given.other is not None
        admin.set_consultant(session, given.store_id, given.other, utcnow(), given.x, 4, True)

    def check(session: Session, given: Given) -> None:
        assert session.get(ConsultantSettings, given.x).load_cap == 4
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, set_cap, returning_checks_in, check)


def test_the_nightly_run_while_a_visitor_checks_in(postgres, app, app_engine, committed):
    """The refill gives x the pool's customer as a newcomer checks in: x has room for one."""
    from jobs.nightly import run_store

    def setup() -> Given:
        given = _store(committed, cap=3)
        owner = committed.session.get(User, given.x)
        committed.book(owner, 2, grade="A")
        store = committed.session.get(Store, given.store_id)
        committed.opportunity(committed.customer(store), grade="B", in_pool=True)
        with Session(app_engine) as session:
            given.job_run_id = jobruns.create(
                session, JobKind.NIGHTLY, store_id=store.id, run_on=_today(given)
            )
            session.commit()
        return given

    def nightly(session: Session, given: Given) -> None:
        run_store(given.store_id, _today(given).isoformat(), given.job_run_id)

    def check(session: Session, given: Given) -> None:
        assert session.get(JobRun, given.job_run_id).status == "succeeded"
        [seat] = candidates(session, given.store_id, 30)
        assert seat.load == seat.cap  # either the pool's customer or the newcomer

    race(app, app_engine, setup, nightly, newcomer_checks_in, check)


def _today(given: Given) -> date:
    return local_date(given.now, "Asia/Shanghai")


def _cold_answers(session: Session, store_id: int) -> dict[str, str]:
    """The option with the fewest points for every indicator: a grade C."""
    return {
        ind["key"]: min(ind["options"], key=lambda o: o["points"])["key"]
        for ind in current_rules(session, store_id).scoring["indicators"]
    }


def test_grading_c_while_the_customer_checks_in(postgres, app, app_engine, committed):
    """The consultant hands the customer to customer service (grade C) as they walk in."""

    def setup() -> Given:
        given = _store(committed)
        _returning(committed, given, grade=None)
        return given

    def grade_c(session: Session, given: Given) -> None:
        assert given.opportunity_id is not None
        result = actions.assess(
            session,
            given.store_id,
            given.opportunity_id,
            given.x,
            _cold_answers(session, given.store_id),
            utcnow(),
        )
        assert result.handed_to_service

    def check(session: Session, given: Given) -> None:
        assert session.get(Opportunity, given.opportunity_id).grade == "C"
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, grade_c, returning_checks_in, check)


def test_an_order_while_the_customer_checks_in(postgres, app, app_engine, committed):
    def setup() -> Given:
        given = _store(committed)
        _returning(committed, given)
        return given

    def order(session: Session, given: Given) -> None:
        assert given.opportunity_id is not None
        actions.record_order(session, given.store_id, given.opportunity_id, given.x, utcnow())

    def check(session: Session, given: Given) -> None:
        assert session.get(Opportunity, given.opportunity_id).status == "won"
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, order, returning_checks_in, check)


def test_a_what_if_preview_while_the_customer_checks_in(postgres, app, app_engine, committed):
    """The manager previews tonight's run with another cap for x (written in a savepoint, then
    rolled back) as x's customer checks in."""
    from core.nightly import whatif

    def setup() -> Given:
        given = _store(committed)
        _returning(committed, given)
        return given

    def preview(session: Session, given: Given) -> None:
        rules = current_rules(session, given.store_id)
        change = admin.DispatchRules(
            default_load_cap=rules.default_load_cap,
            retry_limit=rules.callback_retry_limit,
            cycles={g: (c.follow_up_days, c.cycle_days) for g, c in rules.cycles.items()},
            consultants={given.x: (4, True)},
        )
        whatif.preview(session, given.store_id, utcnow(), change)

    def check(session: Session, given: Given) -> None:
        assert session.get(ConsultantSettings, given.x).load_cap == 5  # a preview writes nothing
        assert _new_visit(session, given, "again").consultant_id == given.x

    race(app, app_engine, setup, preview, returning_checks_in, check)
