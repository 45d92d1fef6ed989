"""Analytics for managers (their store, per consultant) and admins (the group, per store; or
one store): charts beside tables, each table downloadable as CSV and Excel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from console import analytics_tables
from console.auth import roles, user_today
from console.blueprint import bp
from console.forms import PeriodForm
from core.analytics import report as analytics
from core.analytics.exports import ExportTable, to_csv, to_xlsx
from core.errors import ValidationError
from extensions import db
from web.forms import is_ascii_int
from web.labels import label

VIEWERS = ("manager", "admin")
CHART_ROWS = 15  # a chart draws the first rows of its table; the table has them all
PRESET_LABELS = {
    "last_30": _l("Last 30 days"),
    "last_7": _l("Last 7 days"),
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
}
FORMATS = {
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


@dataclass
class Scope:
    """What the signed-in user looks at: stores, rows per consultant or per store, filters."""

    store_ids: list[int]
    by: str
    store: str  # the store picked by an admin ("" = the whole group)
    consultant_id: int | None
    stores: list[analytics.Choice]
    consultants: list[analytics.Choice]
    errors: dict[str, str]


def _scope() -> Scope:
    errors: dict[str, str] = {}
    stores: list[analytics.Choice] = []
    picked = request.args.get("store", "").strip()
    if current_user.role == "admin":
        stores = analytics.store_choices(db.session())
        store_ids = [s.id for s in stores]
        if picked and is_ascii_int(picked) and int(picked) in store_ids:
            store_ids = [int(picked)]
        elif picked:
            errors["store"] = _("Choose a store from the list.")
            picked = ""
    else:
        store_ids = [current_user.store_id]
        picked = ""
    single = len(store_ids) == 1 and (current_user.role != "admin" or bool(picked))
    consultants = analytics.consultant_choices(db.session(), store_ids) if single else []
    raw = request.args.get("consultant", "").strip()
    consultant_id = None
    if raw:
        if is_ascii_int(raw) and int(raw) in {c.id for c in consultants}:
            consultant_id = int(raw)
        else:
            errors["consultant"] = _("Choose a consultant from the list.")
    by = analytics.BY_CONSULTANT if single else analytics.BY_STORE
    return Scope(store_ids, by, picked, consultant_id, stores, consultants, errors)


def _period(today: date) -> tuple[dict[str, str], dict[str, str], tuple[date, date] | None]:
    """The period typed (kept as typed) or a preset; the errors next to each field."""
    preset = request.args.get("preset", "")
    if preset in analytics.PRESETS or not ("from" in request.args or "to" in request.args):
        start, end = analytics.preset_period(preset or "last_30", today)
        return {"from": start.isoformat(), "to": end.isoformat()}, {}, (start, end)
    form = PeriodForm(formdata=request.args)
    form.validate()
    typed, errors = form.typed(), form.messages()
    try:
        period = analytics.check_period(form.period_from.data, form.period_to.data, today)
    except ValidationError as exc:
        # what could not be read keeps its own message
        errors = {f: _(m) for f, m in exc.errors.items()} | errors
        return typed, errors, None
    return typed, errors, period if not errors else None


# --- showing a table ----------------------------------------------------------------------------


def _header(column: analytics_tables.Column) -> str:
    return label(column.header, column.label) if column.header else _(column.label)


def _name(value: Any, by: str, total: bool) -> str:
    if total:
        return _("All stores") if by == analytics.BY_STORE else _("Total")
    if value is None:
        return _("No consultant")
    return str(value)


def _raw(value: Any, column: analytics_tables.Column, by: str, total: bool) -> Any:
    """A cell for the exports: numbers stay numbers, labels in the user's language."""
    kind = column.kind
    if kind == "name":
        return _name(value, by, total)
    if value is None:
        return None
    if kind.startswith("label:"):
        return label(kind.split(":", 1)[1], value)
    if kind == "minutes":
        return round(value / 60, 1)
    if kind == "decimal":
        return round(value, 1)
    return value


def _shown(value: Any, column: analytics_tables.Column) -> str:
    """A cell for the page."""
    if value is None:
        return "—"
    if column.kind == "pct":
        return f"{value * 100:.1f}%"
    if column.kind in ("minutes", "decimal"):
        return f"{value:.1f}"
    return str(value)


def _export_kind(column: analytics_tables.Column) -> str:
    return {"minutes": "decimal", "decimal": "decimal", "pct": "pct", "int": "int"}.get(
        column.kind, "text"
    )


def _lines(table: analytics_tables.Table, by: str) -> list[tuple[bool, list[Any]]]:
    """(is the totals row, export values) for every row, the totals last."""
    lines = [
        (False, [_raw(v, c, by, False) for v, c in zip(row, table.columns, strict=True)])
        for row in table.rows
    ]
    if table.totals is not None and table.rows:
        lines.append(
            (True, [_raw(v, c, by, True) for v, c in zip(table.totals, table.columns, strict=True)])
        )
    return lines


def _chart(
    table: analytics_tables.Table, headers: list[str], lines: list[tuple[bool, list[Any]]]
) -> tuple[dict[str, Any] | None, str]:
    """The chart's data (JSON for static/js/analytics.js) and a text summary for its
    aria-label; None when the table is empty."""
    rows = [values for total, values in lines if not total][:CHART_ROWS]
    if not rows:
        return None, ""
    index = {c.key: i for i, c in enumerate(table.columns)}
    label_at = index[table.chart.label]
    kinds = {table.columns[index[k]].kind for k in table.chart.values}
    unit = "pct" if "pct" in kinds else "min" if "minutes" in kinds else ""

    def point(value: Any) -> float | None:
        if value is None:
            return None
        return round(value * 100, 1) if unit == "pct" else value

    datasets = [
        {"label": headers[index[k]], "data": [point(r[index[k]]) for r in rows]}
        for k in table.chart.values
    ]
    labels = [str(r[label_at]) for r in rows]
    suffix = "%" if unit == "pct" else ""
    parts = []
    for i, name in enumerate(labels[:8]):
        values = ", ".join(
            f"{d['label']} {'—' if d['data'][i] is None else d['data'][i]}{suffix}"
            for d in datasets
        )
        parts.append(f"{name}: {values}")
    if len(labels) > 8:
        parts.append(_("and %(num)d more in the table", num=len(labels) - 8))
    data = {
        "type": table.chart.type,
        "labels": labels,
        "datasets": datasets,
        "unit": unit,
        "unitLabel": {"pct": "%", "min": _("minutes")}.get(unit, ""),
    }
    summary = _("Chart of %(title)s. %(summary)s", title=_(table.title), summary="; ".join(parts))
    return data, summary


@dataclass
class Section:
    name: str
    title: str
    help: str
    headers: list[str]
    numeric: list[bool]
    rows: list[list[str]]
    totals: list[str] | None
    chart: dict[str, Any] | None
    summary: str


def _section(table: analytics_tables.Table, by: str) -> Section:
    headers = [_header(c) for c in table.columns]
    lines = _lines(table, by)
    chart, summary = _chart(table, headers, lines)
    shown = [
        (total, [_shown(v, c) for v, c in zip(values, table.columns, strict=True)])
        for total, values in lines
    ]
    return Section(
        name=table.name,
        title=_(table.title),
        help=_(table.help),
        headers=headers,
        numeric=[
            c.kind not in ("name", "text") and not c.kind.startswith("label:")
            for c in table.columns
        ],
        rows=[values for total, values in shown if not total],
        totals=next((values for total, values in shown if total), None),
        chart=chart,
        summary=summary,
    )


# --- the page and the exports -------------------------------------------------------------------


def _query(scope: Scope, form: dict[str, str]) -> dict[str, str]:
    """The filters as URL parameters, for the export links and the preset links."""
    params = {"from": form["from"], "to": form["to"]}
    if scope.store:
        params["store"] = scope.store
    if scope.consultant_id:
        params["consultant"] = str(scope.consultant_id)
    return params


@bp.route("/analytics", endpoint="analytics")
@roles(*VIEWERS)
def analytics_page() -> ResponseReturnValue:
    today = user_today()
    scope = _scope()
    form, errors, period = _period(today)
    errors = {**scope.errors, **errors}
    sections: list[Section] = []
    if period and not errors:
        result = analytics.report(
            db.session(), scope.store_ids, period[0], period[1], scope.consultant_id, by=scope.by
        )
        sections = [_section(t, scope.by) for t in analytics_tables.tables(result).values()]
    params = _query(scope, form)
    presets = [
        (key, str(text), {k: v for k, v in params.items() if k not in ("from", "to")})
        for key, text in PRESET_LABELS.items()
    ]
    return (
        render_template(
            "console/analytics.html",
            today=today,
            form=form,
            errors=errors,
            scope=scope,
            sections=sections,
            params=params,
            presets=presets,
        ),
        422 if errors else 200,
    )


@bp.route("/analytics/export/<name>.<fmt>")
@roles(*VIEWERS)
def analytics_export(name: str, fmt: str) -> ResponseReturnValue:
    if fmt not in FORMATS or name not in analytics_tables.TABLE_NAMES:
        abort(404)
    scope = _scope()
    form, errors, period = _period(user_today())
    if errors or scope.errors or period is None:
        abort(400)
    table = analytics_tables.table(
        db.session(),
        name,
        scope.store_ids,
        period[0],
        period[1],
        scope.consultant_id,
        by=scope.by,
    )
    lines = _lines(table, scope.by)
    export = ExportTable(
        title=_(table.title),
        headers=[_header(c) for c in table.columns],
        rows=[values for _total, values in lines],
        kinds=[_export_kind(c) for c in table.columns],
    )
    mimetype, write = FORMATS[fmt]
    stem = f"{form['from']}_{form['to']}.{fmt}"
    ascii_name = f"{name}_{stem}"
    local_name = f"{_(table.title)}_{stem}"
    response = Response(write(export), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(local_name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
