"""Customer service's callback console: today's worklist, one task with its call and
questionnaire, and handing the refill pool out on demand (DESIGN.md section 3 steps 5-8).

CS agents work the list. Managers may look, and may also claim and record calls: a manager
covering the phones when customer service is short-handed is everyday dealership practice.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_datetime, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from console.auth import roles, user_today, viewer
from console.blueprint import bp
from console.forms import CallbackRecordForm
from core.callbacks import claims, tasks
from core.callbacks import service as callbacks
from core.db import utcnow
from core.enums import CallbackKind, CallbackOutcome, Role
from core.errors import ValidationError
from extensions import db
from web.forms import page_number
from web.labels import label
from web.refusals import redirect_on_refusal

CALLERS = (Role.CS_AGENT, Role.MANAGER)


def _errors(exc: ValidationError) -> dict[str, str]:
    return {name: _(message) for name, message in exc.errors.items()}


def _to_worklist(**_: Any) -> str:
    return url_for("console.worklist")


# --- the worklist ------------------------------------------------------------------------------


@bp.route("/callbacks")
@roles(*CALLERS)
def worklist() -> ResponseReturnValue:
    kind = request.args.get("kind") or None
    page = page_number(request.args.get("page"))
    result = tasks.worklist(
        db.session(),
        current_user.store_id,
        user_today(),
        current_user.id,
        utcnow(),
        kind=kind,
        page=page,
    )
    return render_template(
        "console/worklist.html",
        result=result,
        kinds=[k.value for k in CallbackKind],
        pool=callbacks.pool_size(db.session(), current_user.store_id),
        today=user_today(),
    )


@bp.route("/callbacks/hand-out", methods=["POST"])
@roles(*CALLERS)
def hand_out() -> ResponseReturnValue:
    """Hand the refill pool out now instead of tonight."""
    done = callbacks.hand_out_pool(db.session(), current_user.store_id, current_user.id, utcnow())
    if done.placed:
        flash(
            ngettext(
                "%(num)d customer was handed to a consultant.",
                "%(num)d customers were handed to consultants.",
                done.placed,
            )
            + " "
            + "; ".join(_("%(name)s: %(num)d", name=name, num=n) for name, n in done.placed_with),
            "success",
        )
    else:
        flash(_("Nobody was handed out."), "info")
    if done.unplaced:
        flash(
            ngettext(
                "%(num)d customer is still waiting: no consultant could take them.",
                "%(num)d customers are still waiting: no consultant could take them.",
                done.unplaced,
            ),
            "error",
        )
    if done.skipped:
        flash(
            _(
                "Skipped: %(list)s",
                list="; ".join(
                    f"{name} ({label('skip_reason', why)})" for name, why in done.skipped
                ),
            ),
            "info",
        )
    return redirect(url_for("console.worklist"))


# --- one task ----------------------------------------------------------------------------------


def _task_page(
    task_id: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    *,
    revealed: str | None = None,
    status: int = 200,
) -> Any:
    detail = tasks.task_detail(
        db.session(), current_user.store_id, task_id, current_user.id, utcnow()
    )
    return (
        render_template(
            "console/callback.html",
            task=detail,
            form=form or CallbackRecordForm(formdata=None).typed(),
            errors=errors or {},
            revealed_mobile=revealed,
            today=user_today(),
            **callbacks.form_choices(),
        ),
        status,
    )


@bp.route("/callbacks/<int:task_id>")
@roles(*CALLERS)
def callback(task_id: int) -> ResponseReturnValue:
    return _task_page(task_id)


@bp.route("/callbacks/<int:task_id>/claim", methods=["POST"])
@roles(*CALLERS)
@redirect_on_refusal(_to_worklist)
def callback_claim(task_id: int) -> ResponseReturnValue:
    claims.claim(db.session(), current_user.store_id, task_id, current_user.id, utcnow())
    return redirect(url_for("console.callback", task_id=task_id))


@bp.route("/callbacks/<int:task_id>/release", methods=["POST"])
@roles(*CALLERS)
@redirect_on_refusal(_to_worklist)
def callback_release(task_id: int) -> ResponseReturnValue:
    claims.release(db.session(), current_user.store_id, task_id, current_user.id)
    flash(_("The callback is back on the list for anyone to take."), "info")
    return redirect(url_for("console.worklist"))


@bp.route("/callbacks/<int:task_id>/reveal", methods=["POST"])
@roles(*CALLERS)
@redirect_on_refusal(lambda task_id: url_for("console.callback", task_id=task_id))
def callback_reveal(task_id: int) -> ResponseReturnValue:
    mobile = claims.reveal_task_mobile(db.session(), viewer(), task_id, utcnow())
    if request.headers.get("HX-Request"):
        return render_template("console/_callback_mobile.html", revealed_mobile=mobile)
    return _task_page(task_id, revealed=mobile)


@bp.route("/callbacks/<int:task_id>/record", methods=["POST"])
@roles(*CALLERS)
@redirect_on_refusal(_to_worklist)
def callback_record(task_id: int) -> ResponseReturnValue:
    form = CallbackRecordForm()
    form.validate()
    errors = form.syntax_errors()
    if errors:
        return _task_page(task_id, form.typed(), errors, status=422)
    try:
        result = callbacks.record_callback(
            db.session(), current_user.store_id, task_id, current_user.id, utcnow(), form.posted()
        )
    except ValidationError as exc:
        db.session.rollback()
        return _task_page(task_id, form.typed(), _errors(exc), status=422)
    flash(_message(result), "success")
    return redirect(url_for("console.worklist"))


def _message(result: callbacks.RecordResult) -> str:
    """What the agent is told after saving: what happens next."""
    if result.outcome == CallbackOutcome.UNREACHABLE.value:
        return _("Not reached: the customer will be called again tomorrow.")
    if result.outcome == CallbackOutcome.GAVE_UP.value:
        return _("Not reached: the callback is closed as unreachable.")
    if result.outcome == CallbackOutcome.BOUGHT_ELSEWHERE.value:
        return _("Recorded: the customer bought elsewhere; the opportunity is closed as lost.")
    if result.outcome == CallbackOutcome.DO_NOT_CONTACT.value:
        return _("Recorded: the customer will not be contacted again.")
    parts = []
    if result.defeat_overturned:
        parts.append(_("The defeat is overturned: the opportunity is open again."))
    if result.outcome == CallbackOutcome.INVITE_BACK.value and result.invitation_at:
        when = format_datetime(result.invitation_at, "short")
        if result.consultant_name:
            parts.append(
                _(
                    "Invitation for %(when)s with %(name)s.",
                    when=when,
                    name=result.consultant_name,
                )
            )
        else:
            parts.append(
                _(
                    "Invitation for %(when)s. The customer waits for a consultant in the pool.",
                    when=when,
                )
            )
    elif result.outcome == CallbackOutcome.CALL_AGAIN.value and result.call_again_on:
        parts.append(
            _(
                "The customer will be on the list again on %(date)s.",
                date=format_date(result.call_again_on, "medium"),
            )
        )
    else:
        parts.append(_("The answers are recorded for the consultant."))
    return " ".join(parts)
