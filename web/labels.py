"""Human labels for the domain's enumerations, in the user's language."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale, gettext
from flask_babel import lazy_gettext as _l

from core.dispatch.load import BOOK_KEYS
from core.enums import CYCLE_GRADES
from web.kiosk_device import is_kiosk_request

LABELS = {
    "role": {
        "cs_agent": _l("Customer service"),
        "consultant": _l("Sales consultant"),
        "manager": _l("Sales manager"),
        "admin": _l("Administrator"),
    },
    "presence": {
        "on_duty": _l("On duty"),
        "on_break": _l("On break"),
        "off_duty": _l("Off duty"),
    },
    "grade": {
        "new": _l("New (not graded)"),
        "H": _l("H · buys within 7 days"),
        "A": _l("A · within 15 days"),
        "B": _l("B · within 30 days"),
        "C": _l("C · dormant"),
        "O": _l("O · ordered"),
        "F": _l("F · defeated"),
    },
    "opportunity_status": {"open": _l("Open"), "won": _l("Ordered"), "lost": _l("Lost")},
    "visit_status": {
        "waiting": _l("Waiting"),
        "assigned": _l("Consultant on the way"),
        "in_reception": _l("With a consultant"),
        "finished": _l("Finished"),
        "left": _l("Left without reception"),
    },
    "visit_source": {"kiosk": _l("Kiosk"), "reception": _l("Reception desk")},
    "purpose": {
        "look": _l("Looking around"),
        "test_drive": _l("Test drive"),
        "delivery": _l("Take delivery"),
        "other": _l("Other"),
    },
    "activity": {
        "call": _l("Call"),
        "message": _l("Message"),
        "revisit": _l("Revisit"),
        "test_drive": _l("Test drive"),
        "quote": _l("Quote"),
        "invitation": _l("Invitation"),
    },
    "invitation_status": {
        "scheduled": _l("Scheduled"),
        "honoured": _l("Honoured"),
        "missed": _l("Missed"),
        "cancelled": _l("Cancelled"),
    },
    "callback_kind": {
        "dormant": _l("Dormant"),
        "stalled": _l("Stalled"),
        "defeat": _l("Defeat"),
        "scheduled": _l("Scheduled"),
        "retry": _l("Retry"),
    },
    "callback_status": {"open": _l("To call"), "done": _l("Done"), "cancelled": _l("Cancelled")},
    "call_result": {
        "reached": _l("Reached"),
        "no_answer": _l("No answer"),
        "busy": _l("Busy"),
        "wrong_number": _l("Wrong number"),
        "refused": _l("Refused"),
    },
    "callback_outcome": {
        "bought_elsewhere": _l("Bought elsewhere"),
        "invite_back": _l("Invited back"),
        "call_again": _l("Call again later"),
        "unreachable": _l("Unreachable, retry"),
        "gave_up": _l("Unreachable, closed"),
        "do_not_contact": _l("Do not contact"),
    },
    "defeat_reason": {
        "other_brand": _l("Bought another brand"),
        "price": _l("Price"),
        "financing": _l("Financing"),
        "no_longer_needs": _l("No longer needs a car"),
        "unreachable": _l("Unreachable"),
        "other": _l("Other"),
    },
    "assignment_reason": {
        "returning_owner": _l("Returning customer to own consultant"),
        "rotation": _l("Walk-in rotation"),
        "queue": _l("From the waiting queue"),
        "refill": _l("Cyclic refill"),
        "manual": _l("Reassigned by hand"),
        "reinvite": _l("Invited back by customer service"),
        "invited": _l("Came on the consultant's own invitation"),
        "to_service": _l("Handed to customer service"),
        "released": _l("Put back in the pool"),
    },
    # Why dispatch passed over a consultant (an assignment's candidates); None: chosen.
    "skip_reason": {
        "inactive": _l("Inactive"),
        "on_break": _l("On break"),
        "off_duty": _l("Off duty"),
        "busy": _l("Busy with a visitor"),
        "at_cap": _l("At load cap"),
        "later_in_rotation": _l("Later in the rotation"),
        "not_owner": _l("Not the customer's own consultant"),
        "not_chosen": _l("Not chosen"),
        "declined": _l("The customer asked for someone else"),
    },
    "job_kind": {
        "nightly": _l("Nightly run"),
        "probe": _l("Worker test"),
    },
    "job_status": {
        "queued": _l("Queued"),
        "running": _l("Running"),
        "succeeded": _l("Succeeded"),
        "failed": _l("Failed"),
        "skipped": _l("Skipped"),
    },
    "title": {"mr": _l("Mr"), "ms": _l("Ms")},
    # Notes the system writes on an assignment (people write their own notes in full).
    "assignment_note": {
        "preferred_off_duty": _l("The customer's own consultant was not on duty."),
        "preferred_on_break": _l("The customer's own consultant was on a break."),
        "preferred_inactive": _l("The customer's own consultant is no longer active."),
        "preferred_declined": _l("The customer asked not to have that consultant again."),
        "preferred_busy": _l("The invited consultant was busy with another visitor."),
        "preferred_at_cap": _l("The invited consultant was at their load cap."),
    },
    "pool_reason": {
        "reinvited": _l("invited back to another consultant"),
        "consultant_left": _l("consultant left or inactive"),
        "returned": _l("returned by a manager"),
        "waiting": _l("walk-in nobody could take"),
        "over_cap": _l("above the consultant's cap"),
    },
    # Keys of a job run's counts.
    "count": {
        "dormant": _l("dormant"),
        "stalled": _l("stalled"),
        "defeat": _l("defeat"),
        "scheduled": _l("scheduled"),
        "retry": _l("retry"),
        "caught_up": _l("missed dates caught up"),
        "refilled": _l("refilled"),
        "released_inactive": _l("from inactive consultants"),
        "released_over_cap": _l("above a cap"),
        "skipped": _l("skipped"),
        "unplaced": _l("unplaced"),
        "purged": _l("deleted after three years"),
        "host": _l("host"),
        "pid": _l("process"),
    },
    # Steps of the analytics funnel.
    "funnel_step": {
        "visits": _l("Visits"),
        "first_receptions": _l("First receptions"),
        "intent": _l("Intent"),
        "invitations": _l("Invitations"),
        "revisits": _l("Revisits"),
        "orders": _l("Orders"),
    },
}


def label(kind: str, value: object) -> str:
    if value is None:
        return ""
    return str(LABELS.get(kind, {}).get(str(value), value))


def customer_name(surname: str, title: str | None) -> str:
    """王先生 / Mr 王: the polite form of address staff use."""
    if title == "mr":
        return gettext("Mr %(surname)s", surname=surname)
    if title == "ms":
        return gettext("Ms %(surname)s", surname=surname)
    return surname


def register(app: Flask) -> None:
    app.jinja_env.globals["customer_name"] = customer_name
    app.jinja_env.globals["is_kiosk_request"] = is_kiosk_request
    # Dates and times in the user's language and the store's time zone.
    app.jinja_env.filters["format_date"] = lambda value, fmt="medium": format_date(value, fmt)
    app.jinja_env.filters["format_datetime"] = lambda value, fmt="medium": format_datetime(
        value, fmt
    )
    app.jinja_env.globals["label"] = label
    # A book by grade (new, H, A, B) and the grades with cycle rules, in the order of core.
    app.jinja_env.globals["book_keys"] = BOOK_KEYS
    app.jinja_env.globals["cycle_grades"] = tuple(g.value for g in CYCLE_GRADES)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "zh")
