"""Sessions that can be ended (issue 16, finding 2), through HTTP: a cookie saved before
sign-out is worthless after it, from any machine; sign-out everywhere; the idle time-out
that polls do not reset; the per-username throttle whatever the address, and a shared address
that one person's wrong passwords do not lock."""

from datetime import timedelta

from sqlalchemy import select, update

from core.audit import AuditEvent
from core.db import utcnow
from core.stores.models import StaffSession
from tests.factories import PASSWORD
from tests.integration.conftest import Browser, new_client

SESSION_COOKIE = "showroom_session"


def _cookie(web):
    return web.client.get_cookie(SESSION_COOKIE).value


def _replay(app, cookie):
    thief = new_client(app)
    thief.set_cookie(SESSION_COOKIE, cookie)
    return thief.get("/console/")


def test_a_cookie_saved_before_sign_out_is_worthless_after_it(app, signed_in):
    web, _, _ = signed_in("manager")
    saved = _cookie(web)
    assert _replay(app, saved).status_code == 200  # a copy works while the session lives
    assert web.post("/console/logout", {}).status_code == 302
    response = _replay(app, saved)
    assert response.status_code == 302 and "/console/login" in response.location


def test_sign_out_everywhere_ends_every_browser_of_the_person(app, committed, signed_in):
    desk, user, store = signed_in("consultant")
    tablet = Browser(new_client(app))
    assert tablet.login(user).status_code == 302
    colleague, _, _ = signed_in("consultant", store=store)
    assert _cookie(desk) != _cookie(tablet)  # a new session id at every sign-in
    assert desk.post("/console/logout/everywhere", {}).status_code == 302
    assert tablet.get("/console/").status_code == 302
    assert colleague.get("/console/").status_code == 200
    committed.session.expire_all()
    ended = committed.session.scalars(
        select(StaffSession.ended_why).where(StaffSession.user_id == user.id)
    ).all()
    assert sorted(ended) == ["everywhere", "everywhere"]


def test_idle_time_out_counts_what_a_person_does_not_what_a_page_polls(
    app, app_engine, committed, signed_in
):
    web, user, _ = signed_in("consultant")

    def idle_for(minutes):
        with app_engine.begin() as conn:
            conn.execute(
                update(StaffSession)
                .where(StaffSession.user_id == user.id)
                .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
            )

    idle_for(20)
    assert web.get("/console/arrivals").status_code == 200  # a poll: the session lives ...
    idle_for(31)  # ... but the poll did not count as activity
    response = web.get("/console/arrivals", headers={"HX-Request": "true"})
    assert response.status_code == 204 and "/console/login" in response.headers["HX-Redirect"]
    assert web.get("/console/").status_code == 302


def test_a_username_is_throttled_from_every_address_and_an_address_is_not_locked(
    app, committed, signed_in
):
    store = committed.store()
    victim, colleague = committed.user(store, "manager"), committed.user(store, "consultant")
    statuses = [Browser(new_client(app)).login(victim, "wrong-pass").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]  # five addresses or fifty: the username waits
    page = Browser(new_client(app)).login(victim, PASSWORD)
    assert page.status_code == 429 and "登录失败次数过多" in page.get_data(as_text=True)
    nobody = f"no-such-user-{store.id}"
    unknown = [Browser(new_client(app)).login(nobody, "x").status_code for _ in range(6)]
    assert unknown == statuses  # the same answers: nothing says which usernames exist
    shared = Browser(new_client(app))  # the store's one address
    for _ in range(25):
        shared.login(f"typo-{store.id}-{_}", "wrong-pass")
    assert shared.login(colleague).status_code == 302  # the others still sign in
    committed.session.expire_all()
    failed = committed.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "sign_in.failed",
            AuditEvent.data["username"].as_string() == victim.username.lower(),
        )
    ).all()
    assert len(failed) == 5 and all(e.address for e in failed)
