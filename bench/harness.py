"""Shared pieces: temporary databases, timing, statement counts, the result table."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Row:
    case: str
    database: str
    size: str
    median_ms: float
    floor_ms: float
    statements: int | None

    @property
    def ratio(self) -> float:
        return self.median_ms / self.floor_ms if self.floor_ms else float("nan")


@contextmanager
def sqlite_database() -> Iterator[str]:
    with TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    name = f"showroom_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_app(database_url: str, **config: Any) -> Any:
    """The application on ``database_url`` as a bench drives it: no Redis (jobs inline, rate
    limits in memory), no CSRF tokens to fetch; ``config`` overrides."""
    from wsgi import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )


def postgres_available(admin_url: str = PG_ADMIN_URL) -> bool:
    try:
        with create_engine(admin_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def seed_customers(session: Any, store_id: int, n: int, *, offset: int, prefix: str) -> list[int]:
    """``n`` customers with mobiles ``prefix`` + a serial, inserted set-wise; returns their ids."""
    from sqlalchemy import insert, select

    from core.opportunities.models import Customer

    session.execute(
        insert(Customer),
        [
            {
                "store_id": store_id,
                "mobile": f"{prefix}{offset + i:09d}",
                "surname": "王",
                "title": "mr",
            }
            for i in range(n)
        ],
    )
    return list(
        session.scalars(
            select(Customer.id)
            .where(Customer.store_id == store_id)
            .order_by(Customer.id.desc())
            .limit(n)
        ).all()
    )


def median_ms(fn: Callable[[], object], repeat: int = 60, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'case':<36} {'db':<10} {'size':>10} {'median ms':>10} {'floor ms':>9} "
        f"{'ratio':>6} {'SQL':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        sql = "" if r.statements is None else str(r.statements)
        print(
            f"{r.case:<36} {r.database:<10} {r.size:>10} {r.median_ms:>10.2f} "
            f"{r.floor_ms:>9.2f} {r.ratio:>6.2f} {sql:>4}"
        )
