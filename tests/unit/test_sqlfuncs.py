"""Small SQL constructs (core/sqlfuncs.py), on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import func, select

from core.enums import OpportunityStatus
from core.opportunities.models import Opportunity
from core.sqlfuncs import const, consts


def test_a_code_is_written_into_the_statement_not_bound(session):
    statement = select(func.count()).where(
        Opportunity.status == const("open"), Opportunity.grade.in_(consts(["H", "A"]))
    )
    compiled = statement.compile(dialect=session.get_bind().dialect)
    assert "'open'" in str(compiled)
    assert "IN ('H', 'A')" in str(compiled)
    assert compiled.params == {}


def test_a_statement_with_codes_finds_the_rows_with_those_codes(factory, session):
    store = factory.store()
    wanted = factory.opportunity(factory.customer(store), grade="H")
    factory.opportunity(factory.customer(store), grade="B")  # open, another grade
    factory.opportunity(factory.customer(store), grade="F")  # lost
    found = session.scalars(
        select(Opportunity.id).where(
            Opportunity.store_id == store.id,
            Opportunity.status == const(OpportunityStatus.OPEN.value),
            Opportunity.grade.in_(consts(["H", "A"])),
        )
    ).all()
    assert found == [wanted.id]


@pytest.mark.parametrize("value", ["", "open'; DELETE FROM customers; --", "o'pen", "1st", "a b"])
def test_anything_but_a_code_is_refused(value):
    with pytest.raises(ValueError):
        const(value)
