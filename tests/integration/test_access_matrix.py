"""The access matrix (issue 16): every route of the URL map x every kind of client, with the
answer expected. The table below is written by hand, not read from the views, so a route whose
protection changes, or a new route without an entry, fails here.

Clients: signed out, an enrolled kiosk, customer service, a consultant (on their own customer),
a manager, an admin, and a manager of another store (on this store's records)."""

from __future__ import annotations

import re

import pytest

from core.stores import kiosks
from tests.integration.conftest import Browser, csrf_token, new_client
from web.kiosk_device import KIOSK_COOKIE

CS, CONSULTANT, MANAGER, ADMIN = "cs_agent", "consultant", "manager", "admin"
STAFF = {CS, CONSULTANT, MANAGER, ADMIN}
PUBLIC = "public"  # anyone, the kiosk too
KIOSK = "kiosk"  # an enrolled kiosk only
LOBBY = "lobby"  # the arrivals board: an enrolled device or anyone signed in

# endpoint -> who may use it
ROUTES: dict[str, set[str] | str] = {
    "web.index": PUBLIC,
    "web.healthz": PUBLIC,
    "web.switch_language": PUBLIC,
    "lobby.board": LOBBY,
    "lobby.live_board": LOBBY,
    "console.login": {"anonymous", *STAFF},
    "kiosk.enrol": PUBLIC,
    "kiosk.welcome": KIOSK,
    "kiosk.unknown": KIOSK,
    "kiosk.mobile": KIOSK,
    "kiosk.confirm": KIOSK,
    "kiosk.name": KIOSK,
    "kiosk.interest": KIOSK,
    "kiosk.consent": KIOSK,
    "kiosk.done": KIOSK,
    "kiosk.language": PUBLIC,  # the enrolment page has the language switch too
    "kiosk.reset": KIOSK,
    "console.home": STAFF,
    "console.account": STAFF,
    "console.logout": STAFF,
    "console.logout_everywhere": STAFF,
    "console.customers": {CS, CONSULTANT, MANAGER},
    "console.customer": {CS, CONSULTANT, MANAGER},
    "console.reveal": {CONSULTANT, MANAGER},  # customer service: on a claimed call only
    "console.contact_again": {CS, MANAGER},
    "console.lift_decline": {MANAGER},
    "console.pipl_export": {CS, MANAGER},
    "console.pipl_correct": {CS, MANAGER},
    "console.pipl_withdraw": {CS, MANAGER},
    "console.pipl_delete": {MANAGER},
    "console.team": {MANAGER},
    "console.staff": {MANAGER, ADMIN},
    "console.nightly": {MANAGER, ADMIN},
    "console.system": {ADMIN},
    "console.analytics": {MANAGER, ADMIN},
    "console.analytics_export": {MANAGER, ADMIN},
    "console.rules": {MANAGER},
    "console.rules_dispatch": {MANAGER},
    "console.rules_scoring": {MANAGER},
    "console.reassign": {MANAGER},
    "console.worklist": {CS, MANAGER},
    "console.hand_out": {CS, MANAGER},
    "console.callback": {CS, MANAGER},
    "console.callback_claim": {CS, MANAGER},
    "console.callback_release": {CS, MANAGER},
    "console.callback_reveal": {CS, MANAGER},
    "console.callback_record": {CS, MANAGER},
    "console.reception": {CS, MANAGER},
    "console.reception_live": {CS, MANAGER},
    "console.reception_check_in": {CS, MANAGER},
    "console.reception_lookup": {CS, MANAGER},
    "console.reception_visit": {CS, MANAGER},
    "console.reception_left": {CS, MANAGER},
    "console.reception_reassign": {CS, MANAGER},
    "console.presence": {CONSULTANT},
    "console.arrivals": {CONSULTANT},
    "console.arrival_start": {CONSULTANT},
    "console.arrival_end": {CONSULTANT},
    "console.outcome": {CONSULTANT},
    "console.order": {CONSULTANT},
    "console.assess": {CONSULTANT},
    "console.assessment": {CS, CONSULTANT, MANAGER},  # the one rule: core's need to know
    "console.follow_up": {CONSULTANT},
    "console.defeat": {CONSULTANT},
}
CLIENTS = ["anonymous", KIOSK, CS, CONSULTANT, MANAGER, ADMIN, "other_store"]


@pytest.fixture(scope="module")
def world(app):
    from sqlalchemy.orm import Session

    from extensions import db
    from tests.factories import Factory

    with app.app_context():
        engine = db.engine
    with Session(engine, expire_on_commit=False) as session:
        f = Factory(session, commit=True)
        store, elsewhere = f.store(name="矩阵店"), f.store(name="别家店")
        anna, bob = f.consultant(store, name="Anna"), f.consultant(store, name="Bob")
        customer = f.customer(store)
        opportunity = f.opportunity(customer, owner=anna, grade="A")
        visit = f.visit(customer, consultant=anna)
        task = f.callback_task(customer, due_on=visit.checked_in_at.date())
        decline = f.decline(customer, bob)
        assessment = f.assessment_at(opportunity, anna, visit.checked_in_at)
        ids = {
            "customer_id": customer.id,
            "opportunity_id": opportunity.id,
            "visit_id": visit.id,
            "task_id": task.id,
            "decline_id": decline.id,
            "assessment_id": assessment.id,
            "name": "funnel",
            "fmt": "csv",
            "anything": "nowhere",
        }
        agent = f.user(store, CS)
        token = kiosks.enrol(session, store_id=store.id, name="矩阵", role=CS, user_id=agent.id)
        users = {CS: agent, CONSULTANT: anna, MANAGER: f.user(store, MANAGER)}
        users[ADMIN] = f.user(store, ADMIN)
        users["other_consultant"] = bob
        users["other_store"] = f.user(elsewhere, MANAGER)
        session.commit()
    return ids, token, users


def _client(app, who, world):
    _, token, users = world
    web = Browser(new_client(app))
    if who == KIOSK:
        web.client.set_cookie(KIOSK_COOKIE, token)
    elif who != "anonymous":
        assert web.login(users[who]).status_code == 302
    return web


def _url(rule, ids):
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(ids[m.group(1)]), rule.rule)


def _expected(endpoint, who):
    allowed = ROUTES[endpoint]
    if allowed == PUBLIC:
        return "open"
    if allowed == KIOSK:
        return "open" if who == KIOSK else "to enrolment"
    if allowed == LOBBY:
        return "to sign-in" if who == "anonymous" else "open"
    if who == KIOSK:
        return "forbidden"  # a kiosk opens no console page, not even the sign-in
    if who == "anonymous":
        return "open" if "anonymous" in allowed else "to sign-in"
    role = MANAGER if who == "other_store" else who
    return "open" if role in allowed else "forbidden"


def _answer(response):
    status, where = response.status_code, response.headers.get("Location", "")
    if status == 403:
        return "forbidden"
    if status in (301, 302, 303) and "/console/login" in where:
        return "to sign-in"
    if status in (301, 302, 303) and "/kiosk/enrol" in where:
        return "to enrolment"
    return "open"


def _ask(web, method, url, token):
    if method == "GET":
        return web.client.get(url)
    return web.client.post(url, data={"csrf_token": token})


def test_every_route_has_an_entry(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()} - {"static"}
    assert endpoints - ROUTES.keys() == set(), "a route without an entry in the matrix"
    assert ROUTES.keys() - endpoints == set(), "an entry for a route that is gone"


@pytest.mark.parametrize("who", CLIENTS)
def test_the_matrix(app, world, who):
    ids = world[0]
    web = _client(app, who, world)
    token = csrf_token(web.client, "/kiosk/enrol" if who in ("anonymous", KIOSK) else "/")
    wrong = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint in (
            "console.logout",
            "console.logout_everywhere",
        ):
            continue
        url = _url(rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = _ask(web, method, url, token)
            expected, got = _expected(rule.endpoint, who), _answer(response)
            if who == "other_store" and expected == "open" and rule.arguments - {"name", "fmt"}:
                # another store's record: never shown, never changed
                if response.status_code not in (403, 404):
                    wrong.append((method, url, "404 expected", response.status_code))
                continue
            assert response.status_code < 500, (method, url)
            if got != expected:
                wrong.append((method, url, expected, got, response.status_code))
    assert not wrong, "\n".join(map(str, wrong))


def test_a_consultant_gets_nothing_of_another_consultants_customer(app, world):
    """Bob, on every route that names Anna's customer, their opportunity or its needs analysis:
    refused (403) or sent away with the reason (a redirect), never the page."""
    ids = world[0]
    web = _client(app, "other_consultant", world)
    token = csrf_token(web.client, "/")
    names = {"customer_id", "opportunity_id", "assessment_id"}
    shown = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments & names or CONSULTANT not in ROUTES[rule.endpoint]:
            continue
        url = _url(rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = _ask(web, method, url, token)
            if response.status_code not in (302, 303, 403, 404):
                shown.append((method, url, response.status_code))
    assert not shown, shown
