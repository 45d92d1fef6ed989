"""The database going away at the very end of a request, at its commit (found by `make loadtest`:
a PostgreSQL stopped while requests were in flight answered a kiosk page with a 500). The
request has done its work; its COMMIT fails. Nothing was saved, so the answer is the outage's
(503, in the area's look), and the session is as the request found it: what the view changed
in it (a check-in taken off the tablet as done, a flash) is not kept either."""

from __future__ import annotations

import re

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.stores.models import ConsultantSettings
from extensions import db
from tests.integration.test_kiosk import enrolled, new_visitor, visits


class _Gone(Exception):
    pass


def failing_commit(*_args, **_kwargs):
    raise OperationalError("COMMIT", {}, _Gone("terminating connection"))


def test_a_check_in_whose_commit_fails_is_kept_on_the_tablet(app, committed, monkeypatch):
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    tablet = enrolled(app, committed, store)
    new_visitor(tablet, mobile="13912340091")
    with monkeypatch.context() as m:
        m.setattr(db.session, "commit", failing_commit)
        response = tablet.post("/kiosk/consent", {"consent": "yes"})
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "kiosk-error" in page and re.search(r'data-kiosk-retry="/kiosk/consent"', page)
    assert "no-store" in response.headers["Cache-Control"]
    assert visits(committed, store) == []  # the check-in's rows were not committed
    # the service is back: the visitor's step and what they typed are still there
    assert tablet.get("/kiosk/consent").status_code == 200
    response = tablet.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    assert len(visits(committed, store)) == 1


def test_a_kiosk_page_whose_commit_fails_is_the_outage_page(app, committed, monkeypatch):
    store = committed.store(name="滨江店")
    tablet = enrolled(app, committed, store)
    monkeypatch.setattr(db.session, "commit", failing_commit)
    response = tablet.get("/kiosk/")
    assert response.status_code == 503
    assert "kiosk-error" in response.get_data(as_text=True)


def test_a_console_change_whose_commit_fails_says_nothing_was_saved(
    signed_in, app_engine, monkeypatch
):
    web, user, _store = signed_in("consultant")
    token_page = web.get("/console/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', token_page).group(1)
    with monkeypatch.context() as m:
        m.setattr(db.session, "commit", failing_commit)
        response = web.client.post(
            "/console/presence", data={"csrf_token": token, "presence": "on_duty"}
        )
    assert response.status_code == 503
    assert "无法连接数据库" in response.get_data(as_text=True)
    with Session(app_engine) as s:
        assert s.get(ConsultantSettings, user.id).presence == "off_duty"
    # the flash of the change that was not saved is not shown on the next page either
    assert "您的状态" not in web.get("/console/").get_data(as_text=True)
