"""Sign-in, sign-out, the role check on every console route and the store scoping."""

import pytest

from console.auth import PUBLIC_ENDPOINTS
from tests.factories import PASSWORD


def test_sign_in_lands_on_the_start_page_with_name_store_and_role(committed, web):
    store = committed.store(name="西湖店")
    user = committed.user(store, "manager", name="陈经理")
    response = web.login(user)
    assert response.status_code == 302 and response.location.endswith("/console/")
    page = web.get("/console/").get_data(as_text=True)
    assert "陈经理" in page and "西湖店" in page and "销售经理" in page


@pytest.mark.parametrize("case", ["wrong password", "unknown user"])
def test_failed_sign_in_gives_one_generic_message(committed, web, case):
    user = committed.user(committed.store())
    username = user.username if case == "wrong password" else "no-such-user"
    password = "not-it-123" if case == "wrong password" else PASSWORD
    response = web.post("/console/login", {"username": username, "password": password})
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "用户名或密码错误" in page
    assert f'value="{username}"' in page  # what was typed is kept
    assert web.get("/console/").status_code == 302  # still signed out


def test_console_pages_need_a_sign_in(client):
    response = client.get("/console/customers")
    assert response.status_code == 302
    assert "/console/login?next=/console/customers" in response.location


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(committed, web):
    user = committed.user(committed.store(), "manager")
    form = {"username": user.username, "password": PASSWORD}
    response = web.post("/console/login?next=/console/team", form)
    assert response.location.endswith("/console/team")
    web.post("/console/logout", {})
    response = web.post("/console/login?next=//evil.example/x", form)
    assert response.location.endswith("/console/")


def test_sign_out_ends_the_session(signed_in):
    b, _, _ = signed_in("consultant")
    assert b.get("/console/").status_code == 200
    response = b.post("/console/logout", {})
    assert response.status_code == 302
    assert b.get("/console/").status_code == 302


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("consultant", "/console/team", 403),
        ("consultant", "/console/staff", 403),
        ("consultant", "/console/system", 403),
        ("cs_agent", "/console/team", 403),
        ("admin", "/console/customers", 403),
        ("manager", "/console/team", 200),
        ("manager", "/console/system", 403),
        ("admin", "/console/system", 200),
        ("cs_agent", "/console/customers", 200),
    ],
)
def test_roles_open_only_their_pages(signed_in, role, path, status):
    b, _, _ = signed_in(role)
    response = b.get(path)
    assert response.status_code == status
    if status == 403:
        page = response.get_data(as_text=True)
        assert "无权访问" in page or "不允许" in page
        assert "Traceback" not in page


def test_the_menu_shows_only_pages_the_role_may_open(signed_in):
    b, _, _ = signed_in("consultant")
    page = b.get("/console/").get_data(as_text=True)
    assert 'href="/console/customers"' in page
    assert 'href="/console/team"' not in page and 'href="/console/system"' not in page


def test_every_console_route_declares_its_roles(app):
    """Deny by default: a console view without @roles is refused to everyone."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint not in PUBLIC_ENDPOINTS:
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "_roles", None), f"{rule.endpoint} has no @roles"


def test_a_record_of_another_store_is_refused(signed_in, committed):
    b, _, store_a = signed_in("manager")
    store_b = committed.store()
    theirs = committed.customer(store_b, surname="赵")
    ours = committed.customer(store_a, surname="钱")
    assert b.get(f"/console/customers/{ours.id}").status_code == 200
    response = b.get(f"/console/customers/{theirs.id}")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "赵" not in page and "不在您的门店" in page


def test_search_never_lists_another_stores_customers(signed_in, committed):
    b, _, store_a = signed_in("cs_agent")
    committed.customer(committed.store(), surname="孙", mobile="13712345678")
    committed.customer(store_a, surname="周", mobile="13612345678")
    page = b.get("/console/customers?q=5678").get_data(as_text=True)
    assert "周" in page and "孙" not in page
    assert "136****5678" in page and "13612345678" not in page


def test_a_consultant_sees_only_their_own_book(signed_in, committed):
    b, me, store = signed_in("consultant")
    colleague = committed.consultant(store)
    committed.opportunity(committed.customer(store, surname="吴"), owner=me, grade="A")
    committed.opportunity(committed.customer(store, surname="郑"), owner=colleague, grade="A")
    page = b.get("/console/customers").get_data(as_text=True)
    assert "吴" in page and "郑" not in page


def test_a_disabled_user_is_signed_out_on_the_next_request(signed_in, committed):
    b, user, _ = signed_in("consultant")
    user.active = False
    committed.session.commit()
    assert b.get("/console/").status_code == 302


def test_a_polled_panel_whose_session_ended_sends_the_page_to_sign_in(client):
    response = client.get(
        "/console/arrivals",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/console/"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/console/login?next=/console/"
