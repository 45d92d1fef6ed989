"""The demo store's history, played day by day through the real services.

Each simulated day: the nightly run (core/nightly/run.py, recorded as a job run) makes the
day's callback list and refills the pool; consultants come on duty; visitors check in and are
dispatched by core/checkin; consultants receive them, grade them with the needs analysis,
follow them up, invite them back, win and lose them; customer service claims and records the
callbacks. Only people's choices are drawn from the seeded generator (who comes and when, what
they answer); everything the rules decide is left to the services, which are given the
simulated moment as ``now``. Nothing is committed here.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.callbacks import claims, tasks
from core.callbacks import service as callbacks
from core.callbacks.models import CallbackTask
from core.checkin import floor
from core.checkin import service as checkin
from core.checkin.models import Visit
from core.dispatch.authority import candidates
from core.enums import (
    HIGH_INTENT,
    ActivityKind,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    DefeatReason,
    Grade,
    InvitationStatus,
    JobKind,
    OpportunityStatus,
    Presence,
    VisitPurpose,
    VisitSource,
    VisitStatus,
)
from core.nightly import jobruns, retention
from core.nightly import run as nightly
from core.opportunities import actions
from core.opportunities.models import Invitation, Opportunity
from core.rules import admin as rules_admin
from core.rules.rulesets import Rules
from core.timeutil import local_date, local_moment, store_zone
from demo import people
from demo.answers import needs_answers
from demo.people import Profile

HISTORY_DAYS = 60
FAILED_NIGHT = HISTORY_DAYS - 19  # the night the database could not be reached
REBALANCE_DAYS = (14, 29, 44)  # the manager moves a customer from the busiest consultant
RETURN_DAY = 37  # the manager takes a neglected customer back into the pool
OPEN, LAST_ARRIVAL = time(9, 0), time(17, 45)
LIVE_MINUTES = 55  # today's last hour is played so that the showroom is busy at ``now``
HIGH = {g.value for g in HIGH_INTENT}
_PURPOSES = (VisitPurpose.LOOK.value, VisitPurpose.TEST_DRIVE.value, VisitPurpose.OTHER.value)
_RECEPTION_MINUTES = {
    VisitPurpose.TEST_DRIVE.value: (45, 90),
    VisitPurpose.OTHER.value: (15, 40),
    VisitPurpose.LOOK.value: (20, 60),
}
_UNANSWERED = (CallResult.NO_ANSWER, CallResult.BUSY, CallResult.REFUSED, CallResult.WRONG_NUMBER)


@dataclass(frozen=True)
class Cast:
    """The store as set up: ids the story acts with."""

    store_id: int
    timezone: str
    admin_id: int
    manager_id: int
    agent_ids: tuple[int, ...]
    consultants: tuple[tuple[int, str, str], ...]  # user id, username, name
    kiosk_id: int
    car_models: tuple[tuple[int, str, int], ...]  # id, name, popularity
    rules: Rules


@dataclass(eq=False)
class _Consultant:
    user_id: int
    username: str
    name: str
    profile: Profile
    presence: Presence = Presence.OFF_DUTY
    current: int | None = None  # the visit in reception
    queue: list[int] = field(default_factory=list)  # visits given to them, not yet received
    starting: bool = False  # on the way to the next visitor
    pending: str | None = None  # a break or going home, once the visitor in hand has gone
    break_minutes: int = 0

    @property
    def on_duty(self) -> bool:
        return self.presence == Presence.ON_DUTY

    @property
    def free(self) -> bool:
        return self.current is None and not self.queue and not self.starting


@dataclass(eq=False)
class _Person:
    """A customer as the story knows them: what they typed and what they decided."""

    customer_id: int
    mobile: str
    model_id: int
    consent: bool
    do_not_contact: bool = False
    visits: int = 0


@dataclass(frozen=True)
class _VisitPlan:
    person: _Person
    purpose: str
    live: bool  # today's last hour: still with the consultant at ``now``


class Story:
    """Sixty days of one store, ending at ``now`` on ``today``."""

    def __init__(
        self, session: Session, rng: random.Random, cast: Cast, today: date, now: datetime
    ) -> None:
        self.session = session
        self.rng = rng
        self.cast = cast
        self.store_id = cast.store_id
        self.tz = cast.timezone
        self.zone = store_zone(cast.timezone)
        self.today = today
        self.now = now
        self.first_day = today - timedelta(days=HISTORY_DAYS - 1)
        self.consultants = {
            user_id: _Consultant(user_id, username, name, people.PROFILES[username])
            for user_id, username, name in cast.consultants
        }
        self.by_username = {c.username: c for c in self.consultants.values()}
        self.model_ids = [m[0] for m in cast.car_models]
        self.model_names = {m[0]: m[1] for m in cast.car_models}
        self.model_weights = [m[2] for m in cast.car_models]
        self.people: dict[int, _Person] = {}
        self.mobiles: set[str] = set()
        self.plans: dict[int, _VisitPlan] = {}
        self.waiting: set[int] = set()
        self.done: set[int] = set()  # visits received or left: nothing more to happen
        self.events: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.live_from = now - timedelta(minutes=LIVE_MINUTES)
        self.live = local_moment(today, time(10, 30), self.tz) <= now
        # yesterday's choices are steered so that today's worklist shows every kind of call
        self.owed: dict[str, int] = {}

    # --- the clock -------------------------------------------------------------------------

    def play(self) -> None:
        for offset in range(HISTORY_DAYS):
            day = self.first_day + timedelta(days=offset)
            self._plan_day(day, offset)
            while self.events:
                at, _, action, args = heapq.heappop(self.events)
                if at >= self.now:
                    continue  # still to come
                action(at, *args)
                self.session.flush()

    def at(self, moment: datetime | None, action: Callable[..., None], *args: Any) -> None:
        if moment is not None:
            heapq.heappush(self.events, (moment, next(self.sequence), action, args))

    def _at(self, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
        return local_moment(day, time(hour, minute, second), self.tz)

    def _minute(self, day: date, start: time, end: time) -> datetime | None:
        """A random minute between two local times of ``day``, before ``now``."""
        first = local_moment(day, start, self.tz)
        last = min(local_moment(day, end, self.tz), self.now - timedelta(minutes=2))
        span = int((last - first).total_seconds() // 60)
        if span <= 0:
            return None
        return first + timedelta(minutes=self.rng.randint(0, span))

    def _local(self, moment: datetime) -> date:
        return local_date(moment, self.tz)

    def _works(self, c: _Consultant, day: date) -> bool:
        if day == self.today:
            return c.username in people.TODAY_ON_DUTY
        return day.weekday() >= 5 or day.weekday() != c.profile.day_off

    def _works_later(self, c: _Consultant, day: date) -> bool:
        """By their usual rota (today's roster is not known in advance)."""
        return day.weekday() >= 5 or day.weekday() != c.profile.day_off

    # --- a day -----------------------------------------------------------------------------

    def _plan_day(self, day: date, index: int) -> None:
        self.at(self._at(day, 1, 0), self._night, index == FAILED_NIGHT)
        for c in self.consultants.values():
            if not self._works(c, day):
                continue
            self.at(self._at(day, 8, 45 + self.rng.randint(0, 12)), self._on_duty, c)
            if day != self.today and self.rng.random() < 0.3:
                lunch = self._at(day, 12, 0) + timedelta(minutes=self.rng.randint(0, 80))
                self.at(lunch, self._want, c, "break", self.rng.randint(30, 45))
            self.at(self._at(day, 18, self.rng.randint(0, 20)), self._want, c, "off", 0)
        if day == self.today and self.live:
            sales6 = self.by_username[people.TODAY_ON_BREAK]
            self.at(self.now - timedelta(minutes=50), self._want, sales6, "break", 24 * 60)
        self.at(self._at(day, 8, 30), self._plan_visitors, day)
        self.at(self._at(day, 9, 0), self._plan_follow_ups, day)
        self.at(self._at(day, 9, 25), self._plan_callbacks, day)
        if index in REBALANCE_DAYS:
            self.at(self._at(day, 17, 30), self._rebalance)
        if index == RETURN_DAY:
            self.at(self._at(day, 11, 5), self._return_to_pool, day)

    # --- the night -------------------------------------------------------------------------

    def _night(self, at: datetime, fails: bool) -> None:
        day = self._local(at)
        if fails:  # the database was unreachable; the admin runs it by hand in the morning
            run_id = jobruns.create(
                self.session, JobKind.NIGHTLY, store_id=self.store_id, run_on=day, now=at
            )
            jobruns.start(self.session, run_id, now=at)
            error = "OperationalError: could not connect to server: Connection timed out"
            jobruns.fail(self.session, run_id, error, now=at + timedelta(seconds=31))
            self.at(self._at(day, 8, 40), self._run_night, self.cast.admin_id)
            return
        self._run_night(at, None)

    def _run_night(self, at: datetime, requested_by: int | None) -> None:
        """What jobs/nightly.py ``run_store`` does, at the simulated moment."""
        day = self._local(at)
        session = self.session
        run_id = jobruns.create(
            session,
            JobKind.NIGHTLY,
            store_id=self.store_id,
            run_on=day,
            requested_by=requested_by,
            now=at,
        )
        started = at + timedelta(seconds=1)
        jobruns.start(session, run_id, now=started)
        ctx = nightly.store_context(session, self.store_id, day, started, run_id)
        purged = retention.purge(session, self.store_id, ctx.now, ctx.timezone)
        counts = {**nightly.run(session, ctx), "purged": purged}
        finished = started + timedelta(seconds=self.rng.randint(2, 9))
        jobruns.finish(session, run_id, counts, now=finished)
        session.flush()
        session.expire_all()  # the run writes with set-based statements

    # --- presence --------------------------------------------------------------------------

    def _presence(self, c: _Consultant, presence: Presence, at: datetime) -> None:
        handed = floor.set_presence(self.session, self.store_id, c.user_id, presence.value, at)
        c.presence = presence
        if handed:
            self._handed_out(at)

    def _on_duty(self, at: datetime, c: _Consultant) -> None:
        c.pending = None
        self._presence(c, Presence.ON_DUTY, at)

    def _want(self, at: datetime, c: _Consultant, what: str, minutes: int) -> None:
        """A break or going home, as soon as the consultant has no visitor in hand."""
        if c.presence == Presence.ON_BREAK and what == "off":
            self._presence(c, Presence.OFF_DUTY, at)
            return
        if not c.on_duty:
            return
        c.pending, c.break_minutes = what, minutes
        if c.free:
            self._apply_pending(c, at)

    def _apply_pending(self, c: _Consultant, at: datetime) -> None:
        what, c.pending = c.pending, None
        late = at >= self._at(self._local(at), 17, 0)  # no break so near closing
        if what == "break" and not late:
            self._presence(c, Presence.ON_BREAK, at)
            self.at(at + timedelta(minutes=c.break_minutes), self._back, c)
        elif what == "off":
            self._presence(c, Presence.OFF_DUTY, at)

    def _back(self, at: datetime, c: _Consultant) -> None:
        if c.presence == Presence.ON_BREAK:
            self._presence(c, Presence.ON_DUTY, at)

    # --- visitors --------------------------------------------------------------------------

    def _plan_visitors(self, at: datetime, day: date) -> None:
        latest = LAST_ARRIVAL
        share = 1.0
        if day == self.today:
            cutoff = (self.live_from if self.live else self.now).astimezone(self.zone)
            if cutoff.date() != day or cutoff.time() <= OPEN:
                latest, share = OPEN, 0.0
            else:
                latest = min(cutoff.time(), LAST_ARRIVAL)
                share = (latest.hour - 9 + latest.minute / 60) / 8.75
        weekend = day.weekday() >= 5
        count = self.rng.randint(9, 13) if weekend else self.rng.randint(4, 8)
        for moment in self._arrival_times(day, round(count * share), latest):
            self.at(moment, self._arrive, None, self._purpose(first=True), False)
        self._plan_returns(day, latest)
        if day == self.today and self.live:
            self.at(self.live_from, self._live_step)
            self.at(self.now - timedelta(minutes=6), self._live_return)
            for minutes in (4, 2):
                self.at(self.now - timedelta(minutes=minutes), self._live_arrival)

    def _arrival_times(self, day: date, count: int, latest: time) -> list[datetime]:
        """Arrivals peak mid-morning and mid-afternoon; Saturdays bring a rush at the 14:00
        group-buying event (团购会)."""
        hours = [h for h in range(9, 18) if time(h, 0) < latest]
        if not hours:
            return []
        weights = [4, 8, 9, 6, 5, 7, 8, 7, 4][: len(hours)]
        rush = day.weekday() == 5 and time(14, 30) < latest
        end = local_moment(day, latest, self.tz)
        times = []
        for _ in range(count):
            if rush and self.rng.random() < 0.45:
                moment = self._at(day, 13, 50) + timedelta(minutes=self.rng.randint(0, 35))
            else:
                hour = self.rng.choices(hours, weights)[0]
                moment = self._at(day, hour, self.rng.randint(0, 59))
            times.append(min(moment, end))
        return sorted(times)

    def _purpose(self, *, first: bool) -> str:
        weights = (0.62, 0.28, 0.1) if first else (0.35, 0.55, 0.1)
        return self.rng.choices(_PURPOSES, weights)[0]

    def _plan_returns(self, day: date, latest: time) -> None:
        """Invited customers (most keep the appointment) and a few who come back unasked."""
        start, end = self._at(day, 0, 0), self._at(day + timedelta(days=1), 0, 0)
        invited = self.session.execute(
            select(Invitation.customer_id, Invitation.scheduled_at)
            .join(Opportunity, Opportunity.id == Invitation.opportunity_id)
            .where(
                Invitation.store_id == self.store_id,
                Invitation.status == InvitationStatus.SCHEDULED.value,
                Invitation.scheduled_at >= start,
                Invitation.scheduled_at < end,
                Opportunity.status == OpportunityStatus.OPEN.value,
            )
            .order_by(Invitation.scheduled_at, Invitation.id)
        ).all()
        coming = {customer_id for customer_id, _ in invited}
        for customer_id, scheduled_at in invited:
            person = self.people.get(customer_id)
            if person is None or person.do_not_contact or self.rng.random() >= 0.68:
                continue
            moment = scheduled_at + timedelta(minutes=self.rng.randint(-15, 20))
            self.at(moment, self._arrive, person, self._purpose(first=False), False)
        latest_at = local_moment(day, latest, self.tz)
        later = self.session.execute(
            select(Invitation.customer_id).where(
                Invitation.store_id == self.store_id,
                Invitation.status == InvitationStatus.SCHEDULED.value,
                Invitation.scheduled_at >= end,
            )
        ).scalars()
        coming.update(later)
        rows = self.session.execute(
            select(Opportunity.customer_id, Opportunity.status, Opportunity.owner_id)
            .where(Opportunity.store_id == self.store_id)
            .order_by(Opportunity.customer_id, Opportunity.id)
        ).all()
        latest_status = {customer_id: (status, owner) for customer_id, status, owner in rows}
        for customer_id, (status, owner) in latest_status.items():
            person = self.people.get(customer_id)
            if person is None or person.do_not_contact or customer_id in coming:
                continue
            if status == OpportunityStatus.WON.value:
                continue  # no delivery visits: check-in would open a new sales opportunity
            if status == OpportunityStatus.OPEN.value:
                works = owner is not None and self._works(self.consultants[owner], day)
                chance = 0.012 if works else 0.004
            else:
                chance = 0.003
            if self.rng.random() < chance:
                when = self._arrival_times(day, 1, latest)
                if when and when[0] < latest_at:
                    self.at(when[0], self._arrive, person, self._purpose(first=False), False)

    def _new_mobile(self) -> str:
        while True:
            mobile = self.rng.choice(people.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if mobile not in self.mobiles:
                self.mobiles.add(mobile)
                return mobile

    def _arrive(self, at: datetime, person: _Person | None, purpose: str, live: bool) -> None:
        """A check-in at the kiosk (most) or by the receptionist, dispatched by core."""
        kiosk = self.rng.random() < 0.7
        agent = None if kiosk else self.rng.choice(self.cast.agent_ids)
        surname = title = None
        if person is None:
            consent = self.rng.random() < (0.92 if kiosk else 0.86)
            model_id = self.rng.choices(self.model_ids, self.model_weights)[0]
            mobile = self._new_mobile()
            surname = self.rng.choices(people.SURNAMES, people.SURNAME_WEIGHTS)[0]
            title = "mr" if self.rng.random() < 0.6 else "ms"
        else:
            # A customer who declined the notice declines it again: the nightly run reads
            # consent as it is now, so a later consent would let a re-run of an earlier night
            # call them.
            consent = False
            mobile = person.mobile
            if self.rng.random() < 0.2:  # interest moved to another model
                person.model_id = self.rng.choices(self.model_ids, self.model_weights)[0]
            model_id = person.model_id
        result = checkin.check_in(
            self.session,
            checkin.CheckIn(
                store_id=self.store_id,
                mobile=mobile,
                purpose=purpose,
                party_size=self.rng.choices((1, 2, 3, 4), (35, 40, 17, 8))[0],
                surname=surname,
                title=title,
                car_model_id=model_id,
                consent=consent,
                source=(VisitSource.KIOSK if kiosk else VisitSource.RECEPTION).value,
                kiosk_device_id=self.cast.kiosk_id if kiosk else None,
                recorded_by=agent,
                timezone=self.tz,
            ),
            at,
        )
        if person is None:
            person = _Person(result.customer_id, mobile, model_id, consent)
            self.people[person.customer_id] = person
        person.consent = person.consent or consent
        person.visits += 1
        self.plans[result.visit_id] = _VisitPlan(person, purpose, live)
        if result.consultant_id is None:
            self.waiting.add(result.visit_id)
            patience = timedelta(minutes=self.rng.randint(12, 35))
            self.at(at + patience, self._give_up, result.visit_id)
            return
        self._given(result.visit_id, result.consultant_id, at)
        if person.visits == 1 and not live and self.rng.random() < 0.03:
            self.at(at + timedelta(minutes=1), self._give_up, result.visit_id)  # a phone call

    def _given(self, visit_id: int, consultant_id: int, at: datetime) -> None:
        """Dispatch gave the visitor to a consultant, who comes over when free."""
        c = self.consultants[consultant_id]
        c.queue.append(visit_id)
        self.at(at + timedelta(minutes=40), self._give_up, visit_id)  # nobody came for so long
        if c.current is None and not c.starting:
            c.starting = True
            self.at(at + timedelta(minutes=self.rng.randint(2, 4)), self._start, c)

    def _handed_out(self, at: datetime) -> None:
        """Waiting visitors dispatch has just given to consultants."""
        if not self.waiting:
            return
        ids = sorted(self.waiting)
        for visit_id, status, consultant_id in self.session.execute(
            select(Visit.id, Visit.status, Visit.consultant_id)
            .where(Visit.id.in_(ids))
            .order_by(Visit.id)
        ):
            if status == VisitStatus.WAITING.value:
                continue
            self.waiting.discard(visit_id)
            if status == VisitStatus.ASSIGNED.value:
                assert consultant_id is not None  # an assigned visit has its consultant
                self._given(visit_id, consultant_id, at)

    def _give_up(self, at: datetime, visit_id: int) -> None:
        if visit_id in self.done:
            return
        self.done.add(visit_id)
        self.waiting.discard(visit_id)
        agent = self.rng.choice(self.cast.agent_ids)
        handed = floor.mark_left(self.session, self.store_id, visit_id, agent, at)
        if handed:
            self._handed_out(at)

    def _start(self, at: datetime, c: _Consultant) -> None:
        c.starting = False
        while c.queue:
            visit_id = c.queue.pop(0)
            if visit_id in self.done:
                continue  # the visitor left
            self.done.add(visit_id)
            floor.start_reception(self.session, self.store_id, c.user_id, visit_id, at)
            c.current = visit_id
            self.at(self._reception_end(at, self.plans[visit_id]), self._end, c, visit_id)
            return
        if c.pending:
            self._apply_pending(c, at)

    def _reception_end(self, start: datetime, plan: _VisitPlan) -> datetime:
        low, high = _RECEPTION_MINUTES[plan.purpose]
        end = start + timedelta(minutes=self.rng.randint(low, high))
        # the last minutes before now: nobody is done, so that the queue is visible
        last_minutes = plan.live or self.now - timedelta(minutes=12) < end <= self.now
        if self.live and self._local(start) == self.today and last_minutes:
            end = max(end, self.now + timedelta(minutes=self.rng.randint(5, 40)))
        return end

    def _end(self, at: datetime, c: _Consultant, visit_id: int) -> None:
        handed = floor.end_reception(self.session, self.store_id, c.user_id, visit_id, at)
        c.current = None
        self.at(at + timedelta(minutes=1), self._after_reception, c, visit_id)
        if handed:
            self._handed_out(at)
        if c.queue and not c.starting:
            c.starting = True
            self.at(at + timedelta(minutes=self.rng.randint(1, 3)), self._start, c)
        elif c.free and c.pending:
            self._apply_pending(c, at)

    # --- today's last hour -----------------------------------------------------------------

    def _live_step(self, at: datetime) -> None:
        """While a consultant on the floor is free, another visitor walks in."""
        if at > self.now - timedelta(minutes=10):
            return
        if any(c.on_duty and c.free and c.pending is None for c in self.consultants.values()):
            self._arrive(at, None, self._purpose(first=True), True)
        self.at(at + timedelta(minutes=self.rng.randint(4, 7)), self._live_step)

    def _live_return(self, at: datetime) -> None:
        """A returning customer whose consultant is busy: the consultant is told, on the way."""
        busy = sorted(c.user_id for c in self.consultants.values() if c.on_duty and c.current)
        if not busy:
            return
        row = self.session.execute(
            select(Opportunity.customer_id)
            .where(
                Opportunity.store_id == self.store_id,
                Opportunity.status == OpportunityStatus.OPEN.value,
                Opportunity.owner_id.in_(busy),
                Opportunity.grade.in_(sorted(HIGH)),
                Opportunity.last_visit_at < self._at(self.today, 0, 0),
            )
            .order_by(Opportunity.id)
            .limit(20)
        ).all()
        candidates = [
            self.people[r.customer_id]
            for r in row
            if r.customer_id in self.people and not self.people[r.customer_id].do_not_contact
        ]
        if candidates:
            self._arrive(at, self.rng.choice(candidates), VisitPurpose.TEST_DRIVE.value, True)

    def _live_arrival(self, at: datetime) -> None:
        self._arrive(at, None, self._purpose(first=True), True)

    # --- the consultant after a reception --------------------------------------------------

    def _after_reception(self, at: datetime, c: _Consultant, visit_id: int) -> None:
        plan = self.plans[visit_id]
        visit = self.session.get(Visit, visit_id)
        assert visit is not None and visit.opportunity_id is not None
        opp = self.session.get(Opportunity, visit.opportunity_id)
        assert opp is not None
        if opp.status != OpportunityStatus.OPEN.value or opp.owner_id != c.user_id:
            return
        returning = opp.created_at < visit.checked_in_at  # the opportunity was there before
        day = self._local(at)
        if returning:  # a test drive is the revisit's activity, else the revisit itself
            test_drive = plan.purpose == VisitPurpose.TEST_DRIVE.value
            self._log(c, opp, ActivityKind.TEST_DRIVE if test_drive else ActivityKind.REVISIT, at)
        chance = people.ORDER_AT_REVISIT.get(opp.grade, 0.08) if returning else 0.05
        if self.rng.random() < chance:
            self._order(c, opp, at)
            return
        if not returning:
            if self.rng.random() < 0.85:
                self._assess(c, opp, self._first_grade(c, plan.person, day), at)
            return  # else graded after a phone call
        if opp.grade in (None, Grade.C.value) or self.rng.random() < 0.6:
            self._assess(c, opp, self._shifted(opp.grade, 0.45, 0.2), at)

    def _first_grade(self, c: _Consultant, person: _Person, day: date) -> str:
        if self._owe(CallbackKind.DORMANT, day) and self._contactable(person):
            return Grade.C.value
        weights = (0.12, 0.25, 0.33, 0.30 + c.profile.dormant_bias)
        return self.rng.choices(("H", "A", "B", "C"), weights)[0]

    def _shifted(self, grade: str | None, up: float, down: float) -> str:
        if grade not in ("H", "A", "B", "C"):
            return self.rng.choices(("H", "A", "B", "C"), (0.15, 0.3, 0.35, 0.2))[0]
        index = people.GRADE_LADDER.index(Grade(grade))
        r = self.rng.random()
        if r < up:
            index = min(index + 1, 3)
        elif r < up + down:
            index = max(index - 1, 0)
        return people.GRADE_LADDER[index].value

    def _contactable(self, person: _Person) -> bool:
        return person.consent and not person.do_not_contact

    def _owe(self, kind: CallbackKind, day: date) -> bool:
        """Yesterday, while nothing yet owes today a call of this kind: steer towards one."""
        return day == self.today - timedelta(days=1) and self.owed.get(kind, 0) < 2

    def _owed(self, kind: CallbackKind, day: date) -> None:
        if day == self.today - timedelta(days=1):
            self.owed[kind] = self.owed.get(kind, 0) + 1

    # --- the consultant's actions ----------------------------------------------------------

    def _log(
        self,
        c: _Consultant,
        opp: Opportunity,
        kind: ActivityKind,
        at: datetime,
        *,
        note: str | None = None,
        invitation_at: datetime | None = None,
    ) -> None:
        model = self.model_names.get(opp.car_model_id or 0, "")
        day = f"{invitation_at.astimezone(self.zone):%m月%d日}" if invitation_at else ""
        text = note or self.rng.choice(people.FOLLOW_UP_NOTES[kind]).format(model=model, day=day)
        actions.log_follow_up(
            self.session,
            self.store_id,
            opp.id,
            c.user_id,
            at,
            kind=kind.value,
            outcome=text,
            next_follow_up_on=self._local(invitation_at) if invitation_at else None,
            invitation_at=invitation_at,
        )

    def _order(self, c: _Consultant, opp: Opportunity, at: datetime) -> None:
        model = self.model_names.get(opp.car_model_id or 0, "")
        actions.record_order(
            self.session,
            self.store_id,
            opp.id,
            c.user_id,
            at,
            car_model_id=opp.car_model_id,
            deposit=self.rng.choice(people.DEPOSITS),
            note=people.ORDER_NOTE.format(model=model),
        )

    def _defeat(self, c: _Consultant, opp: Opportunity, at: datetime) -> None:
        weights = people.DEFEAT_WEIGHTS
        reason = self.rng.choices(list(weights), list(weights.values()))[0]
        brand = self._brand() if reason == DefeatReason.OTHER_BRAND else None
        owed = self._callable(opp.customer_id)
        self._log(c, opp, ActivityKind.CALL, at, note=people.LAST_CALL_NOTE)
        actions.record_defeat(
            self.session,
            self.store_id,
            opp.id,
            c.user_id,
            at,
            reason=reason,
            competitor_brand=brand,
            note=people.DEFEAT_NOTES[reason].format(brand=brand),
        )
        if owed:
            self._owed(CallbackKind.DEFEAT, self._local(at))

    def _brand(self) -> str:
        return self.rng.choices(people.COMPETITORS, people.COMPETITOR_WEIGHTS)[0]

    def _assess(self, c: _Consultant, opp: Opportunity, target: str, at: datetime) -> None:
        """A needs analysis giving ``target`` (now and then an override with a reason)."""
        computed, reason = target, None
        index = people.GRADE_LADDER.index(Grade(target))
        if self.rng.random() < 0.06:
            if index > 0 and self.rng.random() < 0.5:
                computed = people.GRADE_LADDER[index - 1].value  # scored lower, graded up
                reason = self.rng.choice(people.OVERRIDE_UP)
            elif index < 3:
                computed = people.GRADE_LADDER[index + 1].value  # scored higher, graded down
                reason = self.rng.choice(people.OVERRIDE_DOWN)
        person = self.people[opp.customer_id]
        answers = needs_answers(self.rng, self.cast.rules.scoring, computed, person.visits)
        actions.assess(
            self.session,
            self.store_id,
            opp.id,
            c.user_id,
            answers,
            at,
            override_grade=target if reason else None,
            override_reason=reason,
        )
        if target == Grade.C.value and self._contactable(person):
            self._owed(CallbackKind.DORMANT, self._local(at))

    def _plan_follow_ups(self, at: datetime, day: date) -> None:
        """Each consultant on the floor works their book: the follow-ups due, and a few more."""
        working = [c.user_id for c in self.consultants.values() if self._works(c, day)]
        invited = set(
            self.session.scalars(
                select(Invitation.opportunity_id).where(
                    Invitation.store_id == self.store_id,
                    Invitation.status == InvitationStatus.SCHEDULED.value,
                    Invitation.scheduled_at >= at,
                )
            )
        )
        book = self.session.execute(
            select(Opportunity.id, Opportunity.owner_id, Opportunity.grade, Opportunity.created_at)
            .add_columns(Opportunity.next_follow_up_due)
            .where(
                Opportunity.store_id == self.store_id,
                Opportunity.status == OpportunityStatus.OPEN.value,
                Opportunity.owner_id.in_(working),
            )
            .order_by(Opportunity.owner_id, Opportunity.id)
        ).all()
        for opp_id, owner_id, grade, created_at, due in book:
            c = self.consultants[owner_id]
            if self._local(created_at) == day:
                continue
            if grade is None:
                if opp_id not in invited and self.rng.random() < 0.85:
                    self.at(self._minute(day, time(10, 0), time(17, 50)), self._call, c, opp_id)
                continue
            tomorrow_off = not self._works_later(c, day + timedelta(days=1))
            due_now = due is not None and (
                due <= day or (tomorrow_off and due == day + timedelta(days=1))
            )
            chance = c.profile.diligence if due_now else 0.03
            if day == self.today:
                chance *= 0.5  # the afternoon's calls are still to be made
            elif c.username == people.SLOPPY and (self.today - day).days <= 10:
                chance *= 0.6  # lately he lets follow-ups slip
            if self.rng.random() < chance:
                self.at(self._minute(day, time(10, 0), time(17, 50)), self._call, c, opp_id)

    def _call(self, at: datetime, c: _Consultant, opp_id: int) -> None:
        """A follow-up: a call, a message, a quote, an invitation, or the news of a defeat."""
        opp = self.session.get(Opportunity, opp_id)
        assert opp is not None
        day = self._local(at)
        if opp.status != OpportunityStatus.OPEN.value or opp.owner_id != c.user_id:
            return
        if opp.last_visit_at is not None and self._local(opp.last_visit_at) == day:
            return  # seen in the showroom today
        # Today no grade is given by phone: a grade whose cycle the last visit has already
        # outrun makes the customer stalled at once, and Run now on today would list the call;
        # the afternoon's calls are still to come anyway.
        regrade = day != self.today
        if opp.grade is None:
            if not regrade:
                return
            self._log(c, opp, ActivityKind.CALL, at, note=people.FIRST_CALL_NOTE)
            grade = self._first_grade(c, self.people[opp.customer_id], day)
            self._assess(c, opp, grade, at)
            return
        if opp.grade not in people.FOLLOW_UP_ODDS:
            return
        defeat, invite, odds_regrade = people.FOLLOW_UP_ODDS[opp.grade]
        r = self.rng.random()
        if self._owe(CallbackKind.DEFEAT, day) and self._callable(opp.customer_id):
            r = 0.0
        if r < defeat:
            self._defeat(c, opp, at)
            return
        if r < defeat + invite and not self._invited(opp.id, at):
            when = self._appointment(day, c)
            self._log(c, opp, ActivityKind.INVITATION, at, invitation_at=when)
            return
        kinds = (ActivityKind.CALL, ActivityKind.MESSAGE, ActivityKind.QUOTE)
        self._log(c, opp, self.rng.choices(kinds, (55, 30, 15))[0], at)
        if r < defeat + invite + odds_regrade and regrade:
            self._assess(c, opp, self._shifted(opp.grade, 0.3, 0.35), at)

    def _callable(self, customer_id: int) -> bool:
        """Consent, no do-not-contact and no open callback: the night would list them."""
        person = self.people.get(customer_id)
        if person is None or not self._contactable(person):
            return False
        return not self.session.scalar(
            select(func.count()).where(
                CallbackTask.customer_id == customer_id,
                CallbackTask.status == CallbackStatus.OPEN.value,
            )
        )

    def _invited(self, opp_id: int, at: datetime) -> bool:
        return bool(
            self.session.scalar(
                select(func.count()).where(
                    Invitation.opportunity_id == opp_id,
                    Invitation.status == InvitationStatus.SCHEDULED.value,
                    Invitation.scheduled_at >= at,
                )
            )
        )

    def _appointment(self, day: date, c: _Consultant | None) -> datetime:
        """A day in the next five when the consultant works, at a round time of day."""
        offsets = list(range(1, 6))
        self.rng.shuffle(offsets)
        chosen = next(
            (
                day + timedelta(days=o)
                for o in sorted(offsets[:3])
                if c is None or self._works_later(c, day + timedelta(days=o))
            ),
            day + timedelta(days=offsets[0]),
        )
        return self._at(chosen, self.rng.randint(10, 16), self.rng.choice((0, 30)))

    # --- the manager -----------------------------------------------------------------------

    def _rebalance(self, at: datetime) -> None:
        """The busiest consultant gives an A or B customer to the least busy one."""
        default_cap = self.cast.rules.default_load_cap
        team = sorted(
            (s for s in candidates(self.session, self.store_id, default_cap) if s.active),
            key=lambda s: (s.load, s.user_id),
        )
        low, high = team[0], team[-1]
        if low.load + 1 >= low.cap or high.load <= low.load + 1:
            return
        opp_id = self.session.scalar(
            select(Opportunity.id)
            .where(
                Opportunity.store_id == self.store_id,
                Opportunity.status == OpportunityStatus.OPEN.value,
                Opportunity.owner_id == high.user_id,
                Opportunity.grade.in_(("A", "B")),
            )
            .order_by(Opportunity.last_follow_up_at, Opportunity.id)
            .limit(1)
        )
        if opp_id is None:
            return
        note = people.REBALANCE_NOTE.format(high=high.name, low=low.name)
        rules_admin.reassign(
            self.session, self.store_id, self.cast.manager_id, at, [opp_id], low.user_id, note
        )

    def _return_to_pool(self, at: datetime, day: date) -> None:
        """The manager takes back a customer the sloppy consultant has not followed up."""
        sloppy = self.by_username[people.SLOPPY]
        open_task = (
            select(CallbackTask.id)
            .where(
                CallbackTask.customer_id == Opportunity.customer_id,
                CallbackTask.status == CallbackStatus.OPEN.value,
            )
            .exists()
        )
        opp_id = self.session.scalar(
            select(Opportunity.id)
            .where(
                Opportunity.store_id == self.store_id,
                Opportunity.status == OpportunityStatus.OPEN.value,
                Opportunity.owner_id == sloppy.user_id,
                Opportunity.grade.in_(sorted(HIGH)),
                ~open_task,
            )
            .order_by(Opportunity.next_follow_up_due, Opportunity.id)
            .limit(1)
        )
        if opp_id is not None:
            rules_admin.reassign(
                self.session,
                self.store_id,
                self.cast.manager_id,
                at,
                [opp_id],
                None,
                people.RETURN_NOTE,
            )

    # --- customer service ------------------------------------------------------------------

    def _plan_callbacks(self, at: datetime, day: date) -> None:
        """The agents share the day's worklist (overdue first, then by kind) and call it all;
        today, the afternoon's calls are still to be made."""
        agents = self.cast.agent_ids
        rows = tasks.worklist(self.session, self.store_id, day, agents[0], at, per_page=1000).rows
        clock = {agent: self._at(day, 9, 30 + 8 * i) for i, agent in enumerate(agents)}
        kept: dict[str, int] = {}
        for i, row in enumerate(rows):
            if day == self.today and (kept.get(row.kind, 0) < 2 or self.rng.random() < 0.8):
                kept[row.kind] = kept.get(row.kind, 0) + 1
                continue  # still to call this afternoon
            agent = agents[i % len(agents)]
            start = clock[agent] + timedelta(minutes=self.rng.randint(2, 20))
            talk = timedelta(minutes=self.rng.randint(3, 10))
            clock[agent] = start + talk + timedelta(minutes=1)
            if day == self.today and start > self.now - timedelta(minutes=25):
                continue  # the agents are on the calls below
            self.at(start, self._claim, agent, row.task_id, talk)
        if day == self.today:
            open_now = [r.task_id for r in rows if r.kind != CallbackKind.RETRY.value]
            for agent, task_id, minutes in zip(agents, open_now[:2], (18, 9), strict=False):
                self.at(self.now - timedelta(minutes=minutes), self._claim_only, agent, task_id)

    def _claim_only(self, at: datetime, agent: int, task_id: int) -> None:
        """An agent on the phone right now."""
        task = self.session.get(CallbackTask, task_id)
        if task is not None and task.status == CallbackStatus.OPEN.value:
            claims.claim(self.session, self.store_id, task_id, agent, at)

    def _claim(self, at: datetime, agent: int, task_id: int, talk: timedelta) -> None:
        task = self.session.get(CallbackTask, task_id)
        if task is None or task.status != CallbackStatus.OPEN.value:
            return  # closed since the list was read (the customer ordered, or was lost)
        claims.claim(self.session, self.store_id, task_id, agent, at)
        self.at(at + talk, self._record, agent, task_id)

    def _record(self, at: datetime, agent: int, task_id: int) -> None:
        """The call: its result, the questionnaire and an outcome the answers allow."""
        task = self.session.get(CallbackTask, task_id)
        assert task is not None
        if task.status != CallbackStatus.OPEN.value:
            return
        opp = self.session.get(Opportunity, task.opportunity_id) if task.opportunity_id else None
        day = self._local(at)
        form = self._form(task, opp, day)
        result = callbacks.record_callback(self.session, self.store_id, task_id, agent, at, form)
        if result.outcome == CallbackOutcome.UNREACHABLE.value:
            self._owed(CallbackKind.RETRY, day)
        elif result.outcome == CallbackOutcome.DO_NOT_CONTACT.value:
            self.people[task.customer_id].do_not_contact = True
        if result.to_pool and day == self.today:
            # handed out at once: the manager sees the new owner before tonight's run
            callbacks.hand_out_pool(self.session, self.store_id, agent, at)
            self.session.flush()
            self.session.expire_all()

    def _form(self, task: CallbackTask, opp: Opportunity | None, day: date) -> Any:
        rng = self.rng
        steer_retry = self._owe(CallbackKind.RETRY, day) and task.attempt < (
            self.cast.rules.callback_retry_limit
        )
        if steer_retry or rng.random() > 0.72:
            result = rng.choices(_UNANSWERED, (60, 24, 12, 4))[0]
            if steer_retry:
                result = CallResult.NO_ANSWER
            return callbacks.CallbackForm(call_result=result.value, note=_UNREACHED_NOTE)
        basis = self._basis(opp)
        last_visit = opp.last_visit_at if opp is not None else None
        visited_today = last_visit is not None and self._local(last_visit) == day
        outcomes = people.OUTCOME_ODDS["won" if visited_today else basis]
        outcome = rng.choices([o for o, _ in outcomes], [w for _, w in outcomes])[0]
        remembers = rng.random() < 0.8
        followed = {"dormant": 0.3, "stalled": 0.35}.get(basis, 0.75)
        form = callbacks.CallbackForm(
            call_result=CallResult.REACHED.value,
            remembers_consultant=remembers,
            satisfaction=rng.choices((2, 3, 4, 5), (8, 25, 42, 25))[0] if remembers else None,
            received_follow_up=rng.random() < followed,
            outcome=str(outcome),
        )
        if outcome == CallbackOutcome.BOUGHT_ELSEWHERE:
            brand = (opp.competitor_brand if opp else None) or self._brand()
            form.has_bought = True
            form.bought_reason = rng.choice(people.BOUGHT_REASONS)
            form.bought_brand = brand
            form.note = f"客户表示已购买{brand}：{form.bought_reason}"
            return form
        form.has_bought = False
        form.concerns = rng.choice(people.CONCERNS)
        form.other_brands = "、".join(rng.sample(people.COMPETITORS, rng.randint(0, 2)))
        if outcome == CallbackOutcome.DO_NOT_CONTACT:
            form.would_revisit, form.same_consultant_ok = False, False
            form.note = "客户要求不再联系"
        elif outcome == CallbackOutcome.INVITE_BACK:
            keep = rng.random() < 0.7
            when = self._appointment(day, None)
            form.would_revisit, form.same_consultant_ok = True, keep
            local = when.astimezone(self.zone)
            form.invite_date = local.date()
            form.invite_time = local.time().replace(second=0, microsecond=0, tzinfo=None)
            form.note = "客户同意再来店看车" if keep else "客户同意再来店，希望换一位顾问接待"
        elif outcome == CallbackOutcome.CALL_AGAIN:
            lost = opp is not None and opp.status == OpportunityStatus.LOST.value
            form.would_revisit = lost or rng.random() < 0.45
            form.same_consultant_ok = rng.random() < 0.75
            again = self._call_again_on(day)
            form.call_again_on = again
            form.note = f"客户近期暂不考虑，约{again:%m月%d日}再回访"
        else:
            form.would_revisit = rng.random() < 0.5
            form.same_consultant_ok = True
            form.note = "客户表示已在跟进中" if basis != "won" else "客户已在本店订车"
        return form

    def _basis(self, opp: Opportunity | None) -> str:
        """What the call is about: the odds of what the customer says."""
        if opp is None or opp.status == OpportunityStatus.WON.value:
            return "won"
        if opp.status == OpportunityStatus.LOST.value:
            return "defeat"
        if opp.owner_id is None and opp.grade in (None, Grade.C.value):
            return "dormant"
        return "stalled"

    def _call_again_on(self, day: date) -> date:
        gap = (self.today - day).days
        owed = self.owed.get(CallbackKind.SCHEDULED, 0)
        if 3 <= gap <= 21 and (owed < 2 or self.rng.random() < 0.03):
            self.owed[CallbackKind.SCHEDULED] = owed + 1
            return self.today  # keeps today's worklist interesting
        return day + timedelta(days=self.rng.randint(5, 21))


_UNREACHED_NOTE = "未接通，明天再拨"
