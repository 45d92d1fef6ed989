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


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_failed_night_is_a_banner_on_the_start_page(page, committed, app, lang):
    from core.enums import JobKind
    from core.nightly import jobruns
    from core.timeutil import local_date

    store = committed.store()
    manager = committed.user(store, "manager")
    run_id = jobruns.create(
        committed.session,
        JobKind.NIGHTLY,
        store_id=store.id,
        run_on=local_date(utcnow(), store.timezone),
    )
    jobruns.fail(committed.session, run_id, "OperationalError: could not connect to server")
    committed.session.commit()
    sign_in(page, manager, lang=lang)
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text(
        "昨晚的夜间任务失败" if lang == "zh" else "Last night's run failed"
    )
    expect(banner).to_contain_text("could not connect to server")
    assert_accessible(page)
    screenshot(page, f"home-night-failed-{lang}")
    banner.get_by_role("button").click()
    if app.config["REDIS_URL"]:
        worker(app).wait(timeout=120)
    page.goto("/console/")
    expect(page.get_by_role("alert")).to_have_count(0)
