"""The nightly run of a store (DESIGN.md section 3, steps 5-9).

For a store S and its local date D, in one transaction:

1. the **callback list**: one task due on D for each customer who was graded C on D-1
   (dormant), whose high-intent follow-up interval or cycle ran out by D while with a
   consultant who has had them since before D (stalled), who was defeated by a consultant
   on D-1 (defeat), whose CS-scheduled callback date has come
   (scheduled) or whose unreachable call is to be retried (retry). Never a customer without
   consent or marked do-not-contact, never two open tasks for one customer, never a second
   task due on D for a customer (a repeated run of D adds no call to a day's list that
   customer service may have worked already); when a customer qualifies several times, the
   kind of highest priority wins. The dates before D whose run never succeeded (at most a
   week back, ``jobruns.missed_dates``) are caught up first: each date's list made as its own
   run would have made it, its tasks due on that date (so they show as overdue), oldest first;
2. **releases**: the open customers of an inactive consultant, and the excess of a consultant
   above their cap, go to the refill pool;
3. the **cyclic refill**: the pool is handed to active consultants below their cap.

Every step is set-based SQL (INSERT ... SELECT, UPDATE ... WHERE id IN) except the refill, which
walks the pool (not the customers) because each placement changes the next one's room.
Each step skips what an earlier run already did, so running twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter

from core.callbacks.models import CallbackTask
from core.db import UTCDateTime, table_of
from core.dispatch.authority import (
    Candidate,
    Order,
    OwnerChange,
    apply,
    candidates,
    choose,
    declined_by,
    nobody,
    took,
)
from core.dispatch.load import counts_towards_load
from core.dispatch.models import Assignment
from core.dispatch.pool import in_pool
from core.enums import (
    CALLBACK_KIND_PRIORITY,
    CYCLE_GRADES,
    AssignmentReason,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    Grade,
    OpportunityStatus,
    PoolReason,
    Role,
    StallRule,
)
from core.locks import lock_store
from core.nightly import jobruns
from core.opportunities.models import Customer, Opportunity
from core.rules.rulesets import Rules
from core.sqlfuncs import days_between, greatest, local_date, sqlite_offset
from core.stores.models import ConsultantSettings, Store, User
from core.timeutil import day_bounds_utc

o = table_of(Opportunity)
t = table_of(CallbackTask)
c = table_of(Customer)
u = table_of(User)
cs = table_of(ConsultantSettings)
a = table_of(Assignment)

CYCLE = [g.value for g in CYCLE_GRADES]  # the grades with a follow-up interval and a cycle


@dataclass(frozen=True)
class RunContext:
    store_id: int
    timezone: str
    run_on: date  # D, store-local
    now: datetime  # aware UTC: when the run writes
    job_run_id: int | None
    rules: Rules

    @property
    def day_start(self) -> datetime:
        return day_bounds_utc(self.run_on, self.timezone)[0]

    @property
    def yesterday(self) -> tuple[datetime, datetime]:
        return day_bounds_utc(self.run_on - timedelta(days=1), self.timezone)


# --- 1. the callback list --------------------------------------------------------------------


# The statements are built once per process with bound parameters (see ``_params``), so that
# a run over many stores spends its time in the database, not in building SQL.
P: dict[str, BindParameter[Any]] = {
    "store_id": bindparam("p_store_id", type_=Integer),
    "run_on": bindparam("p_run_on", type_=Date),
    "y_start": bindparam("p_y_start", type_=UTCDateTime),
    "y_end": bindparam("p_y_end", type_=UTCDateTime),
    "day_start": bindparam("p_day_start", type_=UTCDateTime),
    "now": bindparam("p_now", type_=UTCDateTime),
    "job_run_id": bindparam("p_job_run_id", type_=Integer),
    "tz": bindparam("p_tz", type_=String),
    "tz_offset": bindparam("p_tz_offset", type_=String),
    "retry_limit": bindparam("p_retry_limit", type_=Integer),
}
for _grade in CYCLE:
    P[f"follow_up_{_grade}"] = bindparam(f"p_follow_up_{_grade}", type_=Integer)
    P[f"cycle_{_grade}"] = bindparam(f"p_cycle_{_grade}", type_=Integer)
    for _prefix in ("follow_up", "cycle"):
        # stalled when the reference is before this instant: the start of local day D - allowed
        P[f"{_prefix}_by_{_grade}"] = bindparam(f"p_{_prefix}_by_{_grade}", type_=UTCDateTime)


def _params(ctx: RunContext) -> dict[str, Any]:
    y_start, y_end = ctx.yesterday
    params: dict[str, Any] = {
        "store_id": ctx.store_id,
        "run_on": ctx.run_on,
        "y_start": y_start,
        "y_end": y_end,
        "day_start": ctx.day_start,
        "now": ctx.now,
        "job_run_id": ctx.job_run_id,
        "tz": ctx.timezone,
        "tz_offset": sqlite_offset(ctx.timezone, ctx.run_on),
        "retry_limit": ctx.rules.callback_retry_limit,
    }
    for grade in CYCLE:
        params[f"follow_up_{grade}"] = ctx.rules.cycles[grade].follow_up_days
        params[f"cycle_{grade}"] = ctx.rules.cycles[grade].cycle_days
        for prefix in ("follow_up", "cycle"):
            allowed = timedelta(days=params[f"{prefix}_{grade}"])
            params[f"{prefix}_by_{grade}"] = day_bounds_utc(ctx.run_on - allowed, ctx.timezone)[0]
    return {f"p_{name}": value for name, value in params.items()}


def _candidates() -> Any:
    """Every (customer, kind) owed a call on D, before consent and de-duplication."""
    in_store = o.c.store_id == P["store_id"]

    def no_earlier(kind: str, since: Any, rule: str | None = None) -> Any:
        """No task of this kind (and stall rule) was created for the opportunity since then."""
        return ~exists().where(
            t.c.opportunity_id == o.c.id,
            t.c.kind == kind,
            t.c.created_at >= since,
            *([t.c.stall_rule == rule] if rule else []),
        )

    def row(
        kind: CallbackKind, consultant: Any, *, stall: Any = None, overdue: Any = None
    ) -> list[Any]:
        return [
            o.c.customer_id.label("customer_id"),
            o.c.id.label("opportunity_id"),
            literal(kind.value).label("kind"),
            literal(CALLBACK_KIND_PRIORITY[kind]).label("priority"),
            (stall if stall is not None else cast(null(), String)).label("stall_rule"),
            (overdue if overdue is not None else cast(null(), Integer)).label("overdue_days"),
            consultant.label("consultant_id"),
            literal(1).label("attempt"),
        ]

    yesterday = (o.c.graded_at >= P["y_start"], o.c.graded_at < P["y_end"])
    dormant = select(*row(CallbackKind.DORMANT, o.c.dormant_by)).where(
        in_store,
        o.c.status == OpportunityStatus.OPEN.value,
        o.c.grade == Grade.C.value,
        *yesterday,
        no_earlier(CallbackKind.DORMANT.value, o.c.graded_at),
    )
    defeat = (
        select(*row(CallbackKind.DEFEAT, o.c.graded_by))
        .join(u, u.c.id == o.c.graded_by)
        .where(
            in_store,
            o.c.status == OpportunityStatus.LOST.value,
            u.c.role == Role.CONSULTANT.value,  # CS closing "bought elsewhere" is no defeat
            *yesterday,
            no_earlier(CallbackKind.DEFEAT.value, o.c.graded_at),
        )
    )
    created = o.c.created_at
    # The stall clock starts again when the customer changes hands (a refill, a reassignment):
    # the new owner is not blamed for the previous owner's silence.
    since = func.coalesce(o.c.owner_since, created)
    contact = greatest(
        func.coalesce(o.c.last_follow_up_at, created),
        func.coalesce(o.c.last_visit_at, created),
        func.coalesce(o.c.graded_at, created),
        since,
    )
    visit = greatest(func.coalesce(o.c.last_visit_at, created), since)
    stalled = []
    for rule, reference, prefix in (
        (StallRule.FOLLOW_UP, contact, "follow_up"),
        (StallRule.CYCLE, visit, "cycle"),
    ):
        allowed = case(*[(o.c.grade == g, P[f"{prefix}_{g}"]) for g in CYCLE], else_=None)
        overdue = (
            days_between(P["run_on"], local_date(reference, P["tz"], P["tz_offset"])) - allowed
        )
        stalled.append(
            select(
                *row(
                    CallbackKind.STALLED,
                    o.c.owner_id,
                    stall=literal(rule.value),
                    overdue=cast(overdue, Integer),
                )
            ).where(
                in_store,
                o.c.status == OpportunityStatus.OPEN.value,
                o.c.grade.in_(CYCLE),
                o.c.owner_id.is_not(None),
                # the local date of the reference is more than ``allowed`` days before D, with
                # the day's bounds from Python: exact in every zone, on SQLite too (``overdue``
                # is only shown; there it takes the offset of D, a day off beside a DST change)
                or_(*[and_(o.c.grade == g, reference < P[f"{prefix}_by_{g}"]) for g in CYCLE]),
                no_earlier(CallbackKind.STALLED.value, reference, rule.value),
            )
        )
    scheduled = select(
        *row(CallbackKind.SCHEDULED, func.coalesce(o.c.owner_id, o.c.dormant_by))
    ).where(
        in_store,
        o.c.status == OpportunityStatus.OPEN.value,
        o.c.next_callback_on <= P["run_on"],
    )
    later = aliased(t)
    retry = select(
        t.c.customer_id.label("customer_id"),
        t.c.opportunity_id.label("opportunity_id"),
        literal(CallbackKind.RETRY.value).label("kind"),
        literal(CALLBACK_KIND_PRIORITY[CallbackKind.RETRY]).label("priority"),
        cast(null(), String).label("stall_rule"),
        cast(null(), Integer).label("overdue_days"),
        t.c.consultant_id.label("consultant_id"),
        (t.c.attempt + 1).label("attempt"),
    ).where(
        t.c.store_id == P["store_id"],
        t.c.status == CallbackStatus.DONE.value,
        t.c.outcome == CallbackOutcome.UNREACHABLE.value,
        t.c.completed_at < P["day_start"],
        t.c.attempt < P["retry_limit"],
        ~exists().where(later.c.customer_id == t.c.customer_id, later.c.id > t.c.id),
    )
    return union_all(dormant, defeat, *stalled, scheduled, retry).subquery("candidate")


@cache
def _selection() -> Any:
    cand = _candidates()
    open_task = aliased(t)
    ranked = (
        select(
            cand,
            func.row_number()
            .over(
                partition_by=cand.c.customer_id,
                order_by=(cand.c.priority, func.coalesce(cand.c.overdue_days, 0).desc()),
            )
            .label("rank"),
        )
        .join(c, c.c.id == cand.c.customer_id)
        .where(
            c.c.store_id == P["store_id"],
            c.c.consent_at.is_not(None),
            c.c.do_not_contact == false(),
            ~exists().where(
                open_task.c.customer_id == cand.c.customer_id,
                or_(
                    open_task.c.status == CallbackStatus.OPEN.value,
                    open_task.c.due_on == P["run_on"],
                ),
            ),
        )
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.rank == 1)


@cache
def _statements() -> tuple[Any, Any, Any]:
    chosen = _selection().subquery("chosen")
    create = insert(t).from_select(
        [
            "store_id",
            "customer_id",
            "opportunity_id",
            "kind",
            "due_on",
            "stall_rule",
            "overdue_days",
            "consultant_id",
            "attempt",
            "status",
            "created_at",
            "job_run_id",
        ],
        select(
            P["store_id"],
            chosen.c.customer_id,
            chosen.c.opportunity_id,
            chosen.c.kind,
            P["run_on"],
            chosen.c.stall_rule,
            chosen.c.overdue_days,
            chosen.c.consultant_id,
            chosen.c.attempt,
            literal(CallbackStatus.OPEN.value),
            P["now"],
            P["job_run_id"],
        ),
    )
    mine = and_(
        t.c.store_id == P["store_id"], t.c.created_at == P["now"], t.c.due_on == P["run_on"]
    )
    # CS-scheduled dates are consumed by the task they produced.
    consume = (
        update(o)
        .where(
            o.c.id.in_(
                select(t.c.opportunity_id).where(mine, t.c.kind == CallbackKind.SCHEDULED.value)
            )
        )
        .values(next_callback_on=None)
    )
    count = select(t.c.kind, func.count()).where(mine).group_by(t.c.kind)
    return create, consume, count


def build_callback_list(session: Session, ctx: RunContext) -> dict[str, int]:
    create, consume, count = _statements()
    params = _params(ctx)
    session.execute(create, params)
    session.execute(consume, params)
    counts = dict(session.execute(count, params).all())
    return {kind.value: int(counts.get(kind.value, 0)) for kind in CallbackKind}


# --- 2. releases -----------------------------------------------------------------------------


GRADE_RANK_FOR_RELEASE = case(
    (o.c.grade == Grade.B.value, 0),
    (o.c.grade == Grade.A.value, 1),
    (o.c.grade.is_(None), 2),
    else_=3,  # H is taken away last
)


def _release(
    session: Session, ctx: RunContext, ids: list[int], reason: PoolReason, pool: list[Candidate]
) -> int:
    """These open customers go to the refill pool, through the dispatch authority."""
    if not ids:
        return 0
    decision = nobody(pool)
    owners = session.execute(select(o.c.id, o.c.owner_id).where(o.c.id.in_(ids))).all()
    apply(
        session,
        [
            OwnerChange(
                ctx.store_id,
                opp_id,
                owner_id,
                decision,
                ctx.now,
                reason=AssignmentReason.RELEASED.value,
                job_run_id=ctx.job_run_id,
                note=reason.value,
                pool_reason=reason.value,
            )
            for opp_id, owner_id in owners
        ],
    )
    return len(ids)


def release_excess(
    session: Session, ctx: RunContext, all_seats: list[Candidate] | None = None
) -> dict[str, int]:
    """Inactive consultants' open customers and any load above a cap go to the pool."""
    if all_seats is None:
        all_seats = candidates(session, ctx.store_id, ctx.rules.default_load_cap)
    inactive = [s.user_id for s in all_seats if not s.active]
    left_ids = (
        session.scalars(
            select(o.c.id).where(
                o.c.store_id == ctx.store_id,
                o.c.status == OpportunityStatus.OPEN.value,
                o.c.owner_id.in_(inactive),
            )
        ).all()
        if inactive
        else []
    )
    excess = {s.user_id: s.load - s.cap for s in all_seats if s.active and s.load > s.cap}
    over_ids: list[int] = []
    if excess:
        contact = func.coalesce(o.c.last_follow_up_at, o.c.graded_at, o.c.created_at)
        ranked = (
            select(
                o.c.id,
                o.c.owner_id,
                func.row_number()
                .over(
                    partition_by=o.c.owner_id,
                    order_by=(GRADE_RANK_FOR_RELEASE, contact, o.c.id),
                )
                .label("rank"),
            )
            .where(o.c.store_id == ctx.store_id, counts_towards_load())
            .where(o.c.owner_id.in_(list(excess)))
            .subquery()
        )
        over_ids = [
            row.id
            for row in session.execute(select(ranked.c.id, ranked.c.owner_id, ranked.c.rank))
            if row.rank <= excess[row.owner_id]
        ]
    return {
        "released_inactive": _release(
            session, ctx, list(left_ids), PoolReason.CONSULTANT_LEFT, all_seats
        ),
        "released_over_cap": _release(session, ctx, over_ids, PoolReason.OVER_CAP, all_seats),
    }


# --- 3. the cyclic refill --------------------------------------------------------------------


POOL_ORDER = (
    case(
        (o.c.grade == Grade.H.value, 0),
        (o.c.grade == Grade.A.value, 1),
        (o.c.grade == Grade.B.value, 2),
        (o.c.grade.is_(None), 3),
        else_=4,
    ),
    o.c.pool_since,
    o.c.id,
)


def refill(
    session: Session,
    ctx: RunContext,
    assigned_by: int | None = None,
    all_seats: list[Candidate] | None = None,
) -> dict[str, int]:
    """Hand the pool out: highest grade and longest waiting first, each to the consultant the
    dispatch rule lets have them with the most room (ties: the longest without a refilled
    customer)."""
    pool = session.execute(
        select(o.c.id, o.c.customer_id, o.c.grade, o.c.pool_reason)
        .where(o.c.store_id == ctx.store_id, in_pool(o))
        .order_by(*POOL_ORDER)
    ).all()
    if not pool:
        return {"refilled": 0, "unplaced": 0}
    if all_seats is None:
        all_seats = candidates(session, ctx.store_id, ctx.rules.default_load_cap)
    declined = declined_by(session, (row.customer_id for row in pool))
    changes: list[OwnerChange] = []
    for step, (opp_id, customer_id, grade, pool_reason) in enumerate(pool):
        decision = choose(
            all_seats,
            order=Order.REFILL,
            reason=AssignmentReason.REFILL.value,
            walk_in=False,
            declined=declined.get(customer_id, frozenset()),
            grade=grade,
        )
        if decision.consultant_id is None:
            continue
        # a microsecond apart, so that ties go round the team in order
        refill_at = ctx.now + timedelta(microseconds=step)
        changes.append(
            OwnerChange(
                ctx.store_id,
                opp_id,
                None,
                decision,
                ctx.now,
                actor_id=assigned_by,
                job_run_id=ctx.job_run_id,
                note=pool_reason,
                refill_at=refill_at,
                follow_up_on=ctx.run_on,
            )
        )
        took(all_seats, decision, grade=grade, new_owner=True, refill_at=refill_at)
    apply(session, changes)
    return {"refilled": len(changes), "unplaced": len(pool) - len(changes)}


# --- the whole run ---------------------------------------------------------------------------


def run(session: Session, ctx: RunContext) -> dict[str, int]:
    """Callback lists (the missed dates', then D's), releases, refill. The caller holds the
    nightly lock and commits once."""
    lock_store(session, ctx.store_id)  # no check-in dispatches while the refill decides
    missed = jobruns.missed_dates(session, ctx.store_id, ctx.run_on)
    counts: dict[str, int] = {}
    for day in [*missed, ctx.run_on]:
        for kind, n in build_callback_list(session, replace(ctx, run_on=day)).items():
            counts[kind] = counts.get(kind, 0) + n
    counts["caught_up"] = len(missed)
    before = candidates(session, ctx.store_id, ctx.rules.default_load_cap)
    released = release_excess(session, ctx, before)
    counts.update(released)
    # the loads only changed if something was released
    counts.update(refill(session, ctx, all_seats=None if any(released.values()) else before))
    return counts


def store_context(
    session: Session,
    store_id: int,
    run_on: date,
    now: datetime,
    job_run_id: int | None,
    rules: Rules | None = None,
) -> RunContext:
    from core.rules.rulesets import current_rules

    timezone = session.scalar(select(Store.timezone).where(Store.id == store_id))
    if timezone is None:
        from core.errors import NotFound

        raise NotFound("store")
    return RunContext(
        store_id=store_id,
        timezone=timezone,
        run_on=run_on,
        now=now,
        job_run_id=job_run_id,
        rules=rules or current_rules(session, store_id),
    )
