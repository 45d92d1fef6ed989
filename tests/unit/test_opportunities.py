"""Grading with the needs analysis, orders and defeats (core/opportunities.py)."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from core.callbacks.models import CallbackTask
from core.dispatch.models import Assignment
from core.errors import DomainError, NotFound, PermissionDenied, ValidationError
from core.nightly import run as nightly
from core.opportunities.actions import assess, log_follow_up, record_defeat, record_order
from core.opportunities.models import NeedsAssessment, Opportunity
from core.rules.rulesets import current_rules
from core.timeutil import local_moment

D = date(2026, 11, 30)
NOW = local_moment(D, time(15, 0), "Asia/Shanghai")

HOT = {  # 30 + 10 + 15 + 10 + 10 + 5 + 5 + 5 + 0 = 90 -> H
    "timeframe": "7d",
    "budget": "yes",
    "model": "decided",
    "test_drive": "yes",
    "decision_maker": "yes",
    "payment": "loan",
    "trade_in": "yes",
    "competitors": "done",
    "visits": "1",
}
COLD = {  # 6 + 0 + 8 + 0 + 10 + 0 + 3 + 2 + 0 = 29 -> C
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


@pytest.fixture
def setup(factory):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    opp = factory.opportunity(
        factory.customer(store), owner=anna, last_visit_at=NOW - timedelta(hours=1)
    )
    return store, anna, opp


def test_the_analysis_grades_and_sets_the_next_follow_up_from_the_cycle_rules(session, setup):
    store, anna, opp = setup
    result = assess(session, store.id, opp.id, anna.id, HOT, NOW)
    assert (result.score, result.computed_grade, result.grade) == (90, "H", "H")
    assert [a.points for a in result.breakdown] == [30, 10, 15, 10, 10, 5, 5, 5, 0]
    assert (opp.grade, opp.graded_by, opp.owner_id) == ("H", anna.id, anna.id)
    assert opp.next_follow_up_due == D + timedelta(days=2)  # H: every 2 days
    assert opp.cycle_deadline == D + timedelta(days=7)  # H: a revisit within 7
    [saved] = session.scalars(
        select(NeedsAssessment).where(NeedsAssessment.opportunity_id == opp.id)
    ).all()
    assert saved.rule_set_id == current_rules(session, store.id).rule_set_id
    assert {a.indicator: a.option for a in saved.answers} == HOT


def test_grade_c_hands_the_customer_to_customer_service(session, setup):
    store, anna, opp = setup
    result = assess(session, store.id, opp.id, anna.id, COLD, NOW)
    assert (result.score, result.grade, result.handed_to_service) == (29, "C", True)
    assert opp.owner_id is None and opp.dormant_by == anna.id
    assert opp.next_follow_up_due is None and opp.cycle_deadline is None
    [handover] = session.scalars(
        select(Assignment).where(Assignment.opportunity_id == opp.id)
    ).all()
    assert (handover.reason, handover.from_owner_id, handover.to_owner_id) == (
        "to_service",
        anna.id,
        None,
    )
    # ... and the nightly run of the next day puts the customer on the dormant callback list
    ctx = nightly.RunContext(
        store.id,
        store.timezone,
        D + timedelta(1),
        NOW + timedelta(hours=10),
        None,
        current_rules(session, store.id),
    )
    nightly.run(session, ctx)
    [task] = session.scalars(select(CallbackTask).where(CallbackTask.store_id == store.id))
    assert (task.kind, task.consultant_id) == ("dormant", anna.id)


def test_an_override_needs_a_written_reason_and_is_kept(session, setup):
    store, anna, opp = setup
    with pytest.raises(ValidationError) as info:
        assess(session, store.id, opp.id, anna.id, COLD, NOW, override_grade="B")
    assert set(info.value.errors) == {"override_reason"}
    result = assess(
        session,
        store.id,
        opp.id,
        anna.id,
        COLD,
        NOW,
        override_grade="B",
        override_reason="客户下周带家人来试驾",
    )
    assert (result.computed_grade, result.grade) == ("C", "B")
    assert opp.grade == "B" and opp.owner_id == anna.id
    saved = session.get(NeedsAssessment, result.assessment_id)
    assert saved.override_reason == "客户下周带家人来试驾"
    with pytest.raises(ValidationError) as info:
        assess(session, store.id, opp.id, anna.id, COLD, NOW, override_grade="Z")
    assert set(info.value.errors) == {"override_grade"}


def test_reassessment_keeps_the_history(session, setup):
    store, anna, opp = setup
    assess(session, store.id, opp.id, anna.id, COLD | {"timeframe": "30d"}, NOW)
    assess(session, store.id, opp.id, anna.id, HOT, NOW + timedelta(days=3))
    grades = session.scalars(
        select(NeedsAssessment.grade)
        .where(NeedsAssessment.opportunity_id == opp.id)
        .order_by(NeedsAssessment.assessed_at)
    ).all()
    assert grades == ["B", "H"] and opp.grade == "H"
    # the first analysis stays the opportunity's first (the analytics' intent step)
    assert (opp.first_assessed_at, opp.first_assessed_by) == (NOW, anna.id)


def test_every_indicator_must_be_answered(session, setup):
    store, anna, opp = setup
    with pytest.raises(ValidationError) as info:
        assess(session, store.id, opp.id, anna.id, {"timeframe": "7d"}, NOW)
    assert "budget" in info.value.errors and opp.grade is None


def test_an_order_closes_the_opportunity(session, factory, setup):
    store, anna, opp = setup
    model = store.car_models[0]
    record_order(
        session,
        store.id,
        opp.id,
        anna.id,
        NOW,
        car_model_id=model.id,
        deposit=5000,  # "5,000" as typed: the form reads it (tests/unit/test_forms.py)
        note="周六提车",
    )
    assert (opp.status, opp.grade, opp.order_deposit, opp.car_model_id) == (
        "won",
        "O",
        5000,
        model.id,
    )
    assert opp.closed_at == NOW and opp.next_follow_up_due is None
    with pytest.raises(DomainError):  # an ordered opportunity is not graded any more
        assess(session, store.id, opp.id, anna.id, HOT, NOW)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"deposit": -1}, {"deposit"}),
        ({"deposit": 10_000_001}, {"deposit"}),  # "five" is the form's to refuse
        ({"car_model_id": 999_999}, {"car_model"}),
        ({"note": "x" * 501}, {"note"}),
    ],
)
def test_a_bad_order_is_refused_and_changes_nothing(session, setup, fields, errors):
    store, anna, opp = setup
    with pytest.raises(ValidationError) as info:
        record_order(session, store.id, opp.id, anna.id, NOW, **fields)
    assert set(info.value.errors) == errors and opp.status == "open"


def test_a_defeat_needs_a_reason_and_the_brand_when_another_brand_won(session, setup):
    store, anna, opp = setup
    with pytest.raises(ValidationError) as info:
        record_defeat(session, store.id, opp.id, anna.id, NOW, reason="other_brand")
    assert set(info.value.errors) == {"competitor_brand"}
    with pytest.raises(ValidationError):
        record_defeat(session, store.id, opp.id, anna.id, NOW, reason="bad_luck")
    record_defeat(
        session,
        store.id,
        opp.id,
        anna.id,
        NOW,
        reason="other_brand",
        competitor_brand="比亚迪",
        note="价格差两万",
    )
    assert (opp.status, opp.grade, opp.defeat_reason, opp.competitor_brand) == (
        "lost",
        "F",
        "other_brand",
        "比亚迪",
    )
    assert opp.graded_by == anna.id  # the consultant's defeat: called back the next day


def test_only_the_owner_acts_and_only_in_their_store(session, factory, setup):
    store, anna, opp = setup
    ben = factory.consultant(store)
    with pytest.raises(PermissionDenied):
        assess(session, store.id, opp.id, ben.id, HOT, NOW)
    with pytest.raises(NotFound):
        record_order(session, factory.store().id, opp.id, anna.id, NOW)
    assert session.get(Opportunity, opp.id).status == "open"


def test_a_follow_up_moves_the_next_date_by_the_grade_interval(session, setup):
    store, anna, opp = setup
    assess(session, store.id, opp.id, anna.id, HOT | {"timeframe": "15d"}, NOW)  # 82 -> H
    later = NOW + timedelta(days=1)
    result = log_follow_up(
        session, store.id, opp.id, anna.id, later, kind="call", outcome="询问了贷款方案"
    )
    assert result.next_follow_up_on == D + timedelta(days=3)  # H: every 2 days, from Dec 1
    assert opp.last_follow_up_at == later and opp.next_follow_up_due == D + timedelta(days=3)
    chosen = log_follow_up(
        session,
        store.id,
        opp.id,
        anna.id,
        later,
        kind="message",
        next_follow_up_on=D + timedelta(days=5),
    )
    assert chosen.next_follow_up_on == D + timedelta(days=5)


def test_an_invitation_is_an_appointment_in_the_future(session, setup):
    from core.opportunities.models import Invitation

    store, anna, opp = setup
    assess(session, store.id, opp.id, anna.id, HOT, NOW)
    with pytest.raises(ValidationError) as info:
        log_follow_up(session, store.id, opp.id, anna.id, NOW, kind="invitation")
    assert set(info.value.errors) == {"invitation_at"}
    result = log_follow_up(
        session,
        store.id,
        opp.id,
        anna.id,
        NOW,
        kind="invitation",
        invitation_at=NOW + timedelta(days=2),
    )
    invitation = session.get(Invitation, result.invitation_id)
    assert (invitation.status, invitation.consultant_id, invitation.source) == (
        "scheduled",
        anna.id,
        "consultant",
    )


def test_a_revisit_restarts_the_cycle(session, setup):
    store, anna, opp = setup
    assess(session, store.id, opp.id, anna.id, HOT | {"timeframe": "30d"}, NOW)  # 74 -> A
    revisit = NOW + timedelta(days=10)
    log_follow_up(session, store.id, opp.id, anna.id, revisit, kind="revisit")
    assert opp.last_visit_at == revisit
    assert opp.cycle_deadline == D + timedelta(days=10 + 15)  # A: a revisit within 15 days


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"kind": "telepathy"}, {"kind"}),
        ({"kind": "call", "next_follow_up_on": D - timedelta(days=1)}, {"next_follow_up_on"}),
        ({"kind": "call", "outcome": "长" * 501}, {"outcome"}),
    ],
)
def test_bad_follow_ups_are_refused(session, setup, fields, errors):
    store, anna, opp = setup
    with pytest.raises(ValidationError) as info:
        log_follow_up(session, store.id, opp.id, anna.id, NOW, **fields)
    assert set(info.value.errors) == errors and opp.last_follow_up_at is None


def test_no_follow_up_on_a_closed_opportunity(session, setup):
    store, anna, opp = setup
    record_defeat(session, store.id, opp.id, anna.id, NOW, reason="price")
    with pytest.raises(DomainError):
        log_follow_up(session, store.id, opp.id, anna.id, NOW, kind="call")


def test_my_day_lists_due_overdue_and_invitations_in_a_fixed_number_of_statements(
    session, factory, setup
):
    from core.opportunities.myday import my_day
    from tests.querycount import count_statements

    store, anna, opp = setup
    assess(session, store.id, opp.id, anna.id, HOT, NOW)
    opp.next_follow_up_due = D - timedelta(days=3)
    log_follow_up(
        session,
        store.id,
        opp.id,
        anna.id,
        NOW,
        kind="invitation",
        invitation_at=NOW + timedelta(hours=2),
        next_follow_up_on=D,
    )
    other = factory.opportunity(
        factory.customer(store, surname="周"),
        owner=anna,
        grade="A",
        next_follow_up_due=D - timedelta(days=2),
    )
    day = my_day(session, store.id, anna.id, D, store.timezone)
    assert [r.opportunity_id for r in day.due_today] == [opp.id]
    assert [(r.opportunity_id, r.overdue_days) for r in day.overdue] == [(other.id, 2)]
    assert [i.surname for i in day.invitations] == ["王"]
    assert (day.load, day.cap, day.due_today_count, day.overdue_count) == (2, 30, 1, 1)
    with count_statements(session.get_bind()) as few:
        my_day(session, store.id, anna.id, D, store.timezone)
    factory.book(anna, 30, grade="B")
    with count_statements(session.get_bind()) as many:
        my_day(session, store.id, anna.id, D, store.timezone)
    assert len(few) == len(many)
