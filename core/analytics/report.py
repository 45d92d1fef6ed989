"""What managers learn (DESIGN.md section 4): per store and per consultant, over a period.

Every function takes ``(session, store_ids, period_from, period_to, consultant_id=None)``: the
stores in scope (one for a manager, every active store of the group for an admin), a period of
store-local calendar dates (both ends included) and optionally one consultant. Each store's
period becomes its own UTC half-open interval ([start of ``period_from``, start of the day
after ``period_to``) in the store's time zone), so every count filters on stored timestamps.
Rows are per consultant (``by="consultant"``) or, for a group, per store (``by="store"``).

Each function issues a fixed number of aggregate statements (GROUP BY), whatever the size of
the data; Python only arranges the aggregated rows.

Definitions (the console shows them as help texts: ``console/analytics_tables.py``):

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
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.load import counts_towards_load
from core.enums import (
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    DefeatReason,
    OpportunityStatus,
    Role,
)
from core.errors import ValidationError
from core.i18n import N_
from core.opportunities.models import Invitation, Opportunity
from core.rules.models import RuleSet
from core.sqlfuncs import total_seconds
from core.stores.models import ConsultantSettings, Store, User
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


def check_period(
    period_from: date | None, period_to: date | None, today: date
) -> tuple[date, date]:
    """A period of store-local dates (None: not given): not in the future, from <= to, at most
    a year. Raises ValidationError with a message per field ("from", "to")."""
    errors: dict[str, str] = {}
    given = {"from": period_from, "to": period_to}
    for name, value in given.items():
        if value is None:
            errors[name] = N_("Enter a date.")
        elif value > today:
            errors[name] = N_("Choose a date that is not in the future.")
    if period_from is not None and period_to is not None and not errors:
        if period_from > period_to:
            errors["to"] = N_("The end date must not be before the start date.")
        elif (period_to - period_from).days + 1 > MAX_PERIOD_DAYS:
            errors["from"] = N_("Choose a period of at most one year.")
    if errors:
        raise ValidationError(errors)
    assert period_from is not None and period_to is not None
    return period_from, period_to


# --- shared pieces ----------------------------------------------------------------------------


@dataclass
class _Scope:
    """What a report (or one section of it) is computed over, and what its sections share: the
    stores' time zones, the names of the rows, and the visit and callback aggregates that two
    sections each read (one statement each, whichever section asks first)."""

    session: Session
    store_ids: list[int]
    period_from: date | None
    period_to: date | None
    consultant_id: int | None = None
    by: str = BY_CONSULTANT
    now: datetime | None = None
    _names: dict[int, str] | None = None
    _asked: set[int] = field(default_factory=set)

    @cached_property
    def zones(self) -> dict[int, str]:
        """Each store's time zone (one statement)."""
        found = self.session.execute(
            select(Store.id, Store.timezone).where(Store.id.in_(self.store_ids))
        )
        return {store_id: zone for store_id, zone in found}

    def in_period(self, timestamp: Any, store_column: Any) -> ColumnElement[bool]:
        """``timestamp`` within the period in its store's calendar: stores sharing the same UTC
        bounds share one condition (usually one for a whole group)."""
        assert self.period_from is not None and self.period_to is not None
        groups: dict[tuple[datetime, datetime], list[int]] = defaultdict(list)
        for store_id, zone in self.zones.items():
            start = day_bounds_utc(self.period_from, zone)[0]
            end = day_bounds_utc(self.period_to, zone)[1]
            groups[(start, end)].append(store_id)
        if not groups:
            return false()
        return or_(
            *(
                and_(store_column.in_(ids), timestamp >= start, timestamp < end)
                for (start, end), ids in groups.items()
            )
        )

    def key(self, store_column: Any, consultant_column: Any) -> Any:
        return store_column if self.by == BY_STORE else consultant_column

    def mine(self, consultant_column: Any) -> list[ColumnElement[bool]]:
        """Only the chosen consultant's rows, when one is chosen."""
        return [] if self.consultant_id is None else [consultant_column == self.consultant_id]

    def names(self, keys: Iterable[int | None]) -> dict[int, str]:
        """Display names of the stores (or of the consultants) in the rows. The first call reads
        the names of everybody in the stores in one statement; a later one reads only the names
        of rows from elsewhere it has not asked for yet (normally none: no statement)."""
        wanted = {k for k in keys if k is not None}
        if self._names is None:
            self._names = {}
            if self.by == BY_STORE:
                query = select(Store.id, Store.name).where(Store.id.in_(self.store_ids))
            else:
                query = select(User.id, User.display_name).where(
                    or_(User.store_id.in_(self.store_ids), User.id.in_(sorted(wanted)))
                )
            self._names.update({k: name for k, name in self.session.execute(query)})
            self._asked.update(wanted)
        missing = sorted(wanted - self._names.keys() - self._asked)
        self._asked.update(wanted)
        if missing:
            table = Store if self.by == BY_STORE else User
            label = Store.name if self.by == BY_STORE else User.display_name
            found = self.session.execute(select(table.id, label).where(table.id.in_(missing)))
            self._names.update({k: name for k, name in found})
        return self._names

    @cached_property
    def visits(self) -> Sequence[Any]:
        """Visits checked in during the period, per consultant (or store): what the funnel and
        the reception times count, in one pass over the visits. Columns: key, visits, first
        receptions, revisits, receptions ended, their seconds, visitors served, their wait."""
        ended = and_(Visit.reception_started_at.is_not(None), Visit.reception_ended_at.is_not(None))
        served = func.coalesce(Visit.assigned_at, Visit.reception_started_at)
        key = self.key(Visit.store_id, Visit.consultant_id)
        return self.session.execute(
            select(
                key,
                func.count(),
                func.count().filter(Visit.is_first_visit, Visit.reception_started_at.is_not(None)),
                func.count().filter(or_(~Visit.is_first_visit, Visit.invitation_id.is_not(None))),
                func.count().filter(ended),
                total_seconds(Visit.reception_ended_at, Visit.reception_started_at),
                func.count(served),
                total_seconds(served, Visit.checked_in_at),
            )
            .where(self.in_period(Visit.checked_in_at, Visit.store_id))
            .where(*self.mine(Visit.consultant_id))
            .group_by(key)
        ).all()

    def completed(self) -> list[ColumnElement[bool]]:
        """Callbacks completed in the period (the chosen consultant's, when one is chosen)."""
        return [
            CallbackTask.status == CallbackStatus.DONE.value,
            self.in_period(CallbackTask.completed_at, CallbackTask.store_id),
            *self.mine(CallbackTask.consultant_id),
        ]

    @cached_property
    def callbacks(self) -> Sequence[Any]:
        """Callbacks completed in the period, in one pass: what the callback results and the
        misjudgement count, grouped by consultant (or store), outcome, and the brand and reason
        of a purchase elsewhere (normalised: trimmed, case-insensitive); with each brand's and
        each reason's first spelling and count over the groups. Rows have named columns."""
        reached = CallbackTask.call_result == CallResult.REACHED.value
        dormant = CallbackTask.kind == CallbackKind.DORMANT.value
        willing = CallbackAnswers.would_revisit.is_(True)
        brand, reason = CallbackAnswers.bought_brand, CallbackAnswers.bought_reason
        key = self.key(CallbackTask.store_id, CallbackTask.consultant_id)
        grouped = (
            select(
                key.label("key"),
                CallbackTask.outcome.label("outcome"),
                func.count().label("n"),
                func.count().filter(reached).label("reached"),
                func.count().filter(reached, _bought()).label("bought"),
                func.count().filter(reached, willing).label("willing"),
                func.sum(CallbackAnswers.satisfaction).label("satisfaction"),
                func.count(CallbackAnswers.satisfaction).label("rated"),
                func.count().filter(dormant, reached).label("dormant_reached"),
                func.count().filter(dormant, reached, _bought()).label("dormant_bought"),
                func.count().filter(dormant, reached, willing).label("dormant_willing"),
                _normalised(brand).label("nb"),
                _normalised(reason).label("nr"),
                func.min(func.trim(brand)).label("b"),
                func.min(func.trim(reason)).label("r"),
            )
            .select_from(CallbackTask)
            .outerjoin(CallbackAnswers, CallbackAnswers.task_id == CallbackTask.id)
            .where(*self.completed())
            .group_by(key, CallbackTask.outcome, _normalised(brand), _normalised(reason))
            .subquery()
        )
        brand_spelling, brand_n = _spellings(grouped, grouped.c.nb, grouped.c.b)
        reason_spelling, reason_n = _spellings(grouped, grouped.c.nr, grouped.c.r)
        return self.session.execute(
            select(
                *(c for c in grouped.c if c.key not in ("b", "r")),
                brand_spelling.label("brand"),
                brand_n.label("brand_n"),
                reason_spelling.label("reason"),
                reason_n.label("reason_n"),
            )
        ).all()


T = TypeVar("T")


def _section(compute: Callable[[_Scope], T]) -> Callable[..., T]:
    """The public function of one section: ``(session, store_ids, period_from, period_to,
    consultant_id=None, *, by=BY_CONSULTANT, now=None)``, computing that section alone."""

    def section(
        session: Session,
        store_ids: list[int],
        period_from: date | None = None,
        period_to: date | None = None,
        consultant_id: int | None = None,
        *,
        by: str = BY_CONSULTANT,
        now: datetime | None = None,
    ) -> T:
        return compute(_Scope(session, store_ids, period_from, period_to, consultant_id, by, now))

    section.__doc__ = compute.__doc__
    return section


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _average(total: float | None, n: int) -> float | None:
    return float(total) / n if n and total is not None else None


@dataclass(frozen=True)
class Share:
    """A category (an outcome, a reason, a brand) with its count and share of the whole."""

    key: str
    n: int
    share: float | None


def _shares(counts: Iterable[tuple[str, int]], whole: int) -> list[Share]:
    ordered = sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    return [Share(key, n, _rate(n, whole)) for key, n in ordered]


def _normalised(column: Any) -> Any:
    return func.lower(func.trim(column))


def _spellings(grouped: Any, normalised: Any, spelling: Any) -> tuple[Any, Any]:
    """Over the rows of a grouped subquery: for each normalised text (a brand, a reason), the
    first of its spellings and its count, whatever else the rows are grouped by."""
    window = {"partition_by": normalised}
    return func.min(spelling).over(**window), func.sum(grouped.c.n).over(**window)


def _texts(found: Iterable[tuple[str | None, str | None, Any]]) -> list[tuple[str, int]]:
    """(normalised, spelling, count) rows, one per normalised text that is not blank."""
    seen: dict[str, tuple[str, int]] = {}
    for normalised, spelling, n in found:
        if normalised and spelling:
            seen[normalised] = (spelling, int(n))
    return list(seen.values())


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


def _funnel(scope: _Scope) -> Funnel:
    """The visits (shared with the reception times), intent, invitations, orders."""
    rows: dict[int | None, FunnelRow] = {}

    def row(key: int | None) -> FunnelRow:
        return rows.setdefault(key, FunnelRow(key, None))

    for key, visits, first, revisits, *_times in scope.visits:
        r = row(key)
        r.visits, r.first_receptions, r.revisits = visits, first, revisits

    # An opportunity's first needs analysis, kept on the opportunity: one indexed range.
    a_key = scope.key(Opportunity.store_id, Opportunity.first_assessed_by)
    for key, n in scope.session.execute(
        select(a_key, func.count())
        .where(scope.in_period(Opportunity.first_assessed_at, Opportunity.store_id))
        .where(*scope.mine(Opportunity.first_assessed_by))
        .group_by(a_key)
    ):
        row(key).intent = n

    i_key = scope.key(Invitation.store_id, Invitation.consultant_id)
    for key, n in scope.session.execute(
        select(i_key, func.count())
        .where(scope.in_period(Invitation.created_at, Invitation.store_id))
        .where(*scope.mine(Invitation.consultant_id))
        .group_by(i_key)
    ):
        row(key).invitations = n

    o_key = scope.key(Opportunity.store_id, Opportunity.graded_by)
    for key, n in scope.session.execute(
        select(o_key, func.count())
        .where(Opportunity.status == OpportunityStatus.WON.value)
        .where(scope.in_period(Opportunity.closed_at, Opportunity.store_id))
        .where(*scope.mine(Opportunity.graded_by))
        .group_by(o_key)
    ):
        row(key).orders = n

    totals = FunnelRow(None, None)
    named = _named_with_totals(scope, rows.values(), totals)
    return Funnel(_ordered(named, lambda r: (-r.visits, -r.orders)), totals)


funnel = _section(_funnel)


def _ordered(rows: Iterable[Any], sort: Callable[[Any], Any]) -> list[Any]:
    """Named rows by ``sort`` then name; the row without a consultant last."""
    return sorted(rows, key=lambda r: (r.key is None, *sort(r), r.name or ""))


class _Row(Protocol):
    key: int | None
    name: str | None


R = TypeVar("R", bound=_Row)


def _named_with_totals(scope: _Scope, rows: Iterable[R], totals: R) -> list[R]:
    """Name each row (``key`` -> ``name``) and add its counts (every dataclass field after
    ``key`` and ``name``) into ``totals``."""
    rows = list(rows)
    names = scope.names(r.key for r in rows)
    counts = [f.name for f in fields(totals)][2:]  # type: ignore[arg-type]  # R: a dataclass
    for r in rows:
        r.name = names.get(r.key) if r.key is not None else None
        for count in counts:
            setattr(totals, count, getattr(totals, count) + getattr(r, count))
    return rows


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


def _bought() -> ColumnElement[bool]:
    return or_(
        CallbackAnswers.has_bought.is_(True),
        CallbackTask.outcome == CallbackOutcome.BOUGHT_ELSEWHERE.value,
    )


def _misjudgement(scope: _Scope) -> Misjudgement:
    """The dormant callbacks of the callback aggregate (shared with the callback results)."""
    counts: dict[int | None, MisjudgementRow] = {}
    for found in scope.callbacks:
        if found.dormant_reached:
            row = counts.setdefault(found.key, MisjudgementRow(found.key, None))
            row.reached += found.dormant_reached
            row.bought_elsewhere += found.dormant_bought
            row.willing += found.dormant_willing
    totals = MisjudgementRow(None, None)
    rows = _named_with_totals(scope, counts.values(), totals)
    rows.sort(key=lambda r: (r.key is None, -(r.bought_share or 0), -r.reached, r.name or ""))
    return Misjudgement(rows, totals)


misjudgement = _section(_misjudgement)


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


def _callback_results(scope: _Scope) -> CallbackResults:
    """The callback aggregate (shared with the misjudgement) and the defeats overturned."""
    rows: dict[int | None, CallbackRow] = {}
    outcome_counts: dict[str, int] = defaultdict(int)
    for found in scope.callbacks:
        row = rows.setdefault(found.key, CallbackRow(found.key, None))
        row.attempted += found.n
        row.reached += found.reached
        row.bought_elsewhere += found.bought
        row.willing += found.willing
        row.satisfaction_sum += int(found.satisfaction or 0)
        row.rated += found.rated
        if found.outcome is not None:
            outcome_counts[found.outcome] += found.n
    brand_counts = _texts((r.nb, r.brand, r.brand_n) for r in scope.callbacks)
    reason_counts = _texts((r.nr, r.reason, r.reason_n) for r in scope.callbacks)

    # Defeats overturned: opportunities reopened in the period, for the consultant whose
    # defeat callback it was (the callback's consultant; none when there was no callback).
    defeat = aliased(CallbackTask)
    o_key = scope.key(Opportunity.store_id, defeat.consultant_id)
    for k, n in scope.session.execute(
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
        .where(scope.in_period(Opportunity.defeat_overturned_at, Opportunity.store_id))
        .where(*scope.mine(defeat.consultant_id))
        .group_by(o_key)
    ):
        rows.setdefault(k, CallbackRow(k, None)).overturned = n

    totals = CallbackRow(None, None)
    named = _named_with_totals(scope, rows.values(), totals)
    return CallbackResults(
        rows=_ordered(named, lambda r: (-r.attempted,)),
        totals=totals,
        outcomes=_shares(outcome_counts.items(), totals.attempted),
        brands=_shares(brand_counts, sum(n for _, n in brand_counts))[:TOP_N],
        reasons=_shares(reason_counts, sum(n for _, n in reason_counts))[:TOP_N],
    )


callback_results = _section(_callback_results)


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


def _defeats(scope: _Scope) -> Defeats:
    """One pass over the opportunities lost in the period, grouped by consultant (or store),
    reason and competitor brand; each brand's spelling and count over the groups."""
    # The consultant whose customer it was: the owner, else who graded the customer dormant
    # (customer service closes those), else who recorded the defeat.
    whose = func.coalesce(Opportunity.owner_id, Opportunity.dormant_by, Opportunity.graded_by)
    key = scope.key(Opportunity.store_id, whose)
    reason = func.coalesce(Opportunity.defeat_reason, DefeatReason.OTHER.value)
    brand = Opportunity.competitor_brand
    grouped = (
        select(
            key.label("k"),
            reason.label("reason"),
            _normalised(brand).label("nb"),
            func.min(func.trim(brand)).label("b"),
            func.count().label("n"),
        )
        .where(
            Opportunity.status == OpportunityStatus.LOST.value,
            scope.in_period(Opportunity.closed_at, Opportunity.store_id),
            *scope.mine(whose),
        )
        .group_by(key, reason, _normalised(brand))
        .subquery()
    )
    found = scope.session.execute(
        select(
            grouped.c.k,
            grouped.c.reason,
            grouped.c.n,
            grouped.c.nb,
            *_spellings(grouped, grouped.c.nb, grouped.c.b),
        )
    ).all()
    rows: dict[int | None, DefeatRow] = {}
    for k, r, n, *_brand in found:
        by_reason = rows.setdefault(k, DefeatRow(k, None)).by_reason
        by_reason[r] = by_reason.get(r, 0) + n
    brand_counts = _texts((nb, b, n) for *_, nb, b, n in found)
    names = scope.names(rows)
    totals = DefeatRow(None, None)
    for row in rows.values():
        row.name = names.get(row.key) if row.key is not None else None
        for r, n in row.by_reason.items():
            totals.by_reason[r] = totals.by_reason.get(r, 0) + n
    return Defeats(
        rows=_ordered(rows.values(), lambda r: (-r.defeats,)),
        totals=totals,
        reasons=_shares(totals.by_reason.items(), totals.defeats),
        brands=_shares(brand_counts, sum(n for _, n in brand_counts))[:TOP_N],
    )


defeats = _section(_defeats)


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


def _workload(scope: _Scope) -> Workload:
    """Overdue follow-ups (before each store's today) and load against cap, now: every active
    consultant of the stores, as on the Team page. The period does not apply."""
    moment = scope.now or utcnow()
    by_today: dict[date, list[int]] = defaultdict(list)
    for store_id, zone in scope.zones.items():
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
            Opportunity.store_id.in_(scope.store_ids),
            Opportunity.status == OpportunityStatus.OPEN.value,
            Opportunity.owner_id.is_not(None),
        )
        .group_by(Opportunity.owner_id)
        .subquery()
    )
    newer = aliased(RuleSet)
    rules = (
        select(RuleSet.store_id, RuleSet.default_load_cap)
        .where(RuleSet.store_id.in_(scope.store_ids))
        .where(~exists().where(newer.store_id == RuleSet.store_id, newer.version > RuleSet.version))
        .subquery()
    )
    found = scope.session.execute(
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
            User.store_id.in_(scope.store_ids),
            User.role == Role.CONSULTANT.value,
            User.active,
            *scope.mine(User.id),
        )
    ).all()
    by_store = scope.by == BY_STORE
    store_names = scope.names(scope.zones) if by_store else {}
    rows: dict[int | None, WorkloadRow] = {}
    totals = WorkloadRow(None, None)
    for user_id, store_id, name, n_overdue, load, cap in found:
        k = store_id if by_store else user_id
        row = rows.setdefault(k, WorkloadRow(k, store_names.get(store_id) if by_store else name))
        for target in (row, totals):
            target.overdue += n_overdue
            target.load += load
            target.cap += cap
            target.consultants += 1
    return Workload(_ordered(rows.values(), lambda r: (-r.overdue, -r.load)), totals)


workload = _section(_workload)


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


def _reception(scope: _Scope) -> Reception:
    """The visit aggregate (shared with the funnel): its reception and waiting times."""
    rows = [
        ReceptionRow(k, None, n, float(total or 0), waits, float(wait_total or 0))
        for k, *_counts, n, total, waits, wait_total in scope.visits
        if n or waits  # nobody received: no time to average
    ]
    totals = ReceptionRow(None, None)
    named = _named_with_totals(scope, rows, totals)
    return Reception(_ordered(named, lambda r: (-r.receptions,)), totals)


reception = _section(_reception)


# --- the whole report ------------------------------------------------------------------------


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
    """Every section of the analytics page: a fixed number of statements (10), the sections
    sharing the zones, the names and the visit and callback aggregates."""
    scope = _Scope(session, store_ids, period_from, period_to, consultant_id, by, now)
    return Report(
        store_ids=store_ids,
        period_from=period_from,
        period_to=period_to,
        consultant_id=consultant_id,
        by=by,
        funnel=_funnel(scope),
        misjudgement=_misjudgement(scope),
        callbacks=_callback_results(scope),
        defeats=_defeats(scope),
        workload=_workload(scope),
        reception=_reception(scope),
    )


# --- who may be looked at ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    store_id: int


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
