"""The dispatch authority (core/dispatch/authority.py): every change of owner goes through one
rule, whoever causes it. Each test is one of the cases of issue 14 that went wrong when the
paths wrote owners of their own; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core.callbacks.claims import claim
from core.callbacks.models import CallbackTask
from core.callbacks.service import CallbackForm, hand_out_pool, record_callback
from core.checkin import service as checkin
from core.dispatch import authority
from core.dispatch.models import Assignment
from core.enums import Grade, Role
from core.errors import DomainError, ValidationError
from core.nightly import run as nightly
from core.opportunities import actions
from core.opportunities.closing import close_opportunity
from core.opportunities.customers import customer_profile, lift_do_not_contact
from core.opportunities.models import Customer, Invitation, Opportunity
from core.rules import admin as rule_admin
from core.rules.rulesets import current_rules
from core.timeutil import local_moment
from tests.factories import viewer_of

D = date(2026, 11, 30)
TZ = "Asia/Shanghai"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_moment(day, time(hour, minute), TZ)


NOW = at(D, 10)

COLD = {  # 29 points: C
    "timeframe": "90d",
    "budget": "no",
    "model": "shortlist",
    "test_drive": "no",
    "decision_maker": "yes",
    "payment": "unknown",
    "trade_in": "no",
    "competitors": "ongoing",
    "visits": "1",
}

REACHED = CallbackForm(
    call_result="reached",
    remembers_consultant=True,
    satisfaction=4,
    received_follow_up=False,
    has_bought=False,
    would_revisit=True,
    same_consultant_ok=True,
    concerns="",
    other_brands="",
)


def invite(same: bool, day: date = D + timedelta(days=2)) -> CallbackForm:
    return replace(
        REACHED,
        same_consultant_ok=same,
        outcome="invite_back",
        invite_date=day,
        invite_time=time(10, 30),
    )


@pytest.fixture
def shop(factory):
    store = factory.store()
    agent = factory.user(store, Role.CS_AGENT, name="Cathy")
    manager = factory.user(store, Role.MANAGER, name="Mona")
    return store, agent, manager


def arrive(session, store, mobile, at_=NOW, **kw):
    fields = {"purpose": "look", "party_size": 1, "surname": "王", "title": "mr", **kw}
    result = checkin.check_in(
        session, checkin.CheckIn(store_id=store.id, mobile=mobile, **fields), at_
    )
    session.flush()
    return result


def call(session, store, task, agent, form, now=NOW):
    claim(session, store.id, task.id, agent.id, now)
    result = record_callback(session, store.id, task.id, agent.id, now, form)
    session.flush()
    session.expire_all()
    return result


def night(session, store, day, hour=1):
    ctx = nightly.RunContext(
        store_id=store.id,
        timezone=store.timezone,
        run_on=day,
        now=at(day, hour),
        job_run_id=None,
        rules=current_rules(session, store.id),
    )
    counts = nightly.run(session, ctx)
    session.flush()
    session.expire_all()
    return counts


def assignments(session, opportunity_id):
    return session.scalars(
        select(Assignment)
        .where(Assignment.opportunity_id == opportunity_id)
        .order_by(Assignment.id)
    ).all()


def stalled_task(factory, customer, opp, consultant):
    return factory.callback_task(
        customer,
        kind="stalled",
        due_on=D,
        opportunity_id=opp.id,
        consultant_id=consultant.id,
        stall_rule="follow_up",
        overdue_days=2,
    )


# --- 1, 2, 3: declines ----------------------------------------------------------------------


def test_1_a_decline_stands_against_the_consultants_own_earlier_invitation(factory, session, shop):
    store, agent, _ = shop
    xavier = factory.consultant(store, name="Xavier")
    factory.settings(xavier).last_walk_in_at = NOW - timedelta(days=3)  # first in the rotation
    yan = factory.consultant(store, name="Yan")
    customer = factory.customer(store, mobile="13955550001")
    opp = factory.opportunity(customer, owner=xavier, grade="A")
    # Xavier invited her for today, before customer service called her
    factory.invitation_at(opp, xavier, NOW - timedelta(days=2), scheduled_at=NOW)
    task = stalled_task(factory, customer, opp, xavier)
    call(session, store, task, agent, invite(same=False), now=NOW - timedelta(days=1))
    result = arrive(session, store, "13955550001")
    assert result.consultant_id == yan.id
    [*_, given] = assignments(session, opp.id)
    assert {c["name"]: c["skipped"] for c in given.candidates}["Xavier"] == "declined"


def test_2_every_decline_is_kept_and_the_refill_honours_them_all(factory, session, shop):
    store, agent, _ = shop
    x = factory.consultant(store, name="X", cap=30)
    y = factory.consultant(store, name="Y", cap=30)
    z = factory.consultant(store, name="Z", cap=3)  # the least room: the refill's last choice
    customer = factory.customer(store)
    opp = factory.opportunity(customer, owner=x, grade="A")
    call(session, store, stalled_task(factory, customer, opp, x), agent, invite(same=False))
    assert session.get(Opportunity, opp.id).owner_id is None
    # refilled to Y (most room after X), who is declined in turn
    hand_out_pool(session, store.id, agent.id, NOW + timedelta(minutes=5))
    assert session.get(Opportunity, opp.id).owner_id == y.id
    task = stalled_task(factory, customer, opp, y)
    call(session, store, task, agent, invite(same=False), now=NOW + timedelta(hours=1))
    assert factory.declined(customer.id) == {x.id, y.id}
    night(session, store, D + timedelta(days=1))
    assert session.get(Opportunity, opp.id).owner_id == z.id
    [refill] = [a for a in assignments(session, opp.id) if a.reason == "refill"][-1:]
    skipped = {c["name"]: c["skipped"] for c in refill.candidates}
    assert skipped == {"X": "declined", "Y": "declined", "Z": None}


def test_3_a_scheduled_call_names_the_current_owner_and_yes_keeps_the_decline(
    factory, session, shop
):
    store, agent, _ = shop
    xavier = factory.consultant(store, name="Xavier")
    yan = factory.consultant(store, name="Yan")
    customer = factory.customer(store)
    # graded C by Xavier weeks ago, declined him, now Yan's, with a callback date still set
    opp = factory.opportunity(customer, owner=yan, grade="B", next_callback_on=D)
    opp.dormant_by = xavier.id
    factory.decline(customer, xavier)
    night(session, store, D)
    [task] = session.scalars(
        select(CallbackTask).where(CallbackTask.opportunity_id == opp.id)
    ).all()
    assert (task.kind, task.consultant_id) == ("scheduled", yan.id)
    call(session, store, task, agent, invite(same=True))
    assert session.get(Opportunity, opp.id).owner_id == yan.id
    assert factory.declined(customer.id) == {xavier.id}


def test_customer_service_cannot_give_a_customer_back_to_a_declined_consultant(
    factory, session, shop
):
    store, agent, _ = shop
    xavier = factory.consultant(store, name="Xavier")
    customer = factory.customer(store)
    opp = factory.opportunity(customer, grade="C")
    opp.dormant_by = xavier.id
    factory.decline(customer, xavier)
    task = factory.callback_task(
        customer, kind="dormant", due_on=D, opportunity_id=opp.id, consultant_id=xavier.id
    )
    result = call(session, store, task, agent, invite(same=True))
    assert result.to_pool and session.get(Opportunity, opp.id).owner_id is None


def test_a_manager_lifts_a_decline_with_a_reason_and_it_is_audited(factory, session, shop):
    store, _agent, manager = shop
    xavier = factory.consultant(store, name="Xavier")
    customer = factory.customer(store)
    decline = factory.decline(customer, xavier)
    with pytest.raises(ValidationError) as refused:
        authority.lift_decline(session, store.id, decline.id, manager.id, "  ", NOW)
    assert "reason" in refused.value.errors
    authority.lift_decline(session, store.id, decline.id, manager.id, "她点名要他", NOW)
    assert factory.declined(customer.id) == set()
    with pytest.raises(DomainError):
        authority.lift_decline(session, store.id, decline.id, manager.id, "again", NOW)
    [shown] = customer_profile(session, viewer_of(manager), customer.id, NOW).declines
    assert (shown["consultant"], shown["lift_reason"], shown["lifted_by"]) == (
        "Xavier",
        "她点名要他",
        "Mona",
    )


def test_a_manager_cannot_reassign_to_a_declined_consultant(factory, session, shop):
    store, _agent, manager = shop
    xavier = factory.consultant(store, name="Xavier")
    yan = factory.consultant(store, name="Yan")
    customer = factory.customer(store)
    opp = factory.opportunity(customer, owner=yan, grade="A")
    factory.decline(customer, xavier)
    with pytest.raises(ValidationError) as refused:
        rule_admin.reassign(session, store.id, manager.id, NOW, [opp.id], xavier.id, "leave")
    assert "to_owner" in refused.value.errors


# --- 4: closing cancels what was scheduled --------------------------------------------------


def test_4_a_defeat_cancels_invitations_and_callbacks_and_the_cap_holds_on_return(
    factory, session, shop
):
    store, _agent, _ = shop
    full = factory.consultant(store, name="Full", cap=2)
    factory.settings(full).last_walk_in_at = NOW - timedelta(days=3)
    other = factory.consultant(store, name="Other")
    factory.book(full, 2, grade="A")
    customer = factory.customer(store, mobile="13955550004")
    opp = factory.opportunity(customer, owner=full, grade="A")
    invitation = factory.invitation_at(opp, full, NOW - timedelta(days=2), scheduled_at=NOW)
    task = stalled_task(factory, customer, opp, full)
    close_opportunity(
        session, opp, Grade.F, full.id, NOW - timedelta(hours=2), defeat_reason="price"
    )
    session.flush()
    session.expire_all()
    assert session.get(Invitation, invitation.id).status == "cancelled"
    assert session.get(CallbackTask, task.id).status == "cancelled"
    result = arrive(session, store, "13955550004")
    assert result.consultant_id == other.id  # Full is at the cap, and no longer her consultant


# --- 5: the stall clock starts with the owner -----------------------------------------------


def test_5_a_customer_handed_out_yesterday_is_not_stalled_by_the_previous_owners_silence(
    factory, session, shop
):
    store, agent, _ = shop
    anna = factory.consultant(store, name="Anna")
    old = at(D - timedelta(days=10), 15)
    opp = factory.opportunity(
        factory.customer(store),
        grade="H",
        in_pool=True,
        created_at=old,
        graded_at=old,
        last_visit_at=old,
        last_follow_up_at=old,
    )
    hand_out_pool(session, store.id, agent.id, at(D - timedelta(days=1), 14))
    assert session.get(Opportunity, opp.id).owner_id == anna.id
    first = night(session, store, D)
    assert first["stalled"] == 0
    again = night(session, store, D, hour=15)
    assert all(v == 0 for k, v in again.items() if k != "caught_up"), again
    # H allows two days without a follow-up, counted from when Anna received her
    assert night(session, store, D + timedelta(days=1))["stalled"] == 0
    assert night(session, store, D + timedelta(days=2))["stalled"] == 1


# --- 7: the own consultant of a buyer ---------------------------------------------------------


def test_7_a_buyer_who_comes_back_goes_to_the_consultant_who_sold_the_car(factory, session, shop):
    store, _agent, _ = shop
    seller = factory.consultant(store, name="Seller", cap=1)
    factory.book(seller, 1, grade="A")  # at the cap: it does not keep her own customer away
    rota = factory.consultant(store, name="Rota")
    factory.settings(rota).last_walk_in_at = NOW - timedelta(days=9)
    customer = factory.customer(store, mobile="13955550007")
    factory.opportunity(customer, owner=seller, grade="O")
    result = arrive(session, store, "13955550007", purpose="delivery")
    assert result.consultant_id == seller.id
    [given] = session.scalars(select(Assignment).where(Assignment.visit_id == result.visit_id))
    assert given.reason == "returning_owner"


def test_a_customer_whose_last_opportunity_was_lost_goes_to_the_rotation(factory, session, shop):
    store, _agent, _ = shop
    loser = factory.consultant(store, name="Loser")
    factory.settings(loser).last_walk_in_at = NOW - timedelta(minutes=5)
    rota = factory.consultant(store, name="Rota")
    factory.settings(rota).last_walk_in_at = NOW - timedelta(days=9)
    customer = factory.customer(store, mobile="13955550017")
    factory.opportunity(customer, owner=loser, grade="F")
    assert arrive(session, store, "13955550017").consultant_id == rota.id


# --- 8: do not contact stands -----------------------------------------------------------------


def test_8_a_consent_at_the_kiosk_does_not_lift_do_not_contact(factory, session, shop):
    store, agent, _ = shop
    anna = factory.consultant(store, name="Anna")
    customer = factory.customer(store, mobile="13955550008", do_not_contact=True)
    opp = factory.opportunity(customer, grade="C", graded_at=at(D - timedelta(days=1), 15))
    opp.dormant_by = anna.id
    arrive(session, store, "13955550008", consent=True)
    assert session.get(Customer, customer.id).do_not_contact is True
    actions_ = session.get(Opportunity, opp.id)
    assert actions_ is not None
    counts = night(session, store, D + timedelta(days=1))
    assert sum(v for k, v in counts.items() if k in ("dormant", "stalled", "scheduled")) == 0
    with pytest.raises(ValidationError):
        lift_do_not_contact(session, store.id, customer.id, agent.id, "", NOW)
    lift_do_not_contact(session, store.id, customer.id, agent.id, "客户来电要求恢复联系", NOW)
    assert session.get(Customer, customer.id).do_not_contact is False


# --- 9: the consultant's own invitation --------------------------------------------------------


def test_9_the_consultants_own_invitation_is_recorded_as_theirs(factory, session, shop):
    store, _agent, _ = shop
    anna = factory.consultant(store, name="Anna")
    customer = factory.customer(store, mobile="13955550009")
    opp = factory.opportunity(customer, owner=anna, grade="A")
    factory.invitation_at(opp, anna, NOW - timedelta(days=2), scheduled_at=NOW, source="consultant")
    result = arrive(session, store, "13955550009")
    [given] = session.scalars(select(Assignment).where(Assignment.visit_id == result.visit_id))
    assert (given.reason, given.to_owner_id) == ("invited", anna.id)


# --- 11: every change of owner says who else was considered -----------------------------------


def test_11_every_change_of_owner_records_every_candidate(factory, session, shop):
    store, agent, manager = shop
    anna = factory.consultant(store, name="Anna")
    ben = factory.consultant(store, name="Ben")
    names = {"Anna", "Ben"}
    # customer service re-invites to the same consultant after a defeat
    c1 = factory.customer(store)
    lost = factory.opportunity(c1, owner=anna, grade="F", graded_at=at(D - timedelta(1), 15))
    task = factory.callback_task(
        c1, kind="defeat", due_on=D, opportunity_id=lost.id, consultant_id=anna.id
    )
    call(session, store, task, agent, invite(same=True))
    # a manager reassigns
    c2 = factory.customer(store)
    moved = factory.opportunity(c2, owner=anna, grade="A")
    rule_admin.reassign(session, store.id, manager.id, NOW, [moved.id], ben.id, "leave")
    # a consultant grades a customer C: handed to customer service
    c3 = factory.customer(store)
    dormant = factory.opportunity(c3, owner=ben, grade=None)
    session.flush()
    assessed = actions.assess(session, store.id, dormant.id, ben.id, COLD, NOW)
    assert assessed.handed_to_service
    session.flush()
    rows = session.scalars(
        select(Assignment).where(Assignment.store_id == store.id).order_by(Assignment.id)
    ).all()
    assert rows, "no assignment recorded"
    for row in rows:
        assert {c["name"] for c in row.candidates} == names, (row.reason, row.candidates)
    reasons = {r.reason for r in rows}
    assert {"reinvite", "manual", "to_service"} <= reasons
