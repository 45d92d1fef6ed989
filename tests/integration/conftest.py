import itertools
import os
import re
from collections.abc import Iterator

import pytest

from tests.factories import PASSWORD
from tests.own_services import OwnRedis

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path="/console/login") -> str:
    """The token every page carries in its <meta>, as the forms and htmx use it."""
    match = _CSRF.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Browser:
    """A test client that signs in and posts forms with their CSRF token, like a browser."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD):
        """Sign in as a User record or a username."""
        username = user if isinstance(user, str) else user.username
        return self.post("/console/login", {"username": username, "password": password})

    def post(self, path, data=None, token_from="/console/", **kw):
        form = {"csrf_token": csrf_token(self.client, token_from), **(data or {})}
        return self.client.post(path, data=form, **kw)

    def get(self, path, **kw):
        return self.client.get(path, **kw)


_addresses = itertools.count(1)


def new_client(app):
    """A test client with an address of its own, as each real tablet has (rate limits are
    counted per address)."""
    client = app.test_client()
    n = next(_addresses)
    client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    return client


@pytest.fixture
def client(app):
    return new_client(app)


@pytest.fixture
def web(client):
    return Browser(client)


@pytest.fixture
def signed_in(app, committed):
    """signed_in(role) -> (browser, user, store): a member of staff of a new store, signed in."""

    def sign_in(role="consultant", store=None):
        store = store or committed.store()
        user = committed.user(store, role)
        b = Browser(new_client(app))
        response = b.login(user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return b, user, store

    return sign_in


def worker_env(app) -> dict[str, str]:
    """The environment of an RQ worker process on this run's database and Redis db."""
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret",
    }


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """A Redis of the test's own (a fault test may stop it), stopped at the end."""
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
