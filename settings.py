"""Configuration read from the environment, shared by the web app and bare RQ workers."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"
LANGUAGES = ("zh", "en")  # the interface languages; the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]


def database_url(instance_path: Path = INSTANCE) -> str:
    """``DATABASE_URL``, or a SQLite file under instance/. postgres:// URLs use psycopg 3."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_path / 'showroom.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None
