"""A stall falls on the right local date in a zone with daylight saving, on SQLite as on
PostgreSQL: the day's bounds come from Python, not from one UTC offset for the whole run."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core.callbacks.models import CallbackTask
from core.nightly import run as nightly
from core.rules.rulesets import current_rules
from core.timeutil import local_moment

# (zone, the customer's last contact in local time, the first date they are stalled on):
# B is followed up every 7 days (cycle 30), so stalled on the 8th day after the contact's date
# (the 31st for the cycle). Each contact is just beside local midnight, days before a change.
CASES = {
    # spring forward on 29 March: one offset (+02:00, the run's) puts 23:30 on the next day
    "berlin-spring": (
        "Europe/Berlin",
        "follow_up",
        datetime(2026, 3, 26, 23, 30),
        date(2026, 4, 3),
    ),
    # fall back on 25 October: one offset (+01:00) puts 00:30 on the day before
    "berlin-autumn": (
        "Europe/Berlin",
        "follow_up",
        datetime(2026, 10, 22, 0, 30),
        date(2026, 10, 30),
    ),
    "new-york-spring": (
        "America/New_York",
        "follow_up",
        datetime(2026, 3, 5, 23, 30),
        date(2026, 3, 13),
    ),
    "new-york-autumn": (
        "America/New_York",
        "follow_up",
        datetime(2026, 10, 29, 0, 30),
        date(2026, 11, 6),
    ),
    # the cycle: the last visit before the change, followed up since
    "berlin-cycle": ("Europe/Berlin", "cycle", datetime(2026, 3, 10, 23, 30), date(2026, 4, 10)),
}


def run(session, store, day):
    ctx = nightly.RunContext(
        store_id=store.id,
        timezone=store.timezone,
        run_on=day,
        now=local_moment(day, time(1), store.timezone),
        job_run_id=None,
        rules=current_rules(session, store.id),
    )
    counts = nightly.run(session, ctx)
    session.flush()
    session.expire_all()
    return counts


@pytest.mark.parametrize(("zone", "rule", "contact", "stalled_on"), CASES.values(), ids=CASES)
def test_a_b_customer_is_stalled_on_the_right_local_date_across_a_dst_change(
    factory, session, zone, rule, contact, stalled_on
):
    store = factory.store(timezone=zone)
    anna = factory.consultant(store, name="Anna")
    moment = local_moment(contact.date(), contact.time(), zone)
    followed_up = local_moment(stalled_on - timedelta(days=2), time(15), zone)
    opp = factory.opportunity(
        factory.customer(store),
        owner=anna,
        grade="B",
        created_at=moment,
        graded_at=moment,
        last_visit_at=moment,
        last_follow_up_at=moment if rule == "follow_up" else followed_up,
    )
    before = run(session, store, stalled_on - timedelta(days=1))
    assert before["stalled"] == 0
    on_the_day = run(session, store, stalled_on)
    assert on_the_day["stalled"] == 1
    [task] = session.scalars(select(CallbackTask).where(CallbackTask.store_id == store.id)).all()
    assert (task.opportunity_id, task.kind, task.stall_rule, task.due_on) == (
        opp.id,
        "stalled",
        rule,
        stalled_on,
    )
