"""The load rule and the grade order (core/dispatch/load.py), on SQLite and PostgreSQL: the SQL
condition, the Python predicate and every place that counts a load agree."""

from __future__ import annotations

from sqlalchemy import func, select

from core.dispatch import load
from core.dispatch.authority import candidates
from core.dispatch.team import consultant_loads
from core.opportunities.models import Opportunity

GRADES = [None, "H", "A", "B", "C", "O", "F"]


def test_the_sql_condition_and_the_python_predicate_agree_on_every_grade(factory, session):
    store = factory.store()
    consultant = factory.consultant(store, cap=50)
    by_grade = {
        g: factory.opportunity(factory.customer(store), owner=consultant, grade=g) for g in GRADES
    }
    counted = set(
        session.scalars(
            select(Opportunity.id).where(
                Opportunity.store_id == store.id, load.counts_towards_load()
            )
        )
    )
    for grade, opportunity in by_grade.items():
        open_ = opportunity.status == "open"
        assert (opportunity.id in counted) == (open_ and load.grade_counts_towards_load(grade))
    # new, H, A and B count; C (dormant), O (won) and F (lost) do not
    assert counted == {by_grade[g].id for g in (None, "H", "A", "B")}


def test_the_condition_works_on_the_table_and_an_alias(factory, session):
    store = factory.store()
    consultant = factory.consultant(store)
    factory.opportunity(factory.customer(store), owner=consultant, grade="H")
    factory.opportunity(factory.customer(store), owner=consultant, grade="C")
    table = Opportunity.__table__
    for source in (table, table.alias("o")):
        n = session.scalar(
            select(func.count())
            .select_from(source)
            .where(source.c.store_id == store.id, load.counts_towards_load(source))
        )
        assert n == 1


def test_every_reader_of_a_load_counts_the_same(factory, session):
    store = factory.store()
    busy = factory.consultant(store, cap=9)
    idle = factory.consultant(store, cap=9)
    for grade in GRADES:
        factory.opportunity(factory.customer(store), owner=busy, grade=grade)
    factory.opportunity(factory.customer(store), owner=idle, grade="C")
    expected = {busy.id: 4, idle.id: 0}
    assert {c.user_id: c.load for c in candidates(session, store.id)} == expected
    assert {s.user_id: s.load for s in candidates(session, store.id, 8)} == expected
    assert {c.user_id: c.load for c in consultant_loads(session, store.id)} == expected
    book = next(c for c in consultant_loads(session, store.id) if c.user_id == busy.id).by_grade
    assert sum(book.get(k, 0) for k in load.BOOK_KEYS) == 4


def test_customers_are_ordered_hottest_first(factory, session):
    store = factory.store()
    made = {
        g: factory.opportunity(factory.customer(store), grade=g) for g in ("C", None, "B", "H", "A")
    }
    ordered = session.scalars(
        select(Opportunity.grade)
        .where(Opportunity.store_id == store.id, Opportunity.id.in_([o.id for o in made.values()]))
        .order_by(load.grade_rank(Opportunity.grade))
    ).all()
    assert ordered == ["H", "A", "B", None, "C"]
    assert list(load.GRADE_ORDER) == ["H", "A", "B", None, "C"]
