"""A customer's requests under the personal information law, served at the desk from the
customer page: a file of everything held, a correction, consent withdrawn, deletion
(core/opportunities/pipl.py decides; each is on the audit trail)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from console.auth import roles, viewer
from console.blueprint import bp
from console.forms import PiplForm
from core.db import utcnow
from core.enums import Role
from core.errors import ValidationError
from core.i18n import N_
from core.opportunities import pipl
from core.opportunities.customers import customer_profile
from extensions import db
from web.refusals import redirect_on_refusal

DESK = (Role.CS_AGENT, Role.MANAGER)


def _back(customer_id: int, **_: Any) -> str:
    return url_for("console.customer", customer_id=customer_id)


def _with_errors(customer_id: int, kind: str, exc: ValidationError, form: PiplForm) -> Any:
    """The customer page again with the request's form open, the messages next to the
    fields and what was typed kept."""
    db.session.rollback()
    profile = customer_profile(db.session(), viewer(), customer_id, utcnow())
    errors = {field: _(message) for field, message in exc.errors.items()}
    return (
        render_template(
            "console/customer.html",
            profile=profile,
            pipl_open=kind,
            pipl_errors=errors,
            pipl_typed=form.typed(),
        ),
        422,
    )


def _serve(
    customer_id: int, kind: str, serve: Callable[[PiplForm], Any]
) -> ResponseReturnValue | None:
    form = PiplForm()
    form.validate()
    try:
        serve(form)
    except ValidationError as exc:
        return _with_errors(customer_id, kind, exc, form)
    return None


@bp.route("/customers/<int:customer_id>/pipl/export", methods=["POST"])
@roles(*DESK)
@redirect_on_refusal(_back)
def pipl_export(customer_id: int) -> ResponseReturnValue:
    """A file of everything held about the customer, for the customer."""
    held: dict[str, Any] = {}

    def serve(form: PiplForm) -> None:
        held.update(pipl.export(db.session(), viewer(), customer_id, utcnow(), form.request.data))

    refused = _serve(customer_id, "export", serve)
    if refused is not None:
        return refused
    body = json.dumps(held, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f"attachment; filename=customer-{customer_id}.json",
            "Cache-Control": "no-store",
        },
    )


@bp.route("/customers/<int:customer_id>/pipl/correct", methods=["POST"])
@roles(*DESK)
@redirect_on_refusal(_back)
def pipl_correct(customer_id: int) -> ResponseReturnValue:
    def serve(form: PiplForm) -> None:
        pipl.correct(
            db.session(),
            viewer(),
            customer_id,
            utcnow(),
            surname=form.surname.data,
            title=form.title.data,
            mobile=form.mobile.data,
            request=form.request.data,
        )

    refused = _serve(customer_id, "correct", serve)
    if refused is not None:
        return refused
    flash(_("The customer's details are corrected."), "success")
    return redirect(_back(customer_id))


@bp.route("/customers/<int:customer_id>/pipl/withdraw", methods=["POST"])
@roles(*DESK)
@redirect_on_refusal(_back)
def pipl_withdraw(customer_id: int) -> ResponseReturnValue:
    def serve(form: PiplForm) -> None:
        pipl.withdraw_consent(db.session(), viewer(), customer_id, utcnow(), form.request.data)

    refused = _serve(customer_id, "withdraw", serve)
    if refused is not None:
        return refused
    flash(_("Consent withdrawn: nobody will contact this customer."), "success")
    return redirect(_back(customer_id))


@bp.route("/customers/<int:customer_id>/pipl/delete", methods=["POST"])
@roles(Role.MANAGER)
@redirect_on_refusal(_back)
def pipl_delete(customer_id: int) -> ResponseReturnValue:
    def serve(form: PiplForm) -> None:
        if not form.confirm.data:
            raise ValidationError({"confirm": N_("Tick the box to confirm the deletion.")})
        pipl.delete(db.session(), viewer(), customer_id, utcnow(), form.request.data)

    refused = _serve(customer_id, "delete", serve)
    if refused is not None:
        return refused
    flash(_("The customer and everything about them are deleted."), "success")
    return redirect(url_for("console.customers"))
