"""A customer's PIPL requests served at the desk (issue 16, finding 7): export everything held,
correct, withdraw consent, delete; each on the audit trail, never with a full number."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.enums import Role
from core.errors import PermissionDenied, ValidationError
from core.opportunities import pipl
from core.opportunities.models import ConsentRecord, Customer, Opportunity
from tests.factories import viewer_of

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def shop(factory):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    customer = factory.customer(store, surname="李", title="ms", mobile="13912345678")
    opportunity = factory.opportunity(customer, owner=anna, grade="A")
    factory.visit(customer, consultant=anna)
    factory.callback_task(customer, due_on=NOW.date())
    desk = viewer_of(factory.user(store, Role.CS_AGENT))
    manager = viewer_of(factory.user(store, Role.MANAGER))
    return store, anna, customer, opportunity, desk, manager


def _events(session, action, store):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.store_id == store.id)
    ).all()


def test_the_export_holds_everything_and_is_recorded(factory, session, shop):
    _, anna, customer, opportunity, desk, _ = shop
    held = pipl.export(session, desk, customer.id, NOW, "客户来店要求查看 13912345678 的资料")
    assert held["customer"]["mobile"] == "13912345678" and held["customer"]["surname"] == "李"
    assert [o["id"] for o in held["opportunities"]] == [opportunity.id]
    assert len(held["visits"]) == 1 and len(held["callbacks"]) == 1
    json.dumps(held, ensure_ascii=False)  # a file of plain values
    [event] = _events(session, "pipl.export", customer.store)
    assert event.entity_id == customer.id and event.actor_id == desk.user_id
    assert "13912345678" not in json.dumps(event.data) and "139****5678" in event.data["request"]
    with pytest.raises(ValidationError):
        pipl.export(session, desk, customer.id, NOW, " ")
    with pytest.raises(PermissionDenied):
        pipl.export(session, viewer_of(anna), customer.id, NOW, "x")  # the desk serves it


def test_a_correction_keeps_the_old_values_masked(factory, session, shop):
    store, _, customer, _, desk, _ = shop
    other = factory.customer(store, mobile="13700000000")
    with pytest.raises(ValidationError) as refused:
        pipl.correct(
            session, desk, customer.id, NOW, surname="", title="xx", mobile="123", request=""
        )
    assert set(refused.value.errors) == {"surname", "title", "mobile", "request"}
    with pytest.raises(ValidationError) as taken:
        pipl.correct(
            session, desk, customer.id, NOW, surname="李", title="ms",
            mobile=other.mobile, request="改号",
        )  # fmt: skip
    assert "mobile" in taken.value.errors
    pipl.correct(
        session, desk, customer.id, NOW, surname="黎", title="ms",
        mobile="+86 138 0013 8000", request="客户说姓写错了，号码也换了",
    )  # fmt: skip
    session.refresh(customer)
    assert (customer.surname, customer.mobile) == ("黎", "13800138000")
    [event] = _events(session, "pipl.corrected", store)
    assert event.data["surname"] == ["李", "黎"]
    assert event.data["mobile"] == ["139****5678", "138****8000"] and "title" not in event.data


def test_withdrawing_consent_bars_all_contact(factory, session, shop):
    _, _, customer, _, desk, _ = shop
    pipl.withdraw_consent(session, desk, customer.id, NOW, "客户不希望再被联系")
    session.refresh(customer)
    assert customer.do_not_contact and not customer.contactable
    [record] = session.scalars(
        select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
    ).all()[-1:]
    assert record.granted is False and record.recorded_by == desk.user_id
    assert len(_events(session, "pipl.consent_withdrawn", customer.store)) == 1


def test_a_deletion_erases_the_customer_everywhere_and_only_a_manager_does_it(
    factory, session, shop
):
    store, anna, customer, _, desk, manager = shop
    keep = factory.customer(store)
    factory.opportunity(keep, owner=anna, grade="H")
    with pytest.raises(PermissionDenied):
        pipl.delete(session, desk, customer.id, NOW, "请删除我的信息")
    pipl.delete(session, manager, customer.id, NOW, "客户要求删除全部信息")
    for model, column in (
        (Customer, Customer.id),
        (Opportunity, Opportunity.customer_id),
        (Visit, Visit.customer_id),
        (CallbackTask, CallbackTask.customer_id),
    ):
        assert session.scalar(select(func.count()).where(column == customer.id)) == 0, model
    assert session.get(Customer, keep.id) is not None  # nobody else's
    [event] = _events(session, "pipl.deleted", store)
    assert event.entity_id is None and event.data == {"request": "客户要求删除全部信息"}
