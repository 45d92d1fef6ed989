"""No input gives a 500 (issue 16, finding 5): hypothesis posts random and hostile values to
every route of the URL map, in its path, its query string and its form, as every kind of
client (signed out, a kiosk, customer service, a consultant, a manager, an admin) with a valid
session and form token. Also the cases that used to crash, one by one."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.stores import kiosks
from tests.integration.conftest import Browser, csrf_token, new_client
from web.kiosk_device import KIOSK_COOKIE

HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "2147483648",
    "99999999999",
    "99999999999999999999",
    "1e309",
    "NaN",
    "１２３",
    "²",
    "\x00",
    "李\x00",
    "a\x1bb",
    "\r\n",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "../../etc/passwd",
    "none",
    "pool",
    "yes",
    "zh",
    "en",
    "2026-02-30",
    "2026-12-01",
    "25:61",
    "x" * 300,
]
FIELDS = [
    "mobile", "surname", "title", "car_model", "purpose", "party_size", "consent", "username",
    "password", "name", "q", "page", "reason", "note", "kind", "from", "to", "preset", "store",
    "consultant", "presence", "outcome", "grade", "due_on", "next", "lang", "tab", "action",
    "default_cap", "competitor_brand", "satisfaction", "would_revisit", "ids", "sig", "visit",
    "consultant_id", "period_from", "period_to", "answer", "confirm",
]  # fmt: skip
LEAVES_THE_SESSION = {"console.logout", "console.logout_everywhere", "kiosk.reset"}
CLIENTS = ["anonymous", "kiosk", "cs_agent", "consultant", "manager", "admin"]

text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24),
    st.integers(-(2**63), 2**64).map(str),
)


@pytest.fixture(scope="module")
def world(app, request):
    """A store with a record of every kind, and a signed-in client of every kind."""
    from sqlalchemy.orm import Session

    from extensions import db
    from tests.factories import Factory

    with app.app_context():
        engine = db.engine
    with Session(engine, expire_on_commit=False) as session:
        f = Factory(session, commit=True)
        store = f.store(name="模糊测试店")
        anna = f.consultant(store, name="Anna")
        customer = f.customer(store)
        opportunity = f.opportunity(customer, owner=anna, grade="A")
        visit = f.visit(customer, consultant=anna)
        task = f.callback_task(customer, due_on=visit.checked_in_at.date())
        ids = [customer.id, opportunity.id, visit.id, task.id, 1, 2]
        clients = {"anonymous": Browser(new_client(app))}
        agent = f.user(store, "cs_agent")
        token = kiosks.enrol(
            session, store_id=store.id, name="fuzz", role="cs_agent", user_id=agent.id
        )
        session.commit()
        tablet = Browser(new_client(app))
        tablet.client.set_cookie(KIOSK_COOKIE, token)
        clients["kiosk"] = tablet
        for role in ("cs_agent", "consultant", "manager", "admin"):
            user = anna if role == "consultant" else f.user(store, role)
            web = Browser(new_client(app))
            assert web.login(user).status_code == 302
            clients[role] = web
    tokens = {
        name: csrf_token(web.client, "/kiosk/enrol" if name in ("kiosk", "anonymous") else "/")
        for name, web in clients.items()
    }
    return clients, tokens, ids


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _path(rule, data, ids):
    path = rule.rule
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        if converter in ("BoundedInt", "IntegerConverter"):
            value = data.draw(
                st.one_of(st.sampled_from(ids), st.integers(0, 2**40), st.just(2**31)), name
            )
        else:
            value = data.draw(st.sampled_from(["csv", "xlsx", "funnel", "x", "a/b", "%00"]), name)
        path = re.sub(rf"<[^>]*{name}>", str(value), path)
    return path


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_route_answers_500_to_any_input(app, world, data):
    clients, tokens, ids = world
    routes = sorted(_routes(app), key=lambda r: (r[0].rule, r[1]))
    rule, method = data.draw(st.sampled_from(routes), "route")
    allowed = sorted(getattr(app.view_functions[rule.endpoint], "_roles", ()))
    # mostly a client the route serves (its code runs), sometimes anyone
    who = data.draw(
        st.sampled_from(allowed)
        if allowed and data.draw(st.integers(0, 4))
        else st.sampled_from(CLIENTS),
        "client",
    )
    if rule.endpoint in LEAVES_THE_SESSION and who != "anonymous":
        who = "anonymous"
    web = clients[who]
    path = _path(rule, data, ids)
    # many names at once: the route reads the ones it knows
    query = data.draw(
        st.dictionaries(st.sampled_from(FIELDS), text, min_size=3, max_size=12), "query"
    )
    if method == "GET":
        response = web.client.get(path, query_string=query)
    else:
        form = data.draw(
            st.dictionaries(st.sampled_from(FIELDS), text, min_size=3, max_size=20), "form"
        )
        form["csrf_token"] = tokens[who]
        response = web.client.post(path, query_string=query, data=form)
    assert response.status_code < 500, (method, path, query, response.status_code)


# --- the inputs that used to crash, one by one ---------------------------------------------------


def test_ids_and_pages_beyond_the_columns_are_not_found_or_the_first_page(signed_in, committed):
    web, _, _ = signed_in("manager")
    assert web.get("/console/customers/2147483648").status_code == 404
    assert web.get("/console/customers/99999999999999999999").status_code == 404
    assert web.get("/console/callbacks/2147483648").status_code == 404
    assert web.get("/console/customers?page=99999999999999999999").status_code == 200
    assert web.get("/console/customers?page=-3").status_code == 200
    assert web.get("/console/callbacks?page=99999999999999999999").status_code == 200


def test_a_nul_byte_is_refused_before_any_view(client, signed_in):
    form = {"csrf_token": csrf_token(client, "/kiosk/enrol"), "username": "a\x00", "password": "x"}
    assert client.post("/kiosk/enrol", data=form).status_code == 400  # before sign-in
    web, _, _ = signed_in("manager")
    assert web.get("/console/customers", query_string={"q": "李\x00"}).status_code == 400
    assert (
        web.get("/console/reception/lookup", query_string={"mobile": "139\x1b"}).status_code == 400
    )


def test_a_control_character_typed_in_a_field_gets_a_message_next_to_it(app, committed):
    from tests.integration.test_kiosk import enrolled

    store = committed.store()
    committed.consultant(store)
    kiosk = enrolled(app, committed, store)
    kiosk.get("/kiosk/mobile")
    assert kiosk.post("/kiosk/mobile", {"mobile": "13912349876"}).status_code == 303
    response = kiosk.post("/kiosk/name", {"surname": "李\x1b", "title": "ms"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "无法保存的字符" in page
    assert 'value="李"' in page  # what was typed, without the character that cannot be saved


def test_a_car_model_beyond_the_column_gets_the_fields_message(app, committed):
    from tests.integration.test_kiosk import enrolled

    store = committed.store()
    committed.consultant(store)
    kiosk = enrolled(app, committed, store)
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912349877"})
    kiosk.post("/kiosk/name", {"surname": "李", "title": "ms"})
    response = kiosk.post(
        "/kiosk/interest", {"car_model": "99999999999", "purpose": "look", "party_size": "1"}
    )
    assert response.status_code == 422 and "请从列表中选择车型" in response.get_data(as_text=True)
