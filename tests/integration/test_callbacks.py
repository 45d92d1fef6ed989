"""The callback console over HTTP (issue 5): who may open it, the worklist with its filters and
paging, claiming, the number on demand, recording a call (errors keep everything typed), the
pool handed out now, and a fixed number of statements for 10 or 10,000 tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.db import utcnow
from core.opportunities.models import Customer, Opportunity
from core.timeutil import local_date
from tests.factories import unique
from tests.querycount import count_statements


def page(response) -> str:
    return response.get_data(as_text=True)


def english(web) -> None:
    web.post("/lang", {"lang": "en", "next": "/console/"})


def today(store):
    return local_date(utcnow(), store.timezone)


def task_of(app_engine, task_id) -> CallbackTask:
    with Session(app_engine) as s:
        task = s.get(CallbackTask, task_id)
        s.expunge_all()
        return task


@pytest.fixture
def desk(signed_in, committed):
    """A signed-in CS agent (English) and a dormant customer to call today."""
    web, agent, store = signed_in("cs_agent")
    english(web)
    anna = committed.consultant(store, name="Anna", cap=5)
    customer = committed.customer(store, surname="周", mobile=f"137{unique():08d}")
    opp = committed.opportunity(customer, grade="C", dormant_by=anna.id)
    task = committed.callback_task(
        customer, kind="dormant", due_on=today(store), opportunity_id=opp.id, consultant_id=anna.id
    )
    return web, agent, store, anna, customer, opp, task


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["consultant", "admin"])
def test_the_callback_pages_are_for_customer_service_and_managers(signed_in, committed, role):
    web, _user, store = signed_in(role)
    task = committed.callback_task(committed.customer(store), due_on=today(store))
    assert web.get("/console/callbacks").status_code == 403
    assert web.get(f"/console/callbacks/{task.id}").status_code == 403
    for action in ("claim", "release", "reveal", "record"):
        assert web.post(f"/console/callbacks/{task.id}/{action}").status_code == 403, action
    assert web.post("/console/callbacks/hand-out").status_code == 403
    assert 'href="/console/callbacks"' not in page(web.get("/console/"))


def test_the_menu_leads_customer_service_to_the_worklist(desk):
    web, *_ = desk
    home = page(web.get("/console/"))
    assert 'href="/console/callbacks"' in home
    assert "1 callback today: open the worklist" in home
    html = page(web.get("/console/callbacks"))
    assert "Callbacks today" in html and "周" in html


def test_another_stores_task_is_not_found(desk, committed):
    web, *_ = desk
    theirs = committed.callback_task(committed.customer(committed.store()))
    assert web.get(f"/console/callbacks/{theirs.id}").status_code == 404
    for action in ("claim", "release", "reveal", "record"):
        assert web.post(f"/console/callbacks/{theirs.id}/{action}").status_code == 404, action


# --- the worklist --------------------------------------------------------------------------------


def test_the_worklist_filters_by_kind_and_pages(signed_in, committed):
    web, _agent, store = signed_in("cs_agent")
    english(web)
    for _ in range(27):
        committed.callback_task(
            committed.customer(store, surname="钱"), kind="dormant", due_on=today(store)
        )
    committed.callback_task(
        committed.customer(store, surname="欧阳"),
        kind="stalled",
        due_on=today(store) - timedelta(days=1),
        stall_rule="cycle",
        overdue_days=4,
    )
    html = page(web.get("/console/callbacks"))
    assert "Page 1 of 2" in html and html.count('class="cb-row') == 25
    assert "欧阳" in html and "1 day overdue" in html and "No revisit within the cycle" in html
    second = page(web.get("/console/callbacks?page=2"))
    assert second.count('class="cb-row') == 3
    stalled = page(web.get("/console/callbacks?kind=stalled"))
    assert stalled.count('class="cb-row') == 1 and "欧阳" in stalled
    assert 'aria-current="page" ' not in stalled or "Stalled" in stalled


@pytest.mark.parametrize("path", ["/console/callbacks", "/console/callbacks?kind=dormant&page=2"])
def test_the_worklist_issues_the_same_statements_for_10_or_10000_tasks(
    signed_in, committed, app_engine, path
):
    web, _agent, store = signed_in("cs_agent")
    anna = committed.consultant(store)
    day = today(store)

    def add_tasks(n: int) -> None:
        with Session(app_engine) as s:
            first = unique() * 100_000
            s.execute(
                insert(Customer),
                [
                    {
                        "store_id": store.id,
                        "mobile": f"15{first + i:09d}"[-11:],
                        "surname": "李",
                        "title": "ms",
                        "do_not_contact": False,
                    }
                    for i in range(n)
                ],
            )
            ids = s.scalars(
                select(Customer.id)
                .where(Customer.store_id == store.id)
                .order_by(Customer.id.desc())
                .limit(n)
            ).all()
            s.execute(
                insert(CallbackTask),
                [
                    {
                        "store_id": store.id,
                        "customer_id": cid,
                        "kind": ("dormant", "stalled", "defeat", "retry")[i % 4],
                        "due_on": day - timedelta(days=i % 3),
                        "consultant_id": anna.id,
                        "attempt": 1,
                        "status": "open",
                        "created_at": utcnow(),
                    }
                    for i, cid in enumerate(ids)
                ],
            )
            s.commit()

    add_tasks(10)
    with count_statements(app_engine) as small:
        response = web.get(path)
    assert response.status_code == 200
    add_tasks(9_990)
    with count_statements(app_engine) as large:
        response = web.get(path)
    assert response.status_code == 200
    assert len(small) == len(large), (len(small), len(large))
    assert page(response).count('class="cb-row') == 25  # one page of rows, not 10,000


# --- claiming, the number, recording ------------------------------------------------------------


def test_claim_reveal_and_record_a_call_not_reached(desk, app_engine):
    web, agent, _store, _anna, customer, _opp, task = desk
    html = page(web.get(f"/console/callbacks/{task.id}"))
    assert "Claim and call" in html and customer.mobile not in html
    assert 'id="callback-form"' not in html
    response = web.post(f"/console/callbacks/{task.id}/claim")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{task.id}")
    html = page(web.get(f"/console/callbacks/{task.id}"))
    assert 'id="callback-form"' in html and "Show number" in html
    assert "Call 1 of 3" in html

    revealed = web.post(f"/console/callbacks/{task.id}/reveal", headers={"HX-Request": "true"})
    assert customer.mobile in page(revealed) and "<html" not in page(revealed)
    with Session(app_engine) as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "reveal_mobile", AuditEvent.entity_id == customer.id)
            )
            == 1
        )
    full = web.post(f"/console/callbacks/{task.id}/reveal")  # without script: the whole page
    assert customer.mobile in page(full) and 'id="callback-form"' in page(full)

    response = web.post(f"/console/callbacks/{task.id}/record", {"call_result": "busy"})
    assert response.status_code == 302
    assert "called again tomorrow" in page(web.get(response.headers["Location"]))
    done = task_of(app_engine, task.id)
    assert (done.status, done.outcome, done.completed_by) == ("done", "unreachable", agent.id)


def test_a_validation_error_keeps_everything_typed_and_shows_the_right_sections(desk, app_engine):
    web, _agent, _store, _anna, _customer, _opp, task = desk
    web.post(f"/console/callbacks/{task.id}/claim")
    typed = {
        "call_result": "reached",
        "remembers_consultant": "yes",
        "satisfaction": "3",
        "received_follow_up": "no",
        "has_bought": "no",
        "would_revisit": "yes",
        "concerns": "担心保值率",
        "other_brands": "大众、本田",
        "outcome": "invite_back",
        "invite_date": "",
        "invite_time": "10:00",
        "note": "下午再确认时间",
    }
    response = web.post(f"/console/callbacks/{task.id}/record", typed)
    assert response.status_code == 422
    html = page(response)
    assert 'id="same_consultant_ok-error"' in html and 'id="invite_at-error"' in html
    assert "Choose the date and time of the appointment, in the future." in html
    for value in ("担心保值率", "大众、本田", "下午再确认时间", 'value="10:00"'):
        assert value in html
    for checked in (
        'id="call_result-reached" name="call_result" value="reached" checked',
        'id="satisfaction-3" name="satisfaction" value="3" checked',
        'id="outcome-invite_back" name="outcome" value="invite_back" checked',
    ):
        assert checked in html
    # the not-bought questions and the appointment show; the bought ones stay hidden
    assert 'data-when="has_bought=no">' in html and 'data-when="outcome=invite_back" id' not in html
    assert 'data-when="has_bought=yes" hidden' in html
    assert task_of(app_engine, task.id).status == "open"


def test_recording_an_invitation_back_to_the_same_consultant(desk, app_engine):
    web, _agent, store, anna, customer, opp, task = desk
    web.post(f"/console/callbacks/{task.id}/claim")
    day = today(store) + timedelta(days=3)
    response = web.post(
        f"/console/callbacks/{task.id}/record",
        {
            "call_result": "reached",
            "remembers_consultant": "yes",
            "satisfaction": "4",
            "received_follow_up": "yes",
            "has_bought": "no",
            "bought_reason": "ignored",
            "would_revisit": "yes",
            "same_consultant_ok": "yes",
            "outcome": "invite_back",
            "invite_date": day.isoformat(),
            "invite_time": "14:30",
        },
    )
    assert response.status_code == 302
    assert "with Anna" in page(web.get(response.headers["Location"]))
    with Session(app_engine) as s:
        o = s.get(Opportunity, opp.id)
        assert (o.owner_id, o.grade) == (anna.id, None)
        answers = s.get(CallbackAnswers, task.id)
        assert answers.bought_reason is None and answers.same_consultant_ok is True
    # the consultant sees the answers on the customer page
    profile = page(web.get(f"/console/customers/{customer.id}"))
    assert "Same consultant may follow up" in profile and "Invited back" in profile


def test_another_agents_claim_is_refused_with_a_message(desk, signed_in, committed, app_engine):
    web, _agent, store, *_rest, task = desk
    other, _user, _store = signed_in("cs_agent", store=store)
    english(other)
    other.post(f"/console/callbacks/{task.id}/claim")
    assert "Being called by" in page(web.get("/console/callbacks"))
    response = web.post(f"/console/callbacks/{task.id}/claim")
    assert response.status_code == 302
    assert "Another agent is calling this customer." in page(web.get(response.headers["Location"]))
    response = web.post(f"/console/callbacks/{task.id}/record", {"call_result": "busy"})
    assert response.status_code == 302 and task_of(app_engine, task.id).status == "open"
    assert web.post(f"/console/callbacks/{task.id}/reveal").status_code == 302


def test_release_gives_the_task_back(desk, app_engine):
    web, *_rest, task = desk
    web.post(f"/console/callbacks/{task.id}/claim")
    response = web.post(f"/console/callbacks/{task.id}/release")
    assert response.status_code == 302
    assert task_of(app_engine, task.id).claimed_by is None


def test_a_manager_may_look_and_cover_the_phones(signed_in, committed, app_engine):
    web, manager, store = signed_in("manager")
    task = committed.callback_task(committed.customer(store), due_on=today(store))
    assert web.get("/console/callbacks").status_code == 200
    web.post(f"/console/callbacks/{task.id}/claim")
    web.post(f"/console/callbacks/{task.id}/record", {"call_result": "wrong_number"})
    done = task_of(app_engine, task.id)
    assert (done.status, done.outcome, done.completed_by) == ("done", "gave_up", manager.id)


def test_hand_out_the_pool_now(signed_in, committed, app_engine):
    web, _manager, store = signed_in("manager")
    english(web)
    bob = committed.consultant(store, name="Bob", cap=3)
    committed.consultant(store, name="Zed", cap=0)
    waiting = committed.opportunity(committed.customer(store), in_pool=True)
    assert "1 customer is in the refill pool" in page(web.get("/console/callbacks"))
    response = web.post("/console/callbacks/hand-out")
    html = page(web.get(response.headers["Location"]))
    assert "1 customer was handed to a consultant." in html and "Bob: 1" in html
    assert "Zed (At load cap)" in html
    with Session(app_engine) as s:
        assert s.get(Opportunity, waiting.id).owner_id == bob.id


def test_the_task_screen_issues_a_fixed_number_of_statements(desk, committed, app_engine):
    web, _agent, _store, anna, customer, opp, task = desk
    web.post(f"/console/callbacks/{task.id}/claim")
    with count_statements(app_engine) as small:
        assert web.get(f"/console/callbacks/{task.id}").status_code == 200
    for _ in range(12):
        committed.visit(customer, consultant=anna, opportunity_id=opp.id)
    with count_statements(app_engine) as large:
        assert web.get(f"/console/callbacks/{task.id}").status_code == 200
    assert len(small) == len(large)
