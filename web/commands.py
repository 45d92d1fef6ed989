"""Command-line entry points: ``flask --app wsgi demo-data``, ``... worker``."""

from __future__ import annotations

import click
from flask import Flask, current_app

from extensions import db


def register(app: Flask) -> None:
    @app.cli.command("demo-data")
    def demo_data() -> None:
        """Load the demo store with 60 days of history (once; does nothing if it exists)."""
        from demo.data import load_demo

        summary = load_demo(db.session())
        db.session.commit()
        if summary.created:
            click.echo(
                "Demo store created: " + ", ".join(f"{k} {v}" for k, v in summary.counts.items())
            )
        else:
            click.echo("Demo store already present; nothing changed.")

    @app.cli.command("demo-logins")
    def demo_logins() -> None:
        """Print the demo sign-ins."""
        from demo.data import DEMO_PASSWORD, demo_logins

        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for login in demo_logins():
            click.echo(f"  {login.username:<10} {login.role:<11} {login.display_name}")

    @app.cli.command("nightly")
    @click.option("--store", "store_code", help="Store code (default: every active store).")
    @click.option("--date", "run_on", help="Store-local date YYYY-MM-DD (default: its today).")
    def nightly(store_code: str | None, run_on: str | None) -> None:
        """Run the nightly callback list and refill now, in this process."""
        from datetime import date

        from sqlalchemy import select

        from core.db import utcnow
        from core.stores.models import Store
        from core.timeutil import local_date
        from jobs.nightly import run_store

        if run_on:
            try:
                date.fromisoformat(run_on)
            except ValueError as exc:
                raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from exc
        query = select(Store.id, Store.code, Store.timezone).where(Store.active)
        if store_code:
            query = query.where(Store.code == store_code)
        stores = db.session.execute(query.order_by(Store.code)).all()
        db.session.rollback()
        if not stores:
            raise click.ClickException(f"no active store with code {store_code!r}")
        for store_id, code, timezone in stores:
            day = run_on or local_date(utcnow(), timezone).isoformat()
            counts = run_store(store_id, day)
            click.echo(f"{code} {day}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    def backup(path: str) -> None:
        """Copy the whole database to PATH while the app keeps running.

        SQLite: the online backup API (a consistent copy; open it as the database to restore).
        PostgreSQL: pg_dump's custom format (restore with pg_restore, see the README)."""
        import os
        import shutil
        import subprocess

        if os.path.exists(path):
            raise click.ClickException(f"{path} exists: choose a new file")
        engine = db.engine
        if engine.dialect.name == "sqlite":
            import sqlite3

            raw = engine.raw_connection()
            try:
                source = raw.driver_connection
                assert isinstance(source, sqlite3.Connection)
                target = sqlite3.connect(path)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                raw.close()
        elif engine.dialect.name == "postgresql":
            pg_dump = shutil.which("pg_dump")
            if pg_dump is None:
                raise click.ClickException("pg_dump not found: install postgresql-client")
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            done = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", f"--file={path}", url],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise click.ClickException(f"pg_dump failed: {done.stderr.strip()[:500]}")
        else:
            raise click.ClickException(f"no backup for {engine.dialect.name}")
        click.echo(f"Backup written to {path} ({os.path.getsize(path):,} bytes).")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker(burst: bool) -> None:
        """Run an RQ worker on the app's queue (needs REDIS_URL); it is also the outbox's
        dispatcher (jobs/outbox.py)."""
        from jobs import get_queue
        from jobs.outbox import Worker

        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: jobs run inline, no worker needed.")
        queue = get_queue()
        Worker([queue], connection=queue.connection).work(burst=burst, with_scheduler=False)
