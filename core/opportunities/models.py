"""Customers, their consents, opportunities, invitations, needs analyses and follow-ups."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    ASSESSABLE,
    ActivityKind,
    ConsentChannel,
    CustomerTitle,
    DefeatReason,
    Grade,
    InvitationSource,
    InvitationStatus,
    OpportunityStatus,
    PoolReason,
)
from core.stores.models import CarModel, Store, User


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
    # When the owner received the customer: the stall clock of their follow-ups starts here.
    owner_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
