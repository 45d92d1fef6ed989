"""Test fixtures shared by unit, integration and browser tests.

Every run gets its own database: a temporary SQLite file by default, or a fresh PostgreSQL
database created beside ``DATABASE_URL`` and dropped at the end. With ``REDIS_URL`` the run uses
its own Redis db number (``TEST_REDIS_DB``, default 13), flushed before and after. Nothing is
left behind in either service.

Tests do not share rows: each builds its own store with the factories, so integration and
browser tests can commit (a live server and a real RQ worker only see committed data), while
unit tests of core/ run in a transaction that is rolled back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from core.db import configure_sqlite
from settings import database_url as configured_database_url

if TYPE_CHECKING:
    from tests.factories import Factory

TEST_PASSWORD = "password1"


def _postgres_database(base_url: str) -> Iterator[str]:
    admin_url = make_url(base_url)
    name = f"showroom_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this run's own."""
    if os.environ.get("DATABASE_URL"):
        base = configured_database_url()
        if base.startswith("postgresql"):
            yield from _postgres_database(base)
            return
        raise pytest.UsageError("DATABASE_URL must be PostgreSQL (SQLite needs no URL)")
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    """This run's own Redis db number, or None (jobs then run inline)."""
    base = os.environ.get("REDIS_URL")
    if not base:
        yield None
        return
    from redis import Redis

    url = make_url_redis(base, int(os.environ.get("TEST_REDIS_DB", "13")))
    conn = Redis.from_url(url)
    conn.flushdb()
    yield url
    conn.flushdb()
    conn.close()


def make_url_redis(base: str, db: int) -> str:
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{db}"


@pytest.fixture(scope="session")
def app(database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory):
    """The application on this run's database, its schema built by the migrations."""
    from flask_migrate import upgrade

    from wsgi import create_app

    application = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SERVER_NAME": None,
        }
    )
    with application.app_context():
        upgrade()
    yield application
    from extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def engine(app) -> Iterator[Engine]:
    """A plain SQLAlchemy engine on the migrated test database (no Flask)."""
    eng = configure_sqlite(create_engine(app.config["SQLALCHEMY_DATABASE_URI"]))
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (savepoints for inner commits)."""
    connection = engine.connect()
    outer = connection.begin()
    db_session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield db_session
    finally:
        db_session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def factory(session: Session):
    from tests.factories import Factory

    return Factory(session)


@pytest.fixture(scope="session")
def app_engine(app) -> Engine:
    from extensions import db

    with app.app_context():
        return db.engine


@pytest.fixture
def committed(app_engine: Engine) -> Iterator[Factory]:
    """A factory whose records are committed, for tests that go through HTTP or a worker.

    It uses its own session and pushes no app context, so each request of the test client
    runs in a fresh context as it would in production.
    """
    from tests.factories import Factory

    with Session(app_engine, expire_on_commit=False) as db_session:
        yield Factory(db_session, commit=True)


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    root = Path(__file__).parent
    for item in items:
        if (root / "e2e") in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


# --- a PostgreSQL of the test's own, which fault tests stop and start ---------------------------


@pytest.fixture(scope="module")
def own_pg():  # type: ignore[no-untyped-def]
    from tests.own_services import OwnPostgres

    server = OwnPostgres()
    server.create()
    try:
        yield server
    finally:
        server.drop()


@pytest.fixture(scope="module")
def outage_app(own_pg):  # type: ignore[no-untyped-def]
    """The application on the test's own PostgreSQL (its schema built by the migrations)."""
    from extensions import db
    from tests.own_services import app_on

    application = app_on(own_pg.create_database(f"showroom_{uuid.uuid4().hex[:8]}"))
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def own_db(outage_app, own_pg) -> Iterator[Factory]:
    """A committing factory on the test's own PostgreSQL, started again if a test left it
    stopped."""
    from tests.factories import Factory

    engine = create_engine(outage_app.config["SQLALCHEMY_DATABASE_URI"], pool_pre_ping=True)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield Factory(session, commit=True)
    finally:
        if not own_pg.ready():
            own_pg.start()
        engine.dispose()
