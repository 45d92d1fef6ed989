"""Staff sessions on the server and the per-username sign-in throttle (issue 16, finding 2)."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import AuthenticationFailed, TooManyAttempts
from core.stores import sessions
from core.stores.auth import FREE_TRIES, authenticate, record_failure, throttled
from tests.factories import PASSWORD

T = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_a_session_ends_twelve_hours_after_sign_in_however_active(factory, session):
    user = factory.user(factory.store(), "consultant")
    token = sessions.start(session, user.id, T, "10.0.0.1")
    at = T
    while at < T + timedelta(hours=11, minutes=50):
        at += timedelta(minutes=10)
        assert sessions.check(session, user.id, token, at)
    assert not sessions.check(session, user.id, token, T + timedelta(hours=12))
    assert not sessions.check(session, user.id, token, T + timedelta(hours=12, minutes=1))


def test_a_session_ends_after_the_idle_time_and_polls_do_not_keep_it(factory, session):
    user = factory.user(factory.store(), "consultant")
    token = sessions.start(session, user.id, T, None)
    idle = timedelta(minutes=30)
    for minutes in (10, 20, 29):  # the page polls by itself; nobody touches it
        assert sessions.check(
            session, user.id, token, T + timedelta(minutes=minutes), activity=False
        )
    assert sessions.check(session, user.id, token, T + timedelta(minutes=29), idle=idle)
    later = T + timedelta(minutes=29 + 30)
    assert not sessions.check(session, user.id, token, later, idle=idle, activity=False)
    # ended: even activity does not bring it back
    assert not sessions.check(session, user.id, token, later + timedelta(seconds=1))


def test_sign_out_and_sign_out_everywhere_end_sessions_on_the_server(factory, session):
    store = factory.store()
    user, other = factory.user(store, "consultant"), factory.user(store, "manager")
    here, there = (sessions.start(session, user.id, T, None) for _ in range(2))
    theirs = sessions.start(session, other.id, T, None)
    sessions.end(session, here, T)
    assert not sessions.check(session, user.id, here, T)
    assert sessions.check(session, user.id, there, T)
    assert not sessions.check(session, other.id, there, T)  # a token is one person's
    assert sessions.end_all(session, user.id, T, "everywhere") == 1
    assert not sessions.check(session, user.id, there, T)
    assert sessions.check(session, other.id, theirs, T)
    assert not sessions.check(session, user.id, None, T)
    assert here != there  # every sign-in gets a new token


@pytest.mark.parametrize("known", [True, False])
def test_a_username_that_failed_too_often_waits_longer_each_time(factory, session, known):
    store = factory.store()
    user = factory.user(store, "consultant")
    name = user.username if known else "nobody-here"
    at = T
    for _ in range(FREE_TRIES):
        with pytest.raises(AuthenticationFailed) as failed:
            authenticate(session, name, "wrong-password", at)
        assert not isinstance(failed.value, TooManyAttempts)
        record_failure(session, name, at)
        at += timedelta(seconds=5)
    with pytest.raises(TooManyAttempts) as waiting:  # the right password waits too
        authenticate(session, name, PASSWORD, at)
    assert waiting.value.minutes == 1
    assert throttled(session, name.upper(), at) == 1  # the username as typed, any case
    at += timedelta(seconds=31)
    assert throttled(session, name, at) == 0
    record_failure(session, name, at)  # the sixth failure: the wait doubles
    assert throttled(session, name, at + timedelta(seconds=59)) == 1
    assert throttled(session, name, at + timedelta(seconds=61)) == 0
    for _ in range(10):
        record_failure(session, name, at)
    assert throttled(session, name, at) == 15  # at most a quarter of an hour
    if known:
        later = at + timedelta(minutes=16)
        assert authenticate(session, name, PASSWORD, later).id == user.id
        assert throttled(session, name, later) == 0  # a success forgets the failures
