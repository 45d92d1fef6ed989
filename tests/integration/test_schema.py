"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.schema import Base


def test_models_and_migrations_agree(app_engine):
    with app_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_constraints_and_partial_indexes_exist_in_the_database(app_engine):
    """Alembic does not compare CHECK constraints; the names must all be there."""
    inspector = inspect(app_engine)
    for table in Base.metadata.sorted_tables:
        expected_checks = {
            c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"
        }
        found_checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert expected_checks <= found_checks, table.name
        expected_indexes = {i.name for i in table.indexes}
        found_indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        found_indexes |= {u["name"] for u in inspector.get_unique_constraints(table.name)}
        assert expected_indexes <= found_indexes, table.name
    assert {"uq_opportunities_open_customer"} <= {
        i["name"] for i in inspector.get_indexes("opportunities") if i["unique"]
    }
