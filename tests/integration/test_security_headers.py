"""Security headers (issue 16, finding 3): a Content-Security-Policy with a fresh nonce and no
inline script or style, no framing, no sniffing, the Referrer-Policy on every response, HSTS
only over HTTPS, and no copy of any page, fragment, revealed number or lobby in a cache."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import new_client
from tests.integration.test_kiosk import enrolled, new_visitor
from wsgi import create_app

ISOLATED = {"REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": "x"}
_SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


def nonce_of(response) -> str:
    [nonce] = [v for v in directives(response)["script-src"] if v.startswith("'nonce-")]
    return nonce[len("'nonce-") : -1]


@pytest.fixture
def responses(app, committed, signed_in):
    """One response of each kind the product sends: console page, htmx fragment, revealed
    number, lobby, kiosk, JSON, error, static file."""
    manager, _user, store = signed_in("manager")
    consultant, owner, _store = signed_in("consultant", store=store)
    customer = committed.customer(store, surname="周", mobile="13911112222")
    committed.opportunity(customer, owner=owner)
    kiosk = enrolled(app, committed, store)
    new_visitor(kiosk, mobile="13911113333")
    anonymous = new_client(app)
    return {
        "console page": manager.get("/console/team"),
        "htmx fragment": manager.get("/console/reception/live", headers={"HX-Request": "true"}),
        "look-up fragment": manager.post("/console/reception/lookup", {"mobile": "13911112222"}),
        "revealed number": consultant.post(f"/console/customers/{customer.id}/reveal"),
        "customer page": consultant.get(f"/console/customers/{customer.id}"),
        "lobby": manager.get("/lobby"),
        "lobby fragment": manager.get("/lobby/live"),
        "kiosk page": kiosk.client.get("/kiosk/consent"),
        "sign-in": anonymous.get("/console/login"),
        "json": anonymous.get("/healthz"),
        "error": anonymous.get("/no/such/page"),
        "static": anonymous.get("/static/js/app.js"),
    }


def test_every_response_has_the_policy_and_the_headers(responses):
    for name, response in responses.items():
        assert response.status_code in (200, 404), name
        header = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header, name
        csp = directives(response)
        assert csp["default-src"] == ["'self'"], name
        for kind in ("script-src", "style-src"):
            assert csp[kind][0] == "'self'" and csp[kind][1].startswith("'nonce-"), (name, kind)
        assert csp["frame-ancestors"] == ["'none'"], name
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], name
        assert csp["form-action"] == ["'self'"], name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "same-origin", name
        assert "Strict-Transport-Security" not in response.headers, name  # plain HTTP


def test_nothing_that_shows_personal_data_is_kept_in_a_cache(responses):
    for name, response in responses.items():
        cache = response.headers.get("Cache-Control", "")
        if name == "static":
            assert "no-store" not in cache  # static files keep their caching
        else:
            assert cache == "no-store", name
    assert "13911112222" in responses["revealed number"].get_data(as_text=True)


def test_a_new_nonce_each_request_on_every_script_and_no_inline_code(signed_in):
    web, _user, _store = signed_in("manager")
    pages = [
        "/console/",
        "/console/team",
        "/console/analytics",
        "/console/rules",
        "/console/rules?tab=scoring",
        "/console/reassign",
        "/console/reception",
        "/console/reception/check-in",
    ]
    seen: set[str] = set()
    for path in pages:
        response = web.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        nonce = nonce_of(response)
        assert nonce not in seen and len(nonce) >= 22, path
        seen.add(nonce)
        for attributes in _SCRIPT.findall(html):
            if 'type="application/json"' in attributes:
                continue  # data, never run
            assert " src=" in attributes and f'nonce="{nonce}"' in attributes, (path, attributes)
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert not re.search(r"\shx-on", html), path
        config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
        assert config, path
        for setting in ('"allowEval": false', '"allowScriptTags": false'):
            assert setting in config.group(1), path
        assert '"includeIndicatorStyles": false' in config.group(1), path


def test_hsts_only_when_the_request_came_over_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/console/login").headers
    # Without a trusted proxy a client's X-Forwarded-Proto is nobody's word.
    spoofed = client.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    secure = client.get("/console/login", base_url="https://showroom.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"

    proxied = create_app(
        {
            **ISOLATED,
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "TRUSTED_PROXIES": 1,
        }
    )
    behind = proxied.test_client()
    https = behind.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"] == "max-age=31536000"
    http = behind.get("/console/login", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in http.headers
    with proxied.app_context():
        from extensions import db

        db.engine.dispose()
