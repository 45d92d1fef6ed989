"""What a consultant does with an opportunity after a reception (DESIGN.md section 3 steps 2-4, 7):
grade it with the needs analysis, record an order, record a defeat.

Every function takes the store's lock first (core/locks.py), then checks the opportunity's state
(an ordered or lost opportunity cannot be graded or followed up) and that the actor owns it, then
changes it in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.dispatch.authority import hand_over
from core.enums import (
    ASSESSABLE,
    ActivityKind,
    AssignmentReason,
    DefeatReason,
    Grade,
    InvitationSource,
    OpportunityStatus,
)
from core.errors import DomainError, NotFound, PermissionDenied, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.closing import close_opportunity
from core.opportunities.grading import ScoredAnswer, score_answers
from core.opportunities.models import (
    AssessmentAnswer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.rules.models import RuleSet
from core.rules.rulesets import current_rules
from core.stores.models import CarModel, User
from core.stores.service import store_timezone
from core.timeutil import local_date

REASON_MAX = 500
BRAND_MAX = 40


def owned_open(session: Session, store_id: int, opportunity_id: int, actor_id: int) -> Opportunity:
    """The opportunity if it is open and ``actor_id`` owns it; the same check every action makes,
    for screens that must know before they show a form. Read afresh: a screen may have read it
    before the action took the store's lock."""
    opportunity = session.get(Opportunity, opportunity_id, populate_existing=True)
    if opportunity is None or opportunity.store_id != store_id:
        raise NotFound("opportunity")
    if opportunity.status != OpportunityStatus.OPEN.value:
        raise DomainError(N_("This opportunity is closed (ordered or lost): it cannot change."))
    if opportunity.owner_id != actor_id:
        raise PermissionDenied(N_("Only the customer's own consultant can do this."))
    return opportunity


def _text(raw: str | None, field: str, limit: int, *, required: bool, message: str) -> str | None:
    value = (raw or "").strip()
    if not value:
        if required:
            raise ValidationError({field: message})
        return None
    if len(value) > limit:
        raise ValidationError({field: N_("This text is too long.")})
    return value


# --- needs analysis --------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    assessment_id: int
    score: int
    computed_grade: str
    grade: str
    breakdown: tuple[ScoredAnswer, ...]
    handed_to_service: bool


def assess(
    session: Session,
    store_id: int,
    opportunity_id: int,
    actor_id: int,
    answers: dict[str, str],
    now: datetime,
    *,
    override_grade: str | None = None,
    override_reason: str | None = None,
) -> Assessment:
    """Score the store's indicators into a grade; the consultant may override it only with a
    written reason. H/A/B stay with the consultant, with the next follow-up and the cycle
    deadline from the store's cycle rules; C hands the customer to customer service."""
    lock_store(session, store_id)  # first: core/locks.py
    opportunity = owned_open(session, store_id, opportunity_id, actor_id)
    rules = current_rules(session, store_id)
    errors: dict[str, str] = {}
    try:
        result = score_answers(rules.scoring, answers)
    except ValidationError as exc:
        errors.update(exc.errors)
        result = None
    grade = override_grade or (result.grade if result else None)
    reason = None
    if override_grade is not None and override_grade not in {g.value for g in ASSESSABLE}:
        errors["override_grade"] = N_("Choose H, A, B or C.")
    elif result is not None and grade != result.grade:
        try:
            reason = _text(
                override_reason,
                "override_reason",
                REASON_MAX,
                required=True,
                message=N_("Say why you grade differently from the analysis."),
            )
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors or result is None or grade is None:
        raise ValidationError(errors)

    assessment = NeedsAssessment(
        opportunity_id=opportunity.id,
        rule_set_id=rules.rule_set_id,
        assessed_by=actor_id,
        assessed_at=now,
        score=result.score,
        computed_grade=result.grade,
        grade=grade,
        override_reason=reason,
        answers=[
            AssessmentAnswer(indicator=a.indicator, option=a.option, points=a.points)
            for a in result.breakdown
        ],
    )
    session.add(assessment)
    opportunity.grade = grade
    opportunity.graded_at = now
    opportunity.graded_by = actor_id
    if opportunity.first_assessed_at is None:
        opportunity.first_assessed_at = now
        opportunity.first_assessed_by = actor_id
    timezone = store_timezone(session, store_id)
    today = local_date(now, timezone)
    handed = grade == Grade.C.value
    if handed:
        # Dormant: customer service calls tomorrow; the consultant keeps the history only.
        hand_over(
            session,
            opportunity,
            now,
            to=None,
            reason=AssignmentReason.TO_SERVICE.value,
            actor_id=actor_id,
        )
        opportunity.dormant_by = actor_id
        opportunity.next_follow_up_due = None
        opportunity.cycle_deadline = None
    else:
        cycle = rules.cycles[grade]
        last_visit = local_date(opportunity.last_visit_at or now, timezone)
        opportunity.next_follow_up_due = today + timedelta(days=cycle.follow_up_days)
        opportunity.cycle_deadline = last_visit + timedelta(days=cycle.cycle_days)
    session.flush()
    return Assessment(
        assessment.id, result.score, result.grade, grade, result.breakdown, handed_to_service=handed
    )


@dataclass(frozen=True)
class BreakdownLine:
    indicator: dict[str, str]  # label by language, as the rule set had it
    option: dict[str, str]
    points: int


@dataclass(frozen=True)
class AssessmentDetail:
    assessment_id: int
    opportunity_id: int
    customer_id: int
    owner_id: int | None
    assessed_by: str
    assessed_at: datetime
    assessed_by_id: int
    score: int
    computed_grade: str
    grade: str
    override_reason: str | None
    breakdown: tuple[BreakdownLine, ...]
    handed_to_service: bool
    next_follow_up_due: date | None


def assessment_detail(
    session: Session, store_id: int, opportunity_id: int, assessment_id: int
) -> AssessmentDetail:
    """One needs analysis as it was made: the answers with the labels of the rule set it was
    scored under, the score and the grade (two statements)."""
    row = session.execute(
        select(
            NeedsAssessment,
            RuleSet.scoring,
            Opportunity.customer_id,
            Opportunity.owner_id,
            Opportunity.next_follow_up_due,
            User.display_name,
        )
        .join(Opportunity, Opportunity.id == NeedsAssessment.opportunity_id)
        .join(RuleSet, RuleSet.id == NeedsAssessment.rule_set_id)
        .join(User, User.id == NeedsAssessment.assessed_by)
        .where(
            NeedsAssessment.id == assessment_id,
            NeedsAssessment.opportunity_id == opportunity_id,
            Opportunity.store_id == store_id,
        )
    ).one_or_none()
    if row is None:
        raise NotFound("assessment")
    assessment: NeedsAssessment = row[0]
    indicators = {i["key"]: i for i in row.scoring["indicators"]}
    lines = []
    for answer in session.scalars(
        select(AssessmentAnswer)
        .where(AssessmentAnswer.assessment_id == assessment_id)
        .order_by(AssessmentAnswer.id)
    ):
        indicator = indicators.get(answer.indicator, {})
        options = {o["key"]: o["label"] for o in indicator.get("options", [])}
        lines.append(
            BreakdownLine(
                indicator=indicator.get("label", {"zh": answer.indicator, "en": answer.indicator}),
                option=options.get(answer.option, {"zh": answer.option, "en": answer.option}),
                points=answer.points,
            )
        )
    return AssessmentDetail(
        assessment_id=assessment.id,
        opportunity_id=assessment.opportunity_id,
        customer_id=row.customer_id,
        owner_id=row.owner_id,
        assessed_by=row.display_name,
        assessed_by_id=row.NeedsAssessment.assessed_by,
        assessed_at=assessment.assessed_at,
        score=assessment.score,
        computed_grade=assessment.computed_grade,
        grade=assessment.grade,
        override_reason=assessment.override_reason,
        breakdown=tuple(lines),
        handed_to_service=assessment.grade == Grade.C.value,
        next_follow_up_due=row.next_follow_up_due,
    )


# --- closing: an order or a defeat ------------------------------------------------------------


def record_order(
    session: Session,
    store_id: int,
    opportunity_id: int,
    actor_id: int,
    now: datetime,
    *,
    car_model_id: int | None = None,
    deposit: int | None = None,
    note: str | None = None,
) -> None:
    """Bought: the opportunity becomes O (won) with the model, an optional deposit and note."""
    lock_store(session, store_id)  # first: core/locks.py
    opportunity = owned_open(session, store_id, opportunity_id, actor_id)
    errors: dict[str, str] = {}
    if car_model_id is not None:
        model = session.get(CarModel, car_model_id)
        if model is None or model.store_id != store_id:
            errors["car_model"] = N_("Choose a car model from the list.")
    if deposit is not None and not 0 <= deposit <= 10_000_000:
        errors["deposit"] = N_("Enter the deposit in yuan, a whole number.")
    try:
        text = _text(note, "note", REASON_MAX, required=False, message="")
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    close_opportunity(session, opportunity, Grade.O, actor_id, now, note=text)
    if car_model_id is not None:
        opportunity.car_model_id = car_model_id
    opportunity.order_deposit = deposit
    session.flush()


def record_defeat(
    session: Session,
    store_id: int,
    opportunity_id: int,
    actor_id: int,
    now: datetime,
    *,
    reason: str,
    competitor_brand: str | None = None,
    note: str | None = None,
) -> None:
    """Lost: the opportunity becomes F with the reason; customer service calls the next day."""
    lock_store(session, store_id)  # first: core/locks.py
    opportunity = owned_open(session, store_id, opportunity_id, actor_id)
    errors: dict[str, str] = {}
    if reason not in {r.value for r in DefeatReason}:
        errors["reason"] = N_("Choose why the customer was lost.")
    brand = None
    try:
        brand = _text(
            competitor_brand,
            "competitor_brand",
            BRAND_MAX,
            required=reason == DefeatReason.OTHER_BRAND.value,
            message=N_("Which brand did the customer buy?"),
        )
        text = _text(note, "note", REASON_MAX, required=False, message="")
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    close_opportunity(
        session,
        opportunity,
        Grade.F,
        actor_id,
        now,
        defeat_reason=reason,
        competitor_brand=brand,
        note=text,
    )
    session.flush()


# --- follow-ups and invitations ----------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpResult:
    follow_up_id: int
    invitation_id: int | None
    next_follow_up_on: date | None


def log_follow_up(
    session: Session,
    store_id: int,
    opportunity_id: int,
    actor_id: int,
    now: datetime,
    *,
    kind: str,
    outcome: str | None = None,
    next_follow_up_on: date | None = None,
    invitation_at: datetime | None = None,
) -> FollowUpResult:
    """A call, message, revisit, test drive, quote or invitation, with its outcome and the next
    follow-up date (by default from the grade's interval). An invitation needs its appointment
    time; a revisit restarts the cycle."""
    lock_store(session, store_id)  # first: core/locks.py
    opportunity = owned_open(session, store_id, opportunity_id, actor_id)
    timezone = store_timezone(session, store_id)
    today = local_date(now, timezone)
    errors: dict[str, str] = {}
    if kind not in {k.value for k in ActivityKind}:
        errors["kind"] = N_("Choose what kind of follow-up this was.")
    try:
        text = _text(outcome, "outcome", REASON_MAX, required=False, message="")
    except ValidationError as exc:
        errors.update(exc.errors)
    if kind == ActivityKind.INVITATION.value and (invitation_at is None or invitation_at <= now):
        errors["invitation_at"] = N_("Choose the date and time of the appointment, in the future.")
    cycle = current_rules(session, store_id).cycles.get(opportunity.grade or "")
    if next_follow_up_on is None and cycle is not None:
        next_follow_up_on = today + timedelta(days=cycle.follow_up_days)
    if next_follow_up_on is not None and next_follow_up_on < today:
        errors["next_follow_up_on"] = N_("The next follow-up cannot be in the past.")
    if errors:
        raise ValidationError(errors)

    invitation = None
    if kind == ActivityKind.INVITATION.value:
        invitation = Invitation(
            store_id=store_id,
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            consultant_id=actor_id,
            created_by=actor_id,
            created_at=now,
            scheduled_at=invitation_at,
            source=InvitationSource.CONSULTANT.value,
        )
        session.add(invitation)
        session.flush()
    follow_up = FollowUp(
        opportunity_id=opportunity.id,
        consultant_id=actor_id,
        kind=kind,
        occurred_at=now,
        outcome=text,
        next_follow_up_on=next_follow_up_on,
        invitation_id=invitation.id if invitation else None,
    )
    session.add(follow_up)
    opportunity.last_follow_up_at = now
    opportunity.next_follow_up_due = next_follow_up_on
    if kind == ActivityKind.REVISIT.value:
        opportunity.last_visit_at = now
        if cycle is not None:
            opportunity.cycle_deadline = today + timedelta(days=cycle.cycle_days)
    session.flush()
    return FollowUpResult(follow_up.id, invitation.id if invitation else None, next_follow_up_on)
