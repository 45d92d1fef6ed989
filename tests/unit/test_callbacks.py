"""Customer service's callbacks (core/callbacks.py): the worklist, claims, the questionnaire with
its conditional questions, every outcome, retries up to the limit, the defeat audit."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.callbacks import claims, tasks
from core.callbacks import service as callbacks
from core.callbacks.claims import claim, release
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.callbacks.service import CallbackForm, record_callback
from core.callbacks.tasks import worklist
from core.checkin import service as checkin
from core.dispatch.models import Assignment
from core.enums import Role
from core.errors import DomainError, NotFound, ValidationError
from core.nightly import run as nightly
from core.opportunities.models import ConsentRecord, Invitation, Opportunity
from core.rules.rulesets import current_rules
from core.timeutil import local_moment
from tests.factories import viewer_of
from tests.querycount import count_statements

D = date(2026, 11, 30)
TZ = "Asia/Shanghai"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_moment(day, time(hour, minute), TZ)


NOW = at(D, 10)

# A reached call's answers, ready to be adjusted per test.
NOT_BOUGHT = CallbackForm(
    call_result="reached",
    remembers_consultant=True,
    satisfaction=4,
    received_follow_up=False,
    has_bought=False,
    would_revisit=True,
    same_consultant_ok=True,
    concerns="价格还想再谈谈",
    other_brands="本田",
)
BOUGHT = CallbackForm(
    call_result="reached",
    remembers_consultant=True,
    satisfaction=2,
    received_follow_up=False,
    has_bought=True,
    bought_reason="对方优惠更多",
    bought_brand="比亚迪",
    outcome="bought_elsewhere",
)


def invite(
    form: CallbackForm = NOT_BOUGHT, day: date = D + timedelta(days=2), **kw
) -> CallbackForm:
    return replace(form, outcome="invite_back", invite_date=day, invite_time=time(10, 30), **kw)


@pytest.fixture
def shop(factory):
    store = factory.store()
    anna = factory.consultant(store, name="Anna", cap=5)
    bob = factory.consultant(store, name="Bob", cap=5)
    agent = factory.user(store, Role.CS_AGENT, name="Cathy")
    return store, anna, bob, agent


def dormant_task(factory, store, consultant, **kw):
    customer = factory.customer(store)
    opp = factory.opportunity(customer, grade="C", graded_at=at(D - timedelta(1), 15))
    opp.dormant_by = consultant.id
    task = factory.callback_task(
        customer, kind="dormant", due_on=D, opportunity_id=opp.id, consultant_id=consultant.id, **kw
    )
    return task, opp


def defeat_task(factory, store, consultant):
    customer = factory.customer(store)
    opp = factory.opportunity(
        customer,
        owner=consultant,
        grade="F",
        graded_at=at(D - timedelta(1), 15),
        defeat_reason="price",
        close_note="预算不够",
    )
    task = factory.callback_task(
        customer, kind="defeat", due_on=D, opportunity_id=opp.id, consultant_id=consultant.id
    )
    return task, opp


def stalled_task(factory, store, consultant, grade="A"):
    customer = factory.customer(store)
    opp = factory.opportunity(customer, owner=consultant, grade=grade)
    task = factory.callback_task(
        customer,
        kind="stalled",
        due_on=D,
        opportunity_id=opp.id,
        consultant_id=consultant.id,
        stall_rule="follow_up",
        overdue_days=2,
    )
    return task, opp


def claimed(session, store, task, agent, now=NOW):
    claim(session, store.id, task.id, agent.id, now)
    return task


def record(session, store, task, agent, form, now=NOW):
    claimed(session, store, task, agent, now)
    result = record_callback(session, store.id, task.id, agent.id, now, form)
    session.expire_all()
    return result


def run_nightly(session, store, day):
    ctx = nightly.RunContext(
        store_id=store.id,
        timezone=store.timezone,
        run_on=day,
        now=at(day, 1),
        job_run_id=None,
        rules=current_rules(session, store.id),
    )
    counts = nightly.run(session, ctx)
    session.flush()
    session.expire_all()
    return counts


def open_tasks(session, store):
    return session.scalars(
        select(CallbackTask)
        .where(CallbackTask.store_id == store.id, CallbackTask.status == "open")
        .order_by(CallbackTask.id)
    ).all()


def audits(session, store, action):
    """This store's audit events: other tests' committed rows share the database."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.store_id == store.id)
    ).all()


# --- the worklist --------------------------------------------------------------------------------


def test_the_worklist_orders_my_claim_then_overdue_then_kind_then_age(factory, session, shop):
    store, anna, _bob, agent = shop
    other_agent = factory.user(store, Role.CS_AGENT, name="Dave")

    def task(kind, due, **kw):
        return factory.callback_task(factory.customer(store), kind=kind, due_on=due, **kw)

    scheduled_today = task("scheduled", D)
    dormant_today = task("dormant", D, consultant_id=anna.id)
    defeat_today = task("defeat", D)
    retry_late = task("retry", D - timedelta(2), attempt=2)
    dormant_late = task("dormant", D - timedelta(1))
    mine = task("scheduled", D, claimed_by=agent.id, claimed_at=NOW - timedelta(minutes=5))
    busy = task("stalled", D, claimed_by=other_agent.id, claimed_at=NOW - timedelta(minutes=10))
    stale = task("stalled", D, claimed_by=other_agent.id, claimed_at=NOW - timedelta(minutes=31))
    task("dormant", D + timedelta(1))  # tomorrow: not yet
    task("dormant", D, status="done", call_result="busy", outcome="unreachable")
    factory.callback_task(factory.customer(factory.store()), kind="dormant", due_on=D)

    result = worklist(session, store.id, D, agent.id, NOW)
    order = [r.task_id for r in result.rows]
    assert order[0] == mine.id
    assert order[1:3] == [dormant_late.id, retry_late.id]  # overdue: dormant before retry
    assert order[3] == defeat_today.id
    assert set(order[4:6]) == {busy.id, stale.id}  # stalled, by age
    assert order[6:] == [dormant_today.id, scheduled_today.id]
    rows = {r.task_id: r for r in result.rows}
    assert rows[mine.id].mine and rows[busy.id].busy_with == "Dave"
    assert rows[stale.id].busy_with is None  # idle for more than 30 minutes: free again
    assert rows[retry_late.id].days_late == 2 and rows[dormant_today.id].consultant_name == "Anna"
    assert result.counts == {
        "dormant": 2,
        "stalled": 2,
        "defeat": 1,
        "scheduled": 2,
        "retry": 1,
    }
    assert (result.total, result.overdue) == (8, 2)

    only = worklist(session, store.id, D, agent.id, NOW, kind="stalled")
    assert {r.task_id for r in only.rows} == {busy.id, stale.id} and only.filtered == 2


def test_the_worklist_pages_its_rows_in_two_statements(factory, session, shop, engine):
    store, _anna, _bob, agent = shop
    for i in range(7):
        factory.callback_task(factory.customer(store), kind="dormant", due_on=D - timedelta(i))
    with count_statements(engine) as small:
        first = worklist(session, store.id, D, agent.id, NOW, per_page=3)
    assert (len(first.rows), first.pages, first.page) == (3, 3, 1)
    last = worklist(session, store.id, D, agent.id, NOW, per_page=3, page=9)
    assert (last.page, len(last.rows)) == (3, 1)  # beyond the end: the last page
    for _ in range(30):
        factory.callback_task(factory.customer(store), kind="stalled", due_on=D)
    with count_statements(engine) as large:
        worklist(session, store.id, D, agent.id, NOW, per_page=3)
    assert len(small) == len(large) == 2


# --- claims --------------------------------------------------------------------------------------


def test_a_claimed_task_is_not_offered_to_another_agent(factory, session, shop):
    store, anna, _bob, agent = shop
    other = factory.user(store, Role.CS_AGENT)
    task, _ = dormant_task(factory, store, anna)
    claim(session, store.id, task.id, agent.id, NOW)
    with pytest.raises(DomainError, match=r"Another agent is calling this customer\."):
        claim(session, store.id, task.id, other.id, NOW + timedelta(minutes=29))
    claim(session, store.id, task.id, agent.id, NOW + timedelta(minutes=5))  # mine: again fine
    # idle for more than 30 minutes: released
    claim(session, store.id, task.id, other.id, NOW + timedelta(minutes=36))
    session.expire_all()
    assert (task.claimed_by, task.claimed_at) == (other.id, NOW + timedelta(minutes=36))
    with pytest.raises(DomainError, match=r"Another agent is calling this customer\."):
        record_callback(
            session, store.id, task.id, agent.id, NOW + timedelta(minutes=37), NOT_BOUGHT
        )


def test_claiming_gives_back_the_task_held_before_and_release_frees_it(factory, session, shop):
    store, anna, _bob, agent = shop
    first, _ = dormant_task(factory, store, anna)
    second, _ = dormant_task(factory, store, anna)
    claim(session, store.id, first.id, agent.id, NOW)
    claim(session, store.id, second.id, agent.id, NOW)
    session.expire_all()
    assert first.claimed_by is None and second.claimed_by == agent.id
    other = factory.user(store, Role.CS_AGENT)
    with pytest.raises(DomainError, match="You are not calling"):
        release(session, store.id, second.id, other.id)
    release(session, store.id, second.id, agent.id)
    session.expire_all()
    assert (second.claimed_by, second.claimed_at) == (None, None)


def test_a_closed_or_foreign_task_cannot_be_claimed(factory, session, shop):
    store, _anna, _bob, agent = shop
    done = factory.callback_task(
        factory.customer(store), due_on=D, status="done", call_result="busy"
    )
    with pytest.raises(DomainError, match="already closed"):
        claim(session, store.id, done.id, agent.id, NOW)
    foreign = factory.callback_task(factory.customer(factory.store()), due_on=D)
    with pytest.raises(NotFound):
        claim(session, store.id, foreign.id, agent.id, NOW)
    with pytest.raises(NotFound):
        tasks.task_detail(session, store.id, foreign.id, agent.id, NOW)


def test_the_full_number_only_for_the_task_being_worked_and_audited(factory, session, shop):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna)
    with pytest.raises(DomainError, match="Claim this callback"):
        claims.reveal_task_mobile(session, viewer_of(agent), task.id, NOW)
    claim(session, store.id, task.id, agent.id, NOW)
    later = NOW + timedelta(minutes=20)
    mobile = claims.reveal_task_mobile(session, viewer_of(agent), task.id, later)
    session.expire_all()
    assert mobile == task.customer.mobile and task.claimed_at == later  # activity keeps it
    [event] = audits(session, store, "reveal_mobile")
    assert (event.actor_id, event.entity_id) == (agent.id, task.customer_id)


def test_a_manager_covering_the_phones_may_claim_and_record(factory, session, shop):
    store, anna, _bob, _agent = shop
    manager = factory.user(store, Role.MANAGER)
    task, _ = stalled_task(factory, store, anna)
    result = record(session, store, task, manager, replace(NOT_BOUGHT, outcome="no_change"))
    assert result.outcome is None and task.completed_by == manager.id


# --- not reached: retries up to the store's limit -----------------------------------------------


@pytest.mark.parametrize(
    ("call_result", "attempt", "outcome"),
    [
        ("no_answer", 1, "unreachable"),
        ("busy", 2, "unreachable"),
        ("refused", 1, "unreachable"),  # hung up on this call: tried again
        ("no_answer", 3, "gave_up"),  # the default limit is 3
        ("wrong_number", 1, "gave_up"),  # never called again
    ],
)
def test_a_call_not_reached(factory, session, shop, call_result, attempt, outcome):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna, attempt=attempt)
    posted = replace(NOT_BOUGHT, call_result=call_result, note="关机")
    result = record(session, store, task, agent, posted)
    assert (result.outcome, result.retry_tomorrow) == (outcome, outcome == "unreachable")
    assert (task.status, task.call_result, task.outcome, task.note) == (
        "done",
        call_result,
        outcome,
        "关机",
    )
    assert task.answers is None  # nothing was asked


def test_unreachable_is_retried_each_day_until_the_limit_then_closed(factory, session, shop):
    store, anna, _bob, agent = shop
    task, opp = dormant_task(factory, store, anna)
    day, attempts = D, []
    while task is not None:
        attempts.append(task.attempt)
        now = at(day, 11)
        result = record(session, store, task, agent, CallbackForm(call_result="no_answer"), now)
        day += timedelta(days=1)
        run_nightly(session, store, day)
        task = next(iter(open_tasks(session, store)), None)
        if task is not None:
            assert (task.kind, task.due_on, task.consultant_id) == ("retry", day, anna.id)
            assert task.opportunity_id == opp.id
    assert attempts == [1, 2, 3]
    assert result.outcome == "gave_up"


# --- the questionnaire ---------------------------------------------------------------------------


def test_questions_that_do_not_apply_are_stored_as_null_even_if_posted(factory, session, shop):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna)
    posted = replace(BOUGHT, would_revisit=True, same_consultant_ok=False, concerns="x")
    record(session, store, task, agent, posted)
    answers = session.get(CallbackAnswers, task.id)
    assert (answers.has_bought, answers.bought_reason, answers.bought_brand) == (
        True,
        "对方优惠更多",
        "比亚迪",
    )
    assert (answers.remembers_consultant, answers.satisfaction) == (True, 2)
    assert answers.would_revisit is None and answers.same_consultant_ok is None
    assert answers.concerns is None and answers.other_brands is None

    task2, _ = stalled_task(factory, store, anna)
    posted = replace(
        NOT_BOUGHT, outcome="no_change", bought_reason="x", bought_brand="大众", satisfaction=None
    )
    record(session, store, task2, agent, posted)
    answers = session.get(CallbackAnswers, task2.id)
    assert (answers.has_bought, answers.bought_reason, answers.bought_brand) == (False, None, None)
    assert (answers.would_revisit, answers.same_consultant_ok) == (True, True)
    assert (answers.concerns, answers.other_brands, answers.satisfaction) == (
        "价格还想再谈谈",
        "本田",
        None,
    )


def test_every_missing_answer_is_reported_at_once(factory, session, shop):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna)
    claimed(session, store, task, agent)
    with pytest.raises(ValidationError) as caught:
        record_callback(session, store.id, task.id, agent.id, NOW, CallbackForm())
    assert set(caught.value.errors) == {"call_result"}
    with pytest.raises(ValidationError) as caught:
        record_callback(
            session, store.id, task.id, agent.id, NOW, CallbackForm(call_result="reached")
        )
    assert set(caught.value.errors) == {
        "outcome",
        "remembers_consultant",
        "received_follow_up",
        "has_bought",
    }
    with pytest.raises(ValidationError) as caught:
        record_callback(
            session,
            store.id,
            task.id,
            agent.id,
            NOW,
            replace(BOUGHT, bought_reason="", bought_brand="other", satisfaction=9),
        )
    assert set(caught.value.errors) == {"bought_reason", "bought_brand", "satisfaction"}
    with pytest.raises(ValidationError) as caught:
        record_callback(
            session,
            store.id,
            task.id,
            agent.id,
            NOW,
            # a value that is not yes or no is the form's to refuse (tests/unit/test_forms.py)
            replace(NOT_BOUGHT, outcome="no_change", would_revisit=None, same_consultant_ok=None),
        )
    assert set(caught.value.errors) == {"would_revisit", "same_consultant_ok"}
    assert task.status == "open" and session.get(CallbackAnswers, task.id) is None


def test_a_brand_not_on_the_list_is_typed(factory, session, shop):
    store, anna, _bob, agent = shop
    task, opp = dormant_task(factory, store, anna)
    record(
        session,
        store,
        task,
        agent,
        replace(BOUGHT, bought_brand="other", bought_brand_other="零跑"),
    )
    assert session.get(CallbackAnswers, task.id).bought_brand == "零跑"
    assert opp.competitor_brand == "零跑"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (replace(NOT_BOUGHT, outcome="bought_elsewhere"), "outcome"),
        (replace(BOUGHT, outcome="invite_back"), "outcome"),
        (replace(BOUGHT, outcome="no_change"), "outcome"),
        (invite(would_revisit=False), "would_revisit"),
        (invite(day=D - timedelta(days=1)), "invite_at"),
        (
            replace(NOT_BOUGHT, outcome="invite_back", invite_date=None, invite_time=time(10, 0)),
            "invite_at",
        ),
        (replace(NOT_BOUGHT, outcome="call_again", call_again_on=D), "call_again_on"),
        (replace(NOT_BOUGHT, outcome="call_again", call_again_on=None), "call_again_on"),
        (replace(NOT_BOUGHT, outcome="maybe"), "outcome"),
        (replace(NOT_BOUGHT, outcome="no_change", note="长" * 501), "note"),
    ],
)
def test_the_outcome_must_agree_with_the_answers(factory, session, shop, form, field):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna)
    claimed(session, store, task, agent)
    with pytest.raises(ValidationError) as caught:
        record_callback(session, store.id, task.id, agent.id, NOW, form)
    assert field in caught.value.errors


def test_do_not_contact_needs_no_answers(factory, session, shop):
    store, anna, _bob, agent = shop
    task, _ = dormant_task(factory, store, anna)
    record(
        session, store, task, agent, CallbackForm(call_result="reached", outcome="do_not_contact")
    )
    answers = session.get(CallbackAnswers, task.id)
    assert answers.has_bought is None and answers.remembers_consultant is None


# --- outcomes ------------------------------------------------------------------------------------


def test_bought_elsewhere_closes_the_dormant_customer_and_records_a_misjudgement(
    factory, session, shop
):
    store, anna, _bob, agent = shop
    task, opp = dormant_task(factory, store, anna)
    result = record(session, store, task, agent, BOUGHT)
    assert result.misjudged_consultant_id == anna.id
    assert (opp.status, opp.grade, opp.defeat_reason, opp.competitor_brand, opp.close_note) == (
        "lost",
        "F",
        "other_brand",
        "比亚迪",
        "对方优惠更多",
    )
    assert opp.graded_by == agent.id and opp.closed_at == NOW
    [event] = audits(session, store, "callback.misjudgement")
    assert event.data["consultant_id"] == anna.id and event.entity_id == task.id
    # derivable too: a dormant task, bought, and the consultant concerned
    assert (task.kind, task.answers.has_bought, task.consultant_id, task.outcome) == (
        "dormant",
        True,
        anna.id,
        "bought_elsewhere",
    )
    # customer service closing it is no consultant's defeat: no defeat callback tomorrow
    run_nightly(session, store, D + timedelta(days=1))
    assert open_tasks(session, store) == []


def test_bought_elsewhere_after_a_defeat_adds_the_brand_and_is_no_misjudgement(
    factory, session, shop
):
    store, anna, _bob, agent = shop
    task, opp = defeat_task(factory, store, anna)
    result = record(session, store, task, agent, replace(BOUGHT, bought_brand="大众"))
    assert (
        result.misjudged_consultant_id is None
        and audits(session, store, "callback.misjudgement") == []
    )
    assert (opp.status, opp.defeat_reason, opp.competitor_brand, opp.graded_by) == (
        "lost",
        "price",
        "大众",
        anna.id,
    )


def test_invite_back_a_dormant_customer_to_the_same_consultant(factory, session, shop):
    store, anna, _bob, agent = shop
    factory.book(anna, 2, grade="A")
    task, opp = dormant_task(factory, store, anna)
    result = record(session, store, task, agent, invite())
    assert result.consultant_name == "Anna" and not result.to_pool
    assert (opp.owner_id, opp.grade, opp.status, opp.pool_since) == (anna.id, None, "open", None)
    assert opp.next_follow_up_due == D + timedelta(days=2)
    [assignment] = session.scalars(select(Assignment).where(Assignment.opportunity_id == opp.id))
    assert (assignment.reason, assignment.to_owner_id, assignment.assigned_by) == (
        "reinvite",
        anna.id,
        agent.id,
    )
    assert (assignment.to_load, assignment.to_cap) == (2, 5)
    invitation = session.get(Invitation, result.invitation_id)
    assert (invitation.source, invitation.consultant_id, invitation.scheduled_at) == (
        "callback",
        anna.id,
        at(D + timedelta(days=2), 10, 30),
    )
    assert audits(session, store, "callback.misjudgement") == []


def test_the_re_invited_customer_checks_in_and_goes_to_the_agreed_consultant(
    factory, session, shop
):
    store, anna, bob, agent = shop
    task, opp = dormant_task(factory, store, anna)
    settings = factory.settings(bob)
    settings.last_walk_in_at = None  # bob would be next in the rotation
    factory.settings(anna).last_walk_in_at = NOW
    result = record(session, store, task, agent, invite())
    visit = checkin.check_in(
        session,
        checkin.CheckIn(
            store_id=store.id, mobile=task.customer.mobile, purpose="look", consent=False
        ),
        at(D + timedelta(days=2), 10, 20),
    )
    assert visit.consultant_id == anna.id
    invitation = session.get(Invitation, result.invitation_id)
    assert (invitation.status, invitation.visit_id) == ("honoured", visit.visit_id)
    last = session.scalars(
        select(Assignment).where(Assignment.opportunity_id == opp.id).order_by(Assignment.id.desc())
    ).first()
    assert (last.reason, last.to_owner_id) == ("reinvite", anna.id)


def test_invite_back_to_another_consultant_goes_through_the_pool(factory, session, shop):
    store, anna, bob, agent = shop
    task, opp = stalled_task(factory, store, anna, grade="B")
    result = record(session, store, task, agent, invite(same_consultant_ok=False))
    assert result.to_pool and result.consultant_name is None
    assert (opp.owner_id, opp.pool_reason, factory.declined(opp.customer_id), opp.grade) == (
        None,
        "reinvited",
        {anna.id},
        "B",
    )
    assert opp.pool_since == NOW
    [released] = session.scalars(select(Assignment).where(Assignment.opportunity_id == opp.id))
    assert (released.reason, released.from_owner_id, released.note) == (
        "released",
        anna.id,
        "reinvited",
    )
    assert session.get(Invitation, result.invitation_id).consultant_id is None

    # handed out on demand: never to the consultant the customer declined
    factory.book(bob, 4, grade="A")  # anna has more room, but was declined
    done = callbacks.hand_out_pool(session, store.id, agent.id, NOW + timedelta(minutes=1))
    session.expire_all()
    assert (done.placed, done.unplaced, done.placed_with) == (1, 0, [("Bob", 1)])
    assert opp.owner_id == bob.id and opp.pool_since is None
    handed = session.scalars(
        select(Assignment).where(Assignment.opportunity_id == opp.id, Assignment.reason == "refill")
    ).one()
    assert handed.assigned_by == agent.id and handed.note == "reinvited"


def test_hand_out_says_who_was_skipped(factory, session, shop):
    store, anna, bob, agent = shop
    factory.book(anna, 5, grade="A")  # at cap
    task, _opp = stalled_task(factory, store, bob)
    record(session, store, task, agent, invite(same_consultant_ok=False))
    done = callbacks.hand_out_pool(session, store.id, agent.id, NOW + timedelta(minutes=1))
    assert (done.placed, done.unplaced) == (0, 1)
    assert ("Anna", "at_cap") in done.skipped and ("Bob", "declined") in done.skipped


def test_invite_back_a_stalled_customer_who_keeps_their_consultant(factory, session, shop):
    store, anna, _bob, agent = shop
    factory.book(anna, 4, grade="A")
    task, opp = stalled_task(factory, store, anna)  # anna: 5 of 5, but the customer is hers
    result = record(session, store, task, agent, invite())
    assert result.consultant_name == "Anna"
    assert (opp.owner_id, opp.grade) == (anna.id, "A")
    assert (
        session.scalars(select(Assignment).where(Assignment.opportunity_id == opp.id)).all() == []
    )


def test_the_same_consultant_at_cap_cannot_take_a_dormant_customer_back(factory, session, shop):
    store, anna, _bob, agent = shop
    factory.book(anna, 5, grade="H")
    task, opp = dormant_task(factory, store, anna)
    result = record(session, store, task, agent, invite())
    assert result.to_pool and opp.owner_id is None and opp.pool_reason == "reinvited"
    assert factory.declined(opp.customer_id) == set()  # the customer did not refuse her
    assert opp.grade is None


def test_the_defeat_audit_overturns_a_defeat_when_the_customer_would_come_back(
    factory, session, shop
):
    store, anna, _bob, agent = shop
    task, opp = defeat_task(factory, store, anna)
    result = record(session, store, task, agent, invite())
    assert result.defeat_overturned and result.consultant_name == "Anna"
    assert (opp.status, opp.grade, opp.owner_id, opp.closed_at, opp.defeat_reason) == (
        "open",
        None,
        anna.id,
        None,
        None,
    )
    assert opp.defeat_overturned_at == NOW
    [event] = audits(session, store, "callback.defeat_overturned")
    assert event.data["defeat_reason"] == "price" and event.data["close_note"] == "预算不够"
    # reopened with customer service, then back to Anna, her load seen without this customer
    handed, back = session.scalars(
        select(Assignment).where(Assignment.opportunity_id == opp.id).order_by(Assignment.id)
    )
    assert (handed.reason, handed.from_owner_id, handed.to_owner_id) == (
        "to_service",
        anna.id,
        None,
    )
    assert (back.reason, back.to_owner_id, back.to_load) == ("reinvite", anna.id, 0)


def test_a_defeated_customer_to_call_again_later_is_dormant_with_customer_service(
    factory, session, shop
):
    store, anna, _bob, agent = shop
    task, opp = defeat_task(factory, store, anna)
    later = D + timedelta(days=10)
    posted = replace(NOT_BOUGHT, outcome="call_again", call_again_on=later)
    result = record(session, store, task, agent, posted)
    assert result.defeat_overturned and result.call_again_on == later
    assert (opp.status, opp.grade, opp.owner_id, opp.next_callback_on) == ("open", "C", None, later)
    # nothing tomorrow (not a new dormant grading); the scheduled call on the day
    run_nightly(session, store, D + timedelta(days=1))
    assert open_tasks(session, store) == []
    run_nightly(session, store, later)
    [scheduled] = open_tasks(session, store)
    assert (scheduled.kind, scheduled.customer_id, scheduled.opportunity_id) == (
        "scheduled",
        task.customer_id,
        opp.id,
    )


def test_a_lost_customer_who_would_not_come_back_keeps_the_defeat(factory, session, shop):
    store, anna, _bob, agent = shop
    task, opp = defeat_task(factory, store, anna)
    claimed(session, store, task, agent)
    posted = replace(
        NOT_BOUGHT,
        would_revisit=False,
        outcome="call_again",
        call_again_on=D + timedelta(days=5),
    )
    with pytest.raises(ValidationError) as caught:
        record_callback(session, store.id, task.id, agent.id, NOW, posted)
    assert "outcome" in caught.value.errors
    record_callback(session, store.id, task.id, agent.id, NOW, replace(posted, outcome="no_change"))
    assert (opp.status, opp.defeat_overturned_at) == ("lost", None)


def test_call_again_on_a_date_gives_customer_service_the_next_callback(factory, session, shop):
    store, anna, _bob, agent = shop
    task, opp = dormant_task(factory, store, anna)
    later = D + timedelta(days=14)
    posted = replace(NOT_BOUGHT, outcome="call_again", call_again_on=later)
    record(session, store, task, agent, posted)
    assert (task.next_callback_on, opp.next_callback_on, opp.grade) == (later, later, "C")
    run_nightly(session, store, later)
    [scheduled] = open_tasks(session, store)
    assert (scheduled.kind, scheduled.consultant_id) == ("scheduled", anna.id)


def test_do_not_contact_withdraws_consent_and_the_customer_never_appears_again(
    factory, session, shop
):
    store, anna, _bob, agent = shop
    task, opp = stalled_task(factory, store, anna, grade="H")
    invitation = Invitation(
        store_id=store.id,
        opportunity_id=opp.id,
        customer_id=task.customer_id,
        consultant_id=anna.id,
        scheduled_at=NOW + timedelta(days=3),
    )
    session.add(invitation)
    session.flush()
    posted = CallbackForm(call_result="reached", outcome="do_not_contact", note="客户很反感")
    record(session, store, task, agent, posted)
    customer = task.customer
    assert customer.do_not_contact and customer.do_not_contact_at == NOW
    withdrawal = session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.customer_id == customer.id, ConsentRecord.granted.is_(False)
        )
    ).one()
    assert (withdrawal.channel, withdrawal.recorded_by) == ("callback", agent.id)
    assert (opp.status, opp.defeat_reason, opp.graded_by) == ("lost", "other", agent.id)
    assert invitation.status == "cancelled"
    # whatever happens later, the nightly run never lists the customer again
    again = factory.opportunity(customer, owner=anna, grade="C", graded_at=at(D, 16))
    again.dormant_by = anna.id
    again.next_callback_on = D + timedelta(days=1)
    counts = run_nightly(session, store, D + timedelta(days=1))
    assert (
        open_tasks(session, store) == []
        and sum(counts[k] for k in ("dormant", "scheduled", "stalled", "defeat", "retry")) == 0
    )


def test_no_change_records_the_answers_for_the_consultant(factory, session, shop):
    store, anna, _bob, agent = shop
    task, opp = stalled_task(factory, store, anna)
    record(
        session, store, task, agent, replace(NOT_BOUGHT, outcome="no_change", note="下周再联系顾问")
    )
    assert (task.status, task.outcome, opp.owner_id, opp.grade) == ("done", None, anna.id, "A")
    profile_answers = tasks.task_detail(session, store.id, task.id, agent.id, NOW)
    assert profile_answers.status == "done"
    from core.opportunities.customers import customer_profile

    [entry] = [
        e
        for e in customer_profile(session, viewer_of(agent), task.customer_id, NOW).timeline
        if e.kind == "callback"
    ]
    assert entry.data["answers"]["concerns"] == "价格还想再谈谈"
    assert entry.data["by"] == agent.display_name and entry.data["note"] == "下周再联系顾问"


def test_a_task_made_by_hand_without_a_consultant_gets_the_one_concerned(factory, session, shop):
    store, anna, _bob, agent = shop
    customer = factory.customer(store)
    opp = factory.opportunity(customer, grade="C")
    opp.dormant_by = anna.id
    task = factory.callback_task(customer, kind="dormant", due_on=D, opportunity_id=opp.id)
    result = record(session, store, task, agent, BOUGHT)
    assert task.consultant_id == anna.id and result.misjudged_consultant_id == anna.id


def test_the_task_screen_summary_is_a_fixed_number_of_statements(factory, session, shop, engine):
    store, anna, _bob, agent = shop
    task, opp = stalled_task(factory, store, anna)
    with count_statements(engine) as small:
        detail = tasks.task_detail(session, store.id, task.id, agent.id, NOW)
    assert (detail.kind, detail.stall_rule, detail.stall_overdue_days) == (
        "stalled",
        "follow_up",
        2,
    )
    assert (detail.attempt, detail.retry_limit, detail.consultant_name) == (1, 3, "Anna")
    for _ in range(6):
        factory.visit(task.customer, consultant=anna, opportunity_id=opp.id)
    with count_statements(engine) as large:
        detail = tasks.task_detail(session, store.id, task.id, agent.id, NOW)
    assert len(detail.visits) == 3 and len(small) == len(large)
    assert session.scalar(select(func.count()).select_from(Opportunity)) >= 1
