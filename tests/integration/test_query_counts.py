"""Pages issue a fixed number of SQL statements, whatever the size of the data."""

import pytest

from tests.querycount import count_statements


def _statements(web, engine, path):
    with count_statements(engine) as statements:
        response = web.get(path)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("consultant", "/console/"),
        ("consultant", "/console/customers"),
        ("manager", "/console/"),
        ("manager", "/console/team"),
        ("manager", "/console/customers?q=李"),
        ("admin", "/console/staff"),
        ("admin", "/console/system"),
    ],
)
def test_statement_count_does_not_grow_with_the_book(signed_in, committed, app_engine, role, path):
    web, user, store = signed_in(role)
    consultants = [committed.consultant(store) for _ in range(3)]
    if role == "consultant":
        consultants.append(user)
    for c in consultants:
        committed.book(c, 2, grade="A")
    small = _statements(web, app_engine, path)
    for c in consultants:
        committed.book(c, 40, grade="H")
        committed.book(c, 10, grade="C")
    for _ in range(5):
        committed.consultant(store)
    assert _statements(web, app_engine, path) == small


def test_the_customer_page_issues_a_fixed_number_of_statements(signed_in, committed, app_engine):
    web, _user, store = signed_in("manager")
    customer = committed.customer(store)
    opportunity = committed.opportunity(customer, owner=committed.consultant(store), grade="A")
    committed.visit(customer, opportunity_id=opportunity.id)
    small = _statements(web, app_engine, f"/console/customers/{customer.id}")
    for _ in range(15):
        committed.visit(customer, opportunity_id=opportunity.id, status="finished")
    assert _statements(web, app_engine, f"/console/customers/{customer.id}") == small
