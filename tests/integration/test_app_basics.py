"""Health check, CSRF, cookies, language switch, error pages, configuration."""

import re

import pytest

from tests.integration.conftest import new_client
from wsgi import create_app

# Extra apps built by a test touch no Redis: nothing may be left in the machine's services.
ISOLATED = {"REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"}


def test_healthz_reports_database_and_queue(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok" and body["status"] == "ok"
    expected_mode = "redis" if app.config["REDIS_URL"] else "inline"
    assert body["queue"]["mode"] == expected_mode and body["queue"]["status"] == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    broken = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"
            "?connect_timeout=1",
            **ISOLATED,
        }
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"


def test_every_form_needs_its_csrf_token(committed, client):
    user = committed.user(committed.store())
    response = client.post("/console/login", data={"username": user.username, "password": "x"})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)


def test_htmx_requests_carry_the_token_in_a_header(signed_in):
    web, _, _ = signed_in("admin")
    page = web.get("/console/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    assert web.client.post("/console/system").status_code == 400
    ok = web.client.post("/console/system", headers={"X-CSRFToken": token})
    assert ok.status_code == 302


def test_session_cookie_is_httponly_lax_and_secure_over_https(committed, web):
    user = committed.user(committed.store())
    response = web.login(user)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = web.client.get("/console/", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_language_switch_sticks_across_requests_and_sign_ins(committed, web):
    user = committed.user(committed.store(), "manager", name="Chen")
    assert "员工登录" in web.get("/console/login").get_data(as_text=True)
    web.post("/lang", {"lang": "en", "next": "/console/login"})
    assert "Staff sign-in" in web.get("/console/login").get_data(as_text=True)
    web.login(user)
    assert "Sales manager" in web.get("/console/").get_data(as_text=True)
    web.post("/lang", {"lang": "zh", "next": "/console/"})
    web.post("/console/logout", {})
    # the choice was saved on the user: a fresh browser signs in to Chinese
    fresh = type(web)(new_client(web.client.application))
    fresh.login(user)
    assert "销售经理" in fresh.get("/console/").get_data(as_text=True)


def test_an_unknown_language_is_ignored(web):
    web.post("/lang", {"lang": "fr", "next": "https://evil.example/"})
    page = web.get("/console/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page


def test_unknown_page_gets_a_clear_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_an_unexpected_error_shows_a_page_not_a_stack_trace(app):
    fresh = create_app(
        {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
        | ISOLATED
    )

    @fresh.route("/_boom_for_test")
    def boom():
        raise RuntimeError("secret internals")

    response = fresh.test_client().get("/_boom_for_test")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "出错了" in page and "secret internals" not in page and "Traceback" not in page


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_from_the_environment(monkeypatch, given, expected):
    from settings import database_url

    monkeypatch.setenv("DATABASE_URL", given)
    assert database_url() == expected


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    from wsgi import _secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = _secret_key(tmp_path)
    assert len(first) == 64 and _secret_key(tmp_path) == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert _secret_key(tmp_path) == "from-env"


def test_sign_in_attempts_are_rate_limited(app, committed):
    limited = create_app(
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            **ISOLATED,
        }
    )
    user = committed.user(committed.store())
    client = limited.test_client()
    statuses = []
    for _ in range(22):
        token = re.search(
            r'name="csrf-token" content="([^"]+)"', client.get("/console/login").get_data(True)
        ).group(1)
        form = {"csrf_token": token, "username": user.username, "password": "wrong-pass"}
        statuses.append(client.post("/console/login", data=form).status_code)
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429, 429]


def test_every_engine_gets_the_sqlite_pragmas(app, monkeypatch, tmp_path):
    """One function sets them (core.db.configure_sqlite): on the app's engine, on a bare worker's
    and on nobody else's (no global listener on every Engine)."""
    from sqlalchemy import create_engine, text

    from extensions import db
    from jobs import runtime

    def pragmas(engine):  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            return tuple(
                conn.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("foreign_keys", "busy_timeout", "journal_mode")
            )

    url = f"sqlite:///{tmp_path / 'worker.db'}"
    monkeypatch.setattr(runtime, "database_url", lambda: url)
    assert pragmas(runtime.engine()) == (1, 10000, "wal")
    runtime._ENGINES.pop(url).dispose()
    assert pragmas(create_engine(f"sqlite:///{tmp_path / 'plain.db'}")) == (0, 5000, "delete")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            assert pragmas(db.engine) == (1, 10000, "wal")
