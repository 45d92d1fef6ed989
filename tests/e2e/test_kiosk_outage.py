"""The kiosk in a database outage, in a real browser (issue 15): the visitor at the last step
sees the kiosk's own outage page in their language, and when the service answers again the
page goes back to their step by itself, with what they typed kept."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy.exc import OperationalError

from kiosk import views as kiosk_views
from tests.e2e.conftest import assert_accessible, screenshot
from tests.e2e.test_kiosk import T as KIOSK_T
from tests.e2e.test_kiosk import choose, enrol_through_the_page, start, store_visits, tap_number

T = {
    "zh": {"down": "签到暂时无法使用", "kept": "您填写的内容已保留", "ms": "女士"},
    "en": {
        "down": "The check-in is not available right now",
        "kept": "What you entered is kept",
        "ms": "Ms",
    },
}


class _Gone(Exception):
    pass


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_kiosk_waits_out_an_outage_and_carries_on(page, committed, monkeypatch, lang):
    t = T[lang]
    store = committed.store(name="西溪店")
    committed.consultant(store, name="张伟")
    enrol_through_the_page(page, committed, store, lang="zh")
    start(page, lang)
    tap_number(page, "13912347777")
    page.locator(".kiosk-next").click()
    page.locator("#surname").fill("李")
    choose(page, t["ms"])
    page.locator(".kiosk-next").click()
    expect(page).to_have_url(re.compile(r"/kiosk/interest$"))
    choose(page, KIOSK_T[lang]["test_drive"])
    page.locator(".kiosk-next").click()
    expect(page).to_have_url(re.compile(r"/kiosk/consent$"))

    def outage(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, _Gone("connection refused"))

    monkeypatch.setattr(kiosk_views, "check_in", outage)
    page.locator("#consent").check()
    page.locator(".kiosk-next").click()
    expect(page.locator("h1")).to_have_text(t["down"])
    expect(page.locator(".kiosk-retry")).to_contain_text(t["kept"])
    assert_accessible(page)
    screenshot(page, f"kiosk-outage-{lang}")
    monkeypatch.undo()  # the database is back: the page returns to the step by itself
    expect(page).to_have_url(re.compile(r"/kiosk/consent$"), timeout=15_000)
    page.locator("#consent").check()
    page.locator(".kiosk-next").click()
    expect(page).to_have_url(re.compile(r"/kiosk/done$"))
    expect(page.locator(".kiosk-done-lead")).to_contain_text("张伟")
    assert len(store_visits(committed, store)) == 1
