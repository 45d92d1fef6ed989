"""A store manager's rules (DESIGN.md section 3 step 9): load caps, active consultants, cycle
rules and retries, the needs-analysis scoring, and reassigning customers by hand.

Every change is validated whole before anything is written (``ValidationError`` maps a form
field to a message), writes a new RuleSet version (the highest is current) or the consultant's
settings, and leaves an audit event with who, when, the old and the new values.

Field names in the errors are the form's: ``default_load_cap``, ``retry_limit``,
``follow_up_H`` / ``cycle_H`` (and A, B), ``cap-<user id>``; for the scoring ``ind-<i>-zh``,
``ind-<i>-opt-<j>-points``, ``threshold_H`` ... (``i`` and ``j`` count from 0).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core import audit
from core.audit import AuditEvent
from core.dispatch.authority import (
    Order,
    OwnerChange,
    apply,
    candidates,
    choose,
    declined_by,
    nobody,
    took,
)
from core.dispatch.load import grade_counts_towards_load, grade_rank
from core.dispatch.pool import in_pool
from core.enums import CYCLE_GRADES, AssignmentReason, OpportunityStatus, PoolReason, Role
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import Customer, Opportunity
from core.phone import mask_mobile
from core.rules.models import CycleRule, RuleSet
from core.rules.rulesets import CycleSetting, Rules, current_rules
from core.stores.models import ConsultantSettings, User
from core.stores.service import store_timezone
from core.timeutil import local_date

GRADES = tuple(g.value for g in CYCLE_GRADES)  # H, A, B: the grades with cycle rules
CAP_MIN, CAP_MAX = 1, 500
DAYS_MIN, DAYS_MAX = 1, 365
# Attempts in all for an unreachable customer, the first call included (the database allows
# 1..10; 1 means no retry).
RETRY_MIN, RETRY_MAX = 1, 10
POINTS_MAX = 100
INDICATORS_MAX = 20
OPTIONS_MIN, OPTIONS_MAX = 2, 10
LABEL_MAX = 40
KEY_MAX = 32
REASON_MAX = 500
REASSIGN_MAX = 500  # customers moved in one go
_KEY = re.compile(r"[A-Za-z0-9_+\-]{1,32}")

RULES_CHANGE = "rules.change"
SCORING_CHANGE = "scoring.change"
CONSULTANT_CHANGE = "consultant.change"
REASSIGN = "customers.reassign"
HISTORY_ACTIONS = (RULES_CHANGE, SCORING_CHANGE, CONSULTANT_CHANGE)


# --- numbers in range --------------------------------------------------------------------------


def _whole(
    value: int | None, name: str, errors: dict[str, str], lo: int, hi: int, msg: str
) -> int | None:
    """``value`` if it is an integer in [lo, hi], else None with ``msg`` in ``errors`` (None:
    nothing was given). Reading the typed text is the form's (console/forms.py)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        errors[name] = msg
        return None
    if not lo <= value <= hi:
        errors[name] = msg
        return None
    return value


# --- load caps, cycle rules, retries ------------------------------------------------------------


@dataclass(frozen=True)
class DispatchRules:
    """Validated load caps, cycle rules and retries, with the consultants' own settings."""

    default_load_cap: int
    retry_limit: int
    cycles: dict[str, tuple[int, int]]  # grade: (follow-up days, cycle days)
    consultants: dict[int, tuple[int | None, bool]] = field(default_factory=dict)

    def rules(self, base: Rules) -> Rules:
        """``base`` with these values: what the nightly run is given."""
        return Rules(
            rule_set_id=base.rule_set_id,
            version=base.version,
            default_load_cap=self.default_load_cap,
            callback_retry_limit=self.retry_limit,
            cycles={g: CycleSetting(g, f, c) for g, (f, c) in self.cycles.items()},
            scoring=base.scoring,
        )

    def fingerprint(self) -> str:
        """The same values give the same short text (to know a preview showed these values)."""
        data = {
            "cap": self.default_load_cap,
            "retry": self.retry_limit,
            "cycles": {g: list(v) for g, v in sorted(self.cycles.items())},
            "consultants": {str(k): list(v) for k, v in sorted(self.consultants.items())},
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ConsultantSetting:
    user_id: int
    name: str
    load_cap: int | None  # None: the store default
    active: bool


def consultant_settings(session: Session, store_id: int) -> list[ConsultantSetting]:
    """The store's consultants (user accounts that are enabled), by name: one statement."""
    rows = session.execute(
        select(User.id, User.display_name, ConsultantSettings.load_cap, ConsultantSettings.active)
        .join(ConsultantSettings, ConsultantSettings.user_id == User.id)
        .where(User.store_id == store_id, User.role == Role.CONSULTANT.value, User.active)
        .order_by(User.display_name, User.id)
    ).all()
    return [ConsultantSetting(r[0], r[1], r[2], bool(r[3])) for r in rows]


def validate_rules(
    default_load_cap: int | None,
    retry_limit: int | None,
    cycles: Mapping[str, tuple[int | None, int | None]],
    errors: dict[str, str] | None = None,
) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """The store's cap, retries and cycles as integers, or ValidationError naming each field.

    A hotter grade is followed up at least as often and revisited at least as soon as a cooler
    one: follow-up(H) <= follow-up(A) <= follow-up(B), and the same for the cycles.
    """
    errors = {} if errors is None else errors
    cap = _whole(
        default_load_cap,
        "default_load_cap",
        errors,
        CAP_MIN,
        CAP_MAX,
        N_("Enter a load cap from 1 to 500."),
    )
    retry = _whole(
        retry_limit,
        "retry_limit",
        errors,
        RETRY_MIN,
        RETRY_MAX,
        N_("Enter a number of calls from 1 to 10."),
    )
    parsed: dict[str, tuple[int, int]] = {}
    days = N_("Enter a number of days from 1 to 365.")
    for grade in GRADES:
        raw_follow, raw_cycle = cycles.get(grade, (None, None))
        follow = _whole(raw_follow, f"follow_up_{grade}", errors, DAYS_MIN, DAYS_MAX, days)
        cycle = _whole(raw_cycle, f"cycle_{grade}", errors, DAYS_MIN, DAYS_MAX, days)
        if follow is not None and cycle is not None:
            if cycle < follow:
                errors[f"cycle_{grade}"] = N_(
                    "The cycle cannot be shorter than the follow-up interval."
                )
            else:
                parsed[grade] = (follow, cycle)
    follow_order = {
        "A": N_("Grade A cannot be followed up more often than grade H: use at least H's days."),
        "B": N_("Grade B cannot be followed up more often than grade A: use at least A's days."),
    }
    cycle_order = {
        "A": N_("Grade A's cycle cannot be shorter than grade H's."),
        "B": N_("Grade B's cycle cannot be shorter than grade A's."),
    }
    for hotter, cooler in (("H", "A"), ("A", "B")):
        if hotter in parsed and cooler in parsed:
            if parsed[cooler][0] < parsed[hotter][0]:
                errors.setdefault(f"follow_up_{cooler}", follow_order[cooler])
            if parsed[cooler][1] < parsed[hotter][1]:
                errors.setdefault(f"cycle_{cooler}", cycle_order[cooler])
    if errors:
        raise ValidationError(errors)
    assert cap is not None and retry is not None
    return cap, retry, parsed


def validate_dispatch(
    session: Session,
    store_id: int,
    default_load_cap: int | None,
    retry_limit: int | None,
    cycles: Mapping[str, tuple[int | None, int | None]],
    consultants: Mapping[int, tuple[int | None, bool]] | None = None,
) -> DispatchRules:
    """Everything of the caps-and-cycles form at once: the store's values and, per consultant,
    an own cap (empty: the store default) and whether they are active."""
    errors: dict[str, str] = {}
    own: dict[int, tuple[int | None, bool]] = {}
    if consultants:
        known = {c.user_id for c in consultant_settings(session, store_id)}
        for user_id, (raw_cap, active) in consultants.items():
            if user_id not in known:
                raise NotFound("consultant")
            cap: int | None = None
            if raw_cap is not None:
                cap = _whole(
                    raw_cap,
                    f"cap-{user_id}",
                    errors,
                    CAP_MIN,
                    CAP_MAX,
                    N_("Enter a load cap from 1 to 500, or leave it empty for the store default."),
                )
            own[user_id] = (cap, bool(active))
    # one dict: the consultants' messages and the store's come back together
    cap_value, retry, cycles_ok = validate_rules(default_load_cap, retry_limit, cycles, errors)
    return DispatchRules(cap_value, retry, cycles_ok, own)


def _rules_values(rules: Rules) -> dict[str, Any]:
    return {
        "default_load_cap": rules.default_load_cap,
        "retry_limit": rules.callback_retry_limit,
        "cycles": {g: [rules.cycles[g].follow_up_days, rules.cycles[g].cycle_days] for g in GRADES},
    }


def _new_version(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    base: Rules,
    *,
    cap: int,
    retry: int,
    cycles: dict[str, tuple[int, int]],
    scoring: dict[str, Any],
) -> int:
    rule_set = RuleSet(
        store_id=store_id,
        version=base.version + 1,
        created_at=now,
        created_by=actor_id,
        default_load_cap=cap,
        callback_retry_limit=retry,
        scoring=scoring,
        cycle_rules=[
            CycleRule(grade=g, follow_up_days=f, cycle_days=c) for g, (f, c) in cycles.items()
        ],
    )
    session.add(rule_set)
    session.flush()
    return rule_set.version


@dataclass(frozen=True)
class Saved:
    version: int  # the rules version in force after the save
    changed: bool  # False: the values were those in force, nothing was written


def save_rules(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    default_load_cap: int | None,
    retry_limit: int | None,
    cycles: Mapping[str, tuple[int | None, int | None]],
) -> Saved:
    """A new rules version with these caps, retries and cycles (the scoring is kept)."""
    cap, retry, parsed = validate_rules(default_load_cap, retry_limit, cycles)
    return _save_rules(session, store_id, actor_id, now, cap, retry, parsed)


def _save_rules(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    cap: int,
    retry: int,
    cycles: dict[str, tuple[int, int]],
) -> Saved:
    lock_store(session, store_id)  # two managers saving at once: one version after the other
    base = current_rules(session, store_id)
    old = _rules_values(base)
    new = {
        "default_load_cap": cap,
        "retry_limit": retry,
        "cycles": {g: list(cycles[g]) for g in GRADES},
    }
    if old == new:
        return Saved(base.version, False)
    version = _new_version(
        session,
        store_id,
        actor_id,
        now,
        base,
        cap=cap,
        retry=retry,
        cycles=cycles,
        scoring=base.scoring,
    )
    audit.record(
        session,
        RULES_CHANGE,
        store_id=store_id,
        actor_id=actor_id,
        entity="rule_set",
        entity_id=version,
        data={"old": old, "new": new, "version": version},
    )
    return Saved(version, True)


def set_consultant(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    user_id: int,
    load_cap: int | None,
    active: bool,
) -> bool:
    """A consultant's own cap (None: the store default) and whether they are active (an
    inactive consultant's customers go to the refill pool at the next nightly run). Returns
    whether anything changed."""
    errors: dict[str, str] = {}
    cap = None
    if load_cap is not None:
        cap = _whole(
            load_cap,
            f"cap-{user_id}",
            errors,
            CAP_MIN,
            CAP_MAX,
            N_("Enter a load cap from 1 to 500, or leave it empty for the store default."),
        )
    if errors:
        raise ValidationError(errors)
    return _set_consultant(session, store_id, actor_id, now, user_id, cap, bool(active))


def _set_consultant(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    user_id: int,
    cap: int | None,
    active: bool,
) -> bool:
    lock_store(session, store_id)  # first: core/locks.py
    settings = session.get(ConsultantSettings, user_id)
    if settings is None or settings.store_id != store_id:
        raise NotFound("consultant")
    old = {"load_cap": settings.load_cap, "active": settings.active}
    new = {"load_cap": cap, "active": active}
    if old == new:
        return False
    settings.load_cap = cap
    settings.active = active
    audit.record(
        session,
        CONSULTANT_CHANGE,
        store_id=store_id,
        actor_id=actor_id,
        entity="user",
        entity_id=user_id,
        data={"old": old, "new": new},
    )
    session.flush()
    return True


@dataclass(frozen=True)
class DispatchSaved:
    version: int
    rules_changed: bool
    consultants_changed: int


def save_dispatch(
    session: Session, store_id: int, actor_id: int, now: datetime, change: DispatchRules
) -> DispatchSaved:
    """Save what the caps-and-cycles form holds (validated by ``validate_dispatch``): a new rules
    version when the store's values changed, and each consultant whose settings changed."""
    saved = _save_rules(
        session,
        store_id,
        actor_id,
        now,
        change.default_load_cap,
        change.retry_limit,
        change.cycles,
    )
    changed = sum(
        _set_consultant(session, store_id, actor_id, now, user_id, cap, active)
        for user_id, (cap, active) in sorted(change.consultants.items())
    )
    return DispatchSaved(saved.version, saved.changed, changed)


# --- needs-analysis scoring -------------------------------------------------------------------


def reachable_totals(points: Sequence[Sequence[int]]) -> set[int]:
    """Every total one answer per indicator can give (a small subset-sum table)."""
    totals = {0}
    for options in points:
        totals = {t + p for t in totals for p in set(options)}
    return totals


def _label(raw: Any, name: str, errors: dict[str, str]) -> dict[str, str]:
    label = raw if isinstance(raw, Mapping) else {}
    out: dict[str, str] = {}
    for lang in ("zh", "en"):
        text = str(label.get(lang) or "").strip()
        if not text:
            errors[f"{name}-{lang}"] = (
                N_("Enter the Chinese text.") if lang == "zh" else N_("Enter the English text.")
            )
        elif len(text) > LABEL_MAX:
            errors[f"{name}-{lang}"] = N_("At most 40 characters.")
        out[lang] = text
    return out


def _given_keys(rows: Sequence[Any]) -> set[str]:
    return {str(r.get("key") or "").strip() for r in rows if isinstance(r, Mapping)} - {""}


def _key(
    raw: Any, fallback: str, taken: set[str], reserved: set[str], name: str, errors: dict[str, str]
) -> str:
    """The given key, or a new one for a row added on the page (never one another row has)."""
    key = str(raw or "").strip()
    if not key:
        key, n = fallback, 1
        while key in taken or key in reserved:
            n += 1
            key = f"{fallback}_{n}"
    elif not _KEY.fullmatch(key):
        errors[name] = N_("Use letters, digits, - or _ only (at most 32).")
    elif key in taken:
        errors[name] = N_("Two rows have the same key: each must be unique.")
    taken.add(key)
    return key


def validate_scoring(scoring: Mapping[str, Any]) -> dict[str, Any]:
    """The scoring as it will be stored (points and thresholds as integers, keys filled in), or
    ValidationError. Guarantees that grading works and that H, A, B and C can all be given."""
    errors: dict[str, str] = {}
    raw_indicators = list(scoring.get("indicators") or [])
    if not raw_indicators:
        errors["indicators"] = N_("Add at least one indicator.")
    elif len(raw_indicators) > INDICATORS_MAX:
        errors["indicators"] = N_("At most 20 indicators.")
    indicators: list[dict[str, Any]] = []
    points_ok: list[list[int]] = []
    complete = not errors
    indicator_keys: set[str] = set()
    given = _given_keys(raw_indicators[:INDICATORS_MAX])
    for i, raw in enumerate(raw_indicators[:INDICATORS_MAX]):
        name = f"ind-{i}"
        key = _key(raw.get("key"), f"q{i + 1}", indicator_keys, given, f"{name}-key", errors)
        label = _label(raw.get("label"), name, errors)
        raw_options = list(raw.get("options") or [])
        if not OPTIONS_MIN <= len(raw_options) <= OPTIONS_MAX:
            errors[f"{name}-options"] = N_("An indicator needs from 2 to 10 answers.")
            complete = False
        options: list[dict[str, Any]] = []
        points: list[int] = []
        option_keys: set[str] = set()
        given_options = _given_keys(raw_options[:OPTIONS_MAX])
        for j, raw_option in enumerate(raw_options[:OPTIONS_MAX]):
            oname = f"{name}-opt-{j}"
            okey = _key(
                raw_option.get("key"),
                f"a{j + 1}",
                option_keys,
                given_options,
                f"{oname}-key",
                errors,
            )
            olabel = _label(raw_option.get("label"), oname, errors)
            value = _whole(
                raw_option.get("points"),
                f"{oname}-points",
                errors,
                0,
                POINTS_MAX,
                N_("Points are a whole number from 0 to 100."),
            )
            if value is None:
                complete = False
            else:
                points.append(value)
            options.append({"key": okey, "label": olabel, "points": value})
        indicators.append({"key": key, "label": label, "options": options})
        points_ok.append(points)
    raw_thresholds = scoring.get("thresholds") or {}
    thresholds: dict[str, int] = {}
    for grade in GRADES:
        value = _whole(
            raw_thresholds.get(grade),
            f"threshold_{grade}",
            errors,
            1,
            POINTS_MAX * INDICATORS_MAX,
            N_("Enter a whole number of points above 0."),
        )
        if value is not None:
            thresholds[grade] = value
    ordered = len(thresholds) == 3
    if ordered and thresholds["A"] >= thresholds["H"]:
        errors["threshold_A"] = N_("A's threshold must be below H's.")
        ordered = False
    elif ordered and thresholds["B"] >= thresholds["A"]:
        errors["threshold_B"] = N_("B's threshold must be below A's.")
        ordered = False
    if complete and ordered:
        totals = reachable_totals(points_ok)
        t_h, t_a, t_b = thresholds["H"], thresholds["A"], thresholds["B"]
        if not any(t >= t_h for t in totals):
            errors["threshold_H"] = N_(
                "No combination of answers reaches this score: lower it or give more points."
            )
        if not any(t_a <= t < t_h for t in totals):
            errors["threshold_A"] = N_(
                "No combination of answers lands in grade A (from this score up to below H's)."
            )
        if not any(t_b <= t < t_a for t in totals):
            errors["threshold_B"] = N_(
                "No combination of answers lands in grade B (from this score up to below A's)."
            )
        if not any(t < t_b for t in totals):
            errors.setdefault(
                "threshold_B",
                N_("Every combination scores at least this much, so grade C can never be given."),
            )
    if errors:
        raise ValidationError(errors)
    return {"indicators": indicators, "thresholds": thresholds}


def max_total(scoring: Mapping[str, Any]) -> int:
    """The highest score the answers can give (points that are not numbers count 0)."""
    total = 0
    for indicator in scoring.get("indicators") or []:
        best = 0
        for option in indicator.get("options") or []:
            try:
                best = max(best, int(str(option.get("points")).strip()))
            except ValueError:
                continue
        total += best
    return total


def _scoring_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed, for the history: thresholds, indicators added or removed, labels, points."""
    changes: list[dict[str, Any]] = []
    for g in GRADES:
        if old["thresholds"].get(g) != new["thresholds"].get(g):
            changes.append(
                {
                    "what": "threshold",
                    "grade": g,
                    "old": old["thresholds"].get(g),
                    "new": new["thresholds"][g],
                }
            )
    before = {i["key"]: i for i in old["indicators"]}
    after = {i["key"]: i for i in new["indicators"]}
    for key, ind in after.items():
        if key not in before:
            changes.append({"what": "indicator_added", "label": ind["label"]})
            continue
        was = before[key]
        if was["label"] != ind["label"]:
            changes.append({"what": "indicator_label", "old": was["label"], "new": ind["label"]})
        was_options = {o["key"]: o for o in was["options"]}
        now_options = {o["key"]: o for o in ind["options"]}
        for okey, opt in now_options.items():
            prior = was_options.get(okey)
            if prior is None:
                changes.append(
                    {
                        "what": "option_added",
                        "indicator": ind["label"],
                        "label": opt["label"],
                        "new": opt["points"],
                    }
                )
            else:
                if prior["points"] != opt["points"]:
                    changes.append(
                        {
                            "what": "points",
                            "indicator": ind["label"],
                            "label": opt["label"],
                            "old": prior["points"],
                            "new": opt["points"],
                        }
                    )
                if prior["label"] != opt["label"]:
                    changes.append(
                        {
                            "what": "option_label",
                            "indicator": ind["label"],
                            "old": prior["label"],
                            "new": opt["label"],
                        }
                    )
        for okey, opt in was_options.items():
            if okey not in now_options:
                changes.append(
                    {"what": "option_removed", "indicator": ind["label"], "label": opt["label"]}
                )
    for key, ind in before.items():
        if key not in after:
            changes.append({"what": "indicator_removed", "label": ind["label"]})
    return changes


def save_scoring(
    session: Session, store_id: int, actor_id: int, now: datetime, scoring: Mapping[str, Any]
) -> Saved:
    """A new rules version with this scoring (caps, retries and cycles are kept)."""
    clean = validate_scoring(scoring)
    lock_store(session, store_id)  # two managers saving at once: one version after the other
    base = current_rules(session, store_id)
    try:
        old = validate_scoring(base.scoring)
    except ValidationError:  # a scoring saved before these checks: compare as it is
        old = dict(base.scoring)
    if old == clean:
        return Saved(base.version, False)
    version = _new_version(
        session,
        store_id,
        actor_id,
        now,
        base,
        cap=base.default_load_cap,
        retry=base.callback_retry_limit,
        cycles={g: (s.follow_up_days, s.cycle_days) for g, s in base.cycles.items()},
        scoring=clean,
    )
    audit.record(
        session,
        SCORING_CHANGE,
        store_id=store_id,
        actor_id=actor_id,
        entity="rule_set",
        entity_id=version,
        data={
            "old": base.scoring,
            "new": clean,
            "version": version,
            "changes": _scoring_changes(old, clean),
        },
    )
    return Saved(version, True)


# --- the history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str | None
    action: str
    entity_id: int | None
    subject: str | None  # the consultant's name for a consultant change
    old: dict[str, Any]
    new: dict[str, Any]
    changes: list[dict[str, Any]]


def history(session: Session, store_id: int, limit: int = 50) -> list[HistoryEntry]:
    """The latest rule and consultant changes, newest first: one statement."""
    from sqlalchemy.orm import aliased

    actor = aliased(User)
    subject = aliased(User)
    rows = session.execute(
        select(AuditEvent, actor.display_name, subject.display_name)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(
            subject,
            and_(AuditEvent.entity == "user", subject.id == AuditEvent.entity_id),
        )
        .where(AuditEvent.store_id == store_id, AuditEvent.action.in_(HISTORY_ACTIONS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    entries = []
    for event, actor_name, subject_name in rows:
        data = event.data or {}
        entries.append(
            HistoryEntry(
                at=event.at,
                actor=actor_name,
                action=event.action,
                entity_id=event.entity_id,
                subject=subject_name,
                old=data.get("old") or {},
                new=data.get("new") or {},
                changes=list(data.get("changes") or []),
            )
        )
    return entries


# --- manual reassignment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reassignable:
    opportunity_id: int
    customer_id: int
    surname: str
    title: str | None
    masked_mobile: str
    grade: str | None
    counts_towards_load: bool
    last_follow_up_at: datetime | None
    pool_reason: str | None


@dataclass(frozen=True)
class ReassignableList:
    rows: list[Reassignable]
    total: int  # all of them, the list may show fewer


def reassignable(
    session: Session, store_id: int, owner_id: int | None, limit: int = 300
) -> ReassignableList:
    """The open customers a manager may move: a consultant's (``owner_id``) or the refill pool's
    (None), highest grade first. Two statements."""
    where = [Opportunity.store_id == store_id, Opportunity.status == OpportunityStatus.OPEN.value]
    if owner_id is None:
        where.append(in_pool())
    else:
        where.append(Opportunity.owner_id == owner_id)
    total = session.scalar(select(func.count()).select_from(Opportunity).where(*where)) or 0
    rows = session.execute(
        select(
            Opportunity.id,
            Opportunity.customer_id,
            Customer.surname,
            Customer.title,
            Customer.mobile,
            Opportunity.grade,
            Opportunity.last_follow_up_at,
            Opportunity.pool_reason,
        )
        .join(Customer, Customer.id == Opportunity.customer_id)
        .where(*where)
        .order_by(grade_rank(Opportunity.grade), Opportunity.id)
        .limit(limit)
    ).all()
    return ReassignableList(
        [
            Reassignable(
                r[0],
                r[1],
                r[2],
                r[3],
                mask_mobile(r[4]),
                r[5],
                grade_counts_towards_load(r[5]),
                r[6],
                r[7],
            )
            for r in rows
        ],
        int(total),
    )


@dataclass(frozen=True)
class Reassigned:
    moved: int
    to_owner_id: int | None
    to_load: int | None  # the target's load before the move
    to_cap: int | None
    load_after: int | None

    @property
    def over_cap(self) -> bool:
        return (
            self.load_after is not None
            and self.to_cap is not None
            and (self.load_after > self.to_cap)
        )


def target_load(session: Session, store_id: int, user_id: int) -> tuple[int, int, bool]:
    """(load, cap, active) of a consultant of the store as dispatch sees them; NotFound
    otherwise."""
    found = next((c for c in candidates(session, store_id) if c.user_id == user_id), None)
    if found is None:
        raise NotFound("consultant")
    return found.load, found.cap, found.active


def reassign(
    session: Session,
    store_id: int,
    actor_id: int,
    now: datetime,
    opportunity_ids: Sequence[int],
    to_owner_id: int | None,
    reason: str | None,
    *,
    allow_over_cap: bool = False,
) -> Reassigned:
    """Give the chosen open customers to another consultant, or put them in the refill pool
    (``to_owner_id`` None), with a written reason: one assignment each (reason ``manual``, the
    reason as its note, the target's load and cap at that moment), in a fixed number of
    statements. A manager may take a consultant past the cap on purpose, but only by saying so
    (``allow_over_cap``); otherwise ValidationError on ``confirm_over_cap``."""
    lock_store(session, store_id)  # first: core/locks.py
    errors: dict[str, str] = {}
    ids = sorted({int(i) for i in opportunity_ids})
    text = (reason or "").strip()
    if not ids:
        errors["opportunities"] = N_("Choose at least one customer.")
    elif len(ids) > REASSIGN_MAX:
        errors["opportunities"] = N_("Move at most 500 customers at a time.")
    if not text:
        errors["reason"] = N_("Say why these customers change hands.")
    elif len(text) > REASON_MAX:
        errors["reason"] = N_("This text is too long.")
    load = cap = None
    if to_owner_id is not None:
        try:
            load, cap, active = target_load(session, store_id, to_owner_id)
        except NotFound:
            active = False
        if not active:
            errors["to_owner"] = N_("Choose an active consultant of this store, or the pool.")
    if errors:
        raise ValidationError(errors)
    found = session.execute(
        select(
            Opportunity.id,
            Opportunity.store_id,
            Opportunity.status,
            Opportunity.owner_id,
            Opportunity.grade,
            Opportunity.customer_id,
        ).where(Opportunity.id.in_(ids))
    ).all()
    if len(found) != len(ids) or any(r.store_id != store_id for r in found):
        raise NotFound("opportunity")
    if any(r.status != OpportunityStatus.OPEN.value for r in found):
        raise DomainError(
            N_("Some of the chosen customers are closed (ordered or lost): they cannot move.")
        )
    if to_owner_id is not None and any(r.owner_id == to_owner_id for r in found):
        raise DomainError(N_("Some of the chosen customers already belong to that consultant."))
    pool = candidates(session, store_id)
    load_after = None
    changes: list[OwnerChange] = []
    if to_owner_id is None:
        everyone = nobody(pool)
        changes = [
            OwnerChange(
                store_id,
                r.id,
                r.owner_id,
                everyone,
                now,
                reason=AssignmentReason.MANUAL.value,
                actor_id=actor_id,
                note=text,
                pool_reason=PoolReason.RETURNED.value,
            )
            for r in found
        ]
    else:
        target = next(c for c in pool if c.user_id == to_owner_id)
        load, cap = target.load, target.cap  # under the lock
        load_after = load + sum(1 for r in found if grade_counts_towards_load(r.grade))
        declined = declined_by(session, (r.customer_id for r in found))
        if any(to_owner_id in declined.get(r.customer_id, ()) for r in found):
            raise ValidationError(
                {
                    "to_owner": N_(
                        "Some of the chosen customers asked not to have this consultant again."
                    )
                }
            )
        if load_after > cap and not allow_over_cap:
            raise ValidationError(
                {
                    "confirm_over_cap": N_(
                        "This takes the consultant past their load cap. Tick the box to"
                        " confirm that you want it."
                    )
                }
            )
        today: date = local_date(now, store_timezone(session, store_id))
        for r in found:
            decision = choose(
                pool,
                order=Order.NAMED,
                reason=AssignmentReason.MANUAL.value,
                walk_in=False,
                preferred=to_owner_id,
                declined=declined.get(r.customer_id, frozenset()),
                over_cap_ok=allow_over_cap,
                grade=r.grade,
            )
            assert decision.consultant_id == to_owner_id  # what was checked above
            changes.append(
                OwnerChange(
                    store_id,
                    r.id,
                    r.owner_id,
                    decision,
                    now,
                    actor_id=actor_id,
                    note=text,
                    follow_up_on=today,
                )
            )
            took(pool, decision, grade=r.grade, new_owner=True)
    apply(session, changes)
    audit.record(
        session,
        REASSIGN,
        store_id=store_id,
        actor_id=actor_id,
        entity="user",
        entity_id=to_owner_id,
        data={"opportunity_ids": ids, "to_owner_id": to_owner_id, "reason": text},
    )
    session.flush()
    session.expire_all()
    return Reassigned(len(ids), to_owner_id, load, cap, load_after)
