"""Numbers written with other digits than 0-9 ('²', '١', '３') are refused on every screen that
asks for one: the message next to the field, what was typed kept, nothing saved, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.checkin.models import Visit
from core.db import utcnow
from core.opportunities.models import Customer, Opportunity
from tests.integration.test_kiosk import enrolled

DIGITS = ["²", "١", "３"]


def _count(app_engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(app_engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.mark.parametrize("digits", DIGITS)
def test_the_kiosk_refuses_a_party_size_in_other_digits(app, committed, app_engine, digits):
    store = committed.store()
    kiosk = enrolled(app, committed, store)
    kiosk.get("/kiosk/mobile")
    kiosk.post("/kiosk/mobile", {"mobile": "13912345678"})
    kiosk.post("/kiosk/name", {"surname": "李", "title": "ms"})
    response = kiosk.post(
        "/kiosk/interest", {"car_model": "none", "purpose": "test_drive", "party_size": digits}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="party_size-error"' in page and "请选择到店人数" in page
    assert f'value="{digits}"' in page  # what was typed is kept
    assert 'value="test_drive" checked' in page  # and the other answers too
    assert _count(app_engine, Customer, Customer.store_id == store.id) == 0


@pytest.mark.parametrize("digits", ["١", "１３９１２３４５６７８"])
def test_the_kiosk_refuses_a_mobile_in_other_digits(app, committed, digits):
    kiosk = enrolled(app, committed, committed.store())
    kiosk.get("/kiosk/mobile")
    response = kiosk.post("/kiosk/mobile", {"mobile": digits})
    assert response.status_code == 422
    assert 'id="mobile-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize("digits", DIGITS)
def test_the_desk_refuses_a_party_size_in_other_digits(signed_in, app_engine, digits):
    web, _user, store = signed_in("cs_agent")
    typed = {
        "mobile": "13800138077",
        "surname": "",
        "title": "mr",
        "purpose": "look",
        "party_size": digits,
    }
    response = web.post("/console/reception/check-in", typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="party_size-error"' in page and "请输入到店人数" in page
    assert 'id="surname-error"' in page  # core's messages come with the form's
    assert f'value="{digits}"' in page and 'value="13800138077"' in page
    assert _count(app_engine, Visit, Visit.store_id == store.id) == 0


@pytest.mark.parametrize("digits", DIGITS)
def test_an_order_refuses_a_deposit_in_other_digits(signed_in, committed, app_engine, digits):
    web, user, store = signed_in("consultant")
    customer = committed.customer(
        store, surname="周", mobile=f"13{utcnow().microsecond:06d}0002"[:11]
    )
    opportunity = committed.opportunity(customer, owner=user)
    response = web.post(
        f"/console/opportunities/{opportunity.id}/order",
        {"deposit": f"5{digits}00", "note": "蓝色"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="deposit-error"' in page and f'value="5{digits}00"' in page and "蓝色" in page
    with Session(app_engine) as s:
        assert s.get(Opportunity, opportunity.id).status == "open"


@pytest.mark.parametrize("digits", DIGITS)
def test_a_callback_refuses_a_satisfaction_in_other_digits(signed_in, digits):
    web, _user, _store = signed_in("cs_agent")
    # the task does not exist: the form is read first, the 404 comes only from a valid one
    response = web.post("/console/callbacks/999999/record", {"satisfaction": digits})
    assert response.status_code in (404, 422)
    assert response.status_code != 500


@pytest.mark.parametrize("digits", DIGITS)
def test_the_rules_refuse_numbers_in_other_digits(signed_in, app_engine, digits):
    from core.rules.models import RuleSet
    from tests.integration.test_rules import dispatch_form, scoring_form

    web, _user, store = signed_in("manager")
    form = dispatch_form(default_load_cap=f"3{digits}", cycle_B=digits)
    response = web.post("/console/rules/dispatch", {**form, "action": "save"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="default_load_cap-error"' in page and 'id="cycle_B-error"' in page
    assert f'value="3{digits}"' in page
    response = web.post("/console/rules/scoring", scoring_form(threshold_H=f"7{digits}"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="threshold_H-error"' in page
    assert _count(app_engine, RuleSet, RuleSet.store_id == store.id) == 1
