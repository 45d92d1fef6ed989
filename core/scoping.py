"""Store scoping: a record of another store is treated as one that does not exist."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from core.errors import NotFound

T = TypeVar("T")


def get_in_store(session: Session, model: type[T], record_id: Any, store_id: int) -> T:
    record = session.get(model, record_id)
    if record is None or getattr(record, "store_id", None) != store_id:
        raise NotFound(model.__name__.lower())
    return record
