"""The manager's staff page shows who saw how many full numbers (issue 16), in a real browser
at tablet size in Chinese and English."""

import pytest
from playwright.sync_api import expect

from core.opportunities import access
from tests.e2e.conftest import assert_accessible, screenshot, sign_in
from tests.factories import viewer_of

T = {
    "zh": {"panel": "近 7 天查看完整号码"},
    "en": {"panel": "Full numbers seen, last 7 days"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_manager_sees_who_revealed_how_many(page, committed, lang):
    from core.db import utcnow

    store = committed.store()
    anna = committed.consultant(store, name="李娜")
    for _ in range(3):
        customer = committed.customer(store)
        committed.opportunity(customer, owner=anna, grade="A")
        committed.session.flush()
        access.reveal_mobile(committed.session, viewer_of(anna), customer.id, utcnow())
    committed.session.commit()
    manager = committed.user(store, "manager")
    sign_in(page, manager, lang=lang)
    page.goto("/console/staff")
    panel = page.get_by_role("region", name=T[lang]["panel"])
    expect(panel.locator("tbody tr")).to_have_count(1)
    expect(panel.locator("tbody tr")).to_contain_text("李娜")
    expect(panel.locator("tbody td.num").first).to_have_text("3")
    assert_accessible(page)
    screenshot(page, f"staff-reveals-{lang}")
