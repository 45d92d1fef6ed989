"""The kiosk in a database outage (issue 15, finding 3): the visitor sees a page in the kiosk's
look and language that says to see the desk, what they typed is kept, the page asks the
server by itself and goes back to their step once the service answers."""

from __future__ import annotations

import re

from sqlalchemy.exc import OperationalError

from kiosk import views as kiosk_views
from tests.integration.test_kiosk import enrolled, new_visitor, visits


class _Gone(Exception):
    pass


def outage(*_args, **_kwargs):
    raise OperationalError("INSERT", {}, _Gone("connection refused"))


def test_an_outage_at_the_last_step_keeps_the_visit_and_comes_back_to_it(
    app, committed, monkeypatch
):
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    tablet = enrolled(app, committed, store)
    new_visitor(tablet, mobile="13912340077")
    with monkeypatch.context() as m:
        m.setattr(kiosk_views, "check_in", outage)
        response = tablet.post("/kiosk/consent", {"consent": "yes"})
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "签到暂时无法使用" in page and "kiosk-error" in page
    assert re.search(r'data-kiosk-retry="/kiosk/consent"', page)
    assert 'data-health-url="/healthz"' in page
    assert visits(committed, store) == []  # nothing saved half-way
    # the service is back: the page returns to the step, with everything typed still there
    response = tablet.get("/kiosk/consent")
    assert response.status_code == 200
    response = tablet.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 303 and response.location.endswith("/kiosk/done")
    [visit] = visits(committed, store)
    assert visit.consultant_id is not None


def test_another_error_still_starts_afresh(app, committed, monkeypatch):
    store = committed.store(name="滨江店")
    tablet = enrolled(app, committed, store)
    new_visitor(tablet, mobile="13912340078")

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(kiosk_views, "check_in", broken)
    response = tablet.post("/kiosk/consent", {"consent": "yes"})
    assert response.status_code == 500 and "data-kiosk-retry" not in response.get_data(True)
