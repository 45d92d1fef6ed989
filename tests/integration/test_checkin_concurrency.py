"""Twenty check-ins at the same instant never push a consultant past the cap (real threads,
one session each, on SQLite and PostgreSQL)."""

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.checkin import service as checkin
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.authority import candidates


def test_twenty_simultaneous_check_ins_respect_caps_and_the_queue(app_engine, committed):
    store = committed.store()
    team = [committed.consultant(store, cap=cap, name=f"C{cap}") for cap in (3, 4, 5)]
    for person, cap in zip(team, (3, 4, 5), strict=True):
        committed.book(person, cap - 1, grade="A")  # one place left each
    start = threading.Barrier(20)
    results, errors = [], []

    def visitor(i: int) -> None:
        try:
            with Session(app_engine) as session:
                start.wait(timeout=30)
                result = checkin.check_in(
                    session,
                    checkin.CheckIn(
                        store_id=store.id,
                        mobile=f"1370000{i:04d}",
                        purpose="look",
                        surname="张",
                        title="mr",
                        idempotency_key=f"k{i}",
                    ),
                    utcnow(),
                )
                session.commit()
                results.append(result)
        except Exception as exc:  # reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 20
    with Session(app_engine) as session:
        for seat in candidates(session, store.id, 30):
            assert seat.load <= seat.cap, seat
        assigned = sorted(r.consultant_id for r in results if r.consultant_id)
        assert assigned == sorted(p.id for p in team)  # one each: then they are busy
        positions = sorted(r.queue_position for r in results if r.consultant_id is None)
        assert positions == list(range(1, 18))  # seventeen wait, each in their own place
        visits = session.scalar(
            select(func.count()).select_from(Visit).where(Visit.store_id == store.id)
        )
        assert visits == 20
