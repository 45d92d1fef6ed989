"""What managers learn (DESIGN.md section 4): per store and per consultant, over a period.

Every function takes ``(session, store_ids, period_from, period_to, consultant_id=None)``: the
stores in scope (one for a manager, every active store of the group for an admin), a period of
store-local calendar dates (both ends included) and optionally one consultant. Each store's
period becomes its own UTC half-open interval ([start of ``period_from``, start of the day
after ``period_to``) in the store's time zone), so every count filters on stored timestamps.
Rows are per consultant (``by="consultant"``) or, for a group, per store (``by="store"``).

Each function issues a fixed number of aggregate statements (GROUP BY), whatever the size of
the data; Python only arranges the aggregated rows.

Definitions (shown on the page as help text; ``DEFINITIONS`` holds them):

- **Funnel.** *Visits*: check-ins during the period. *First receptions*: first visits of a
  customer that a consultant received (reception started). *Intent*: opportunities whose first
  needs analysis (grade H, A, B or C) took place in the period. *Invitations*: invitations to
  come back created in the period. *Revisits*: visits in the period by a returning customer or
  honouring an invitation. *Orders*: opportunities won in the period. The rate of a step is its
  number divided by the step before (none when that is 0); the steps count events in the
  period, not one cohort, so a rate can exceed 100 %. Visits, receptions and revisits count for
  the consultant who received the visitor, intent for who made the analysis, invitations for
  the consultant who receives the customer, orders for who recorded them.
- **Misjudgement.** Dormant callbacks (customers a consultant graded C) completed in the period
  with the customer reached, for the consultant who graded them dormant: the share who had
  already bought elsewhere (answer "has bought", or outcome "bought elsewhere") and the share
  willing to come back. Ranked by the bought-elsewhere share, then by the number reached.
- **Callback results.** Callbacks completed in the period (each attempt, retries included), for
  the consultant concerned: reached and reach rate, outcomes, brands bought instead and the
  reasons given (normalised: trimmed, case-insensitive), willing to revisit (of those reached),
  average satisfaction with the consultant (1-5), and defeats overturned (opportunities
  reopened after a defeat callback in the period).
- **Defeats.** Opportunities lost in the period, by reason and by competitor brand, for the
  consultant whose customer it was (the owner; for a dormant customer customer service closed,
  who graded them dormant; else who recorded the defeat).
- **Workload (now).** Open customers whose follow-up date is before the store's today
  (overdue), and load against cap (open customers new or graded H, A or B).
- **Reception times.** Visits checked in during the period: average reception (end minus
  start of the reception) and average wait (check-in to a consultant being assigned, or to the
  reception starting when nobody was assigned first).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from core.db import utcnow
from core.enums import (
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    DefeatReason,
    OpportunityStatus,
    Role,
)
from core.errors import NotFound, ValidationError
from core.i18n import N_
from core.models import (
    CallbackAnswers,
    CallbackTask,
    ConsultantSettings,
    Invitation,
    Opportunity,
    RuleSet,
    Store,
    User,
    Visit,
)
from core.sqlfuncs import seconds_between
from core.team import counts_towards_load
from core.timeutil import day_bounds_utc, local_date

BY_CONSULTANT = "consultant"
BY_STORE = "store"
MAX_PERIOD_DAYS = 366
TOP_N = 10

# --- the period -------------------------------------------------------------------------------

PRESETS = ("last_30", "last_7", "this_month", "last_month")


def preset_period(name: str, today: date) -> tuple[date, date]:
    """The dates of a preset, store-local: this month and the last month are whole calendar
    months (this month up to today); the last 7 and 30 days end today."""
    if name == "last_7":
        return today - timedelta(days=6), today
    if name == "this_month":
        return today.replace(day=1), today
    if name == "last_month":
        last_day = today.replace(day=1) - timedelta(days=1)
        return last_day.replace(day=1), last_day
    return today - timedelta(days=29), today


def parse_period(raw_from: str, raw_to: str, today: date) -> tuple[date, date]:
    """Validate a period typed as YYYY-MM-DD: not in the future, from <= to, at most a year.

    Raises ValidationError with a message per field ("from", "to")."""
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for name, raw in (("from", raw_from), ("to", raw_to)):
        text = (raw or "").strip()
        if not text:
            errors[name] = N_("Enter a date.")
            continue
        try:
            value = date.fromisoformat(text)
        except ValueError:
            errors[name] = N_("Enter a date as YYYY-MM-DD.")
            continue
        if value > today:
            errors[name] = N_("Choose a date that is not in the future.")
            continue
        parsed[name] = value
    if "from" in parsed and "to" in parsed:
        if parsed["from"] > parsed["to"]:
            errors["to"] = N_("The end date must not be before the start date.")
        elif (parsed["to"] - parsed["from"]).days + 1 > MAX_PERIOD_DAYS:
            errors["from"] = N_("Choose a period of at most one year.")
    if errors:
        raise ValidationError(errors)
    return parsed["from"], parsed["to"]


# --- shared pieces ----------------------------------------------------------------------------


def _zones(session: Session, store_ids: Sequence[int]) -> dict[int, str]:
    """Each store's time zone (one statement)."""
    found = session.execute(select(Store.id, Store.timezone).where(Store.id.in_(store_ids)))
    return {store_id: zone for store_id, zone in found}


def _in_period(
    timestamp: Any,
    store_column: Any,
    zones: dict[int, str],
    period_from: date,
    period_to: date,
) -> ColumnElement[bool]:
    """``timestamp`` within the period in its store's calendar: stores sharing the same UTC
    bounds share one condition (usually one for a whole group)."""
    groups: dict[tuple[datetime, datetime], list[int]] = defaultdict(list)
    for store_id, zone in zones.items():
        start = day_bounds_utc(period_from, zone)[0]
        end = day_bounds_utc(period_to, zone)[1]
        groups[(start, end)].append(store_id)
    if not groups:
        return false()
    return or_(
        *(
            and_(store_column.in_(ids), timestamp >= start, timestamp < end)
            for (start, end), ids in groups.items()
        )
    )


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _average(total: float | None, n: int) -> float | None:
    return float(total) / n if n and total is not None else None


def _names(session: Session, by: str, keys: Iterable[int | None]) -> dict[int, str]:
    """Display names of the consultants (or stores) in the rows: one statement."""
    ids = sorted({k for k in keys if k is not None})
    if by == BY_STORE:
        query = select(Store.id, Store.name).where(Store.id.in_(ids))
    else:
        query = select(User.id, User.display_name).where(User.id.in_(ids))
    return {key: name for key, name in session.execute(query)}


def _key(by: str, store_column: Any, consultant_column: Any) -> Any:
    return store_column if by == BY_STORE else consultant_column


def _scope(consultant_column: Any, consultant_id: int | None) -> list[ColumnElement[bool]]:
    return [] if consultant_id is None else [consultant_column == consultant_id]


@dataclass(frozen=True)
class Share:
    """A category (an outcome, a reason, a brand) with its count and share of the whole."""

    key: str
    n: int
    share: float | None


def _shares(counts: Iterable[tuple[str, int]], whole: int) -> list[Share]:
    ordered = sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    return [Share(key, n, _rate(n, whole)) for key, n in ordered]


# --- funnel -----------------------------------------------------------------------------------

FUNNEL_STEPS = ("visits", "first_receptions", "intent", "invitations", "revisits", "orders")


@dataclass
class FunnelRow:
    key: int | None  # consultant (or store) id; None: visitors nobody received
    name: str | None
    visits: int = 0
    first_receptions: int = 0
    intent: int = 0
    invitations: int = 0
    revisits: int = 0
    orders: int = 0

    def count(self, step: str) -> int:
        return int(getattr(self, step))

    def rate(self, step: str) -> float | None:
        """This step's number over the step before; None for the first step or a 0 before."""
        i = FUNNEL_STEPS.index(step)
        return None if i == 0 else _rate(self.count(step), self.count(FUNNEL_STEPS[i - 1]))

    @property
    def order_rate(self) -> float | None:
        return _rate(self.orders, self.visits)


@dataclass
class Funnel:
    rows: list[FunnelRow]
    totals: FunnelRow


def funnel(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
) -> Funnel:
    """Six statements: zones, visits, intent, invitations, orders, names."""
    zones = _zones(session, store_ids)
    rows: dict[int | None, FunnelRow] = {}

    def row(key: int | None) -> FunnelRow:
        return rows.setdefault(key, FunnelRow(key, None))

    v_key = _key(by, Visit.store_id, Visit.consultant_id)
    for key, visits, first, revisits in session.execute(
        select(
            v_key,
            func.count(),
            func.count().filter(Visit.is_first_visit, Visit.reception_started_at.is_not(None)),
            func.count().filter(or_(~Visit.is_first_visit, Visit.invitation_id.is_not(None))),
        )
        .where(_in_period(Visit.checked_in_at, Visit.store_id, zones, period_from, period_to))
        .where(*_scope(Visit.consultant_id, consultant_id))
        .group_by(v_key)
    ):
        r = row(key)
        r.visits, r.first_receptions, r.revisits = visits, first, revisits

    # An opportunity's first needs analysis, kept on the opportunity: one indexed range.
    a_key = _key(by, Opportunity.store_id, Opportunity.first_assessed_by)
    for key, n in session.execute(
        select(a_key, func.count())
        .where(
            _in_period(
                Opportunity.first_assessed_at, Opportunity.store_id, zones, period_from, period_to
            )
        )
        .where(*_scope(Opportunity.first_assessed_by, consultant_id))
        .group_by(a_key)
    ):
        row(key).intent = n

    i_key = _key(by, Invitation.store_id, Invitation.consultant_id)
    for key, n in session.execute(
        select(i_key, func.count())
        .where(
            _in_period(Invitation.created_at, Invitation.store_id, zones, period_from, period_to)
        )
        .where(*_scope(Invitation.consultant_id, consultant_id))
        .group_by(i_key)
    ):
        row(key).invitations = n

    o_key = _key(by, Opportunity.store_id, Opportunity.graded_by)
    for key, n in session.execute(
        select(o_key, func.count())
        .where(Opportunity.status == OpportunityStatus.WON.value)
        .where(
            _in_period(Opportunity.closed_at, Opportunity.store_id, zones, period_from, period_to)
        )
        .where(*_scope(Opportunity.graded_by, consultant_id))
        .group_by(o_key)
    ):
        row(key).orders = n

    names = _names(session, by, rows)
    totals = FunnelRow(None, None)
    for r in rows.values():
        r.name = names.get(r.key) if r.key is not None else None
        for step in FUNNEL_STEPS:
            setattr(totals, step, totals.count(step) + r.count(step))
    return Funnel(_ordered(rows.values(), lambda r: (-r.visits, -r.orders)), totals)


def _ordered(rows: Iterable[Any], sort: Callable[[Any], Any]) -> list[Any]:
    """Named rows by ``sort`` then name; the row without a consultant last."""
    return sorted(rows, key=lambda r: (r.key is None, *sort(r), r.name or ""))


# --- misjudgement -----------------------------------------------------------------------------


@dataclass
class MisjudgementRow:
    key: int | None
    name: str | None
    reached: int = 0
    bought_elsewhere: int = 0
    willing: int = 0

    @property
    def bought_share(self) -> float | None:
        return _rate(self.bought_elsewhere, self.reached)

    @property
    def willing_share(self) -> float | None:
        return _rate(self.willing, self.reached)


@dataclass
class Misjudgement:
    rows: list[MisjudgementRow]
    totals: MisjudgementRow


def _completed(zones: dict[int, str], period_from: date, period_to: date) -> list[Any]:
    return [
        CallbackTask.status == CallbackStatus.DONE.value,
        _in_period(CallbackTask.completed_at, CallbackTask.store_id, zones, period_from, period_to),
    ]


def _bought() -> ColumnElement[bool]:
    return or_(
        CallbackAnswers.has_bought.is_(True),
        CallbackTask.outcome == CallbackOutcome.BOUGHT_ELSEWHERE.value,
    )


def misjudgement(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
) -> Misjudgement:
    """Three statements: zones, the grouped counts, names."""
    zones = _zones(session, store_ids)
    key = _key(by, CallbackTask.store_id, CallbackTask.consultant_id)
    found = session.execute(
        select(
            key,
            func.count(),
            func.count().filter(_bought()),
            func.count().filter(CallbackAnswers.would_revisit.is_(True)),
        )
        .select_from(CallbackTask)
        .outerjoin(CallbackAnswers, CallbackAnswers.task_id == CallbackTask.id)
        .where(*_completed(zones, period_from, period_to))
        .where(
            CallbackTask.kind == CallbackKind.DORMANT.value,
            CallbackTask.call_result == CallResult.REACHED.value,
        )
        .where(*_scope(CallbackTask.consultant_id, consultant_id))
        .group_by(key)
    ).all()
    names = _names(session, by, (r[0] for r in found))
    rows = [MisjudgementRow(k, names.get(k) if k else None, n, b, w) for k, n, b, w in found]
    totals = MisjudgementRow(
        None,
        None,
        sum(r.reached for r in rows),
        sum(r.bought_elsewhere for r in rows),
        sum(r.willing for r in rows),
    )
    rows.sort(key=lambda r: (r.key is None, -(r.bought_share or 0), -r.reached, r.name or ""))
    return Misjudgement(rows, totals)


# --- callback results -------------------------------------------------------------------------


@dataclass
class CallbackRow:
    key: int | None
    name: str | None
    attempted: int = 0
    reached: int = 0
    bought_elsewhere: int = 0
    willing: int = 0
    satisfaction_sum: int = 0
    rated: int = 0
    overturned: int = 0

    @property
    def reach_rate(self) -> float | None:
        return _rate(self.reached, self.attempted)

    @property
    def willing_rate(self) -> float | None:
        return _rate(self.willing, self.reached)

    @property
    def satisfaction(self) -> float | None:
        return _average(self.satisfaction_sum, self.rated)


@dataclass
class CallbackResults:
    rows: list[CallbackRow]
    totals: CallbackRow
    outcomes: list[Share] = field(default_factory=list)  # share of attempted calls
    brands: list[Share] = field(default_factory=list)  # share of answers naming a brand
    reasons: list[Share] = field(default_factory=list)  # top reasons, share of those given


def _normalised(column: Any) -> Any:
    return func.lower(func.trim(column))


def callback_results(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
) -> CallbackResults:
    """Seven statements: zones, per consultant, outcomes, brands, reasons, overturned, names."""
    zones = _zones(session, store_ids)
    done = _completed(zones, period_from, period_to)
    mine = _scope(CallbackTask.consultant_id, consultant_id)
    key = _key(by, CallbackTask.store_id, CallbackTask.consultant_id)
    rows: dict[int | None, CallbackRow] = {}
    for k, attempted, reached, bought, willing, sat_sum, rated in session.execute(
        select(
            key,
            func.count(),
            func.count().filter(CallbackTask.call_result == CallResult.REACHED.value),
            func.count().filter(CallbackTask.call_result == CallResult.REACHED.value, _bought()),
            func.count().filter(
                CallbackTask.call_result == CallResult.REACHED.value,
                CallbackAnswers.would_revisit.is_(True),
            ),
            func.sum(CallbackAnswers.satisfaction),
            func.count(CallbackAnswers.satisfaction),
        )
        .select_from(CallbackTask)
        .outerjoin(CallbackAnswers, CallbackAnswers.task_id == CallbackTask.id)
        .where(*done, *mine)
        .group_by(key)
    ):
        rows[k] = CallbackRow(
            k, None, attempted, reached, bought, willing, int(sat_sum or 0), rated
        )

    outcome_counts = session.execute(
        select(CallbackTask.outcome, func.count())
        .where(*done, *mine, CallbackTask.outcome.is_not(None))
        .group_by(CallbackTask.outcome)
    ).all()

    def top(column: Any) -> list[tuple[str, int]]:
        label = func.min(func.trim(column))
        return [
            (text, n)
            for text, n in session.execute(
                select(label, func.count())
                .select_from(CallbackTask)
                .join(CallbackAnswers, CallbackAnswers.task_id == CallbackTask.id)
                .where(*done, *mine, func.trim(column) != "")
                .group_by(_normalised(column))
                .order_by(func.count().desc(), label)
            ).all()
        ]

    brand_counts = top(CallbackAnswers.bought_brand)
    reason_counts = top(CallbackAnswers.bought_reason)

    # Defeats overturned: opportunities reopened in the period, for the consultant whose
    # defeat callback it was (the callback's consultant; none when there was no callback).
    defeat = aliased(CallbackTask)
    o_key = _key(by, Opportunity.store_id, defeat.consultant_id)
    for k, n in session.execute(
        select(o_key, func.count(func.distinct(Opportunity.id)))
        .select_from(Opportunity)
        .outerjoin(
            defeat,
            and_(
                defeat.opportunity_id == Opportunity.id,
                defeat.kind == CallbackKind.DEFEAT.value,
                defeat.status == CallbackStatus.DONE.value,
            ),
        )
        .where(
            _in_period(
                Opportunity.defeat_overturned_at,
                Opportunity.store_id,
                zones,
                period_from,
                period_to,
            )
        )
        .where(*_scope(defeat.consultant_id, consultant_id))
        .group_by(o_key)
    ):
        rows.setdefault(k, CallbackRow(k, None)).overturned = n

    names = _names(session, by, rows)
    totals = CallbackRow(None, None)
    for r in rows.values():
        r.name = names.get(r.key) if r.key is not None else None
        for name in (
            "attempted",
            "reached",
            "bought_elsewhere",
            "willing",
            "satisfaction_sum",
            "rated",
            "overturned",
        ):
            setattr(totals, name, getattr(totals, name) + getattr(r, name))
    return CallbackResults(
        rows=_ordered(rows.values(), lambda r: (-r.attempted,)),
        totals=totals,
        outcomes=_shares(outcome_counts, totals.attempted),
        brands=_shares(brand_counts, sum(n for _, n in brand_counts))[:TOP_N],
        reasons=_shares(reason_counts, sum(n for _, n in reason_counts))[:TOP_N],
    )


# --- defeats ----------------------------------------------------------------------------------


@dataclass
class DefeatRow:
    key: int | None
    name: str | None
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def defeats(self) -> int:
        return sum(self.by_reason.values())

    def reason(self, reason: str) -> int:
        return self.by_reason.get(reason, 0)


@dataclass
class Defeats:
    rows: list[DefeatRow]
    totals: DefeatRow
    reasons: list[Share]
    brands: list[Share]  # share of defeats naming a brand


def defeats(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
) -> Defeats:
    """Four statements: zones, per consultant and reason, brands, names."""
    zones = _zones(session, store_ids)
    # The consultant whose customer it was: the owner, else who graded the customer dormant
    # (customer service closes those), else who recorded the defeat.
    whose = func.coalesce(Opportunity.owner_id, Opportunity.dormant_by, Opportunity.graded_by)
    lost = [
        Opportunity.status == OpportunityStatus.LOST.value,
        _in_period(Opportunity.closed_at, Opportunity.store_id, zones, period_from, period_to),
        *_scope(whose, consultant_id),
    ]
    key = _key(by, Opportunity.store_id, whose)
    reason = func.coalesce(Opportunity.defeat_reason, DefeatReason.OTHER.value)
    rows: dict[int | None, DefeatRow] = {}
    for k, r, n in session.execute(
        select(key, reason, func.count()).where(*lost).group_by(key, reason)
    ):
        rows.setdefault(k, DefeatRow(k, None)).by_reason[r] = n
    label = func.min(func.trim(Opportunity.competitor_brand))
    brand_counts = session.execute(
        select(label, func.count())
        .where(*lost, func.trim(Opportunity.competitor_brand) != "")
        .group_by(_normalised(Opportunity.competitor_brand))
    ).all()
    names = _names(session, by, rows)
    totals = DefeatRow(None, None)
    for row in rows.values():
        row.name = names.get(row.key) if row.key is not None else None
        for r, n in row.by_reason.items():
            totals.by_reason[r] = totals.by_reason.get(r, 0) + n
    return Defeats(
        rows=_ordered(rows.values(), lambda r: (-r.defeats,)),
        totals=totals,
        reasons=_shares(totals.by_reason.items(), totals.defeats),
        brands=_shares([(b, n) for b, n in brand_counts], sum(n for _, n in brand_counts))[:TOP_N],
    )


# --- workload (now) ---------------------------------------------------------------------------


@dataclass
class WorkloadRow:
    key: int | None
    name: str | None
    overdue: int = 0
    load: int = 0
    cap: int = 0
    consultants: int = 0

    @property
    def load_share(self) -> float | None:
        return _rate(self.load, self.cap)


@dataclass
class Workload:
    rows: list[WorkloadRow]
    totals: WorkloadRow


def workload(
    session: Session,
    store_ids: list[int],
    period_from: date | None = None,
    period_to: date | None = None,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
    now: datetime | None = None,
) -> Workload:
    """Overdue follow-ups (before each store's today) and load against cap, now: every active
    consultant of the stores, as on the Team page. The period does not apply. Two
    statements: zones, the consultants with their counts and caps (and the store names for a
    group)."""
    zones = _zones(session, store_ids)
    moment = now or utcnow()
    by_today: dict[date, list[int]] = defaultdict(list)
    for store_id, zone in zones.items():
        by_today[local_date(moment, zone)].append(store_id)
    overdue = or_(
        false(),
        *(
            and_(Opportunity.store_id.in_(ids), Opportunity.next_follow_up_due < today)
            for today, ids in by_today.items()
        ),
    )
    book = (
        select(
            Opportunity.owner_id.label("owner_id"),
            func.count().filter(overdue).label("overdue"),
            func.count().filter(counts_towards_load()).label("load"),
        )
        .where(
            Opportunity.store_id.in_(store_ids),
            Opportunity.status == OpportunityStatus.OPEN.value,
            Opportunity.owner_id.is_not(None),
        )
        .group_by(Opportunity.owner_id)
        .subquery()
    )
    newer = aliased(RuleSet)
    rules = (
        select(RuleSet.store_id, RuleSet.default_load_cap)
        .where(RuleSet.store_id.in_(store_ids))
        .where(~exists().where(newer.store_id == RuleSet.store_id, newer.version > RuleSet.version))
        .subquery()
    )
    found = session.execute(
        select(
            User.id,
            User.store_id,
            User.display_name,
            func.coalesce(book.c.overdue, 0),
            func.coalesce(book.c.load, 0),
            func.coalesce(ConsultantSettings.load_cap, rules.c.default_load_cap, 0),
        )
        .join(ConsultantSettings, ConsultantSettings.user_id == User.id)
        .outerjoin(book, book.c.owner_id == User.id)
        .outerjoin(rules, rules.c.store_id == User.store_id)
        .where(
            User.store_id.in_(store_ids),
            User.role == Role.CONSULTANT.value,
            User.active,
            *_scope(User.id, consultant_id),
        )
    ).all()
    store_names = _names(session, BY_STORE, zones) if by == BY_STORE else {}
    rows: dict[int | None, WorkloadRow] = {}
    totals = WorkloadRow(None, None)
    for user_id, store_id, name, n_overdue, load, cap in found:
        k = store_id if by == BY_STORE else user_id
        row = rows.setdefault(
            k, WorkloadRow(k, store_names.get(store_id) if by == BY_STORE else name)
        )
        for target in (row, totals):
            target.overdue += n_overdue
            target.load += load
            target.cap += cap
            target.consultants += 1
    return Workload(_ordered(rows.values(), lambda r: (-r.overdue, -r.load)), totals)


# --- reception times --------------------------------------------------------------------------


@dataclass
class ReceptionRow:
    key: int | None
    name: str | None
    receptions: int = 0
    reception_seconds: float = 0.0
    waits: int = 0
    wait_seconds: float = 0.0

    @property
    def average_reception(self) -> float | None:
        """Seconds."""
        return _average(self.reception_seconds, self.receptions)

    @property
    def average_wait(self) -> float | None:
        """Seconds."""
        return _average(self.wait_seconds, self.waits)


@dataclass
class Reception:
    rows: list[ReceptionRow]
    totals: ReceptionRow


def reception(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
) -> Reception:
    """Three statements: zones, sums and counts per consultant, names."""
    zones = _zones(session, store_ids)
    ended = and_(Visit.reception_started_at.is_not(None), Visit.reception_ended_at.is_not(None))
    served = func.coalesce(Visit.assigned_at, Visit.reception_started_at)
    key = _key(by, Visit.store_id, Visit.consultant_id)
    found = session.execute(
        select(
            key,
            func.count().filter(ended),
            func.sum(
                case(
                    (ended, seconds_between(Visit.reception_ended_at, Visit.reception_started_at)),
                    else_=literal(None),
                )
            ),
            func.count(served),
            func.sum(seconds_between(served, Visit.checked_in_at)),
        )
        .where(_in_period(Visit.checked_in_at, Visit.store_id, zones, period_from, period_to))
        .where(*_scope(Visit.consultant_id, consultant_id))
        .group_by(key)
    ).all()
    names = _names(session, by, (r[0] for r in found))
    rows = []
    totals = ReceptionRow(None, None)
    for k, n, total, waits, wait_total in found:
        if not n and not waits:
            continue  # visitors nobody received: no time to average
        row = ReceptionRow(
            k,
            names.get(k) if k is not None else None,
            n,
            float(total or 0),
            waits,
            float(wait_total or 0),
        )
        rows.append(row)
        totals.receptions += row.receptions
        totals.reception_seconds += row.reception_seconds
        totals.waits += row.waits
        totals.wait_seconds += row.wait_seconds
    return Reception(_ordered(rows, lambda r: (-r.receptions,)), totals)


# --- the whole report, and tables for the page and the exports --------------------------------


@dataclass
class Report:
    store_ids: list[int]
    period_from: date
    period_to: date
    consultant_id: int | None
    by: str
    funnel: Funnel
    misjudgement: Misjudgement
    callbacks: CallbackResults
    defeats: Defeats
    workload: Workload
    reception: Reception


def report(
    session: Session,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
    now: datetime | None = None,
) -> Report:
    """Every section of the analytics page: a fixed number of statements (25; 26 for a
    group, whose rows are named after the stores)."""
    args = (session, store_ids, period_from, period_to, consultant_id)
    return Report(
        store_ids=store_ids,
        period_from=period_from,
        period_to=period_to,
        consultant_id=consultant_id,
        by=by,
        funnel=funnel(*args, by=by),
        misjudgement=misjudgement(*args, by=by),
        callbacks=callback_results(*args, by=by),
        defeats=defeats(*args, by=by),
        workload=workload(*args, by=by, now=now),
        reception=reception(*args, by=by),
    )


@dataclass(frozen=True)
class Column:
    """A column of a table: ``kind`` says how to show and export its values.

    Kinds: "name" (a consultant or store; None means "no consultant" / "all"), "text",
    "label:<kind>" (an enumeration value shown through its label), "int", "pct" (a fraction
    0..1 or None), "decimal" (one decimal place), "minutes" (seconds shown as minutes)."""

    key: str
    label: str  # English msgid, or an enumeration value when ``header`` names its kind
    kind: str
    header: str | None = None


@dataclass(frozen=True)
class Chart:
    """How the page draws a table: ``type`` bar / hbar / stacked / doughnut; ``label`` the
    column naming each bar; ``values`` the columns drawn."""

    type: str
    label: str
    values: tuple[str, ...]


@dataclass
class Table:
    name: str
    title: str  # English msgid
    help: str  # English msgid: the definition, shown under the title
    columns: list[Column]
    rows: list[list[Any]]
    totals: list[Any] | None
    chart: Chart


def _col(key: str, label: str, kind: str = "int") -> Column:
    return Column(key, label, kind)


NAME = _col("name", N_("Consultant"), "name")
STORE_NAME = _col("name", N_("Store"), "name")


def _name_column(by: str) -> Column:
    return STORE_NAME if by == BY_STORE else NAME


def _values(obj: Any, columns: list[Column]) -> list[Any]:
    return [obj.get(c.key) if isinstance(obj, dict) else getattr(obj, c.key, None) for c in columns]


HELP = {
    "funnel": N_(
        "Visits: check-ins in the period. First receptions: first visits a consultant received. "
        "Intent: customers given their first needs analysis (H, A, B or C). Invitations: created "
        "in the period. Revisits: returning customers or honoured invitations. Orders: won in the "
        "period. Each rate is a step over the step before; steps count events, not one group of "
        "customers, so a rate can pass 100%."
    ),
    "funnel_rows": N_(
        "Visits and receptions count for the consultant who received the visitor, intent for "
        "who made the analysis, invitations for who receives the customer, orders for who "
        "recorded them."
    ),
    "misjudgement": N_(
        "Customers graded dormant (C) whom customer service reached in the period, for the "
        "consultant who graded them: the share who had already bought elsewhere (misjudged) "
        "and the share willing to come back. Highest misjudgement first."
    ),
    "callbacks": N_(
        "Callbacks completed in the period, retries included, for the consultant concerned. "
        "Willing to revisit is a share of those reached. Satisfaction is the customer's rating "
        "of the consultant, 1 to 5. Overturned: lost customers reopened after a defeat callback."
    ),
    "outcomes": N_("Outcome of each callback completed in the period, as a share of all of them."),
    "brands": N_(
        "Brands customers reached by customer service had bought instead (top 10; spelling "
        "differences of case and spaces merged)."
    ),
    "reasons": N_("Why those customers bought elsewhere, in their words (top 10)."),
    "defeat_reasons": N_("Customers marked lost in the period, by reason."),
    "competitor_brands": N_("Competitor brands of the customers lost in the period (top 10)."),
    "defeat_rows": N_(
        "Customers marked lost in the period, for the consultant whose customer it was (for a "
        "dormant customer customer service closed, who graded them dormant)."
    ),
    "workload": N_(
        "Now, whatever the period: open customers whose follow-up date has passed, and load "
        "against cap (open customers new or graded H, A or B)."
    ),
    "reception": N_(
        "Visits checked in during the period: average reception from its start to its end, "
        "and average wait from check-in until a consultant was assigned."
    ),
}


def _funnel_tables(f: Funnel, by: str) -> dict[str, Table]:
    steps = [
        {"step": step, "n": f.totals.count(step), "rate": f.totals.rate(step)}
        for step in FUNNEL_STEPS
    ]
    step_cols = [
        _col("step", N_("Step"), "label:funnel_step"),
        _col("n", N_("Number")),
        _col("rate", N_("Rate from the step before"), "pct"),
    ]
    cols = [
        _name_column(by),
        _col("visits", N_("Visits")),
        _col("first_receptions", N_("First receptions")),
        _col("intent", N_("Intent")),
        _col("invitations", N_("Invitations")),
        _col("revisits", N_("Revisits")),
        _col("orders", N_("Orders")),
        _col("order_rate", N_("Orders per visit"), "pct"),
    ]
    return {
        "funnel": Table(
            "funnel",
            N_("Funnel"),
            HELP["funnel"],
            step_cols,
            [_values(s, step_cols) for s in steps],
            None,
            Chart("hbar", "step", ("n",)),
        ),
        "funnel_rows": Table(
            "funnel_rows",
            N_("Funnel by consultant") if by == BY_CONSULTANT else N_("Funnel by store"),
            HELP["funnel_rows"],
            cols,
            [_values(r, cols) for r in f.rows],
            _values(f.totals, cols),
            Chart("bar", "name", ("visits", "intent", "orders")),
        ),
    }


def _misjudgement_tables(m: Misjudgement, by: str) -> dict[str, Table]:
    cols = [
        _name_column(by),
        _col("reached", N_("Dormant reached")),
        _col("bought_elsewhere", N_("Had bought elsewhere")),
        _col("bought_share", N_("Misjudged"), "pct"),
        _col("willing", N_("Willing to come back")),
        _col("willing_share", N_("Willing share"), "pct"),
    ]
    return {
        "misjudgement": Table(
            "misjudgement",
            N_("Misjudgement of dormant customers"),
            HELP["misjudgement"],
            cols,
            [_values(r, cols) for r in m.rows],
            _values(m.totals, cols),
            Chart("bar", "name", ("bought_share", "willing_share")),
        )
    }


SHARE_COLUMNS = [_col("n", N_("Number")), _col("share", N_("Share"), "pct")]


def _share_table(name: str, title: str, key: Column, shares: list[Share], chart: str) -> Table:
    return Table(
        name,
        title,
        HELP[name],
        [key, *SHARE_COLUMNS],
        [[s.key, s.n, s.share] for s in shares],
        None,
        Chart(chart, "key", ("n",)),
    )


def _callback_tables(c: CallbackResults, by: str) -> dict[str, Table]:
    cols = [
        _name_column(by),
        _col("attempted", N_("Calls")),
        _col("reached", N_("Reached")),
        _col("reach_rate", N_("Reach rate"), "pct"),
        _col("bought_elsewhere", N_("Bought elsewhere")),
        _col("willing_rate", N_("Willing to revisit"), "pct"),
        _col("satisfaction", N_("Satisfaction (1-5)"), "decimal"),
        _col("overturned", N_("Defeats overturned")),
    ]
    return {
        "callbacks": Table(
            "callbacks",
            N_("Callback results"),
            HELP["callbacks"],
            cols,
            [_values(r, cols) for r in c.rows],
            _values(c.totals, cols),
            Chart("bar", "name", ("reach_rate", "willing_rate")),
        ),
        "outcomes": _share_table(
            "outcomes",
            N_("Callback outcomes"),
            _col("key", N_("Callback outcome"), "label:callback_outcome"),
            c.outcomes,
            "doughnut",
        ),
        "brands": _share_table(
            "brands",
            N_("Brands bought instead"),
            _col("key", N_("Brand"), "text"),
            c.brands,
            "hbar",
        ),
        "reasons": _share_table(
            "reasons",
            N_("Why they bought elsewhere"),
            _col("key", N_("Reason"), "text"),
            c.reasons,
            "hbar",
        ),
    }


def _defeat_tables(d: Defeats, by: str) -> dict[str, Table]:
    reasons = [r.value for r in DefeatReason]
    cols = [
        _name_column(by),
        _col("defeats", N_("Lost")),
        *(Column(r, r, "int", header="defeat_reason") for r in reasons),
    ]

    def values(row: DefeatRow) -> list[Any]:
        return [row.name, row.defeats, *(row.reason(r) for r in reasons)]

    return {
        "defeat_reasons": _share_table(
            "defeat_reasons",
            N_("Defeat reasons"),
            _col("key", N_("Reason"), "label:defeat_reason"),
            d.reasons,
            "doughnut",
        ),
        "competitor_brands": _share_table(
            "competitor_brands",
            N_("Competitor brands"),
            _col("key", N_("Brand"), "text"),
            d.brands,
            "hbar",
        ),
        "defeat_rows": Table(
            "defeat_rows",
            N_("Defeats by consultant") if by == BY_CONSULTANT else N_("Defeats by store"),
            HELP["defeat_rows"],
            cols,
            [values(r) for r in d.rows],
            values(d.totals),
            Chart("stacked", "name", tuple(reasons)),
        ),
    }


def _workload_tables(w: Workload, by: str) -> dict[str, Table]:
    cols = [
        _name_column(by),
        _col("overdue", N_("Overdue follow-ups")),
        _col("load", N_("Load")),
        _col("cap", N_("Cap")),
        _col("load_share", N_("Load against cap"), "pct"),
    ]
    return {
        "workload": Table(
            "workload",
            N_("Overdue follow-ups and load"),
            HELP["workload"],
            cols,
            [_values(r, cols) for r in w.rows],
            _values(w.totals, cols),
            Chart("bar", "name", ("overdue", "load", "cap")),
        )
    }


def _reception_tables(rc: Reception, by: str) -> dict[str, Table]:
    cols = [
        _name_column(by),
        _col("receptions", N_("Receptions")),
        _col("average_reception", N_("Average reception (min)"), "minutes"),
        _col("waits", N_("Visitors served")),
        _col("average_wait", N_("Average wait (min)"), "minutes"),
    ]
    return {
        "reception": Table(
            "reception",
            N_("Reception and waiting times"),
            HELP["reception"],
            cols,
            [_values(r, cols) for r in rc.rows],
            _values(rc.totals, cols),
            Chart("bar", "name", ("average_reception", "average_wait")),
        )
    }


def tables(result: Report) -> dict[str, Table]:
    """Every table of the report, in page order, keyed by its export name."""
    by = result.by
    return {
        **_funnel_tables(result.funnel, by),
        **_misjudgement_tables(result.misjudgement, by),
        **_callback_tables(result.callbacks, by),
        **_defeat_tables(result.defeats, by),
        **_workload_tables(result.workload, by),
        **_reception_tables(result.reception, by),
    }


# Each table: the section that computes it and the builder of its tables (an export runs only
# that section).
_SECTIONS: dict[str, tuple[Callable[..., Any], Callable[[Any, str], dict[str, Table]]]] = {
    "funnel": (funnel, _funnel_tables),
    "funnel_rows": (funnel, _funnel_tables),
    "misjudgement": (misjudgement, _misjudgement_tables),
    "callbacks": (callback_results, _callback_tables),
    "outcomes": (callback_results, _callback_tables),
    "brands": (callback_results, _callback_tables),
    "reasons": (callback_results, _callback_tables),
    "defeat_reasons": (defeats, _defeat_tables),
    "competitor_brands": (defeats, _defeat_tables),
    "defeat_rows": (defeats, _defeat_tables),
    "workload": (workload, _workload_tables),
    "reception": (reception, _reception_tables),
}
TABLE_NAMES = tuple(_SECTIONS)


def table(
    session: Session,
    name: str,
    store_ids: list[int],
    period_from: date,
    period_to: date,
    consultant_id: int | None = None,
    *,
    by: str = BY_CONSULTANT,
    now: datetime | None = None,
) -> Table:
    """One table, for an export: only its section is computed. Unknown names are NotFound."""
    if name not in _SECTIONS:
        raise NotFound("table")
    compute, build = _SECTIONS[name]
    extra: dict[str, Any] = {"by": by}
    if compute is workload:
        extra["now"] = now
    result = compute(session, store_ids, period_from, period_to, consultant_id, **extra)
    return build(result, by)[name]


# --- who may be looked at ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    store_id: int


def active_store_ids(session: Session) -> list[int]:
    """Every active store: the group an admin looks at."""
    return list(session.scalars(select(Store.id).where(Store.active).order_by(Store.id)))


def store_choices(session: Session) -> list[Choice]:
    return [
        Choice(i, n, i)
        for i, n in session.execute(
            select(Store.id, Store.name).where(Store.active).order_by(Store.name)
        )
    ]


def consultant_choices(session: Session, store_ids: list[int]) -> list[Choice]:
    """The consultants of the stores (including inactive ones, who may still have history)."""
    return [
        Choice(i, n, s)
        for i, n, s in session.execute(
            select(User.id, User.display_name, User.store_id)
            .where(User.store_id.in_(store_ids), User.role == Role.CONSULTANT.value)
            .order_by(User.active.desc(), User.display_name)
        )
    ]
