"""Need to know through HTTP (issue 16, finding 1): a consultant opens and reveals only their
own book, customer service reveals only on a claimed call, a manager writes why, reveals are
throttled per person, and the manager's staff page shows who revealed how many."""

from core.opportunities import access
from core.opportunities.models import Customer


def _customer(committed, store, owner, surname="李"):
    customer = committed.customer(store, surname=surname)
    committed.opportunity(customer, owner=owner, grade="A")
    committed.session.commit()
    return customer


def test_a_consultant_opens_and_reveals_only_their_own_book(signed_in, committed):
    web, me, store = signed_in("consultant")
    other = committed.consultant(store, name="Other")
    mine, theirs = _customer(committed, store, me), _customer(committed, store, other, "王")
    assert web.get(f"/console/customers/{mine.id}").status_code == 200
    page = web.post(f"/console/customers/{mine.id}/reveal", {}).get_data(as_text=True)
    assert mine.mobile in page
    refused = web.get(f"/console/customers/{theirs.id}")
    assert refused.status_code == 403 and "另一位顾问" in refused.get_data(as_text=True)
    revealed = web.post(f"/console/customers/{theirs.id}/reveal", {})
    assert revealed.status_code == 403 and theirs.mobile not in revealed.get_data(as_text=True)
    found = web.get("/console/customers?q=").get_data(as_text=True)
    assert f"/console/customers/{mine.id}" in found
    assert f"/console/customers/{theirs.id}" not in found


def test_customer_service_has_no_reveal_on_the_customer_page(signed_in, committed):
    web, _, store = signed_in("cs_agent")
    customer = _customer(committed, store, committed.consultant(store))
    page = web.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert "/reveal" not in page and "客服在已认领的回访中查看完整号码" in page
    response = web.post(f"/console/customers/{customer.id}/reveal", {})
    assert response.status_code == 403 and customer.mobile not in response.get_data(True)


def test_a_manager_writes_why_and_is_throttled_like_everyone(signed_in, committed):
    web, manager, store = signed_in("manager")
    anna = committed.consultant(store)
    customers = [_customer(committed, store, anna) for _ in range(access.REVEALS_PER_HOUR + 1)]
    first = customers[0]
    response = web.post(f"/console/customers/{first.id}/reveal", {"reason": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请写明为何需要完整号码" in page
    assert first.mobile not in page
    response = web.post(f"/console/customers/{first.id}/reveal", {"reason": "客户来电投诉"})
    assert response.status_code == 200 and first.mobile in response.get_data(as_text=True)
    for customer in customers[1:-1]:
        assert (
            web.post(f"/console/customers/{customer.id}/reveal", {"reason": "回电"}).status_code
            == 200
        )
    last = customers[-1]
    response = web.post(f"/console/customers/{last.id}/reveal", {"reason": "回电"})
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and last.mobile not in page and "回电" in page
    staff = web.get("/console/staff").get_data(as_text=True)
    assert manager.display_name in staff and "近 7 天查看完整号码" in staff
    committed.session.expire_all()
    assert committed.session.get(Customer, last.id) is not None


def test_refusals_and_sign_ins_are_on_the_audit_trail_with_the_address(app, signed_in, committed):
    from sqlalchemy import select

    from core.audit import AuditEvent

    web, me, store = signed_in("consultant")
    theirs = _customer(committed, store, committed.consultant(store), "赵")
    foreign = _customer(committed, committed.store(), None, "钱")
    assert web.get(f"/console/customers/{theirs.id}").status_code == 403
    assert web.get(f"/console/customers/{foreign.id}").status_code == 404
    assert web.get("/console/rules").status_code == 403
    committed.session.expire_all()
    events = committed.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == me.id).order_by(AuditEvent.id)
    ).all()
    address = web.client.environ_base["REMOTE_ADDR"]
    assert [(e.action, e.address) for e in events] == [("sign_in", address)] + [
        ("refused", address)
    ] * 3
    assert [(e.data["status"], e.data["path"]) for e in events[1:]] == [
        (403, f"/console/customers/{theirs.id}"),
        (404, f"/console/customers/{foreign.id}"),
        (403, "/console/rules"),
    ]
