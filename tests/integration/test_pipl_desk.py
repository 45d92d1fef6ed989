"""PIPL requests at the desk through HTTP (issue 16, finding 7): the file of everything held,
a correction with its messages next to the fields, consent withdrawn, a deletion."""

import json

from core.opportunities.models import Customer


def _customer(committed, store):
    anna = committed.consultant(store)
    customer = committed.customer(store, surname="李", title="ms", mobile="13912345670")
    committed.opportunity(customer, owner=anna, grade="A")
    committed.session.commit()
    return customer


def test_customer_service_serves_export_correction_and_withdrawal(signed_in, committed):
    web, _, store = signed_in("cs_agent")
    customer = _customer(committed, store)
    other = committed.customer(store, mobile="13700000001")
    committed.session.commit()
    base = f"/console/customers/{customer.id}/pipl"
    refused = web.post(f"{base}/export", {"request": ""})
    assert refused.status_code == 422 and "请写明客户的要求" in refused.get_data(as_text=True)
    response = web.post(f"{base}/export", {"request": "客户要看自己的资料"})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    held = json.loads(response.get_data(as_text=True))
    assert held["customer"]["mobile"] == "13912345670" and len(held["opportunities"]) == 1
    form = {"surname": "黎", "title": "ms", "mobile": other.mobile, "request": "换了号码"}
    taken = web.post(f"{base}/correct", form)
    page = taken.get_data(as_text=True)
    assert taken.status_code == 422 and "该号码属于另一位客户" in page
    assert 'value="黎"' in page and 'value="换了号码"' in page  # what was typed is kept
    done = web.post(f"{base}/correct", {**form, "mobile": ""})
    assert done.status_code == 302
    assert web.post(f"{base}/withdraw", {"request": "不要再打电话"}).status_code == 302
    committed.session.expire_all()
    fresh = committed.session.get(Customer, customer.id)
    assert (fresh.surname, fresh.mobile, fresh.do_not_contact) == ("黎", "13912345670", True)
    assert web.post(f"{base}/delete", {"request": "删", "confirm": "on"}).status_code == 403


def test_a_manager_deletes_a_customer_after_confirming(signed_in, committed):
    web, _, store = signed_in("manager")
    customer = _customer(committed, store)
    base = f"/console/customers/{customer.id}/pipl"
    unconfirmed = web.post(f"{base}/delete", {"request": "客户要求删除"})
    assert unconfirmed.status_code == 422 and "请勾选以确认删除" in unconfirmed.get_data(True)
    done = web.post(f"{base}/delete", {"request": "客户要求删除", "confirm": "on"})
    assert done.status_code == 302 and done.location.endswith("/console/customers")
    committed.session.expunge_all()
    assert committed.session.get(Customer, customer.id) is None
    assert web.get(f"/console/customers/{customer.id}").status_code == 404
