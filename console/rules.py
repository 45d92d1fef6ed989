"""The manager's rules page: load caps and consultants, cycle rules and retries (with a what-if
preview of tonight's run before saving), the needs-analysis scoring, the history of changes;
and reassigning customers by hand."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from console.auth import roles
from console.blueprint import bp
from console.forms import ReassignForm, dispatch_form, read_scoring
from core.db import utcnow
from core.dispatch.team import consultant_loads
from core.enums import Role
from core.errors import NotFound, ValidationError
from core.nightly import whatif
from core.rules import admin as rule_admin
from core.rules.rulesets import current_rules
from extensions import db
from web.forms import is_ascii_int
from web.refusals import redirect_on_refusal

GRADES = rule_admin.GRADES
TABS = ("dispatch", "scoring", "history")
# A form never carries more rows than the rules allow, plus the one being added.
MAX_INDICATORS = rule_admin.INDICATORS_MAX + 1
MAX_OPTIONS = rule_admin.OPTIONS_MAX + 1


def _errors(exc: ValidationError) -> dict[str, str]:
    return {name: _(message) for name, message in exc.errors.items()}


# --- load caps, consultants, cycle rules ------------------------------------------------------


def _dispatch_form_from_rules() -> dict[str, Any]:
    rules = current_rules(db.session(), current_user.store_id)
    form: dict[str, Any] = {
        "default_load_cap": str(rules.default_load_cap),
        "retry_limit": str(rules.callback_retry_limit),
        "previewed": "",
    }
    for grade in GRADES:
        form[f"follow_up_{grade}"] = str(rules.cycles[grade].follow_up_days)
        form[f"cycle_{grade}"] = str(rules.cycles[grade].cycle_days)
    for c in rule_admin.consultant_settings(db.session(), current_user.store_id):
        form[f"cap-{c.user_id}"] = "" if c.load_cap is None else str(c.load_cap)
        form[f"active-{c.user_id}"] = c.active
    return form


def _page(tab: str, status: int = 200, **context: Any) -> Any:
    store_id = current_user.store_id
    if tab == "dispatch":
        context.setdefault("form", _dispatch_form_from_rules())
        context.setdefault("errors", {})
        context["consultants"] = rule_admin.consultant_settings(db.session(), store_id)
        context["loads"] = {c.user_id: c for c in consultant_loads(db.session(), store_id)}
        context["grades"] = GRADES
    elif tab == "scoring":
        context.setdefault("scoring", _scoring_form(current_rules(db.session(), store_id).scoring))
        context.setdefault("errors", {})
        context["max_total"] = rule_admin.max_total(context["scoring"])
    else:
        context["history"] = rule_admin.history(db.session(), store_id)
    return render_template("console/rules.html", tab=tab, **context), status


@bp.route("/rules")
@roles(Role.MANAGER)
def rules() -> ResponseReturnValue:
    tab = request.args.get("tab", "dispatch")
    return _page(tab if tab in TABS else "dispatch")


@bp.route("/rules/dispatch", methods=["POST"])
@roles(Role.MANAGER)
def rules_dispatch() -> ResponseReturnValue:
    """Preview tonight's run with the values typed, or save them. Saving values that were not
    previewed as they are shows their preview first: a manager always sees what a change of
    caps or cycles does before it is in force."""
    store_id = current_user.store_id
    consultants = rule_admin.consultant_settings(db.session(), store_id)
    ids = [c.user_id for c in consultants]
    posted = dispatch_form(ids)
    syntax = {} if posted.validate() else posted.messages()
    form: dict[str, Any] = {name: value.strip() for name, value in posted.typed().items()}
    for user_id in ids:
        form[f"active-{user_id}"] = bool(posted[f"active-{user_id}"].data)
    try:  # core's messages too, with what could be read: every message at once
        change = rule_admin.validate_dispatch(
            db.session(),
            store_id,
            posted.default_load_cap.data,
            posted.retry_limit.data,
            posted.cycles(),
            posted.consultants(ids),
        )
        if syntax:
            raise ValidationError({})
    except ValidationError as exc:
        return _page("dispatch", 422, form=form, errors={**_errors(exc), **syntax})
    fingerprint = change.fingerprint()
    action = posted.action.data
    if action == "save" and form["previewed"] == fingerprint:
        saved = rule_admin.save_dispatch(db.session(), store_id, current_user.id, utcnow(), change)
        if not saved.rules_changed and not saved.consultants_changed:
            flash(_("Nothing changed: these are the rules in force."), "info")
        else:
            flash(_("Rules saved. Tonight's run uses them."), "success")
        return redirect(url_for("console.rules", tab="dispatch"))
    preview = whatif.preview(db.session(), store_id, utcnow(), change)
    if action == "save":
        flash(
            _("Check what tonight's run would do with these values, then save them."),
            "info",
        )
    form["previewed"] = fingerprint
    return _page("dispatch", form=form, errors={}, preview=preview)


# --- scoring ----------------------------------------------------------------------------------


def _scoring_form(scoring: dict[str, Any]) -> dict[str, Any]:
    """The stored scoring as the editor shows it (every value a string)."""
    return {
        "indicators": [
            {
                "key": ind["key"],
                "label": dict(ind["label"]),
                "options": [
                    {"key": o["key"], "label": dict(o["label"]), "points": str(o["points"])}
                    for o in ind["options"]
                ],
            }
            for ind in scoring["indicators"]
        ],
        "thresholds": {g: str(scoring["thresholds"][g]) for g in GRADES},
    }


def _blank_option() -> dict[str, Any]:
    return {"key": "", "label": {"zh": "", "en": ""}, "points": "0"}


def _edit(scoring: dict[str, Any], action: str) -> str | None:
    """Add or remove a row as the button asked; returns the id of the field to focus next."""
    parts = action.split("-")
    indicators = scoring["indicators"]
    try:
        if parts[0] == "add_indicator" and len(indicators) < rule_admin.INDICATORS_MAX:
            indicators.append(
                {
                    "key": "",
                    "label": {"zh": "", "en": ""},
                    "options": [_blank_option(), _blank_option()],
                }
            )
            return f"ind-{len(indicators) - 1}-zh"
        if parts[0] == "remove_indicator":
            del indicators[int(parts[1])]
            return "add-indicator"
        if parts[0] == "add_option":
            i = int(parts[1])
            if len(indicators[i]["options"]) < rule_admin.OPTIONS_MAX:
                indicators[i]["options"].append(_blank_option())
                return f"ind-{i}-opt-{len(indicators[i]['options']) - 1}-zh"
            return f"add-option-{i}"
        if parts[0] == "remove_option":
            i, j = int(parts[1]), int(parts[2])
            del indicators[i]["options"][j]
            return f"add-option-{i}"
    except (IndexError, ValueError):
        return None
    return None


@bp.route("/rules/scoring", methods=["POST"])
@roles(Role.MANAGER)
def rules_scoring() -> ResponseReturnValue:
    scoring, typed, syntax = read_scoring(request.form, MAX_INDICATORS, MAX_OPTIONS)
    action = request.form.get("action", "save")
    if action != "save":
        focus = _edit(scoring, action)
        return _page("scoring", scoring=scoring, errors={}, focus=focus)
    try:  # core's messages too, with what could be read: every message at once
        saved = rule_admin.save_scoring(
            db.session(), current_user.store_id, current_user.id, utcnow(), typed
        )
        if syntax:
            raise ValidationError({})
    except ValidationError as exc:
        db.session.rollback()
        return _page("scoring", 422, scoring=scoring, errors={**_errors(exc), **syntax})
    if saved.changed:
        flash(_("Scoring saved. New needs analyses use it."), "success")
    else:
        flash(_("Nothing changed: these are the rules in force."), "info")
    return redirect(url_for("console.rules", tab="scoring"))


# --- manual reassignment ----------------------------------------------------------------------


def _source(raw: str | None) -> int | None:
    """The consultant whose customers are listed, or None for the refill pool."""
    return int(raw) if raw and is_ascii_int(raw) else None


def _reassign_page(
    source: int | None, form: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Any:
    store_id = current_user.store_id
    team = consultant_loads(db.session(), store_id)
    if source is not None and not any(c.user_id == source for c in team):
        raise NotFound("consultant")
    listing = rule_admin.reassignable(db.session(), store_id, source)
    chosen = set(form.get("opportunities", []))
    target = next((c for c in team if str(c.user_id) == form.get("to")), None)
    counting = sum(
        1 for r in listing.rows if str(r.opportunity_id) in chosen and r.counts_towards_load
    )
    return (
        render_template(
            "console/reassign.html",
            team=team,
            source=source,
            source_name=next((c.display_name for c in team if c.user_id == source), None),
            listing=listing,
            targets=[c for c in team if c.active and c.user_id != source],
            form=form,
            chosen=chosen,
            errors=errors,
            target=target,
            load_after=(target.load + counting) if target else None,
            reason_max=rule_admin.REASON_MAX,
        ),
        status,
    )


def _back_to_reassign(**_: Any) -> str:
    source = ReassignForm().source.data
    return url_for("console.reassign", **({"from": source} if source else {}))


@bp.route("/reassign", methods=["GET", "POST"])
@roles(Role.MANAGER)
@redirect_on_refusal(_back_to_reassign)
def reassign() -> ResponseReturnValue:
    """Move one or many of a consultant's (or the pool's) open customers to another consultant or
    to the pool, with a written reason."""
    if request.method == "GET":
        source = _source(request.args.get("from"))
        return _reassign_page(source, {"from": "" if source is None else str(source)}, {})
    posted = ReassignForm()
    posted.validate()
    source = posted.source.data
    form: dict[str, Any] = {
        "from": "" if source is None else str(source),
        "to": posted.to.data or "",
        "reason": posted.reason.data or "",
        "opportunities": [str(i) for i in posted.opportunity.data or []],
        "confirm_over_cap": bool(posted.confirm_over_cap.data),
    }
    errors: dict[str, str] = {}
    target = posted.target()
    to_owner: int | None
    if isinstance(target, str):
        # nobody chosen: core refuses a consultant who does not exist, with the other checks
        errors["to_owner"] = _("Choose who receives the customers: a consultant or the pool.")
        to_owner = 0
    else:
        to_owner = target
    try:
        moved = rule_admin.reassign(
            db.session(),
            current_user.store_id,
            current_user.id,
            utcnow(),
            posted.opportunity.data or [],
            to_owner,
            posted.reason.data,
            allow_over_cap=form["confirm_over_cap"],
        )
    except ValidationError as exc:
        db.session.rollback()
        return _reassign_page(source, form, {**_errors(exc), **errors}, 422)
    if to_owner is None:
        flash(
            ngettext(
                "%(num)d customer put in the pool: tonight's refill hands them out.",
                "%(num)d customers put in the pool: tonight's refill hands them out.",
                moved.moved,
            ),
            "success",
        )
    else:
        name = next(
            c.display_name
            for c in consultant_loads(db.session(), current_user.store_id)
            if c.user_id == to_owner
        )
        flash(
            ngettext(
                "%(num)d customer reassigned to %(name)s.",
                "%(num)d customers reassigned to %(name)s.",
                moved.moved,
                name=name,
            ),
            "success",
        )
        if moved.over_cap:
            flash(
                _(
                    "%(name)s is now above the load cap: %(load)s of %(cap)s.",
                    name=name,
                    load=moved.load_after,
                    cap=moved.to_cap,
                ),
                "info",
            )
    return redirect(url_for("console.reassign", **({"from": source} if source else {})))
