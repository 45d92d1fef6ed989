"""How the analytics page and its exports show core's figures: the tables with their columns,
help texts and charts. Presentation only: the figures come from core/analytics/report.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.analytics import report as analytics
from core.enums import (
    DefeatReason,
)
from core.errors import NotFound
from core.i18n import N_


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
    return STORE_NAME if by == analytics.BY_STORE else NAME


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


def _funnel_tables(f: analytics.Funnel, by: str) -> dict[str, Table]:
    steps = [
        {"step": step, "n": f.totals.count(step), "rate": f.totals.rate(step)}
        for step in analytics.FUNNEL_STEPS
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
            N_("Funnel by consultant") if by == analytics.BY_CONSULTANT else N_("Funnel by store"),
            HELP["funnel_rows"],
            cols,
            [_values(r, cols) for r in f.rows],
            _values(f.totals, cols),
            Chart("bar", "name", ("visits", "intent", "orders")),
        ),
    }


def _misjudgement_tables(m: analytics.Misjudgement, by: str) -> dict[str, Table]:
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


def _share_table(
    name: str, title: str, key: Column, shares: list[analytics.Share], chart: str
) -> Table:
    return Table(
        name,
        title,
        HELP[name],
        [key, *SHARE_COLUMNS],
        [[s.key, s.n, s.share] for s in shares],
        None,
        Chart(chart, "key", ("n",)),
    )


def _callback_tables(c: analytics.CallbackResults, by: str) -> dict[str, Table]:
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


def _defeat_tables(d: analytics.Defeats, by: str) -> dict[str, Table]:
    reasons = [r.value for r in DefeatReason]
    cols = [
        _name_column(by),
        _col("defeats", N_("Lost")),
        *(Column(r, r, "int", header="defeat_reason") for r in reasons),
    ]

    def values(row: analytics.DefeatRow) -> list[Any]:
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
            N_("Defeats by consultant")
            if by == analytics.BY_CONSULTANT
            else N_("Defeats by store"),
            HELP["defeat_rows"],
            cols,
            [values(r) for r in d.rows],
            values(d.totals),
            Chart("stacked", "name", tuple(reasons)),
        ),
    }


def _workload_tables(w: analytics.Workload, by: str) -> dict[str, Table]:
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


def _reception_tables(rc: analytics.Reception, by: str) -> dict[str, Table]:
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


def tables(result: analytics.Report) -> dict[str, Table]:
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
    "funnel": (analytics.funnel, _funnel_tables),
    "funnel_rows": (analytics.funnel, _funnel_tables),
    "misjudgement": (analytics.misjudgement, _misjudgement_tables),
    "callbacks": (analytics.callback_results, _callback_tables),
    "outcomes": (analytics.callback_results, _callback_tables),
    "brands": (analytics.callback_results, _callback_tables),
    "reasons": (analytics.callback_results, _callback_tables),
    "defeat_reasons": (analytics.defeats, _defeat_tables),
    "competitor_brands": (analytics.defeats, _defeat_tables),
    "defeat_rows": (analytics.defeats, _defeat_tables),
    "workload": (analytics.workload, _workload_tables),
    "reception": (analytics.reception, _reception_tables),
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
    by: str = analytics.BY_CONSULTANT,
    now: datetime | None = None,
) -> Table:
    """One table, for an export: only its section is computed. Unknown names are NotFound."""
    if name not in _SECTIONS:
        raise NotFound("table")
    compute, build = _SECTIONS[name]
    section = compute(session, store_ids, period_from, period_to, consultant_id, by=by, now=now)
    return build(section, by)[name]
