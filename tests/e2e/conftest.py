"""Browser tests: Debian's Chromium driven by Playwright against a live server.

The server runs in a thread on this run's database. Without Chromium the tests skip, except in
CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from tests.factories import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}
# Loaded from the app's own static files: the pages' Content-Security-Policy refuses inline
# script, which is what Playwright would make of the file's text.
AXE = "/static/vendor/axe-core-4.10.2.min.js"
CSP_VIOLATION = "Content Security Policy"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/showroom-screenshots"))


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI: Chromium not found at {CHROMIUM}; browser tests must run")
    skip = pytest.mark.skip(reason=f"Chromium not installed ({CHROMIUM}): apt-get install chromium")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):  # type: ignore[no-untyped-def]
    return {**browser_context_args, "viewport": TABLET_LANDSCAPE, "locale": "zh-CN"}


@pytest.fixture(scope="session")
def live_server(app):  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def base_url(live_server):  # type: ignore[no-untyped-def]
    return live_server


def sign_in(page, user, password: str = PASSWORD, lang: str = "zh") -> None:
    page.goto("/console/login")
    if lang == "en":
        page.get_by_role("button", name="English").click()
    page.locator("#username").fill(user.username)
    page.locator("#password").fill(password)
    page.locator("button[type=submit].primary").click()


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) on the page; return the serious and critical findings.

    Loading axe from its URL takes a moment: a navigation the test started just before (a
    language button, say) can replace the page meanwhile, and then axe is loaded again into
    the page that came."""
    for attempt in range(3):
        page.wait_for_load_state()
        try:
            page.add_script_tag(url=AXE)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})"
            )
            break
        except PlaywrightError:
            if attempt == 2:
                raise
    found = [v for v in result["violations"] if v["impact"] in impacts]
    return [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in found]


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)


def screenshot(page, name: str) -> None:
    """Keep a picture for a person to look at (outside the repository)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(autouse=True)
def no_csp_violations(browser, monkeypatch):
    """Every browser test fails on a Content-Security-Policy violation in any of its pages
    (Chromium reports each one on the console): an inline script or style, an eval, a source
    the policy does not allow. Pages of contexts the test opens itself are watched too."""
    seen: list[str] = []

    def watch(message) -> None:  # type: ignore[no-untyped-def]
        if CSP_VIOLATION in message.text:
            seen.append(f"{message.location.get('url', '?')}: {message.text}")

    original = browser.new_context

    def new_context(*args, **kwargs):  # type: ignore[no-untyped-def]
        context = original(*args, **kwargs)
        context.on("console", watch)
        return context

    monkeypatch.setattr(browser, "new_context", new_context)
    yield seen
    assert not seen, "Content-Security-Policy violations:\n" + "\n".join(seen)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Every browser test comes from 127.0.0.1 and signs in several times: start each with
    empty rate-limit counters, as a new device would."""
    from extensions import limiter

    with app.app_context():
        limiter.reset()
    yield
