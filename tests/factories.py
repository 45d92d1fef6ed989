"""Factories for test data, with traits as keyword arguments.

Every call makes records unique to the test (store codes, usernames, mobiles), so tests can
share one database without seeing each other's rows.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.db import utcnow
from core.dispatch.models import Decline
from core.enums import OpportunityStatus, Presence, Role
from core.opportunities.access import Viewer
from core.opportunities.models import ConsentRecord, Customer, Opportunity
from core.security import hash_password
from core.stores.models import ConsultantSettings, Store, User
from core.stores.service import create_staff, create_store

PASSWORD = "password1"
_sequence = itertools.count(1)


@cache
def password_hash() -> str:
    """scrypt is slow on purpose: hash the test password once."""
    return hash_password(PASSWORD)


def unique() -> int:
    return next(_sequence)


class Factory:
    def __init__(self, session: Session, commit: bool = False) -> None:
        self.session = session
        self.commit = commit

    def _done(self, record: Any) -> Any:
        if self.commit:
            self.session.commit()
        else:
            self.session.flush()
        return record

    def store(self, *, timezone: str = "Asia/Shanghai", name: str | None = None) -> Store:
        n = unique()
        store = create_store(
            self.session,
            code=f"T{n:05d}",
            name=name or f"测试门店{n}",
            timezone=timezone,
            car_models=[("卡罗拉", "丰田"), ("凯美瑞", "丰田"), ("RAV4荣放", "丰田")],
        )
        return self._done(store)

    def user(
        self,
        store: Store,
        role: Role | str = Role.CONSULTANT,
        *,
        name: str | None = None,
        active: bool = True,
        load_cap: int | None = None,
        presence: Presence = Presence.OFF_DUTY,
    ) -> User:
        n = unique()
        user = create_staff(
            self.session,
            store_id=store.id,
            username=f"{Role(role).value}{n}",
            display_name=name or f"{Role(role).value} {n}",
            role=role,
            password_hash=password_hash(),
            load_cap=load_cap,
            presence=presence,
        )
        user.active = active
        return self._done(user)

    def consultant(
        self,
        store: Store,
        *,
        cap: int | None = None,
        presence: Presence = Presence.ON_DUTY,
        name: str | None = None,
    ) -> User:
        return self.user(store, Role.CONSULTANT, load_cap=cap, presence=presence, name=name)

    def settings(self, user: User) -> ConsultantSettings:
        settings = self.session.get(ConsultantSettings, user.id)
        assert settings is not None
        return settings

    def customer(
        self,
        store: Store,
        *,
        surname: str = "王",
        title: str | None = "mr",
        mobile: str | None = None,
        consented: bool = True,
        do_not_contact: bool = False,
    ) -> Customer:
        now = utcnow()
        customer = Customer(
            store_id=store.id,
            mobile=mobile or f"139{unique():08d}",
            surname=surname,
            title=title,
            consent_notice_version="2026-01" if consented else None,
            consent_at=now if consented else None,
            do_not_contact=do_not_contact,
            do_not_contact_at=now if do_not_contact else None,
        )
        self.session.add(customer)
        self.session.flush()
        if consented:
            self.session.add(
                ConsentRecord(
                    customer_id=customer.id, granted=True, notice_version="2026-01", channel="kiosk"
                )
            )
        return self._done(customer)

    def opportunity(
        self,
        customer: Customer,
        *,
        owner: User | None = None,
        grade: str | None = None,
        next_follow_up_due: date | None = None,
        cycle_deadline: date | None = None,
        graded_at: datetime | None = None,
        in_pool: bool = False,
        **extra: Any,
    ) -> Opportunity:
        """Traits: grade 'O' makes an order (won), 'F' a defeat (lost), else open."""
        status = {"O": OpportunityStatus.WON, "F": OpportunityStatus.LOST}.get(
            grade or "", OpportunityStatus.OPEN
        )
        now = utcnow()
        opportunity = Opportunity(
            store_id=customer.store_id,
            customer_id=customer.id,
            owner_id=owner.id if owner else None,
            status=status.value,
            grade=grade,
            graded_at=graded_at or (now if grade else None),
            graded_by=owner.id if owner and grade else None,
            next_follow_up_due=next_follow_up_due,
            cycle_deadline=cycle_deadline,
            closed_at=now if status != OpportunityStatus.OPEN else None,
            pool_since=now if in_pool else None,
            pool_reason="returned" if in_pool else None,
        )
        for name, value in extra.items():
            setattr(opportunity, name, value)
        self.session.add(opportunity)
        return self._done(opportunity)

    def decline(self, customer: Customer, consultant: User) -> Decline:
        """The customer asked not to have this consultant again."""
        decline = Decline(
            store_id=customer.store_id,
            customer_id=customer.id,
            consultant_id=consultant.id,
            declined_at=utcnow(),
        )
        self.session.add(decline)
        return self._done(decline)

    def declined(self, customer_id: int) -> set[int]:
        """The consultants the customer declined (not lifted)."""
        return set(
            self.session.scalars(
                select(Decline.consultant_id).where(
                    Decline.customer_id == customer_id, Decline.lifted_at.is_(None)
                )
            )
        )

    def book(self, consultant: User, n: int, grade: str | None = "A") -> list[Opportunity]:
        """``n`` customers owned by ``consultant``, all with the given grade."""
        store = self.session.get(Store, consultant.store_id)
        assert store is not None
        opportunities = []
        for _ in range(n):
            customer = Customer(
                store_id=store.id, mobile=f"138{unique():08d}", surname="李", title="ms"
            )
            self.session.add(customer)
            self.session.flush()
            opportunity = Opportunity(
                store_id=store.id,
                customer_id=customer.id,
                owner_id=consultant.id,
                grade=grade,
                status=OpportunityStatus.OPEN.value,
                next_follow_up_due=date.today() + timedelta(days=1),
            )
            self.session.add(opportunity)
            opportunities.append(opportunity)
        return self._done(opportunities)

    def visit(self, customer: Customer, *, consultant: User | None = None, **kw: Any) -> Visit:
        visit = Visit(
            store_id=customer.store_id,
            customer_id=customer.id,
            consultant_id=consultant.id if consultant else None,
            source=kw.pop("source", "kiosk"),
            purpose=kw.pop("purpose", "look"),
            status=kw.pop("status", "finished"),
            **kw,
        )
        self.session.add(visit)
        return self._done(visit)

    def callback_task(
        self, customer: Customer, *, kind: str = "dormant", due_on: date | None = None, **kw: Any
    ) -> CallbackTask:
        task = CallbackTask(
            store_id=customer.store_id,
            customer_id=customer.id,
            kind=kind,
            due_on=due_on or date.today(),
            **kw,
        )
        self.session.add(task)
        return self._done(task)

    def assessment_at(
        self, opportunity: Opportunity, by: User, at: datetime, grade: str = "A"
    ) -> Any:
        """A needs analysis of ``opportunity`` by ``by`` at ``at`` giving ``grade``."""
        from core.opportunities.models import NeedsAssessment
        from core.rules.rulesets import current_rules

        assessment = NeedsAssessment(
            opportunity_id=opportunity.id,
            rule_set_id=current_rules(self.session, opportunity.store_id).rule_set_id,
            assessed_by=by.id,
            assessed_at=at,
            score=50,
            computed_grade=grade,
            grade=grade,
        )
        self.session.add(assessment)
        if opportunity.first_assessed_at is None or at < opportunity.first_assessed_at:
            opportunity.first_assessed_at = at
            opportunity.first_assessed_by = by.id
        return self._done(assessment)

    def invitation_at(
        self, opportunity: Opportunity, consultant: User | None, created_at: datetime, **kw: Any
    ) -> Any:
        """An invitation to come back, created at ``created_at`` for ``consultant``."""
        from core.opportunities.models import Invitation

        invitation = Invitation(
            store_id=opportunity.store_id,
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            consultant_id=consultant.id if consultant else None,
            created_at=created_at,
            scheduled_at=kw.pop("scheduled_at", created_at + timedelta(days=2)),
            **kw,
        )
        self.session.add(invitation)
        return self._done(invitation)

    def callback_done(
        self,
        customer: Customer,
        *,
        consultant: User | None,
        completed_at: datetime,
        kind: str = "dormant",
        call_result: str = "reached",
        outcome: str | None = None,
        opportunity: Opportunity | None = None,
        **answers: Any,
    ) -> CallbackTask:
        """A completed callback about ``consultant``'s judgement, with the answers given
        (keyword arguments named as CallbackAnswers' columns; none: no answers recorded)."""
        from core.callbacks.models import CallbackAnswers

        task = CallbackTask(
            store_id=customer.store_id,
            customer_id=customer.id,
            opportunity_id=opportunity.id if opportunity else None,
            kind=kind,
            due_on=completed_at.date(),
            consultant_id=consultant.id if consultant else None,
            status="done",
            completed_at=completed_at,
            call_result=call_result,
            outcome=outcome,
        )
        if answers:
            task.answers = CallbackAnswers(**answers)
        self.session.add(task)
        return self._done(task)


def viewer_of(user: User) -> Viewer:
    """A member of staff as core's need-to-know rule sees them."""
    return Viewer(user.id, user.role, user.store_id, user.store.timezone)
