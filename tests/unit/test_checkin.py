"""Check-in and dispatch rules (core/checkin.py), on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.checkin import floor, screens
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.models import Assignment
from core.enums import Presence, Role
from core.errors import DomainError, ValidationError
from core.opportunities.models import ConsentRecord, Customer, Invitation, Opportunity

NOW = utcnow()


def later(minutes):
    return NOW + timedelta(minutes=minutes)


def arrive(session, store, mobile="13900001111", at=NOW, **kw):
    fields = {"purpose": "look", "party_size": 2, "surname": "王", "title": "mr", **kw}
    request = checkin.CheckIn(store_id=store.id, mobile=mobile, **fields)
    result = checkin.check_in(session, request, at)
    session.flush()
    return result


def visit(session, result):
    return session.get(Visit, result.visit_id)


def count(session, model, store):
    """Rows of this store only: other tests' committed rows share the database."""
    return session.scalar(select(func.count()).select_from(model).where(model.store_id == store.id))


@pytest.fixture
def store(factory):
    return factory.store()


def test_a_new_visitor_goes_to_the_consultant_longest_without_a_walk_in(factory, session, store):
    recent = factory.consultant(store, name="Recent")
    factory.settings(recent).last_walk_in_at = NOW - timedelta(minutes=5)
    longest = factory.consultant(store, name="Longest")
    factory.settings(longest).last_walk_in_at = NOW - timedelta(hours=3)
    result = arrive(session, store)
    assert (result.consultant_id, result.consultant_name) == (longest.id, "Longest")
    assert result.queue_position is None and not result.returning
    v = visit(session, result)
    assert v.status == "assigned" and v.is_first_visit and v.assigned_at == NOW
    opportunity = session.get(Opportunity, v.opportunity_id)
    assert opportunity.owner_id == longest.id and opportunity.grade is None
    [assignment] = session.scalars(select(Assignment).where(Assignment.visit_id == v.id)).all()
    assert (assignment.reason, assignment.to_load, assignment.to_cap) == ("rotation", 0, 30)
    skipped = {c["name"]: c["skipped"] for c in assignment.candidates}
    assert skipped == {"Recent": "later_in_rotation", "Longest": None}
    assert factory.settings(longest).last_walk_in_at == NOW


def test_the_rotation_goes_round(factory, session, store):
    a = factory.consultant(store, name="A")
    b = factory.consultant(store, name="B")
    order = []
    for i in range(4):
        result = arrive(session, store, mobile=f"1380000000{i}", at=later(i))
        order.append(result.consultant_name)
        floor.start_reception(session, store.id, result.consultant_id, result.visit_id, later(i))
        floor.end_reception(session, store.id, result.consultant_id, result.visit_id, later(i))
    assert order == ["A", "B", "A", "B"] and a.id < b.id


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("off_duty", "off_duty"),
        ("on_break", "on_break"),
        ("busy", "busy"),
        ("at_cap", "at_cap"),
        ("inactive", "inactive"),
    ],
)
def test_consultants_who_cannot_take_a_walk_in_are_skipped_with_the_reason(
    factory, session, store, setup, reason
):
    other = factory.consultant(store, name="Other", cap=1)
    if setup in ("off_duty", "on_break"):
        factory.settings(other).presence = setup
    elif setup == "busy":
        factory.visit(
            factory.customer(store, mobile="13700000000"), consultant=other, status="in_reception"
        )
    elif setup == "at_cap":
        factory.book(other, 1, grade="H")
    else:
        factory.settings(other).active = False
    free = factory.consultant(store, name="Free")
    factory.settings(free).last_walk_in_at = NOW  # would come last in the rotation
    result = arrive(session, store)
    assert result.consultant_id == free.id
    [assignment] = session.scalars(
        select(Assignment).where(Assignment.visit_id == result.visit_id)
    ).all()
    assert {c["name"]: c["skipped"] for c in assignment.candidates}["Other"] == reason


def test_a_returning_customer_goes_to_their_consultant_even_busy_and_at_cap(
    factory, session, store
):
    owner = factory.consultant(store, name="Owner", cap=1)
    factory.consultant(store, name="Free")
    customer = factory.customer(store, mobile="13911112222", surname="李", title="ms")
    opportunity = factory.opportunity(customer, owner=owner, grade="A")
    factory.visit(customer, consultant=owner, status="finished")
    factory.visit(
        factory.customer(store, mobile="13700000000"), consultant=owner, status="in_reception"
    )
    result = arrive(session, store, mobile="139 1111 2222", surname=None, title=None)
    assert result.consultant_id == owner.id and result.returning
    v = visit(session, result)
    assert v.opportunity_id == opportunity.id and not v.is_first_visit
    assert session.get(Opportunity, opportunity.id).last_visit_at == NOW
    [assignment] = session.scalars(select(Assignment).where(Assignment.visit_id == v.id)).all()
    assert assignment.reason == "returning_owner"
    assert count(session, Customer, store) == 2  # recognised: no second customer record


def test_a_returning_customer_whose_consultant_is_off_goes_round_the_rotation(
    factory, session, store
):
    owner = factory.consultant(store, name="Owner", presence=Presence.OFF_DUTY)
    free = factory.consultant(store, name="Free")
    customer = factory.customer(store, mobile="13911112222")
    opportunity = factory.opportunity(customer, owner=owner, grade="B")
    result = arrive(session, store, mobile="13911112222")
    assert result.consultant_id == free.id
    [assignment] = session.scalars(
        select(Assignment).where(Assignment.visit_id == result.visit_id)
    ).all()
    assert (assignment.from_owner_id, assignment.to_owner_id) == (owner.id, free.id)
    assert assignment.note == "preferred_off_duty"
    assert session.get(Opportunity, opportunity.id).owner_id == free.id


def test_an_invited_customer_goes_to_the_agreed_consultant(factory, session, store):
    owner = factory.consultant(store, name="Owner")
    agreed = factory.consultant(store, name="Agreed", presence=Presence.ON_DUTY)
    customer = factory.customer(store, mobile="13911112222")
    opportunity = factory.opportunity(customer, owner=owner, grade="A")
    invitation = Invitation(
        store_id=store.id,
        opportunity_id=opportunity.id,
        customer_id=customer.id,
        consultant_id=agreed.id,
        scheduled_at=NOW + timedelta(hours=1),
        source="callback",
    )
    session.add(invitation)
    session.flush()
    result = arrive(session, store, mobile="13911112222")
    assert result.consultant_id == agreed.id
    assert invitation.status == "honoured" and invitation.visit_id == result.visit_id
    assert visit(session, result).invitation_id == invitation.id


def test_when_nobody_fits_visitors_wait_and_are_served_in_arrival_order(factory, session, store):
    anna = factory.consultant(store, name="Anna")
    first = arrive(session, store, mobile="13800000001", at=later(0))
    second = arrive(session, store, mobile="13800000002", at=later(1))
    third = arrive(session, store, mobile="13800000003", at=later(2))
    assert first.consultant_id == anna.id
    assert (second.consultant_id, second.queue_position) == (None, 1)
    assert third.queue_position == 2 and visit(session, third).status == "waiting"
    # why nobody could take them is kept with the visit
    assert visit(session, second).waiting_candidates == [
        {
            "user_id": anna.id,
            "name": "Anna",
            "presence": "on_duty",
            "load": 1,
            "cap": 30,
            "skipped": "busy",
        }
    ]
    floor.start_reception(session, store.id, anna.id, first.visit_id, later(3))
    assert floor.end_reception(session, store.id, anna.id, first.visit_id, later(20)) == 1
    assert visit(session, second).consultant_id == anna.id
    assert visit(session, third).status == "waiting"
    [assignment] = session.scalars(
        select(Assignment).where(Assignment.visit_id == second.visit_id)
    ).all()
    assert assignment.reason == "queue"
    first_visit = visit(session, first)
    assert first_visit.status == "finished"
    assert first_visit.reception_ended_at - first_visit.reception_started_at == timedelta(
        minutes=17
    )


def test_a_consultant_coming_on_duty_takes_the_first_waiting_visitor(factory, session, store):
    anna = factory.consultant(store, presence=Presence.ON_BREAK)
    waiting = arrive(session, store)
    assert waiting.queue_position == 1
    assert floor.set_presence(session, store.id, anna.id, "on_duty", later(5)) == 1
    assert visit(session, waiting).consultant_id == anna.id
    with pytest.raises(ValidationError):
        floor.set_presence(session, store.id, anna.id, "asleep", later(6))


def test_a_visitor_who_left_frees_the_consultant_for_the_next(factory, session, store):
    anna = factory.consultant(store)
    agent = factory.user(store, Role.CS_AGENT)
    gone = arrive(session, store, mobile="13800000001")
    next_one = arrive(session, store, mobile="13800000002", at=later(1))
    floor.mark_left(session, store.id, gone.visit_id, agent.id, later(4))
    assert visit(session, gone).status == "left" and visit(session, gone).left_at == later(4)
    assert visit(session, next_one).consultant_id == anna.id
    with pytest.raises(DomainError):
        floor.mark_left(session, store.id, gone.visit_id, agent.id, later(5))


def test_the_receptionist_reassigns_with_the_reason_recorded(factory, session, store):
    factory.consultant(store, name="Anna")
    ben = factory.consultant(store, name="Ben", presence=Presence.OFF_DUTY)
    agent = factory.user(store, Role.CS_AGENT)
    result = arrive(session, store)
    floor.reassign_visit(
        session, store.id, result.visit_id, ben.id, agent.id, later(1), note="speaks Cantonese"
    )
    v = visit(session, result)
    assert v.consultant_id == ben.id
    assert session.get(Opportunity, v.opportunity_id).owner_id == ben.id
    row, explanations = screens.explain_visit(session, store.id, result.visit_id)
    assert [(e.reason, e.from_name, e.to_name) for e in explanations] == [
        ("rotation", None, "Anna"),
        ("manual", "Anna", "Ben"),
    ]
    assert explanations[1].by_name == agent.display_name and explanations[1].note
    assert row.masked_mobile == "139****1111"


def test_a_double_tap_gives_one_visit(factory, session, store):
    factory.consultant(store)
    first = arrive(session, store, idempotency_key="tap-1")
    again = arrive(session, store, idempotency_key="tap-1", at=later(0))
    assert again.visit_id == first.visit_id and again.duplicate and not first.duplicate
    assert count(session, Visit, store) == 1 and count(session, Assignment, store) == 1


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"mobile": "12345"}, {"mobile"}),
        ({"mobile": "+86 138-0013-800"}, {"mobile"}),
        ({"surname": ""}, {"surname"}),
        ({"surname": "<b>王</b>"}, {"surname"}),
        ({"surname": "王" * 11}, {"surname"}),
        ({"surname": "Wang2"}, {"surname"}),
        ({"title": "dr"}, {"title"}),
        ({"purpose": "lunch", "party_size": 0}, {"purpose", "party_size"}),
        ({"car_model_id": 999_999}, {"car_model"}),
    ],
)
def test_bad_input_is_refused_field_by_field_and_nothing_is_saved(
    factory, session, store, fields, errors
):
    factory.consultant(store)
    before = (count(session, Customer, store), count(session, Visit, store))
    with pytest.raises(ValidationError) as info:
        arrive(session, store, **{"mobile": "13800138000", **fields})
    assert set(info.value.errors) == errors
    assert (count(session, Customer, store), count(session, Visit, store)) == before


def test_a_known_customer_needs_no_name_and_a_model_of_another_store_is_refused(
    factory, session, store
):
    factory.customer(store, mobile="13911112222", surname="赵")
    other_model = factory.store().car_models[0]
    with pytest.raises(ValidationError) as info:
        arrive(
            session,
            store,
            mobile="13911112222",
            surname=None,
            title=None,
            car_model_id=other_model.id,
        )
    assert set(info.value.errors) == {"car_model"}


def test_names_in_latin_letters_are_fine(factory, session, store):
    result = arrive(session, store, surname="O'Neil-Li", title="ms")
    assert session.get(Customer, result.customer_id).surname == "O'Neil-Li"


def test_consent_is_recorded_with_its_notice_version_and_optional(factory, session, store):
    agreed = arrive(session, store, mobile="13800000001", consent=True)
    declined = arrive(session, store, mobile="13800000002", consent=False)
    customer = session.get(Customer, agreed.customer_id)
    assert customer.consent_notice_version == checkin.NOTICE_VERSION and customer.contactable
    [record] = session.scalars(
        select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
    ).all()
    assert (record.granted, record.channel, record.notice_version) == (True, "kiosk", "2026-01")
    assert not session.get(Customer, declined.customer_id).contactable
    # coming back without ticking the box again does not withdraw an earlier consent
    arrive(session, store, mobile="13800000001", at=later(60))
    assert session.get(Customer, agreed.customer_id).contactable


def test_the_kiosk_shows_a_known_visitor_only_masked(factory, session, store):
    factory.customer(store, mobile="13812345678", surname="王", title="mr")
    known = checkin.lookup_visitor(session, store.id, "+86 138 1234 5678")
    assert (known.surname, known.title, known.masked_mobile) == ("王", "mr", "138****5678")
    assert checkin.lookup_visitor(session, factory.store().id, "13812345678") is None


def test_receptions_follow_their_order(factory, session, store):
    anna = factory.consultant(store)
    ben = factory.consultant(store)
    result = arrive(session, store)
    with pytest.raises(DomainError):
        floor.end_reception(session, store.id, result.consultant_id, result.visit_id, NOW)
    other = ben.id if result.consultant_id == anna.id else anna.id
    with pytest.raises(DomainError):
        floor.start_reception(session, store.id, other, result.visit_id, NOW)
    floor.start_reception(session, store.id, result.consultant_id, result.visit_id, NOW)
    with pytest.raises(DomainError):
        floor.start_reception(session, store.id, result.consultant_id, result.visit_id, NOW)


def test_the_screens_data(factory, session, store):
    anna = factory.consultant(store, name="Anna")
    factory.consultant(store, name="Ben", presence=Presence.ON_BREAK)
    served = arrive(session, store, mobile="13800000001")
    arrive(session, store, mobile="13800000002", at=later(1), surname="李", title="ms")
    rows = screens.todays_visits(session, store.id, later(11), store.timezone)
    assert [(r.status, r.queue_position) for r in rows] == [("assigned", None), ("waiting", 1)]
    assert rows[1].waited_minutes(later(11)) == 10
    assert [r.id for r in screens.my_arrivals(session, store.id, anna.id)] == [served.visit_id]
    board = screens.lobby_board(session, store.id)
    assert [w.surname for w in board.waiting] == ["李"]
    assert board.free == [] and board.busy == ["Anna"]


def test_the_rotation_passes_over_a_consultant_the_customer_declined(factory, session, store):
    declined = factory.consultant(store, name="Declined")
    factory.settings(declined).last_walk_in_at = NOW - timedelta(hours=5)  # first in rotation
    other = factory.consultant(store, name="Other")
    factory.settings(other).last_walk_in_at = NOW - timedelta(minutes=5)
    customer = factory.customer(store, mobile="13912340000")
    opportunity = factory.opportunity(customer, grade="C", in_pool=True)
    factory.decline(customer, declined)
    result = arrive(session, store, mobile="13912340000", surname=None, title=None)
    assert result.consultant_id == other.id
    [assignment] = session.scalars(
        select(Assignment).where(Assignment.visit_id == result.visit_id)
    ).all()
    assert {c["name"]: c["skipped"] for c in assignment.candidates}["Declined"] == "declined"
    assert session.get(Opportunity, opportunity.id).owner_id == other.id


def test_a_waiting_visitor_is_not_handed_to_the_consultant_they_declined(factory, session, store):
    declined = factory.consultant(store, name="Declined", presence=Presence.ON_BREAK)
    customer = factory.customer(store, mobile="13912340001")
    factory.opportunity(customer, grade="C", in_pool=True)
    factory.decline(customer, declined)
    result = arrive(session, store, mobile="13912340001", surname=None, title=None)
    assert result.consultant_id is None and result.queue_position == 1
    factory.settings(declined).presence = Presence.ON_DUTY.value
    session.flush()
    assert floor.dispatch_waiting(session, store.id, later(5)) == 0
    other = factory.consultant(store, name="Other")
    assert floor.dispatch_waiting(session, store.id, later(6)) == 1
    assert visit(session, result).consultant_id == other.id
