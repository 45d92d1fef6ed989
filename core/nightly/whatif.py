"""What-if: what tonight's nightly run would do under proposed caps and cycle rules, against
what it would do under the rules in force (DESIGN.md section 3 step 9).

The preview does not re-implement the run: it runs ``core.nightly.run`` itself inside a
SAVEPOINT, reads what the run wrote (a fixed number of SELECTs) and rolls the savepoint back,
once under the current rules and once under the proposed ones. Nothing is ever committed, so
the numbers are by construction those the real run gives on the same data.

Which run is "tonight's": the nightly job runs a store for its local date D once the local
clock passes 01:00 (jobs/nightly.py). If no run for today's local date is queued, running or
done, the next run is today's (before 01:00, or a run that is still due); otherwise it is
tomorrow's, in the coming night.

Locks: each simulation takes the store's lock (PostgreSQL: the store row FOR UPDATE; SQLite:
the write lock) first inside its savepoint, before it writes the proposed caps (core/locks.py),
so a preview waits for a check-in or a nightly run in progress and they wait for it, as for any
dispatch; the rollback to the savepoint releases the row lock on PostgreSQL, and the request's
own commit ends the transaction on SQLite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.db import table_of
from core.dispatch.authority import candidates
from core.dispatch.models import Assignment
from core.enums import AssignmentReason, CallbackKind, JobKind
from core.locks import lock_store
from core.nightly import jobruns
from core.nightly import run as nightly
from core.rules.admin import DispatchRules
from core.rules.rulesets import current_rules
from core.stores.models import ConsultantSettings
from core.timeutil import local_date

cs = table_of(ConsultantSettings)


@dataclass(frozen=True)
class ConsultantOutcome:
    """One consultant after one version of tonight's run."""

    name: str
    active: bool
    cap: int
    load_before: int
    released: int  # customers taken away: inactive, or above the cap
    received: int  # customers the refill hands them
    load_after: int

    @property
    def net(self) -> int:
        return self.received - self.released

    @property
    def over_cap(self) -> bool:
        return self.load_after > self.cap


@dataclass(frozen=True)
class Outcome:
    """What one version of tonight's run does."""

    tasks: dict[str, int]  # callback tasks created, per kind
    released_inactive: int
    released_over_cap: int
    refilled: int
    unplaced: int
    consultants: dict[int, ConsultantOutcome]

    @property
    def total_tasks(self) -> int:
        return sum(self.tasks.values())


@dataclass(frozen=True)
class ConsultantComparison:
    user_id: int
    name: str
    current: ConsultantOutcome
    proposed: ConsultantOutcome

    @property
    def changed(self) -> bool:
        return self.current != self.proposed


@dataclass(frozen=True)
class Preview:
    run_on: date
    current: Outcome
    proposed: Outcome
    consultants: list[ConsultantComparison]

    @property
    def changed(self) -> bool:
        return self.current != self.proposed

    def rows(self) -> list[tuple[str, int, int]]:
        """(key, current, proposed) for the summary table, in a fixed order."""
        lines = [
            (kind.value, self.current.tasks[kind], self.proposed.tasks[kind]) for kind in KINDS
        ]
        lines += [
            ("total_tasks", self.current.total_tasks, self.proposed.total_tasks),
            ("released_inactive", self.current.released_inactive, self.proposed.released_inactive),
            ("released_over_cap", self.current.released_over_cap, self.proposed.released_over_cap),
            ("refilled", self.current.refilled, self.proposed.refilled),
            ("unplaced", self.current.unplaced, self.proposed.unplaced),
        ]
        return lines


KINDS = (
    CallbackKind.DEFEAT,
    CallbackKind.STALLED,
    CallbackKind.DORMANT,
    CallbackKind.RETRY,
    CallbackKind.SCHEDULED,
)


def next_run_on(session: Session, store_id: int, timezone: str, now: datetime) -> date:
    """The store-local date of the store's next nightly run (see the module's docstring)."""
    today = local_date(now, timezone)
    if jobruns.exists_for(session, store_id, JobKind.NIGHTLY, today):
        return today + timedelta(days=1)
    return today


def simulate(
    session: Session,
    ctx: nightly.RunContext,
    consultants: dict[int, tuple[int | None, bool]] | None = None,
) -> Outcome:
    """Run the night in a savepoint with these rules (and these consultants' own cap and
    active flag), read what it did, roll it all back."""
    nested = session.begin_nested()
    try:
        lock_store(session, ctx.store_id)  # first, before the consultants' rows: core/locks.py
        if consultants:
            session.connection().execute(
                update(cs)
                .where(cs.c.user_id == bindparam("uid"), cs.c.store_id == ctx.store_id)
                .values(load_cap=bindparam("new_cap"), active=bindparam("new_active")),
                [
                    {"uid": uid, "new_cap": cap, "new_active": active}
                    for uid, (cap, active) in consultants.items()
                ],
            )
        before = candidates(session, ctx.store_id, ctx.rules.default_load_cap)
        counts = nightly.run(session, ctx)
        moves = session.execute(
            select(Assignment.from_owner_id, Assignment.to_owner_id, func.count())
            .where(
                Assignment.store_id == ctx.store_id,
                Assignment.assigned_at == ctx.now,
                Assignment.assigned_by.is_(None),
                Assignment.reason.in_(
                    [AssignmentReason.RELEASED.value, AssignmentReason.REFILL.value]
                ),
            )
            .group_by(Assignment.from_owner_id, Assignment.to_owner_id)
        ).all()
        after = {
            s.user_id: s.load for s in candidates(session, ctx.store_id, ctx.rules.default_load_cap)
        }
    finally:
        nested.rollback()
    released: dict[int, int] = {}
    received: dict[int, int] = {}
    for from_id, to_id, n in moves:
        if from_id is not None:
            released[from_id] = released.get(from_id, 0) + int(n)
        if to_id is not None:
            received[to_id] = received.get(to_id, 0) + int(n)
    return Outcome(
        tasks={kind.value: int(counts.get(kind.value, 0)) for kind in CallbackKind},
        released_inactive=int(counts.get("released_inactive", 0)),
        released_over_cap=int(counts.get("released_over_cap", 0)),
        refilled=int(counts.get("refilled", 0)),
        unplaced=int(counts.get("unplaced", 0)),
        consultants={
            s.user_id: ConsultantOutcome(
                name=s.name,
                active=s.active,
                cap=s.cap,
                load_before=s.load,
                released=released.get(s.user_id, 0),
                received=received.get(s.user_id, 0),
                load_after=after.get(s.user_id, s.load),
            )
            for s in before
        },
    )


def preview(
    session: Session,
    store_id: int,
    now: datetime,
    change: DispatchRules,
    run_on: date | None = None,
) -> Preview:
    """Tonight's run under the rules in force and under ``change`` (validated by
    ``rule_admin.validate_dispatch``), side by side. Writes nothing."""
    current = current_rules(session, store_id)
    # the context reads the store's time zone, which the date of the next run depends on
    ctx = nightly.store_context(session, store_id, run_on or date.min, now, None, rules=current)
    if run_on is None:
        ctx = dataclasses.replace(ctx, run_on=next_run_on(session, store_id, ctx.timezone, now))
    now_side = simulate(session, ctx)
    new_side = simulate(
        session, dataclasses.replace(ctx, rules=change.rules(current)), change.consultants
    )
    return Preview(
        run_on=ctx.run_on,
        current=now_side,
        proposed=new_side,
        consultants=[
            ConsultantComparison(uid, outcome.name, outcome, new_side.consultants[uid])
            for uid, outcome in sorted(
                now_side.consultants.items(), key=lambda item: (item[1].name, item[0])
            )
        ],
    )
