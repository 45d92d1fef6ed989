"""`flask --app wsgi backup PATH` (issue 15): a copy of the whole database taken while the app
runs, restored and found to hold every record: SQLite's online backup opened as the database,
PostgreSQL's pg_dump restored with pg_restore into a database of the test's own."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from core.checkin import service as checkin
from core.db import utcnow
from core.schema import Base


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def test_a_backup_restores_every_record(app, app_engine, committed, tmp_path):
    store = committed.store(name="备份店")
    committed.consultant(store, name="张伟")
    for n in range(3):
        request = checkin.CheckIn(
            store_id=store.id, mobile=f"1390000{n:04d}", purpose="look", surname="王", title="mr"
        )
        checkin.check_in(committed.session, request, utcnow())
    committed.session.commit()
    before = counts(app_engine)
    assert before["visits"] >= 3 and before["assignments"] >= 1

    target = tmp_path / "showroom.backup"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "Backup written" in result.output
    again = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output  # never overwrites a backup

    if app_engine.dialect.name == "sqlite":
        restored = create_engine(f"sqlite:///{target}")
        try:
            assert counts(restored) == before
        finally:
            restored.dispose()
        return
    if shutil.which("pg_restore") is None:
        pytest.fail("pg_restore is needed to check a PostgreSQL backup")
    name = f"showroom_restore_{uuid.uuid4().hex[:8]}"
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        restore_url = url.set(database=name, drivername="postgresql")
        done = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                f"--dbname={restore_url.render_as_string(hide_password=False)}",
                str(target),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        restored = create_engine(url.set(database=name))
        try:
            assert counts(restored) == before
        finally:
            restored.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
