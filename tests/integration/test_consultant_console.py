"""The consultant's console over HTTP: my day, the reception outcome, the needs analysis,
follow-ups and invitations, defeats, and revealing a number (issue 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.opportunities.models import FollowUp, Invitation, NeedsAssessment, Opportunity
from core.timeutil import local_date
from tests.integration.conftest import Browser
from tests.querycount import count_statements

# The default scoring: every top answer (100 points) is H; every bottom answer (0) is C.
TOP = {
    "answer-timeframe": "7d",
    "answer-budget": "yes",
    "answer-model": "decided",
    "answer-test_drive": "yes",
    "answer-decision_maker": "yes",
}


def page(response) -> str:
    return response.get_data(as_text=True)


def english(web: Browser) -> None:
    web.post("/lang", {"lang": "en", "next": "/console/"})


def count(app_engine, model, *where) -> int:
    with Session(app_engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def opp(app_engine, opportunity_id) -> Opportunity:
    with Session(app_engine) as s:
        o = s.get(Opportunity, opportunity_id)
        s.expunge_all()
        return o


def indicators(app_engine, store_id) -> list[dict]:
    from core.rules.rulesets import current_rules

    with Session(app_engine) as s:
        return current_rules(s, store_id).scoring["indicators"]


def answers(app_engine, store_id, pick="top") -> dict[str, str]:
    """One answer per indicator: the option with the most (top) or the fewest (bottom) points."""
    chosen = {}
    for ind in indicators(app_engine, store_id):
        options = sorted(ind["options"], key=lambda o: o["points"])
        chosen[f"answer-{ind['key']}"] = (options[-1] if pick == "top" else options[0])["key"]
    return chosen


@pytest.fixture
def mine(signed_in, committed):
    """A signed-in consultant (English) with one new, ungraded customer of their own."""
    web, user, store = signed_in("consultant")
    english(web)
    customer = committed.customer(
        store, surname="周", mobile=f"13{utcnow().microsecond:06d}0001"[:11]
    )
    opportunity = committed.opportunity(customer, owner=user)
    return web, user, store, customer, opportunity


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["cs_agent", "manager", "admin"])
def test_the_opportunity_pages_are_for_consultants_only(signed_in, committed, role):
    web, _user, store = signed_in(role)
    customer = committed.customer(store)
    o = committed.opportunity(customer, owner=committed.consultant(store))
    for action in ("outcome", "assess", "follow-up", "defeat"):
        assert web.get(f"/console/opportunities/{o.id}/{action}").status_code == 403, action
    assert web.post(f"/console/opportunities/{o.id}/order").status_code == 403


def test_another_stores_opportunity_and_customer_are_not_found(mine, committed):
    web, *_ = mine
    other = committed.store()
    theirs = committed.opportunity(committed.customer(other), owner=committed.consultant(other))
    for action in ("outcome", "assess", "follow-up", "defeat"):
        assert web.get(f"/console/opportunities/{theirs.id}/{action}").status_code == 404
    assert web.post(f"/console/opportunities/{theirs.id}/order").status_code == 404
    assert web.post(f"/console/customers/{theirs.customer_id}/reveal").status_code == 404


def test_another_consultants_customer_is_refused(mine, committed, app_engine):
    web, _user, store, *_ = mine
    theirs = committed.opportunity(committed.customer(store), owner=committed.consultant(store))
    response = web.post(f"/console/opportunities/{theirs.id}/defeat", {"reason": "price"})
    assert response.status_code == 302
    assert opp(app_engine, theirs.id).status == "open"
    html = page(web.get(response.headers["Location"]))
    assert "Only the customer&#39;s own consultant can do this." in html
    assert f'href="/console/opportunities/{theirs.id}/defeat"' not in html  # no actions shown


def test_a_closed_opportunity_is_refused(mine, committed, app_engine):
    web, user, store, *_ = mine
    won = committed.opportunity(committed.customer(store), owner=user, grade="O")
    response = web.post(
        f"/console/opportunities/{won.id}/follow-up", {"kind": "call", "outcome": "hi"}
    )
    assert response.status_code == 302
    assert count(app_engine, FollowUp, FollowUp.opportunity_id == won.id) == 0
    assert "This opportunity is closed" in page(web.get(response.headers["Location"]))
    assert web.get(f"/console/opportunities/{won.id}/assess").status_code == 302


# --- the reception outcome: an order -----------------------------------------------------------


def test_ending_a_first_reception_opens_its_outcome(signed_in, committed, app_engine):
    web, user, store = signed_in("consultant")
    web.post("/console/presence", {"presence": "on_duty"})
    result = checkin.check_in(
        committed.session,
        checkin.CheckIn(
            store_id=store.id,
            mobile="13512340001"[:3] + f"{user.id:08d}",
            purpose="look",
            surname="吴",
            title="mr",
            consent=True,
        ),
        utcnow(),
    )
    committed.session.commit()
    assert result.consultant_id == user.id
    web.post(f"/console/arrivals/{result.visit_id}/start")
    response = web.post(f"/console/arrivals/{result.visit_id}/end")
    assert response.status_code == 302
    with Session(app_engine) as s:
        opportunity_id = s.get(Visit, result.visit_id).opportunity_id
    assert response.headers["Location"].endswith(f"/console/opportunities/{opportunity_id}/outcome")
    assert web.get(response.headers["Location"]).status_code == 200


def test_an_order_closes_the_opportunity_as_O(mine, app_engine):
    web, _user, _store, customer, o = mine
    html = page(web.get(f"/console/opportunities/{o.id}/outcome"))
    assert "Bought today" in html and "Intent customer" in html and "卡罗拉" in html
    model_id = int(html.split('<option value="')[2].split('"')[0])
    response = web.post(
        f"/console/opportunities/{o.id}/order",
        {"car_model": str(model_id), "deposit": "5,000", "note": "蓝色"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/console/customers/{customer.id}")
    after = opp(app_engine, o.id)
    assert (after.status, after.grade, after.car_model_id) == ("won", "O", model_id)
    assert (after.order_deposit, after.close_note) == (5000, "蓝色")


def test_a_bad_order_keeps_what_was_typed_and_saves_nothing(mine, app_engine):
    web, _user, _store, _customer, o = mine
    response = web.post(
        f"/console/opportunities/{o.id}/order",
        {"car_model": "999999", "deposit": "lots", "note": "kept note"},
    )
    assert response.status_code == 422
    html = page(response)
    assert "Choose a car model from the list." in html
    assert "Enter the deposit in yuan, a whole number." in html
    assert 'value="lots"' in html and "kept note" in html
    assert opp(app_engine, o.id).status == "open"
    response = web.post(f"/console/opportunities/{o.id}/order", {"note": "x" * 501})
    assert response.status_code == 422 and "This text is too long." in page(response)


# --- needs analysis ----------------------------------------------------------------------------


def test_the_needs_analysis_grades_and_shows_the_breakdown(mine, app_engine):
    web, _user, store, _customer, o = mine
    html = page(web.get(f"/console/opportunities/{o.id}/assess"))
    for ind in indicators(app_engine, store.id):
        assert ind["label"]["en"] in html
    response = web.post(f"/console/opportunities/{o.id}/assess", answers(app_engine, store.id))
    assert response.status_code == 302  # to the result: a reload does not grade again
    assert "/assessments/" in response.headers["Location"]
    html = page(web.get(response.headers["Location"]))
    assert "Score breakdown" in html and "Score 100" in html and "Within 7 days" in html
    after = opp(app_engine, o.id)
    assert after.grade == "H" and after.next_follow_up_due is not None
    assert count(app_engine, NeedsAssessment, NeedsAssessment.opportunity_id == o.id) == 1


def test_the_needs_analysis_labels_follow_the_language(signed_in, committed, app_engine):
    web, user, store = signed_in("consultant")
    o = committed.opportunity(committed.customer(store), owner=user)
    html = page(web.get(f"/console/opportunities/{o.id}/assess"))
    assert "购车时间" in html and "Purchase timeframe" not in html


def test_a_missing_answer_is_marked_and_the_others_kept(mine, app_engine):
    web, _user, store, _customer, o = mine
    form = answers(app_engine, store.id)
    missing = next(iter(form))
    kept_key, kept_value = list(form.items())[1]
    del form[missing]
    response = web.post(f"/console/opportunities/{o.id}/assess", form)
    assert response.status_code == 422
    html = page(response)
    assert f'id="{missing.removeprefix("answer-")}-error"' in html and "Choose one answer." in html
    assert "Purchase timeframe: Choose one answer." in html  # the summary names the question
    assert f'id="{kept_key}-{kept_value}" name="{kept_key}" value="{kept_value}" checked' in html
    assert count(app_engine, NeedsAssessment, NeedsAssessment.opportunity_id == o.id) == 0
    assert opp(app_engine, o.id).grade is None


def test_an_override_needs_a_reason(mine, app_engine):
    web, _user, store, _customer, o = mine
    form = {**answers(app_engine, store.id), "override_grade": "B"}
    response = web.post(f"/console/opportunities/{o.id}/assess", form)
    assert response.status_code == 422
    assert "Say why you grade differently from the analysis." in page(response)
    assert opp(app_engine, o.id).grade is None
    form["override_reason"] = "预算其实要等年终奖"
    html = page(web.post(f"/console/opportunities/{o.id}/assess", form, follow_redirects=True))
    assert "Overridden from H" in html and "预算其实要等年终奖" in html
    assert opp(app_engine, o.id).grade == "B"
    response = web.post(
        f"/console/opportunities/{o.id}/assess",
        {**answers(app_engine, store.id), "override_grade": "O", "override_reason": "x"},
    )
    assert response.status_code == 422 and "Choose H, A, B or C." in page(response)


def test_grade_C_hands_the_customer_to_customer_service(mine, app_engine):
    web, _user, store, _customer, o = mine
    response = web.post(
        f"/console/opportunities/{o.id}/assess",
        answers(app_engine, store.id, "bottom"),
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "handed to customer service" in page(response)
    after = opp(app_engine, o.id)
    assert after.grade == "C" and after.owner_id is None


def test_a_manager_opens_an_assessment_and_another_store_cannot(mine, app_engine, signed_in):
    web, _user, store, customer, o = mine
    form = {
        **answers(app_engine, store.id),
        "override_grade": "A",
        "override_reason": "家里还没商量好",
    }
    target = web.post(f"/console/opportunities/{o.id}/assess", form).headers["Location"]
    manager_web, _manager, _ = signed_in("manager", store=store)
    english(manager_web)
    html = page(manager_web.get(f"/console/customers/{customer.id}"))
    assert target in html  # the timeline links to the breakdown
    html = page(manager_web.get(target))
    assert "Overridden from H" in html and "家里还没商量好" in html
    assert "Log a follow-up or invitation" not in html  # not their customer
    other_web, _other, _ = signed_in("manager")
    assert other_web.get(target).status_code == 404


# --- follow-ups and invitations -------------------------------------------------------------------


def test_a_follow_up_gets_the_grades_default_next_date(mine, committed, app_engine):
    web, user, store, _customer, _o = mine
    o = committed.opportunity(committed.customer(store), owner=user, grade="A")
    response = web.post(
        f"/console/opportunities/{o.id}/follow-up", {"kind": "call", "outcome": "想等降价"}
    )
    assert response.status_code == 302
    today = local_date(utcnow(), store.timezone)
    assert opp(app_engine, o.id).next_follow_up_due == today + timedelta(days=4)
    html = page(web.get(response.headers["Location"]))
    assert "Follow-up recorded." in html and "想等降价" in html


def test_an_invitation_is_booked_in_store_time(mine, app_engine):
    web, user, store, _customer, o = mine
    day = local_date(utcnow(), store.timezone) + timedelta(days=2)
    response = web.post(
        f"/console/opportunities/{o.id}/follow-up",
        {"kind": "invitation", "invitation_date": day.isoformat(), "invitation_time": "10:30"},
    )
    assert response.status_code == 302
    with Session(app_engine) as s:
        inv = s.scalars(select(Invitation).where(Invitation.opportunity_id == o.id)).one()
        assert inv.consultant_id == user.id and inv.status == "scheduled"
        assert inv.scheduled_at.hour == 2 and inv.scheduled_at.minute == 30  # 10:30 Shanghai


def test_a_bad_follow_up_keeps_everything_and_saves_nothing(mine, app_engine):
    web, _user, _store, _customer, o = mine
    response = web.post(
        f"/console/opportunities/{o.id}/follow-up",
        {
            "kind": "invitation",
            "outcome": "kept text",
            "invitation_date": "2020-01-01",
            "invitation_time": "09:00",
            "next_follow_up_on": "2020-01-01",
        },
    )
    assert response.status_code == 422
    html = page(response)
    assert "Choose the date and time of the appointment, in the future." in html
    assert "The next follow-up cannot be in the past." in html
    assert "kept text" in html and 'value="2020-01-01"' in html and 'value="09:00"' in html
    assert 'id="kind-invitation" name="kind" value="invitation" checked' in html
    response = web.post(f"/console/opportunities/{o.id}/follow-up", {"outcome": "x"})
    assert response.status_code == 422
    assert "Choose what kind of follow-up this was." in page(response)
    response = web.post(
        f"/console/opportunities/{o.id}/follow-up",
        {"kind": "call", "next_follow_up_on": "not a date"},
    )
    assert response.status_code == 422
    assert "Enter a date, or leave the field empty." in page(response)
    assert count(app_engine, FollowUp, FollowUp.opportunity_id == o.id) == 0
    assert count(app_engine, Invitation, Invitation.opportunity_id == o.id) == 0


# --- defeat -------------------------------------------------------------------------------------


def test_a_defeat_records_the_reason_and_the_brand(mine, app_engine):
    web, _user, _store, customer, o = mine
    response = web.post(f"/console/opportunities/{o.id}/defeat", {"reason": "other_brand"})
    assert response.status_code == 422
    assert "Which brand did the customer buy?" in page(response)
    assert opp(app_engine, o.id).status == "open"
    response = web.post(f"/console/opportunities/{o.id}/defeat", {"note": "kept"})
    assert response.status_code == 422
    assert "Choose why the customer was lost." in page(response) and "kept" in page(response)
    response = web.post(
        f"/console/opportunities/{o.id}/defeat",
        {"reason": "other_brand", "competitor_brand": "比亚迪", "note": "价格"},
    )
    assert response.status_code == 302
    after = opp(app_engine, o.id)
    assert (after.status, after.grade, after.defeat_reason, after.competitor_brand) == (
        "lost",
        "F",
        "other_brand",
        "比亚迪",
    )
    html = page(web.get(f"/console/customers/{customer.id}"))
    assert "Customer service will call the customer tomorrow." in html


# --- the customer page --------------------------------------------------------------------------


def test_the_customer_page_offers_the_actions_to_the_owner_only(mine, signed_in):
    web, _user, store, customer, o = mine
    html = page(web.get(f"/console/customers/{customer.id}"))
    for action in ("outcome", "follow-up", "assess", "defeat"):
        assert f"/console/opportunities/{o.id}/{action}" in html
    other, _u, _s = signed_in("consultant", store=store)
    assert f"/console/opportunities/{o.id}/" not in page(
        other.get(f"/console/customers/{customer.id}")
    )


def test_revealing_the_number_is_audited_and_shown_once(mine, app_engine):
    web, user, _store, customer, _o = mine
    html = page(web.get(f"/console/customers/{customer.id}"))
    assert customer.mobile not in html and "Show number" in html
    response = web.post(f"/console/customers/{customer.id}/reveal")
    assert response.status_code == 200 and customer.mobile in page(response)
    assert customer.mobile not in page(web.get(f"/console/customers/{customer.id}"))
    with Session(app_engine) as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "reveal_mobile", AuditEvent.entity_id == customer.id
            )
        ).one()
        assert event.actor_id == user.id and event.entity == "customer"


# --- my day ---------------------------------------------------------------------------------------


def test_my_day_lists_due_overdue_and_invitations(mine, committed):
    web, user, store, _customer, _o = mine
    today = local_date(utcnow(), store.timezone)
    late = committed.customer(store, surname="欧阳")
    committed.opportunity(late, owner=user, grade="H", next_follow_up_due=today - timedelta(days=3))
    due = committed.customer(store, surname="司马")
    committed.opportunity(due, owner=user, grade="A", next_follow_up_due=today)
    html = page(web.get("/console/"))
    assert "My day" in html and "My book" not in html
    overdue = html.split('class="day-h overdue-h"')[1].split("</ul>")[0]
    assert "欧阳" in overdue and "3 days overdue" in overdue
    assert f'href="/console/customers/{late.id}"' in overdue
    assert f'href="/console/customers/{due.id}"' in html


@pytest.mark.parametrize("path", ["/console/", "/console/customers/{cid}"])
def test_the_pages_issue_the_same_statements_for_10_or_1000_customers(
    signed_in, committed, app, path
):
    counts = []
    for n in (10, 1000):
        web, user, store = signed_in("consultant")
        book = committed.book(user, n, grade="A")
        for o in book[:3]:
            o.next_follow_up_due = local_date(utcnow(), store.timezone) - timedelta(days=1)
        committed.session.commit()
        url = path.format(cid=book[0].customer_id)
        web.get(url)  # warm up (session, translations)
        engine = committed.session.get_bind()
        with count_statements(engine) as statements:
            assert web.get(url).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
