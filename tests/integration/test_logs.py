"""No personal data in the logs (issue 16, finding 6), and one line per request.

Everything is captured at DEBUG, SQLAlchemy's and werkzeug's loggers included: a check-in at
the kiosk, a customer search by number, the desk's look-up while the number is typed, requests
whose SQL fails with the number among its parameters (an error, a constraint PostgreSQL quotes
the failing row of, an OperationalError) and a request line of the development server. No log
line holds the number, neither its 11 digits nor the number in groups."""

from __future__ import annotations

import logging
import random
import threading
import urllib.request
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from jobs import runtime
from tests.integration.conftest import Browser, new_client
from tests.integration.test_kiosk import enrolled, new_visitor

REQUEST_ID_HEADER = "X-Request-ID"
LOGGERS = ("sqlalchemy", "sqlalchemy.engine", "werkzeug", "rq", "jobs", "showroom", "wsgi")


def a_mobile() -> str:
    return f"139{random.randrange(10**8):08d}"


def grouped(mobile: str) -> str:
    return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"


@pytest.fixture
def everything(caplog):
    """Every logger at DEBUG, into caplog."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "showroom.requests"]


def assert_no_number(caplog, *mobiles: str) -> None:
    outputs = [caplog.text] + [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for mobile in mobiles:
        for form in (mobile, grouped(mobile), quote(grouped(mobile)), quote_plus(grouped(mobile))):
            for output in outputs:
                assert form not in output, f"{form!r} logged:\n{output[:3000]}"


def _fail_with(statement: str, mobile: str):
    """A customer search whose SQL fails, with the number among the statement's values."""

    def search(session, *args, **kw):
        session.execute(text(statement), {"p_mobile": mobile, "p_surname": "周"})
        raise AssertionError("the statement should have failed")

    return search


def test_no_mobile_number_in_any_log_line(app, committed, signed_in, everything, monkeypatch):
    walk_in, known, typed = a_mobile(), a_mobile(), a_mobile()
    desk, agent, store = signed_in("cs_agent")
    customer = committed.customer(store, surname="周", mobile=known)
    committed.consultant(store, name="张伟")

    # A visitor checks in at the kiosk.
    kiosk = enrolled(app, committed, store)
    new_visitor(kiosk, mobile=grouped(walk_in))
    assert kiosk.post("/kiosk/consent", {"consent": "yes"}).status_code == 303
    assert kiosk.client.get("/kiosk/done").status_code == 200

    # Customer service searches a customer by number and opens them.
    found = desk.get(f"/console/customers?q={known}")
    assert found.status_code == 200 and f"/console/customers/{customer.id}" in found.text
    assert desk.get(f"/console/customers?q={quote(grouped(known))}").status_code == 200
    assert desk.get(f"/console/customers/{customer.id}").status_code == 200

    # The desk's look-up while a number is typed, and a check-in by hand.
    for mobile in (known, grouped(typed)):
        assert desk.post("/console/reception/lookup", {"mobile": mobile}).status_code == 200
    form = {"mobile": typed, "surname": "冯", "title": "mr", "purpose": "look", "party_size": "1"}
    assert desk.post("/console/reception/check-in", form).status_code == 302

    # Requests whose SQL fails with the number among its values.
    failures = [
        "SELECT id FROM customers WHERE mobile = :p_mobile AND no_such_column = 1",
        # PostgreSQL quotes the failing row: "Failing row contains (…, 139…, 周, …)".
        "INSERT INTO customers (store_id, mobile, surname) VALUES (NULL, :p_mobile, :p_surname)",
    ]
    for statement in failures:
        monkeypatch.setattr("console.views.search_customers", _fail_with(statement, known))
        response = desk.get(f"/console/customers?q={known}")
        assert response.status_code in (500, 503)

    def operational(session, *args, **kw):
        raise OperationalError(
            "SELECT * FROM customers WHERE mobile = %(p_mobile)s",
            {"p_mobile": known},
            ConnectionError(f"lost the connection while looking up {known}"),
        )

    monkeypatch.setattr("console.views.search_customers", operational)
    assert desk.get(f"/console/customers?q={known}").status_code == 503

    # The development server's own request line (werkzeug), with the number in the query.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for q in (known, quote(grouped(known)), quote_plus(grouped(known))):
            url = f"http://127.0.0.1:{server.server_port}/console/customers?q={q}"
            with urllib.request.urlopen(url, timeout=10) as answer:  # to the sign-in page
                assert answer.status == 200
    finally:
        server.shutdown()

    # The capture was live: SQL, the request lines and the errors' tracebacks are all there.
    records = everything.records
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    assert any(r.name == "werkzeug" and "/console/customers" in r.getMessage() for r in records)
    assert any(r.exc_info and "unhandled error" in r.getMessage() for r in records)
    assert any("database unavailable" in r.getMessage() for r in records)
    lines = request_lines(everything)
    assert len(lines) >= 15
    assert any(f"kiosk={_kiosk_id(committed, store)}" in r.getMessage() for r in lines)
    assert any(f"user={agent.id}" in r.getMessage() for r in lines)
    for line in lines:
        assert "?" not in line.getMessage() and "周" not in line.getMessage()
    assert_no_number(everything, walk_in, known, typed)


def _kiosk_id(committed, store) -> int:
    from sqlalchemy import select

    from core.stores.models import KioskDevice

    return committed.session.scalars(
        select(KioskDevice.id).where(KioskDevice.store_id == store.id)
    ).one()


def test_one_line_per_request_with_a_request_id(app, committed, signed_in, everything):
    web, user, _store = signed_in("manager")
    everything.clear()
    response = web.get("/console/team?page=2")
    [line] = request_lines(everything)
    message = line.getMessage()
    request_id = response.headers[REQUEST_ID_HEADER]
    assert len(request_id) == 32
    assert message.startswith("request method=GET path=/console/team status=200 duration_ms=")
    assert f"request_id={request_id} user={user.id} kiosk=-" in message
    assert line.http["status"] == 200 and line.http["duration_ms"] >= 0
    assert user.display_name not in message

    # A proxy's id is kept; one that is not sane (or smuggles a number) is replaced.
    everything.clear()
    given = "proxy-6f1c2a9e-0c4b-4d1e"
    assert (
        web.get("/console/team", headers={REQUEST_ID_HEADER: given}).headers[REQUEST_ID_HEADER]
        == given
    )
    assert f"request_id={given}" in request_lines(everything)[0].getMessage()
    for bad in ("x", "has space in it", "a" * 200, "13912345678", "id;drop", "<script>x"):
        returned = web.get("/console/team", headers={REQUEST_ID_HEADER: bad}).headers[
            REQUEST_ID_HEADER
        ]
        assert returned != bad and len(returned) == 32

    # A request that fails is one line too, with its status; signed-out requests have no user.
    everything.clear()
    anonymous = Browser(new_client(app))
    assert anonymous.get("/no/such/page").status_code == 404
    [line] = request_lines(everything)
    assert "path=/no/such/page status=404" in line.getMessage() and "user=-" in line.getMessage()


def test_every_engine_hides_the_parameters(app, app_engine):
    """An error's text never quotes a statement's values: the app's engine and a bare RQ
    worker's (jobs/runtime.py) both hide them."""
    assert app_engine.hide_parameters is True
    worker = runtime._worker_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        assert worker.hide_parameters is True
    finally:
        runtime._ENGINES.pop(app.config["SQLALCHEMY_DATABASE_URI"], None)
        worker.dispose()
