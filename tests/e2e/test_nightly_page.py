"""A manager starts the nightly run from the console and reads its result."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.db import utcnow
from tests.e2e.conftest import assert_accessible, screenshot, sign_in
from tests.integration.test_nightly_jobs import worker


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_manager_runs_the_night_and_reads_the_counts(page, committed, app, lang):
    store = committed.store()
    manager = committed.user(store, "manager")
    anna = committed.consultant(store, cap=5, name="Anna")
    committed.opportunity(
        committed.customer(store),
        grade="C",
        graded_at=utcnow() - timedelta(days=1),
        dormant_by=anna.id,
    )
    committed.opportunity(committed.customer(store), grade="A", in_pool=True)
    sign_in(page, manager, lang=lang)
    page.get_by_role("link", name="夜间任务" if lang == "zh" else "Nightly runs").click()
    expect(page.locator("h1")).to_have_text("夜间任务" if lang == "zh" else "Nightly runs")
    page.get_by_role("button", name="立即运行" if lang == "zh" else "Run now").click()
    expect(page.get_by_role("status")).to_be_visible()
    if app.config["REDIS_URL"]:  # production set-up: a worker runs the queued job
        worker(app).wait(timeout=120)
        page.reload()
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("成功" if lang == "zh" else "Succeeded")
    expect(row).to_contain_text("已补单 1" if lang == "zh" else "refilled 1")
    assert_accessible(page)
    screenshot(page, f"nightly-{lang}")
