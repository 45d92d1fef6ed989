"""The data model of the whole showroom process (DESIGN.md section 3).

Every record that belongs to a store carries ``store_id`` so that every query can be scoped
to the signed-in user's store. Enumerations, uniqueness and references are enforced by the
database, not only by Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, JSONType, UTCDateTime, utcnow
from core.enums import (
    ASSESSABLE,
    CYCLE_GRADES,
    ActivityKind,
    AssignmentReason,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    ConsentChannel,
    CustomerTitle,
    DefeatReason,
    Grade,
    InvitationSource,
    InvitationStatus,
    JobKind,
    JobStatus,
    OpportunityStatus,
    PoolReason,
    Presence,
    Role,
    StallRule,
    VisitPurpose,
    VisitSource,
    VisitStatus,
)


def one_of(column: str, values: Iterable[str], *, nullable: bool = False) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``values`` (an enum class or a list)."""
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


def fk(target: str, ondelete: str | None = None, use_alter: bool = False, **kw: Any) -> Any:
    return mapped_column(ForeignKey(target, ondelete=ondelete, use_alter=use_alter), **kw)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    default_locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    car_models: Mapped[list[CarModel]] = relationship(
        back_populates="store", order_by="CarModel.sort_order"
    )

    __table_args__ = (one_of("default_locale", ("zh", "en")),)


class CarModel(Base):
    __tablename__ = "car_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(80))
    brand: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    store: Mapped[Store] = relationship(back_populates="car_models")

    __table_args__ = (UniqueConstraint("store_id", "name"),)


class User(Base):
    """A member of staff. Customers are not users."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship()
    consultant: Mapped[ConsultantSettings | None] = relationship(
        back_populates="user", uselist=False
    )

    __table_args__ = (
        one_of("role", Role),
        one_of("locale", ("zh", "en"), nullable=True),
    )


class ConsultantSettings(Base):
    """What dispatch needs to know about a consultant."""

    __tablename__ = "consultant_settings"

    user_id: Mapped[int] = fk("users.id", ondelete="CASCADE", primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    # None means: the store's default cap from the current rule set.
    load_cap: Mapped[int | None] = mapped_column(Integer)
    # Inactive consultants receive no customers; their customers go to the refill pool.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFF_DUTY.value)
    presence_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The visit being received right now, if any.
    current_visit_id: Mapped[int | None] = fk("visits.id", ondelete="SET NULL", use_alter=True)
    # Rotation order: longest since the last walk-in goes first.
    last_walk_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refill fairness: longest since the last customer handed out goes first.
    last_refill_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="consultant")

    __table_args__ = (
        one_of("presence", Presence),
        CheckConstraint("load_cap IS NULL OR load_cap >= 0", name="load_cap"),
        Index("ix_consultant_settings_store_presence", "store_id", "active", "presence"),
    )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    mobile: Mapped[str] = mapped_column(String(11))  # normalised: 11 digits, 1[3-9]...
    surname: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Current consent (the history is in consent_records).
    consent_notice_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship()

    __table_args__ = (
        UniqueConstraint("store_id", "mobile"),
        one_of("title", CustomerTitle, nullable=True),
        CheckConstraint("length(mobile) = 11", name="mobile_length"),
        CheckConstraint(
            "(consent_at IS NULL) = (consent_notice_version IS NULL)", name="consent_pair"
        ),
    )

    @property
    def contactable(self) -> bool:
        return self.consent_at is not None and not self.do_not_contact


class ConsentRecord(Base):
    """Every grant or withdrawal of consent, with the notice version the customer saw."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = fk("customers.id", ondelete="CASCADE", index=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    notice_version: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = fk("users.id")

    customer: Mapped[Customer] = relationship()

    __table_args__ = (
        one_of("channel", ConsentChannel),
        CheckConstraint("NOT granted OR notice_version IS NOT NULL", name="granted_version"),
    )


class Opportunity(Base):
    """A customer's chance to buy, from first visit to an order (O) or a defeat (F)."""

    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id")
    owner_id: Mapped[int | None] = fk("users.id")
    status: Mapped[str] = mapped_column(String(8), default=OpportunityStatus.OPEN.value)
    grade: Mapped[str | None] = mapped_column(String(1))  # None: not graded yet
    car_model_id: Mapped[int | None] = fk("car_models.id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    graded_by: Mapped[int | None] = fk("users.id")
    # The consultant who last graded the customer dormant (C), for misjudgement analytics.
    dormant_by: Mapped[int | None] = fk("users.id")
    last_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_follow_up_due: Mapped[date | None] = mapped_column(Date)  # store-local date
    cycle_deadline: Mapped[date | None] = mapped_column(Date)  # store-local date
    # Refill pool: open, no owner, waiting to be handed to a consultant.
    pool_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pool_reason: Mapped[str | None] = mapped_column(String(16))
    declined_owner_id: Mapped[int | None] = fk("users.id")
    # CS owns the next callback date of dormant customers.
    next_callback_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_deposit: Mapped[int | None] = mapped_column(Integer)  # yuan
    defeat_reason: Mapped[str | None] = mapped_column(String(16))
    competitor_brand: Mapped[str | None] = mapped_column(String(40))
    close_note: Mapped[str | None] = mapped_column(Text)
    defeat_overturned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first needs analysis (the analytics' "intent" step), kept so that a period's count
    # is one indexed range instead of a search for each opportunity's earliest assessment.
    first_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_assessed_by: Mapped[int | None] = fk("users.id")

    customer: Mapped[Customer] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    car_model: Mapped[CarModel | None] = relationship()

    __table_args__ = (
        one_of("status", OpportunityStatus),
        one_of("grade", Grade, nullable=True),
        CheckConstraint(
            "(status = 'open' AND (grade IS NULL OR grade IN ('H', 'A', 'B', 'C')))"
            " OR (status = 'won' AND grade = 'O')"
            " OR (status = 'lost' AND grade = 'F')",
            name="status_grade",
        ),
        one_of("pool_reason", PoolReason, nullable=True),
        one_of("defeat_reason", DefeatReason, nullable=True),
        CheckConstraint("order_deposit IS NULL OR order_deposit >= 0", name="deposit"),
        # One open opportunity per customer.
        Index(
            "uq_opportunities_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # A customer's opportunities, latest first.
        Index("ix_opportunities_customer", "customer_id", "id"),
        # Load per consultant and "my customers by grade".
        Index("ix_opportunities_owner_load", "store_id", "owner_id", "status", "grade"),
        # Every consultant's load at once (dispatch, refill): the open ones only, however long
        # the store's history.
        Index("ix_opportunities_open_load", "store_id", "status", "owner_id", "grade"),
        # Stall detection and "follow-ups due today".
        Index("ix_opportunities_follow_up_due", "store_id", "status", "next_follow_up_due"),
        Index("ix_opportunities_cycle_deadline", "store_id", "status", "cycle_deadline"),
        # Refill pool in order.
        Index("ix_opportunities_pool", "store_id", "pool_since"),
        # Yesterday's defeats and dormant gradings.
        Index("ix_opportunities_graded_at", "store_id", "grade", "graded_at"),
        # Analytics over a period: orders and defeats closed (each its own range), defeats
        # overturned, first needs analyses.
        Index("ix_opportunities_store_closed", "store_id", "status", "closed_at"),
        Index("ix_opportunities_store_overturned", "store_id", "defeat_overturned_at"),
        Index("ix_opportunities_store_first_assessed", "store_id", "first_assessed_at"),
    )


class KioskDevice(Base):
    """An entrance tablet enrolled to one store by a member of staff."""

    __tablename__ = "kiosk_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id", index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_by: Mapped[int] = fk("users.id")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invitation(Base):
    """An appointment for the customer to come back to the store."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    opportunity_id: Mapped[int] = fk("opportunities.id", index=True)
    customer_id: Mapped[int] = fk("customers.id")
    consultant_id: Mapped[int | None] = fk("users.id")  # who receives the customer
    created_by: Mapped[int | None] = fk("users.id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=InvitationStatus.SCHEDULED.value)
    source: Mapped[str] = mapped_column(String(12), default=InvitationSource.CONSULTANT.value)
    # the visit that honoured it (indexed: deleting a visit checks for invitations pointing at it)
    visit_id: Mapped[int | None] = fk("visits.id", use_alter=True, index=True)

    __table_args__ = (
        one_of("status", InvitationStatus),
        one_of("source", InvitationSource),
        Index("ix_invitations_store_scheduled", "store_id", "status", "scheduled_at"),
        Index("ix_invitations_customer_status", "customer_id", "status"),
        # Analytics: invitations made in a period.
        Index("ix_invitations_store_created", "store_id", "created_at"),
    )


class Visit(Base):
    """One walk-in: a check-in at the kiosk or by the receptionist."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id", index=True)
    opportunity_id: Mapped[int | None] = fk("opportunities.id", index=True)
    consultant_id: Mapped[int | None] = fk("users.id")
    invitation_id: Mapped[int | None] = fk("invitations.id", index=True)
    kiosk_device_id: Mapped[int | None] = fk("kiosk_devices.id")
    recorded_by: Mapped[int | None] = fk("users.id")  # receptionist for a manual check-in
    source: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12))
    car_model_id: Mapped[int | None] = fk("car_models.id")
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.WAITING.value)
    is_first_visit: Mapped[bool] = mapped_column(Boolean, default=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reception_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reception_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When nobody could take the visitor at check-in: every consultant and why they were passed
    # over (the same records as Assignment.candidates).
    waiting_candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    customer: Mapped[Customer] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship(foreign_keys=[opportunity_id])
    consultant: Mapped[User | None] = relationship(foreign_keys=[consultant_id])
    car_model: Mapped[CarModel | None] = relationship()

    __table_args__ = (
        one_of("source", VisitSource),
        one_of("purpose", VisitPurpose),
        one_of("status", VisitStatus),
        CheckConstraint("party_size BETWEEN 1 AND 20", name="party_size"),
        UniqueConstraint("store_id", "idempotency_key"),
        # Today's visitors and the waiting queue in arrival order.
        Index("ix_visits_store_checked_in", "store_id", "checked_in_at"),
        Index("ix_visits_store_status", "store_id", "status", "checked_in_at"),
        Index("ix_visits_consultant_status", "consultant_id", "status"),
    )


class RuleSet(Base):
    """A version of a store's rules: load cap, retry limit, scoring. Never updated in place."""

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = fk("users.id")
    default_load_cap: Mapped[int] = mapped_column(Integer)
    callback_retry_limit: Mapped[int] = mapped_column(Integer)
    # {"indicators": [{"key", "options": [{"key", "points"}]}], "thresholds": {"H": .., ..}}
    scoring: Mapped[dict[str, Any]] = mapped_column(JSONType)

    cycle_rules: Mapped[list[CycleRule]] = relationship(
        back_populates="rule_set", order_by="CycleRule.grade", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("store_id", "version"),
        CheckConstraint("default_load_cap >= 0", name="default_load_cap"),
        CheckConstraint("callback_retry_limit BETWEEN 1 AND 10", name="retry_limit"),
    )


class CycleRule(Base):
    """Per grade: follow up every N days; at most M days without a revisit."""

    __tablename__ = "cycle_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = fk("rule_sets.id", ondelete="CASCADE")
    grade: Mapped[str] = mapped_column(String(1))
    follow_up_days: Mapped[int] = mapped_column(Integer)
    cycle_days: Mapped[int] = mapped_column(Integer)

    rule_set: Mapped[RuleSet] = relationship(back_populates="cycle_rules")

    __table_args__ = (
        UniqueConstraint("rule_set_id", "grade"),
        one_of("grade", CYCLE_GRADES),
        CheckConstraint("follow_up_days >= 1", name="follow_up_days"),
        CheckConstraint("cycle_days >= follow_up_days", name="cycle_days"),
    )


class NeedsAssessment(Base):
    """A needs analysis: indicator answers, a score, the computed and the final grade."""

    __tablename__ = "needs_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", index=True)
    rule_set_id: Mapped[int] = fk("rule_sets.id")
    assessed_by: Mapped[int] = fk("users.id")
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[int] = mapped_column(Integer)
    computed_grade: Mapped[str] = mapped_column(String(1))
    grade: Mapped[str] = mapped_column(String(1))
    override_reason: Mapped[str | None] = mapped_column(Text)

    answers: Mapped[list[AssessmentAnswer]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )

    __table_args__ = (
        one_of("computed_grade", ASSESSABLE),
        one_of("grade", ASSESSABLE),
        CheckConstraint("score >= 0", name="score"),
        CheckConstraint(
            "grade = computed_grade OR override_reason IS NOT NULL", name="override_reason"
        ),
        # Analytics: assessments in a period, and an opportunity's first assessment.
        Index("ix_needs_assessments_assessed_at", "assessed_at"),
        Index("ix_needs_assessments_opportunity_time", "opportunity_id", "assessed_at"),
    )


class AssessmentAnswer(Base):
    __tablename__ = "assessment_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = fk("needs_assessments.id", ondelete="CASCADE")
    indicator: Mapped[str] = mapped_column(String(32))
    option: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)

    assessment: Mapped[NeedsAssessment] = relationship(back_populates="answers")

    __table_args__ = (
        UniqueConstraint("assessment_id", "indicator"),
        CheckConstraint("points >= 0", name="points"),
    )


class FollowUp(Base):
    """A consultant's follow-up activity on an opportunity."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id")
    consultant_id: Mapped[int] = fk("users.id")
    kind: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str | None] = mapped_column(Text)
    next_follow_up_on: Mapped[date | None] = mapped_column(Date)
    invitation_id: Mapped[int | None] = fk("invitations.id", index=True)

    __table_args__ = (
        one_of("kind", ActivityKind),
        Index("ix_follow_ups_opportunity_time", "opportunity_id", "occurred_at"),
        Index("ix_follow_ups_consultant_time", "consultant_id", "occurred_at"),
    )


class CallbackTask(Base):
    """One phone call customer service owes a customer on a store-local date."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id", index=True)
    opportunity_id: Mapped[int | None] = fk("opportunities.id", index=True)
    kind: Mapped[str] = mapped_column(String(12))
    due_on: Mapped[date] = mapped_column(Date)  # store-local
    # For stalled tasks: which rule ran out and by how many days.
    stall_rule: Mapped[str | None] = mapped_column(String(12))
    overdue_days: Mapped[int | None] = mapped_column(Integer)
    # The consultant whose judgement the call checks (grader, owner or who recorded the defeat).
    consultant_id: Mapped[int | None] = fk("users.id")
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1 = first call, 2.. = retries
    status: Mapped[str] = mapped_column(String(12), default=CallbackStatus.OPEN.value)
    claimed_by: Mapped[int | None] = fk("users.id")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    job_run_id: Mapped[int | None] = fk("job_runs.id")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = fk("users.id")
    call_result: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(20))
    next_callback_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    answers: Mapped[CallbackAnswers | None] = relationship(
        back_populates="task", uselist=False, cascade="all, delete-orphan"
    )

    __table_args__ = (
        one_of("kind", CallbackKind),
        one_of("status", CallbackStatus),
        one_of("stall_rule", StallRule, nullable=True),
        one_of("call_result", CallResult, nullable=True),
        one_of("outcome", CallbackOutcome, nullable=True),
        CheckConstraint("attempt >= 1", name="attempt"),
        CheckConstraint("status <> 'done' OR call_result IS NOT NULL", name="done_has_result"),
        # Never two open tasks for one customer.
        Index(
            "uq_callback_tasks_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The worklist: a store's open tasks by due date.
        Index("ix_callback_tasks_worklist", "store_id", "status", "due_on", "kind"),
        Index("ix_callback_tasks_claimed", "claimed_by", "claimed_at"),
        # Analytics: calls completed in a period.
        Index("ix_callback_tasks_store_completed", "store_id", "completed_at"),
    )


class CallbackAnswers(Base):
    """The ten questions of DESIGN.md section 3 step 8; None where a question did not apply."""

    __tablename__ = "callback_answers"

    task_id: Mapped[int] = fk("callback_tasks.id", ondelete="CASCADE", primary_key=True)
    remembers_consultant: Mapped[bool | None] = mapped_column(Boolean)  # 1
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 2: 1..5
    received_follow_up: Mapped[bool | None] = mapped_column(Boolean)  # 3
    has_bought: Mapped[bool | None] = mapped_column(Boolean)  # 4
    bought_reason: Mapped[str | None] = mapped_column(Text)  # 5
    bought_brand: Mapped[str | None] = mapped_column(String(40))  # 6
    would_revisit: Mapped[bool | None] = mapped_column(Boolean)  # 7
    same_consultant_ok: Mapped[bool | None] = mapped_column(Boolean)  # 8
    concerns: Mapped[str | None] = mapped_column(Text)  # 9
    other_brands: Mapped[str | None] = mapped_column(String(200))  # 10

    task: Mapped[CallbackTask] = relationship(back_populates="answers")

    __table_args__ = (
        CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction"
        ),
        CheckConstraint(
            "has_bought IS NULL OR has_bought OR (bought_reason IS NULL AND bought_brand IS NULL)",
            name="bought_questions",
        ),
        CheckConstraint(
            "has_bought IS NULL OR NOT has_bought OR "
            "(would_revisit IS NULL AND same_consultant_ok IS NULL)",
            name="not_bought_questions",
        ),
    )


class Assignment(Base):
    """A change of owner: who, when, why, and the loads dispatch saw at that moment."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    opportunity_id: Mapped[int] = fk("opportunities.id")
    visit_id: Mapped[int | None] = fk("visits.id", index=True)
    from_owner_id: Mapped[int | None] = fk("users.id")
    to_owner_id: Mapped[int | None] = fk("users.id")  # None: to customer service / the pool
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by: Mapped[int | None] = fk("users.id")  # None: the system
    job_run_id: Mapped[int | None] = fk("job_runs.id")
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    to_load: Mapped[int | None] = mapped_column(Integer)  # the new owner's load before
    to_cap: Mapped[int | None] = mapped_column(Integer)
    # [{"user_id", "name", "load", "cap", "skipped": reason or None}, ...]
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    opportunity: Mapped[Opportunity] = relationship(foreign_keys=[opportunity_id])
    visit: Mapped[Visit | None] = relationship(foreign_keys=[visit_id])

    __table_args__ = (
        one_of("reason", AssignmentReason),
        Index("ix_assignments_opportunity_time", "opportunity_id", "assigned_at"),
        Index("ix_assignments_store_time", "store_id", "assigned_at"),
        Index("ix_assignments_to_owner_time", "to_owner_id", "assigned_at"),
    )


class AuditEvent(Base):
    """Who did what to which record, with old and new values where they matter."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = fk("stores.id")
    actor_id: Mapped[int | None] = fk("users.id")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_audit_events_store_time", "store_id", "at"),
        Index("ix_audit_events_entity", "entity", "entity_id"),
    )


class JobRun(Base):
    """One run of a background job for a store and a store-local date."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = fk("stores.id")
    kind: Mapped[str] = mapped_column(String(16))
    run_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED.value)
    requested_by: Mapped[int | None] = fk("users.id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        one_of("kind", JobKind),
        one_of("status", JobStatus),
        Index("ix_job_runs_store_created", "store_id", "created_at"),
    )
