"""Demo data: one Chinese 4S store with 60 days of plausible history (DESIGN.md sections 2-4).

``load_demo`` plays the showroom process forward day by day with a seeded random generator:
walk-ins are dispatched by rotation under the load cap, consultants grade, follow up, invite
back, win and lose; every night the callback list and the cyclic refill run; customer service
works the callbacks. The rows are built in memory and written in dependency order at the end
(``add_all`` + ``flush`` per table); nothing is committed here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.db import Base, utcnow
from core.dispatch.models import Assignment
from core.enums import (
    CALLBACK_KIND_PRIORITY,
    HIGH_INTENT,
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
from core.nightly.models import JobRun
from core.opportunities.grading import score_answers
from core.opportunities.models import (
    AssessmentAnswer,
    ConsentRecord,
    Customer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.rules.models import RuleSet
from core.rules.rulesets import (
    DEFAULT_CYCLES,
    DEFAULT_LOAD_CAP,
    DEFAULT_RETRY_LIMIT,
    create_default_rules,
)
from core.security import hash_password, new_token, token_digest
from core.stores.models import CarModel, ConsultantSettings, KioskDevice, Store, User
from core.timeutil import local_date, local_moment, store_zone

DEMO_STORE_CODE = "HZ01"
DEMO_PASSWORD = "demo1234"
DEMO_STORE_NAME = "杭州西溪一汽丰田4S店"
TIMEZONE = "Asia/Shanghai"
_ZONE = store_zone(TIMEZONE)
HISTORY_DAYS = 60
NOTICE_VERSION = "2026-01"
FLUSH_BATCH = 500

# The demo clock stops at this local time on ``today`` (or earlier when that is the real now).
_DEMO_NOW = time(15, 30)
_OPEN, _LAST_ARRIVAL = time(9, 0), time(17, 45)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    display_name: str


@dataclass(frozen=True)
class DemoSummary:
    store_id: int
    created: bool
    logins: tuple[DemoLogin, ...]
    counts: dict[str, int]


# ---------------------------------------------------------------------------------------------
# Fixed content
# ---------------------------------------------------------------------------------------------

_STAFF: tuple[tuple[str, Role, str], ...] = (
    ("admin", Role.ADMIN, "赵敏"),
    ("manager", Role.MANAGER, "陈建国"),
    ("cs1", Role.CS_AGENT, "林晓雯"),
    ("cs2", Role.CS_AGENT, "周婷"),
    ("sales1", Role.CONSULTANT, "王磊"),
    ("sales2", Role.CONSULTANT, "李娜"),
    ("sales3", Role.CONSULTANT, "张伟"),
    ("sales4", Role.CONSULTANT, "刘洋"),
    ("sales5", Role.CONSULTANT, "杨静"),
    ("sales6", Role.CONSULTANT, "黄强"),
    ("sales7", Role.CONSULTANT, "吴芳"),
    ("sales8", Role.CONSULTANT, "徐涛"),
)


@dataclass(frozen=True)
class _Profile:
    """How a consultant works in the simulation."""

    day_off: int  # weekday (0 = Monday); everyone works weekends
    diligence: float  # chance to make a due follow-up
    dormant_bias: float  # extra weight on grading C (a consultant who gives up too early)
    load_cap: int | None = None


_PROFILES: dict[str, _Profile] = {
    "sales1": _Profile(0, 0.96, 0.0),
    "sales2": _Profile(1, 0.94, 0.0),
    "sales3": _Profile(2, 0.92, 0.05),
    "sales4": _Profile(3, 0.93, 0.0),
    "sales5": _Profile(0, 0.92, 0.0, load_cap=15),  # new in the team: a lower cap
    "sales6": _Profile(1, 0.88, 0.3),  # grades too many customers dormant
    "sales7": _Profile(2, 0.95, 0.0),
    "sales8": _Profile(3, 0.74, 0.05),  # misses follow-ups
}
# Today: who is on duty, who is on a break; the rest are off.
_TODAY_ON_DUTY = ("sales1", "sales2", "sales3", "sales4")
_TODAY_ON_BREAK = "sales6"
_SLOPPY = "sales8"

_CAR_MODELS: tuple[tuple[str, str, int], ...] = (  # name, brand, popularity
    ("卡罗拉", "一汽丰田", 16),
    ("卡罗拉锐放", "一汽丰田", 12),
    ("亚洲龙", "一汽丰田", 9),
    ("凯美瑞", "丰田", 13),
    ("RAV4荣放", "一汽丰田", 15),
    ("威兰达", "丰田", 8),
    ("汉兰达", "丰田", 10),
    ("皇冠陆放", "一汽丰田", 6),
    ("bZ3", "一汽丰田", 6),
    ("bZ4X", "一汽丰田", 5),
)

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐"  # the most common first
    "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁沈"
)
_SURNAME_WEIGHTS = [max(1, 24 - i // 2) for i in range(len(_SURNAMES))]
_MOBILE_PREFIXES = tuple(
    f"1{n}"
    for n in (30, 31, 32, 33, 35, 36, 37, 38, 39, 50, 51, 52, 53, 55, 56, 57, 58, 59, 66, 73, 76)
) + tuple(f"1{n}" for n in (77, 80, 81, 82, 83, 85, 86, 87, 88, 89, 91, 99))

_COMPETITORS = ("本田", "大众", "日产", "比亚迪", "特斯拉", "吉利", "理想", "小鹏", "别克", "长安")
_COMPETITOR_WEIGHTS = (14, 14, 9, 16, 7, 8, 6, 5, 5, 4)
_BOUGHT_REASONS = (
    "对方优惠更多",
    "对方店离家近",
    "顾问后来没再联系",
    "更喜欢对方车型的配置",
    "对方提车更快",
    "朋友推荐",
    "新能源补贴更划算",
)
_CONCERNS = (
    "价格还想再等等",
    "等年底促销",
    "家人意见不统一",
    "在考虑新能源车型",
    "贷款方案还在比较",
    "想等新款上市",
    "旧车置换价格偏低",
)
_DEFEAT_NOTES: dict[str, str] = {
    DefeatReason.OTHER_BRAND: "客户已在{brand}4S店订车",
    DefeatReason.PRICE: "客户认为价格偏高，优惠空间不够",
    DefeatReason.FINANCING: "贷款审批未通过，暂不购车",
    DefeatReason.NO_LONGER_NEEDS: "家庭原因暂缓购车",
    DefeatReason.UNREACHABLE: "多次联系不上客户",
    DefeatReason.OTHER: "客户改变购车计划",
}
_DEFEAT_WEIGHTS: dict[str, int] = {
    DefeatReason.OTHER_BRAND: 46,
    DefeatReason.PRICE: 20,
    DefeatReason.FINANCING: 7,
    DefeatReason.NO_LONGER_NEEDS: 12,
    DefeatReason.UNREACHABLE: 10,
    DefeatReason.OTHER: 5,
}
_FOLLOW_UP_NOTES: dict[str, tuple[str, ...]] = {
    ActivityKind.CALL: (
        "电话沟通，客户关注优惠政策",
        "电话回访，客户在比较配置，约周末再聊",
        "客户表示近期较忙，下周再联系",
        "电话沟通置换方案，客户有兴趣",
        "客户询问贷款首付和月供",
        "客户关心提车周期，已说明库存情况",
    ),
    ActivityKind.MESSAGE: (
        "微信发送车型配置表和报价",
        "微信推送本月促销活动",
        "发送试驾视频和车主口碑",
        "微信解答保养费用问题",
    ),
    ActivityKind.QUOTE: (
        "发送详细报价单，含保险上牌",
        "报价：裸车优惠8000元，送装饰礼包",
        "按客户要求出具贷款方案报价",
    ),
    ActivityKind.REVISIT: (
        "客户再次到店看车，重点了解{model}",
        "客户带家人到店，对比内饰和空间",
        "客户到店谈价，暂未最终确定",
    ),
    ActivityKind.TEST_DRIVE: (
        "试驾{model}，客户对动力和静音满意",
        "客户试驾后对油耗表现满意",
        "试驾{model}，家人对后排空间比较满意",
    ),
    ActivityKind.INVITATION: (
        "邀约客户{day}到店试驾",
        "邀约客户{day}到店参加周末团购会",
        "邀约客户{day}到店详谈置换方案",
    ),
}
_OVERRIDE_UP = ("客户已交意向金，实际意向高于评分", "老客户转介绍，购车意向明确")
_OVERRIDE_DOWN = ("客户明确年底前不会购车", "决策人未到场，保守评级")

# Follow-up odds per grade: (defeat, invitation, re-grade by phone)
_FOLLOW_UP_ODDS: dict[str, tuple[float, float, float]] = {
    Grade.H: (0.05, 0.32, 0.08),
    Grade.A: (0.05, 0.2, 0.12),
    Grade.B: (0.06, 0.13, 0.12),
}
_ORDER_AT_REVISIT: dict[str | None, float] = {Grade.H: 0.5, Grade.A: 0.24, Grade.B: 0.1}
# Callback outcomes once the customer is reached, by the kind of the first call.
_OUTCOME_ODDS: dict[str, tuple[tuple[CallbackOutcome, float], ...]] = {
    CallbackKind.DORMANT: (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.22),
        (CallbackOutcome.INVITE_BACK, 0.3),
        (CallbackOutcome.DO_NOT_CONTACT, 0.04),
        (CallbackOutcome.CALL_AGAIN, 0.44),
    ),
    CallbackKind.STALLED: (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.18),
        (CallbackOutcome.DO_NOT_CONTACT, 0.03),
        (CallbackOutcome.INVITE_BACK, 0.79),
    ),
    CallbackKind.DEFEAT: (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.74),
        (CallbackOutcome.DO_NOT_CONTACT, 0.04),
        (CallbackOutcome.INVITE_BACK, 0.22),
    ),
}
_GRADE_LADDER = (Grade.C, Grade.B, Grade.A, Grade.H)
_LOAD_GRADES: tuple[str | None, ...] = (None, *(g.value for g in HIGH_INTENT))
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

R = TypeVar("R", bound=Base)


def _opp(lead: _Lead) -> Opportunity:
    assert lead.opp is not None
    return lead.opp


def demo_logins() -> tuple[DemoLogin, ...]:
    """The demo sign-ins (all with DEMO_PASSWORD)."""
    return tuple(DemoLogin(u, r.value, n) for u, r, n in _STAFF)


def load_demo(session: Session, *, today: date | None = None, seed: int = 42) -> DemoSummary:
    """Create the demo store with its history once; do nothing if it exists. Never commits."""
    existing = session.scalars(select(Store).where(Store.code == DEMO_STORE_CODE)).first()
    if existing is not None:
        return DemoSummary(existing.id, False, demo_logins(), {})
    taken = session.scalars(
        select(User.username).where(User.username.in_([u for u, _, _ in _STAFF]))
    ).all()
    if taken:
        raise ValueError(f"demo usernames already in use: {', '.join(sorted(taken))}")
    day, now = _demo_clock(today)
    return _DemoBuilder(session, random.Random(seed), day, now).build()


def _demo_clock(today: date | None) -> tuple[date, datetime]:
    """The store-local 'today' and the moment the simulated history stops."""
    real_now = utcnow()
    real_today = local_date(real_now, TIMEZONE)
    day = today or real_today
    now = local_moment(day, _DEMO_NOW, TIMEZONE)
    if day == real_today:
        now = min(now, real_now)
    return day, now.replace(second=0, microsecond=0)


# ---------------------------------------------------------------------------------------------
# Rows kept in memory, written in dependency order
# ---------------------------------------------------------------------------------------------


class _Rows:
    """New rows per table, with references to rows that have no id yet."""

    ORDER: tuple[type[Base], ...] = (
        JobRun,
        Customer,
        ConsentRecord,
        Opportunity,
        Invitation,
        Visit,
        ConsultantSettings,
        NeedsAssessment,
        FollowUp,
        CallbackTask,
        Assignment,
        AuditEvent,
    )

    def __init__(self) -> None:
        self.rows: dict[type[Base], list[Base]] = {cls: [] for cls in self.ORDER}
        self._links: dict[int, list[tuple[str, Base]]] = {}

    def add(self, row: R, **links: Base | None) -> R:
        self.rows[type(row)].append(row)
        for attr, target in links.items():
            if target is not None:
                self.link(row, attr, target)
        return row

    def link(self, row: Base, attr: str, target: Base) -> None:
        """Set ``row.attr`` to ``target.id`` once the target has been flushed."""
        self._links.setdefault(id(row), []).append((attr, target))

    def count(self, cls: type[Base]) -> int:
        return len(self.rows[cls])

    def write(self, session: Session) -> None:
        late: list[tuple[Base, str, Base]] = []
        for cls in self.ORDER:
            rows = self.rows[cls]
            for row in rows:
                for attr, target in self._links.get(id(row), ()):
                    target_id = getattr(target, "id", None)
                    if target_id is None:
                        late.append((row, attr, target))  # a circular reference
                    else:
                        setattr(row, attr, target_id)
            for start in range(0, len(rows), FLUSH_BATCH):
                session.add_all(rows[start : start + FLUSH_BATCH])
                session.flush()
        for row, attr, target in late:
            setattr(row, attr, getattr(target, "id"))  # noqa: B009
        session.flush()


# ---------------------------------------------------------------------------------------------
# Simulation state
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Staff:
    user: User
    profile: _Profile | None = None
    settings: ConsultantSettings | None = None
    busy_until: datetime = _EPOCH

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.display_name

    @property
    def desk(self) -> ConsultantSettings:
        """A consultant's dispatch settings."""
        assert self.settings is not None
        return self.settings

    @property
    def cap(self) -> int:
        if self.profile and self.profile.load_cap is not None:
            return self.profile.load_cap
        return DEFAULT_LOAD_CAP


@dataclass(eq=False)
class _Lead:
    """A customer and the state of their current (latest) opportunity."""

    customer: Customer
    car_model: CarModel
    opp: Opportunity | None = None
    owner: _Staff | None = None
    visits: int = 0
    visited_on: date | None = None
    dormant_by: _Staff | None = None
    dormant_on: date | None = None  # graded C on this local date
    lost_on: date | None = None
    defeat_by: _Staff | None = None  # the consultant who recorded the defeat
    delivery_on: date | None = None
    invitation: Invitation | None = None  # the scheduled one
    stall_key: tuple[str, date] | None = None
    has_open_task: bool = False

    @property
    def contactable(self) -> bool:
        return self.customer.consent_at is not None and not self.customer.do_not_contact

    @property
    def open_opp(self) -> Opportunity | None:
        if self.opp is not None and self.opp.status == OpportunityStatus.OPEN:
            return self.opp
        return None


@dataclass(eq=False)
class _Task:
    lead: _Lead
    row: CallbackTask
    origin: str  # the kind of the first call in a chain of retries
    consultant: _Staff | None


@dataclass
class _Arrival:
    at: datetime
    lead: _Lead | None  # None: a new customer
    purpose: str
    invitation: Invitation | None = None
    delivery: bool = False


# ---------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------


class _DemoBuilder:
    def __init__(self, session: Session, rng: random.Random, today: date, now: datetime) -> None:
        self.session = session
        self.rng = rng
        self.today = today
        self.now = now
        self.first_day = today - timedelta(days=HISTORY_DAYS - 1)
        self.rows = _Rows()
        self.leads: list[_Lead] = []
        self.mobiles: set[str] = set()
        self.tasks: list[_Task] = []  # open callback tasks
        self.done_tasks: list[_Task] = []
        self.retries: dict[date, list[_Task]] = {}
        self.invitations_on: dict[date, list[tuple[_Lead, Invitation]]] = {}
        self.book: dict[int, dict[_Lead, None]] = {}  # consultant id -> open opps owned
        self.break_from = now - timedelta(minutes=50)
        # Callbacks the history already owes today, by kind: yesterday's events are steered so
        # that today's worklist shows every kind.
        self.owed_today: dict[str, int] = {}

    # --- setup ------------------------------------------------------------------------------

    def build(self) -> DemoSummary:
        self._create_store()
        for offset in range(HISTORY_DAYS):
            self._simulate_day(self.first_day + timedelta(days=offset))
        self._live_visits()
        self._finish_presence()
        self._audit_trail()
        self.rows.write(self.session)
        return DemoSummary(self.store.id, True, demo_logins(), self._counts())

    def _create_store(self) -> None:
        setup = local_moment(self.first_day - timedelta(days=21), time(10, 0), TIMEZONE)
        self.setup_at = setup
        store = Store(
            code=DEMO_STORE_CODE,
            name=DEMO_STORE_NAME,
            timezone=TIMEZONE,
            default_locale="zh",
            active=True,
            created_at=setup,
        )
        self.session.add(store)
        self.session.flush()
        self.store = store
        self.car_models = [
            CarModel(store_id=store.id, name=name, brand=brand, sort_order=i, active=True)
            for i, (name, brand, _) in enumerate(_CAR_MODELS)
        ]
        self.car_weights = [w for _, _, w in _CAR_MODELS]
        password_hash = hash_password(DEMO_PASSWORD)  # once: scrypt is slow on purpose
        users = {
            username: User(
                store_id=store.id,
                username=username,
                display_name=name,
                password_hash=password_hash,
                role=role.value,
                active=True,
                locale="zh",
                created_at=setup,
            )
            for username, role, name in _STAFF
        }
        self.session.add_all([*self.car_models, *users.values()])
        self.session.flush()
        self.admin = _Staff(users["admin"])
        self.manager = _Staff(users["manager"])
        self.agents = [_Staff(users["cs1"]), _Staff(users["cs2"])]
        self.consultants = [
            _Staff(
                users[username],
                profile,
                ConsultantSettings(
                    user_id=users[username].id,
                    store_id=store.id,
                    load_cap=profile.load_cap,
                    active=True,
                    presence=Presence.OFF_DUTY.value,
                ),
            )
            for username, profile in _PROFILES.items()
        ]
        for consultant in self.consultants:
            self.rows.add(consultant.desk)
            self.book[consultant.id] = {}
        self.rule_set: RuleSet = create_default_rules(self.session, store.id, self.manager.id)
        self.rule_set.created_at = setup
        self.kiosk = KioskDevice(
            store_id=store.id,
            name="展厅入口平板",
            token_hash=token_digest(new_token()),
            enrolled_by=self.admin.id,
            enrolled_at=setup,
            last_seen_at=self.now - timedelta(minutes=2),
        )
        self.session.add(self.kiosk)
        self.session.flush()

    # --- time helpers -----------------------------------------------------------------------

    def _at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return local_moment(day, time(hour, minute), TIMEZONE)

    def _local(self, moment: datetime) -> date:
        return local_date(moment, TIMEZONE)

    def _moment(self, day: date, start: time, end: time) -> datetime | None:
        """A random minute between two local times of ``day``, never after the demo's now."""
        first = local_moment(day, start, TIMEZONE)
        last = min(local_moment(day, end, TIMEZONE), self.now - timedelta(minutes=5))
        span = int((last - first).total_seconds() // 60)
        if span <= 0:
            return None
        return first + timedelta(minutes=self.rng.randint(0, span))

    def _works(self, staff: _Staff, day: date) -> bool:
        username = staff.user.username
        if day == self.today:
            return username in _TODAY_ON_DUTY or username == _TODAY_ON_BREAK
        assert staff.profile is not None
        return day.weekday() >= 5 or day.weekday() != staff.profile.day_off

    def _available(self, staff: _Staff, moment: datetime) -> bool:
        """On the floor and receiving customers at that moment."""
        day = self._local(moment)
        if not self._works(staff, day):
            return False
        return not (
            day == self.today
            and staff.user.username == _TODAY_ON_BREAK
            and moment >= self.break_from
        )

    def _owed_today(self, kind: CallbackKind, day: date, lead: _Lead) -> None:
        if day == self.today - timedelta(days=1) and lead.contactable:
            self.owed_today[kind] = self.owed_today.get(kind, 0) + 1

    def _short_of(self, kind: CallbackKind, day: date) -> bool:
        """Yesterday, while nothing yet owes today a callback of this kind."""
        return day == self.today - timedelta(days=1) and not self.owed_today.get(kind)

    # --- loads and owners -------------------------------------------------------------------

    def _load(self, staff: _Staff) -> int:
        return sum(1 for lead in self.book[staff.id] if lead.opp and lead.opp.grade in _LOAD_GRADES)

    def _candidate(self, staff: _Staff, skipped: str | None) -> dict[str, Any]:
        return {
            "user_id": staff.id,
            "name": staff.name,
            "load": self._load(staff),
            "cap": staff.cap,
            "skipped": skipped,
        }

    def _assign(
        self,
        lead: _Lead,
        to: _Staff | None,
        at: datetime,
        reason: AssignmentReason,
        *,
        by: _Staff | None = None,
        visit: Visit | None = None,
        run: JobRun | None = None,
        candidates: list[dict[str, Any]] | None = None,
        note: str | None = None,
    ) -> None:
        """Record a change of owner (or a returning customer going back to the same owner)."""
        opp = lead.opp
        assert opp is not None
        previous = lead.owner if opp.owner_id is not None else None
        self.rows.add(
            Assignment(
                store_id=self.store.id,
                from_owner_id=previous.id if previous else None,
                to_owner_id=to.id if to else None,
                assigned_at=at,
                assigned_by=by.id if by else None,
                reason=reason.value,
                note=note,
                to_load=self._load(to) if to else None,
                to_cap=to.cap if to else None,
                candidates=candidates,
            ),
            opportunity_id=opp,
            visit_id=visit,
            job_run_id=run,
        )
        if previous is to:
            return
        if previous is not None:
            self.book[previous.id].pop(lead, None)
        lead.owner = to
        opp.owner_id = to.id if to else None
        if to is not None:
            self.book[to.id][lead] = None
            opp.pool_since = None
            opp.pool_reason = None
            if opp.grade == Grade.C:
                opp.grade = None  # back with a consultant: to be assessed again
            if lead.invitation is not None and lead.invitation.consultant_id is None:
                lead.invitation.consultant_id = to.id

    def _to_pool(
        self, lead: _Lead, at: datetime, reason: PoolReason, declined: _Staff | None
    ) -> None:
        opp = lead.opp
        assert opp is not None and opp.owner_id is None
        opp.pool_since = at
        opp.pool_reason = reason.value
        opp.declined_owner_id = declined.id if declined else None

    # --- customers and opportunities --------------------------------------------------------

    def _new_mobile(self) -> str:
        while True:
            mobile = self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if mobile not in self.mobiles:
                self.mobiles.add(mobile)
                return mobile

    def _new_lead(self, at: datetime, source: str, agent: _Staff | None) -> _Lead:
        consents = self.rng.random() < (0.92 if source == VisitSource.KIOSK else 0.86)
        customer = self.rows.add(
            Customer(
                store_id=self.store.id,
                mobile=self._new_mobile(),
                surname=self.rng.choices(_SURNAMES, _SURNAME_WEIGHTS)[0],
                title=(CustomerTitle.MR if self.rng.random() < 0.6 else CustomerTitle.MS).value,
                created_at=at,
                consent_notice_version=NOTICE_VERSION if consents else None,
                consent_at=at if consents else None,
                do_not_contact=False,
            )
        )
        if consents:
            self.rows.add(
                ConsentRecord(
                    granted=True,
                    notice_version=NOTICE_VERSION,
                    channel=source,
                    recorded_at=at,
                    recorded_by=agent.id if agent else None,
                ),
                customer_id=customer,
            )
        car_model = self.rng.choices(self.car_models, self.car_weights)[0]
        lead = _Lead(customer=customer, car_model=car_model)
        self.leads.append(lead)
        return lead

    def _new_opportunity(self, lead: _Lead, at: datetime) -> Opportunity:
        if self.rng.random() < 0.2:  # interest moved to another model
            lead.car_model = self.rng.choices(self.car_models, self.car_weights)[0]
        opp = self.rows.add(
            Opportunity(
                store_id=self.store.id,
                owner_id=None,
                status=OpportunityStatus.OPEN.value,
                grade=None,
                car_model_id=lead.car_model.id,
                created_at=at,
                last_visit_at=at,
            ),
            customer_id=lead.customer,
        )
        lead.opp = opp
        lead.owner = None
        lead.stall_key = None
        lead.lost_on = None
        lead.defeat_by = None
        lead.dormant_on = None
        return opp

    def _close(self, lead: _Lead) -> None:
        """Bookkeeping when an opportunity closes: off the owner's book, invitation cancelled."""
        opp = lead.opp
        assert opp is not None
        if lead.owner is not None:
            self.book[lead.owner.id].pop(lead, None)
        opp.next_follow_up_due = None
        opp.cycle_deadline = None
        opp.next_callback_on = None
        opp.pool_since = None
        opp.pool_reason = None
        self._cancel_invitation(lead)

    def _win(self, lead: _Lead, by: _Staff, at: datetime) -> None:
        opp = lead.opp
        assert opp is not None
        self._close(lead)
        opp.status = OpportunityStatus.WON.value
        opp.grade = Grade.O.value
        opp.graded_at = at
        opp.graded_by = by.id
        opp.closed_at = at
        opp.order_deposit = self.rng.choice((5000, 5000, 8000, 10000, 10000, 20000))
        opp.close_note = f"签订{lead.car_model.name}订单"
        lead.delivery_on = self._local(at) + timedelta(days=self.rng.randint(6, 20))

    def _lose(
        self,
        lead: _Lead,
        by: _Staff,
        at: datetime,
        reason: str,
        *,
        brand: str | None = None,
        note: str | None = None,
        consultant_defeat: bool = True,
    ) -> None:
        opp = lead.opp
        assert opp is not None
        self._close(lead)
        opp.status = OpportunityStatus.LOST.value
        opp.grade = Grade.F.value
        opp.graded_at = at
        opp.graded_by = by.id
        opp.closed_at = at
        opp.defeat_reason = reason
        opp.competitor_brand = brand
        opp.close_note = note or _DEFEAT_NOTES[reason].format(brand=brand)
        lead.lost_on = self._local(at)
        lead.defeat_by = by if consultant_defeat else None
        if consultant_defeat:
            self._owed_today(CallbackKind.DEFEAT, lead.lost_on, lead)

    def _reopen(self, lead: _Lead, at: datetime) -> None:
        """A defeat overturned by a callback: the opportunity is open again, to be re-assessed."""
        opp = lead.opp
        assert opp is not None
        opp.status = OpportunityStatus.OPEN.value
        opp.grade = None
        opp.closed_at = None
        opp.defeat_reason = None
        opp.competitor_brand = None
        opp.close_note = None
        opp.defeat_overturned_at = at
        opp.owner_id = None
        lead.owner = None
        lead.lost_on = None
        lead.defeat_by = None

    # --- needs analysis ---------------------------------------------------------------------

    def _answers_for(self, target: str, visits: int) -> dict[str, str]:
        """Indicator answers whose score gives ``target`` under the default scoring."""
        scoring = self.rule_set.scoring
        visit_option = "1" if visits <= 1 else "2" if visits == 2 else "3+"
        lean = {Grade.H: 0.0, Grade.A: 0.35, Grade.B: 0.6, Grade.C: 0.85}[Grade(target)]
        for _ in range(300):
            answers = {"visits": visit_option}
            for indicator in scoring["indicators"]:
                if indicator["key"] == "visits":
                    continue
                options = sorted(indicator["options"], key=lambda o: -int(o["points"]))
                # Skew towards the best options for hot grades, the worst for cold ones.
                index = min(len(options) - 1, int(self.rng.random() ** 1.5 * len(options) + lean))
                index = index if self.rng.random() < 0.7 else self.rng.randrange(len(options))
                answers[indicator["key"]] = options[index]["key"]
            if score_answers(scoring, answers).grade == target:
                return answers
        return self._greedy_answers(target, visit_option)

    def _greedy_answers(self, target: str, visit_option: str) -> dict[str, str]:
        """Deterministic fallback: raise answers one by one while staying under the next grade."""
        scoring = self.rule_set.scoring
        thresholds = scoring["thresholds"]
        ceiling = {"H": 10_000, "A": thresholds["H"], "B": thresholds["A"], "C": thresholds["B"]}
        answers = {
            i["key"]: min(i["options"], key=lambda o: int(o["points"]))["key"]
            for i in scoring["indicators"]
        }
        answers["visits"] = visit_option
        for indicator in scoring["indicators"]:
            if indicator["key"] == "visits":
                continue
            for option in sorted(indicator["options"], key=lambda o: -int(o["points"])):
                trial = {**answers, indicator["key"]: option["key"]}
                if score_answers(scoring, trial).score < ceiling[target]:
                    answers = trial
                    break
        return answers

    def _first_grade(self, staff: _Staff, lead: _Lead, day: date) -> str:
        if self._short_of(CallbackKind.DORMANT, day) and lead.contactable:
            return Grade.C.value
        bias = staff.profile.dormant_bias if staff.profile else 0.0
        weights = (0.12, 0.25, 0.33, 0.30 + bias)
        return self.rng.choices(("H", "A", "B", "C"), weights)[0]

    def _shifted_grade(self, grade: str | None, up: float, down: float) -> str:
        if grade not in ("H", "A", "B", "C"):
            return self.rng.choices(("H", "A", "B", "C"), (0.15, 0.3, 0.35, 0.2))[0]
        index = _GRADE_LADDER.index(Grade(grade))
        r = self.rng.random()
        if r < up:
            index = min(index + 1, 3)
        elif r < up + down:
            index = max(index - 1, 0)
        return _GRADE_LADDER[index].value

    def _assess(self, lead: _Lead, by: _Staff, at: datetime, target: str) -> None:
        """A needs analysis giving ``target`` (now and then an override with a reason)."""
        opp = lead.opp
        assert opp is not None
        override_reason = None
        computed = target
        if self.rng.random() < 0.06:
            index = _GRADE_LADDER.index(Grade(target))
            if index > 0 and self.rng.random() < 0.5:
                computed = _GRADE_LADDER[index - 1].value  # scored lower, graded up
                override_reason = self.rng.choice(_OVERRIDE_UP)
            elif index < 3:
                computed = _GRADE_LADDER[index + 1].value  # scored higher, graded down
                override_reason = self.rng.choice(_OVERRIDE_DOWN)
        answers = self._answers_for(computed, lead.visits)
        result = score_answers(self.rule_set.scoring, answers)
        self.rows.add(
            NeedsAssessment(
                rule_set_id=self.rule_set.id,
                assessed_by=by.id,
                assessed_at=at,
                score=result.score,
                computed_grade=result.grade,
                grade=target,
                override_reason=override_reason,
                answers=[
                    AssessmentAnswer(indicator=a.indicator, option=a.option, points=a.points)
                    for a in result.breakdown
                ],
            ),
            opportunity_id=opp,
        )
        if lead.opp.first_assessed_at is None:
            lead.opp.first_assessed_at = at
            lead.opp.first_assessed_by = by.id
        self._apply_grade(lead, target, by, at)

    def _apply_grade(self, lead: _Lead, grade: str, by: _Staff, at: datetime) -> None:
        opp = lead.opp
        assert opp is not None
        day = self._local(at)
        opp.grade = grade
        opp.graded_at = at
        opp.graded_by = by.id
        if grade == Grade.C:
            opp.dormant_by = by.id
            opp.next_follow_up_due = None
            opp.cycle_deadline = None
            lead.dormant_by = by
            lead.dormant_on = day
            self._owed_today(CallbackKind.DORMANT, day, lead)
            if lead.owner is not None:
                self._assign(lead, None, at, AssignmentReason.TO_SERVICE, by=by)
            return
        follow_up_days, cycle_days = DEFAULT_CYCLES[grade]
        last_visit = self._local(opp.last_visit_at) if opp.last_visit_at else day
        opp.next_follow_up_due = day + timedelta(days=follow_up_days)
        opp.cycle_deadline = max(day, last_visit) + timedelta(days=cycle_days)

    # --- one day ----------------------------------------------------------------------------

    def _simulate_day(self, day: date) -> None:
        self._nightly(day)
        self._manager_actions(day)
        for arrival in self._arrivals(day):
            self._arrive(arrival)
        self._close_invitations(day)
        self._work_callbacks(day)
        self._follow_ups(day)

    def _arrivals(self, day: date) -> list[_Arrival]:
        latest = _LAST_ARRIVAL
        share = 1.0
        if day == self.today:  # finished receptions only; the live ones come later
            cutoff = self.now.astimezone(_ZONE) - timedelta(hours=3, minutes=30)
            if cutoff.date() != day or cutoff.time() <= _OPEN:
                return []
            latest = min(cutoff.time(), _LAST_ARRIVAL)
            share = (latest.hour - 9 + latest.minute / 60) / 8.75
        weekend = day.weekday() >= 5
        new_count = self.rng.randint(9, 13) if weekend else self.rng.randint(4, 8)
        arrivals = [
            _Arrival(t, None, self._purpose(first=True))
            for t in self._arrival_times(day, round(new_count * share), latest)
        ]
        arrivals += self._invited_arrivals(day, latest)
        arrivals += self._spontaneous_arrivals(day, latest)
        arrivals.sort(key=lambda a: a.at)
        return arrivals

    def _arrival_times(self, day: date, count: int, latest: time) -> list[datetime]:
        """Arrivals peak mid-morning and mid-afternoon; Saturdays bring a rush at the 14:00
        group-buying event (团购会)."""
        hours = [h for h in range(9, 18) if time(h, 0) < latest]
        weights = [4, 8, 9, 6, 5, 7, 8, 7, 4][: len(hours)]
        rush = day.weekday() == 5 and time(14, 30) < latest
        times = []
        for _ in range(count):
            if rush and self.rng.random() < 0.45:
                moment = self._at(day, 13, 50) + timedelta(minutes=self.rng.randint(0, 35))
            else:
                hour = self.rng.choices(hours, weights)[0]
                moment = self._at(day, hour, self.rng.randint(0, 59))
            times.append(min(moment, local_moment(day, latest, TIMEZONE)))
        return sorted(times)

    def _purpose(self, *, first: bool) -> str:
        weights = (0.62, 0.28, 0.1) if first else (0.35, 0.55, 0.1)
        purposes = (VisitPurpose.LOOK, VisitPurpose.TEST_DRIVE, VisitPurpose.OTHER)
        return self.rng.choices(purposes, weights)[0].value

    def _invited_arrivals(self, day: date, latest: time | None) -> list[_Arrival]:
        arrivals = []
        for lead, invitation in self.invitations_on.get(day, []):
            if lead.invitation is not invitation or lead.open_opp is None:
                continue
            arrive_at = invitation.scheduled_at + timedelta(minutes=self.rng.randint(-15, 20))
            if latest is None or arrive_at > local_moment(day, latest, TIMEZONE):
                continue  # later today: still scheduled
            if self.rng.random() < 0.68:
                arrivals.append(_Arrival(arrive_at, lead, self._purpose(first=False), invitation))
        return arrivals

    def _spontaneous_arrivals(self, day: date, latest: time) -> list[_Arrival]:
        arrivals = []
        for lead in self.leads:
            if lead.delivery_on == day and lead.opp and lead.opp.status == OpportunityStatus.WON:
                when = self._arrival_times(day, 1, latest)
                if when:
                    arrivals.append(
                        _Arrival(when[0], lead, VisitPurpose.DELIVERY.value, None, True)
                    )
                continue
            opp = lead.opp
            if opp is None or lead.invitation is not None:
                continue
            if opp.status == OpportunityStatus.OPEN:
                chance = 0.012 if lead.owner and self._works(lead.owner, day) else 0.004
            elif opp.status == OpportunityStatus.LOST and lead.lost_on:
                chance = 0.004 if (day - lead.lost_on).days >= 10 else 0.0
            else:
                chance = 0.0
            if chance and self.rng.random() < chance:
                when = self._arrival_times(day, 1, latest)
                if when:
                    arrivals.append(_Arrival(when[0], lead, self._purpose(first=False)))
        return arrivals

    # --- walk-ins ---------------------------------------------------------------------------

    def _new_visit(self, lead: _Lead, at: datetime, purpose: str, source: str) -> Visit:
        agent = self.rng.choice(self.agents) if source == VisitSource.RECEPTION else None
        return self.rows.add(
            Visit(
                store_id=self.store.id,
                kiosk_device_id=self.kiosk.id if source == VisitSource.KIOSK else None,
                recorded_by=agent.id if agent else None,
                source=source,
                purpose=purpose,
                car_model_id=lead.car_model.id,
                party_size=self.rng.choices((1, 2, 3, 4), (35, 40, 17, 8))[0],
                status=VisitStatus.WAITING.value,
                is_first_visit=lead.visits == 0,
                checked_in_at=at,
            ),
            customer_id=lead.customer,
        )

    def _source(self) -> str:
        return (VisitSource.KIOSK if self.rng.random() < 0.7 else VisitSource.RECEPTION).value

    def _arrive(self, arrival: _Arrival) -> None:
        source = self._source()
        lead = arrival.lead
        if lead is None:
            agent = self.rng.choice(self.agents) if source == VisitSource.RECEPTION else None
            lead = self._new_lead(arrival.at, source, agent)
        visit = self._new_visit(lead, arrival.at, arrival.purpose, source)
        lead.visits += 1
        lead.visited_on = self._local(arrival.at)
        if arrival.delivery:
            self._delivery(lead, visit, arrival.at)
            return
        first = lead.visits == 1
        opp = lead.open_opp or self._new_opportunity(lead, arrival.at)
        opp.last_visit_at = arrival.at
        self.rows.link(visit, "opportunity_id", opp)
        if arrival.invitation is not None:
            arrival.invitation.status = InvitationStatus.HONOURED.value
            self.rows.link(arrival.invitation, "visit_id", visit)
            self.rows.link(visit, "invitation_id", arrival.invitation)
            lead.invitation = None
        dispatched = (
            None if first and self.rng.random() < 0.04 else self._dispatch(lead, arrival.at)
        )
        if dispatched is None:
            self._left(lead, visit, arrival.at)
            return
        staff, reason, candidates, assigned_at = dispatched
        self._assign(lead, staff, assigned_at, reason, visit=visit, candidates=candidates)
        ended = self._receive(staff, visit, assigned_at)
        self._reception_outcome(lead, staff, visit, first, ended)

    def _dispatch(
        self, lead: _Lead, at: datetime
    ) -> tuple[_Staff, AssignmentReason, list[dict[str, Any]] | None, datetime] | None:
        """Returning owner, else the rotation under the cap, else the queue; None: nobody."""
        small = timedelta(minutes=self.rng.randint(0, 2))
        owner = lead.owner
        # A returning customer waits for their own consultant unless that would take too long.
        if (
            owner is not None
            and lead.open_opp
            and self._available(owner, at)
            and owner.busy_until <= at + timedelta(minutes=10)
        ):
            return owner, AssignmentReason.RETURNING_OWNER, None, max(at, owner.busy_until)
        order = sorted(
            self.consultants,
            key=lambda s: (s.desk.last_walk_in_at or _EPOCH, s.id),
        )
        candidates: list[dict[str, Any]] = []
        chosen: _Staff | None = None
        queue: list[_Staff] = []
        for staff in order:
            skipped: str | None = None
            if not self._available(staff, at):
                skipped = "off_duty"
            elif self._load(staff) >= staff.cap:
                skipped = "at_cap"
            elif staff.busy_until > at:
                skipped = "in_reception"
                queue.append(staff)
            candidates.append(self._candidate(staff, skipped))
            if skipped is None and chosen is None:
                chosen = staff
        if chosen is not None:
            return chosen, AssignmentReason.ROTATION, candidates, at + small
        if queue:
            first_free = min(queue, key=lambda s: s.busy_until)
            if first_free.busy_until - at <= timedelta(minutes=20):
                free_at = first_free.busy_until + timedelta(minutes=1)
                return first_free, AssignmentReason.QUEUE, candidates, free_at
        return None

    def _receive(self, staff: _Staff, visit: Visit, assigned_at: datetime) -> datetime:
        start = max(assigned_at, staff.busy_until) + timedelta(minutes=self.rng.randint(1, 5))
        minutes = {
            VisitPurpose.TEST_DRIVE: (45, 90),
            VisitPurpose.DELIVERY: (40, 80),
            VisitPurpose.OTHER: (15, 40),
        }.get(VisitPurpose(visit.purpose), (20, 60))
        ended = start + timedelta(minutes=self.rng.randint(*minutes))
        visit.consultant_id = staff.id
        visit.assigned_at = assigned_at
        visit.reception_started_at = start
        visit.reception_ended_at = ended
        visit.status = VisitStatus.FINISHED.value
        staff.busy_until = ended
        staff.desk.last_walk_in_at = assigned_at
        return ended

    def _left(self, lead: _Lead, visit: Visit, at: datetime) -> None:
        visit.status = VisitStatus.LEFT.value
        visit.left_at = at + timedelta(minutes=self.rng.randint(8, 30))
        opp = lead.opp
        if opp is not None and opp.owner_id is None and opp.grade is None:
            self._to_pool(lead, visit.left_at, PoolReason.WAITING, None)

    def _delivery(self, lead: _Lead, visit: Visit, at: datetime) -> None:
        opp = lead.opp
        assert opp is not None
        self.rows.link(visit, "opportunity_id", opp)
        lead.delivery_on = None
        # The consultant who sold the car hands it over, or whoever is free soonest.
        on_floor = [s for s in self.consultants if self._available(s, at)]
        owner = lead.owner
        if (
            owner is not None
            and owner in on_floor
            and owner.busy_until <= at + timedelta(minutes=10)
        ):
            staff = owner
        elif on_floor:
            staff = min(on_floor, key=lambda s: (max(s.busy_until, at), s.id))
        else:
            self._left(lead, visit, at)
            return
        self._receive(staff, visit, max(at, staff.busy_until) + timedelta(minutes=1))

    def _reception_outcome(
        self, lead: _Lead, staff: _Staff, visit: Visit, first: bool, ended: datetime
    ) -> None:
        opp = lead.opp
        assert opp is not None and visit.reception_started_at is not None
        opp.last_follow_up_at = ended
        if not first:
            self._follow_up_row(lead, staff, ActivityKind.REVISIT, visit.reception_started_at)
            if visit.purpose == VisitPurpose.TEST_DRIVE:
                started = visit.reception_started_at + timedelta(minutes=10)
                self._follow_up_row(lead, staff, ActivityKind.TEST_DRIVE, started)
        order_chance = 0.05 if first else _ORDER_AT_REVISIT.get(opp.grade, 0.08)
        if self.rng.random() < order_chance:
            self._win(lead, staff, ended)
            return
        if first:
            if self.rng.random() < 0.85:
                self._assess(lead, staff, ended, self._first_grade(staff, lead, self._local(ended)))
            else:
                opp.next_follow_up_due = self._local(ended) + timedelta(days=1)
        elif opp.grade is None or self.rng.random() < 0.6:
            self._assess(lead, staff, ended, self._shifted_grade(opp.grade, 0.45, 0.2))
        else:
            self._apply_grade(lead, opp.grade, staff, ended)

    # --- invitations ------------------------------------------------------------------------

    def _invite(
        self, lead: _Lead, at: datetime, consultant: _Staff | None, by: _Staff, source: str
    ) -> Invitation:
        self._cancel_invitation(lead)
        day = self._local(at)
        offsets = list(range(1, 6))
        self.rng.shuffle(offsets)
        chosen = next(
            (
                day + timedelta(days=o)
                for o in sorted(offsets[:3])
                if consultant is None or self._works_later(consultant, day + timedelta(days=o))
            ),
            day + timedelta(days=offsets[0]),
        )
        scheduled = self._at(chosen, self.rng.randint(10, 16), self.rng.choice((0, 30)))
        opp = lead.opp
        assert opp is not None
        invitation = self.rows.add(
            Invitation(
                store_id=self.store.id,
                consultant_id=consultant.id if consultant else None,
                created_by=by.id,
                created_at=at,
                scheduled_at=scheduled,
                status=InvitationStatus.SCHEDULED.value,
                source=source,
            ),
            opportunity_id=opp,
            customer_id=lead.customer,
        )
        lead.invitation = invitation
        self.invitations_on.setdefault(chosen, []).append((lead, invitation))
        return invitation

    def _works_later(self, staff: _Staff, day: date) -> bool:
        """Whether a consultant is scheduled to work on a future day (by their usual rota)."""
        assert staff.profile is not None
        return day.weekday() >= 5 or day.weekday() != staff.profile.day_off

    def _cancel_invitation(self, lead: _Lead) -> None:
        if lead.invitation is not None:
            lead.invitation.status = InvitationStatus.CANCELLED.value
            lead.invitation = None

    def _close_invitations(self, day: date) -> None:
        """Invitations of the day that were not honoured: missed, a few cancelled beforehand."""
        if day == self.today:
            return  # today's may still be honoured
        for lead, invitation in self.invitations_on.get(day, []):
            if lead.invitation is not invitation:
                continue
            missed = self.rng.random() < 0.75
            invitation.status = (
                InvitationStatus.MISSED if missed else InvitationStatus.CANCELLED
            ).value
            lead.invitation = None
            opp = lead.open_opp
            if opp is not None and opp.grade in ("H", "A", "B"):
                opp.next_follow_up_due = day  # call the customer who did not come

    # --- consultants' follow-ups ------------------------------------------------------------

    def _follow_up_row(
        self,
        lead: _Lead,
        staff: _Staff,
        kind: ActivityKind,
        at: datetime,
        *,
        invitation: Invitation | None = None,
        note: str | None = None,
    ) -> FollowUp:
        opp = lead.opp
        assert opp is not None
        text = note or self.rng.choice(_FOLLOW_UP_NOTES[kind])
        day_label = ""
        if invitation is not None:
            day_label = f"{invitation.scheduled_at.astimezone(_ZONE):%m月%d日}"
        row = self.rows.add(
            FollowUp(
                consultant_id=staff.id,
                kind=kind.value,
                occurred_at=at,
                outcome=text.format(model=lead.car_model.name, day=day_label),
            ),
            opportunity_id=opp,
            invitation_id=invitation,
        )
        opp.last_follow_up_at = max(opp.last_follow_up_at or at, at)
        return row

    def _follow_ups(self, day: date) -> None:
        for staff in self.consultants:
            if not self._works(staff, day):
                continue
            assert staff.profile is not None
            tomorrow_off = not self._works_later(staff, day + timedelta(days=1))
            for lead in list(self.book[staff.id]):
                opp = lead.opp
                if opp is None or lead.visited_on == day or self._local(opp.created_at) == day:
                    continue
                if opp.grade is None:
                    if lead.invitation is None and self.rng.random() < 0.85:
                        at = self._moment(day, time(10, 0), time(18, 0))
                        if at is not None:
                            self._follow_up_row(
                                lead, staff, ActivityKind.CALL, at, note="电话沟通，完成需求分析"
                            )
                            grade = self._first_grade(staff, lead, day)
                            self._assess(lead, staff, at, grade)
                    continue
                due = opp.next_follow_up_due
                due_now = due is not None and (
                    due <= day or (tomorrow_off and due == day + timedelta(days=1))
                )
                chance = staff.profile.diligence if due_now else 0.03
                if day == self.today:
                    chance *= 0.5  # the afternoon's calls are still to be made
                elif staff.user.username == _SLOPPY and (self.today - day).days <= 10:
                    chance *= 0.6  # lately he lets follow-ups slip
                if self.rng.random() < chance:
                    self._follow_up(lead, staff, day)

    def _follow_up(self, lead: _Lead, staff: _Staff, day: date) -> None:
        at = self._moment(day, time(10, 0), time(18, 0))
        opp = lead.opp
        if at is None or opp is None or opp.grade not in _FOLLOW_UP_ODDS:
            return
        defeat, invite, regrade = _FOLLOW_UP_ODDS[opp.grade]
        r = self.rng.random()
        if self._short_of(CallbackKind.DEFEAT, day) and lead.contactable:
            r = 0.0
        if r < defeat:
            reason = self.rng.choices(list(_DEFEAT_WEIGHTS), list(_DEFEAT_WEIGHTS.values()))[0]
            brand = self._brand() if reason == DefeatReason.OTHER_BRAND else None
            self._follow_up_row(
                lead, staff, ActivityKind.CALL, at, note="电话沟通，客户表示不再考虑"
            )
            self._lose(lead, staff, at, reason, brand=brand)
            return
        if r < defeat + invite and lead.invitation is None:
            invitation = self._invite(lead, at, staff, staff, InvitationSource.CONSULTANT.value)
            row = self._follow_up_row(
                lead, staff, ActivityKind.INVITATION, at, invitation=invitation
            )
            opp.next_follow_up_due = row.next_follow_up_on = self._local(invitation.scheduled_at)
            return
        kind = self.rng.choices(
            (ActivityKind.CALL, ActivityKind.MESSAGE, ActivityKind.QUOTE), (55, 30, 15)
        )[0]
        row = self._follow_up_row(lead, staff, kind, at)
        if r < defeat + invite + regrade:
            self._assess(lead, staff, at, self._shifted_grade(opp.grade, 0.3, 0.35))
        else:
            follow_up_days = DEFAULT_CYCLES[opp.grade][0]
            opp.next_follow_up_due = day + timedelta(days=follow_up_days)
        row.next_follow_up_on = opp.next_follow_up_due

    def _brand(self) -> str:
        return self.rng.choices(_COMPETITORS, _COMPETITOR_WEIGHTS)[0]

    # --- the manager ------------------------------------------------------------------------

    def _manager_actions(self, day: date) -> None:
        index = (day - self.first_day).days
        if index in (14, 29, 44):
            self._rebalance(day)
        if index in (37, HISTORY_DAYS - 1):
            self._return_to_pool(day)

    def _rebalance(self, day: date) -> None:
        at = self._moment(day, time(17, 30), time(17, 40))
        if at is None:
            return
        by_load = sorted(self.consultants, key=lambda s: (self._load(s), s.id))
        low, high = by_load[0], by_load[-1]
        if self._load(low) >= low.cap or self._load(high) <= self._load(low) + 1:
            return
        movable = [lead for lead in self.book[high.id] if lead.opp and lead.opp.grade in ("A", "B")]
        if movable:
            lead = min(movable, key=lambda item: _opp(item).last_follow_up_at or _EPOCH)
            note = f"经理调整：{high.name}负荷偏高，转给{low.name}"
            self._assign(lead, low, at, AssignmentReason.MANUAL, by=self.manager, note=note)

    def _return_to_pool(self, day: date) -> None:
        at = self._moment(day, time(11, 0), time(11, 10))
        sloppy = next(s for s in self.consultants if s.user.username == _SLOPPY)
        stale = [
            lead
            for lead in self.book[sloppy.id]
            if lead.opp and lead.opp.grade in ("H", "A", "B") and not lead.has_open_task
        ]
        if at is None or not stale:
            return
        lead = min(stale, key=lambda item: _opp(item).next_follow_up_due or day)
        note = "经理收回长期未跟进的客户，重新分配"
        self._assign(lead, None, at, AssignmentReason.RELEASED, by=self.manager, note=note)
        self._to_pool(lead, at, PoolReason.RETURNED, sloppy)

    # --- the nightly job --------------------------------------------------------------------

    def _nightly(self, day: date) -> None:
        started = self._at(day, 1, 0)
        if started >= self.now:
            return
        requested_by = None
        if (day - self.first_day).days == HISTORY_DAYS - 19:  # the database was unreachable
            self.rows.add(
                JobRun(
                    store_id=self.store.id,
                    kind=JobKind.NIGHTLY.value,
                    run_on=day,
                    status=JobStatus.FAILED.value,
                    created_at=started,
                    started_at=started,
                    finished_at=started + timedelta(seconds=31),
                    error="OperationalError: could not connect to server: Connection timed out",
                )
            )
            started = self._at(day, 8, 40)  # re-run by hand in the morning
            requested_by = self.admin.id
        run = self.rows.add(
            JobRun(
                store_id=self.store.id,
                kind=JobKind.NIGHTLY.value,
                run_on=day,
                status=JobStatus.SUCCEEDED.value,
                requested_by=requested_by,
                created_at=started,
                started_at=started,
                finished_at=started + timedelta(seconds=self.rng.randint(2, 9)),
            )
        )
        counts = dict.fromkeys(
            ("dormant", "stalled", "defeat", "scheduled", "retry", "refilled", "unplaced"), 0
        )
        for previous in self.retries.pop(day, []):
            lead = previous.lead
            if lead.has_open_task or not lead.contactable:
                continue
            if previous.origin != CallbackKind.DEFEAT and lead.open_opp is None:
                continue
            self._new_task(
                lead,
                CallbackKind.RETRY,
                day,
                run,
                origin=previous.origin,
                consultant=previous.consultant,
                attempt=previous.row.attempt + 1,
            )
            counts["retry"] += 1
        for lead in self.leads:
            kind = self._callback_due(lead, day, run)
            if kind is not None:
                counts[kind] += 1
        refilled, unplaced = self._refill(day, run)
        counts["refilled"], counts["unplaced"] = refilled, unplaced
        run.counts = counts

    def _callback_due(self, lead: _Lead, day: date, run: JobRun) -> str | None:
        """Create the callback the night owes this customer, if any; return its kind."""
        opp = lead.opp
        if opp is None or lead.has_open_task or not lead.contactable:
            return None
        yesterday = day - timedelta(days=1)
        if opp.status == OpportunityStatus.LOST:
            if lead.lost_on == yesterday and lead.defeat_by is not None:
                self._new_task(lead, CallbackKind.DEFEAT, day, run, consultant=lead.defeat_by)
                return CallbackKind.DEFEAT.value
            return None
        if opp.status != OpportunityStatus.OPEN:
            return None
        if opp.grade == Grade.C and opp.owner_id is None:
            if lead.dormant_on == yesterday:
                self._new_task(lead, CallbackKind.DORMANT, day, run, consultant=lead.dormant_by)
                return CallbackKind.DORMANT.value
            if opp.next_callback_on == day:
                self._new_task(lead, CallbackKind.SCHEDULED, day, run, consultant=lead.dormant_by)
                return CallbackKind.SCHEDULED.value
            return None
        if lead.owner is None or opp.grade not in ("H", "A", "B"):
            return None
        if opp.next_follow_up_due is not None and opp.next_follow_up_due < day:
            rule, missed = StallRule.FOLLOW_UP, opp.next_follow_up_due
        elif opp.cycle_deadline is not None and opp.cycle_deadline < day:
            rule, missed = StallRule.CYCLE, opp.cycle_deadline
        else:
            return None
        if lead.stall_key == (rule.value, missed):
            return None
        lead.stall_key = (rule.value, missed)
        task = self._new_task(lead, CallbackKind.STALLED, day, run, consultant=lead.owner)
        task.row.stall_rule = rule.value
        task.row.overdue_days = (day - missed).days
        return CallbackKind.STALLED.value

    def _new_task(
        self,
        lead: _Lead,
        kind: CallbackKind,
        day: date,
        run: JobRun,
        *,
        consultant: _Staff | None,
        origin: str | None = None,
        attempt: int = 1,
    ) -> _Task:
        assert run.started_at is not None
        row = self.rows.add(
            CallbackTask(
                store_id=self.store.id,
                kind=kind.value,
                due_on=day,
                consultant_id=consultant.id if consultant else None,
                attempt=attempt,
                status=CallbackStatus.OPEN.value,
                created_at=run.started_at + timedelta(seconds=1),
            ),
            customer_id=lead.customer,
            opportunity_id=lead.opp,
            job_run_id=run,
        )
        task = _Task(lead, row, origin or kind.value, consultant)
        lead.has_open_task = True
        self.tasks.append(task)
        return task

    def _refill(self, day: date, run: JobRun) -> tuple[int, int]:
        """Hand pool customers, oldest first, to consultants under the cap, fairly."""
        assert run.started_at is not None
        pool = [
            lead
            for lead in self.leads
            if lead.open_opp is not None
            and lead.open_opp.owner_id is None
            and lead.open_opp.pool_since is not None
        ]
        pool.sort(key=lambda lead: _opp(lead).pool_since or _EPOCH)
        refilled = unplaced = 0
        for lead in pool:
            opp = lead.opp
            assert opp is not None
            order = sorted(
                (s for s in self.consultants if s.id != opp.declined_owner_id),
                key=lambda s: (s.desk.last_refill_at or _EPOCH, self._load(s), s.id),
            )
            candidates = [
                self._candidate(s, "at_cap" if self._load(s) >= s.cap else None) for s in order
            ]
            chosen = next((s for s in order if self._load(s) < s.cap), None)
            if chosen is None:
                unplaced += 1
                continue
            at = run.started_at + timedelta(seconds=2)
            self._assign(lead, chosen, at, AssignmentReason.REFILL, run=run, candidates=candidates)
            chosen.desk.last_refill_at = at
            if opp.grade is None:
                opp.next_follow_up_due = day
            refilled += 1
        return refilled, unplaced

    # --- customer service -------------------------------------------------------------------

    def _work_callbacks(self, day: date) -> None:
        due = [task for task in self.tasks if task.row.due_on <= day]
        due.sort(key=lambda t: (CALLBACK_KIND_PRIORITY[CallbackKind(t.row.kind)], t.row.due_on))
        kept_open: dict[str, int] = {}
        for task in due:
            lead = task.lead
            if lead.visited_on == day or (
                task.origin != CallbackKind.DEFEAT and lead.open_opp is None
            ):
                self._cancel_task(task, day)
                continue
            if day == self.today:
                if kept_open.get(task.row.kind, 0) < 2 or self.rng.random() < 0.8:
                    kept_open[task.row.kind] = kept_open.get(task.row.kind, 0) + 1
                    continue
            elif self.rng.random() < (0.25 if day == self.today - timedelta(days=1) else 0.05):
                continue  # not reached today: stays on the worklist
            at = self._moment(day, time(9, 30), time(17, 45))
            if at is not None:
                self._call(task, self.rng.choice(self.agents), at)
        if day == self.today:
            self._claim_some()

    def _claim_some(self) -> None:
        claimed_at = self.now - timedelta(minutes=18)
        if claimed_at.astimezone(_ZONE).time() < time(9, 30):
            return
        cs1 = self.agents[0]
        for task in [t for t in self.tasks if t.row.kind != CallbackKind.RETRY][:2]:
            task.row.claimed_by = cs1.id
            task.row.claimed_at = claimed_at
            claimed_at += timedelta(minutes=6)

    def _finish_task(self, task: _Task) -> None:
        self.tasks.remove(task)
        task.lead.has_open_task = False

    def _cancel_task(self, task: _Task, day: date) -> None:
        self._finish_task(task)
        task.row.status = CallbackStatus.CANCELLED.value
        task.row.note = "客户当天已到店，回访取消" if task.lead.visited_on == day else "商机已关闭"
        task.row.completed_at = self._at(day, 18, 0) if day != self.today else self.now

    def _call(self, task: _Task, agent: _Staff, at: datetime) -> None:
        row = task.row
        self._finish_task(task)
        row.status = CallbackStatus.DONE.value
        row.claimed_by = agent.id
        row.claimed_at = at - timedelta(minutes=self.rng.randint(2, 12))
        row.completed_by = agent.id
        row.completed_at = at
        unanswered = self.rng.random() > 0.72
        if (
            self._short_of(CallbackKind.RETRY, self._local(at))
            and row.attempt < DEFAULT_RETRY_LIMIT
        ):
            unanswered = True
        if unanswered:
            row.call_result = self.rng.choices(
                (
                    CallResult.NO_ANSWER,
                    CallResult.BUSY,
                    CallResult.REFUSED,
                    CallResult.WRONG_NUMBER,
                ),
                (60, 24, 12, 4),
            )[0].value
            if row.attempt < DEFAULT_RETRY_LIMIT and row.call_result != CallResult.WRONG_NUMBER:
                row.outcome = CallbackOutcome.UNREACHABLE.value
                row.note = "未接通，明天再拨"
                self._owed_today(CallbackKind.RETRY, self._local(at), task.lead)
                retry_day = self._local(at) + timedelta(days=1)
                self.retries.setdefault(retry_day, []).append(task)
            else:
                row.outcome = CallbackOutcome.GAVE_UP.value
                row.note = "多次未接通，停止回访"
            return
        row.call_result = CallResult.REACHED.value
        self.done_tasks.append(task)
        origin = CallbackKind.DORMANT if task.origin == CallbackKind.SCHEDULED else task.origin
        outcomes = _OUTCOME_ODDS[CallbackKind(origin)]
        outcome = self.rng.choices([o for o, _ in outcomes], [w for _, w in outcomes])[0]
        row.outcome = outcome.value
        if outcome == CallbackOutcome.BOUGHT_ELSEWHERE:
            self._bought_elsewhere(task, agent, at)
        elif outcome == CallbackOutcome.INVITE_BACK:
            self._invite_back(task, agent, at)
        elif outcome == CallbackOutcome.CALL_AGAIN:
            self._call_again(task, at)
        else:
            self._do_not_contact(task, agent, at)

    def _base_answers(self, task: _Task) -> CallbackAnswers:
        remembers = self.rng.random() < 0.8
        # Dormant and stalled customers mostly say nobody called them.
        followed = {"dormant": 0.3, "scheduled": 0.3, "stalled": 0.35}.get(task.origin, 0.75)
        return CallbackAnswers(
            remembers_consultant=remembers,
            satisfaction=self.rng.choices((2, 3, 4, 5), (8, 25, 42, 25))[0] if remembers else None,
            received_follow_up=self.rng.random() < followed,
        )

    def _bought_elsewhere(self, task: _Task, agent: _Staff, at: datetime) -> None:
        lead, row = task.lead, task.row
        opp = lead.opp
        assert opp is not None
        reason = self.rng.choice(_BOUGHT_REASONS)
        brand = opp.competitor_brand or self._brand()
        answers = self._base_answers(task)
        answers.has_bought = True
        answers.bought_reason = reason
        answers.bought_brand = brand
        row.answers = answers
        row.note = f"客户表示已购买{brand}：{reason}"
        if opp.status == OpportunityStatus.OPEN:
            note = f"回访得知客户已购买{brand}（{reason}）"
            self._lose(
                lead,
                agent,
                at,
                DefeatReason.OTHER_BRAND.value,
                brand=brand,
                note=note,
                consultant_defeat=False,
            )
        else:
            opp.competitor_brand = brand
            opp.close_note = f"{opp.close_note}；回访确认已购买{brand}"

    def _invite_back(self, task: _Task, agent: _Staff, at: datetime) -> None:
        lead, row = task.lead, task.row
        same_ok = self.rng.random() < 0.7
        previous = task.consultant or lead.owner
        answers = self._base_answers(task)
        answers.has_bought = False
        answers.would_revisit = True
        answers.same_consultant_ok = same_ok
        answers.concerns = self.rng.choice(_CONCERNS)
        answers.other_brands = (
            "、".join(self.rng.sample(_COMPETITORS, self.rng.randint(0, 2))) or None
        )
        row.answers = answers
        opp = lead.opp
        assert opp is not None
        if opp.status == OpportunityStatus.LOST:
            self._reopen(lead, at)
        target = previous if same_ok else None
        if target is not None and (lead.owner is target or self._load(target) < target.cap):
            if lead.owner is not target:
                self._assign(lead, target, at, AssignmentReason.REINVITE, by=agent)
            invitation = self._invite(lead, at, target, agent, InvitationSource.CALLBACK.value)
            opp.next_follow_up_due = self._local(invitation.scheduled_at)
            row.note = f"客户同意再来店看车，由{target.name}继续接待"
            return
        if lead.owner is not None:
            self._assign(
                lead, None, at, AssignmentReason.RELEASED, by=agent, note="客户希望更换顾问"
            )
        self._to_pool(lead, at, PoolReason.REINVITED, None if same_ok else previous)
        self._invite(lead, at, None, agent, InvitationSource.CALLBACK.value)
        row.note = (
            "客户同意再来店，希望换一位顾问接待" if not same_ok else "客户同意再来店，待分配顾问"
        )

    def _call_again(self, task: _Task, at: datetime) -> None:
        lead, row = task.lead, task.row
        opp = lead.opp
        assert opp is not None
        answers = self._base_answers(task)
        answers.has_bought = False
        answers.would_revisit = self.rng.random() < 0.45
        answers.same_consultant_ok = self.rng.random() < 0.75
        answers.concerns = self.rng.choice(_CONCERNS)
        row.answers = answers
        day = self._local(at)
        gap = (self.today - day).days
        owed = self.owed_today.get(CallbackKind.SCHEDULED, 0)
        if 3 <= gap <= 21 and (owed < 2 or self.rng.random() < 0.03):
            next_on = self.today  # keeps today's worklist interesting
            self.owed_today[CallbackKind.SCHEDULED] = owed + 1
        else:
            next_on = day + timedelta(days=self.rng.randint(5, 21))
        row.next_callback_on = next_on
        opp.next_callback_on = next_on
        row.note = f"客户近期暂不考虑，约{next_on:%m月%d日}再回访"

    def _do_not_contact(self, task: _Task, agent: _Staff, at: datetime) -> None:
        lead, row = task.lead, task.row
        customer = lead.customer
        customer.do_not_contact = True
        customer.do_not_contact_at = at
        self.rows.add(
            ConsentRecord(
                granted=False,
                notice_version=NOTICE_VERSION,
                channel=ConsentChannel.CALLBACK.value,
                recorded_at=at,
                recorded_by=agent.id,
            ),
            customer_id=customer,
        )
        row.note = "客户要求不再联系"
        if lead.open_opp is not None:
            self._lose(
                lead,
                agent,
                at,
                DefeatReason.OTHER.value,
                note="回访时客户要求不再联系",
                consultant_defeat=False,
            )

    # --- today, live ------------------------------------------------------------------------

    def _live_visits(self) -> None:
        """The showroom right now: three in reception, one consultant on the way, two waiting."""
        if self.now.astimezone(_ZONE).time() < time(10, 30):
            return
        receiving, on_the_way, waiting = (
            VisitStatus.IN_RECEPTION,
            VisitStatus.ASSIGNED,
            VisitStatus.WAITING,
        )
        plan = ((48, receiving), (34, receiving), (21, receiving), (6, on_the_way))
        plan += ((5, waiting), (2, waiting))
        for minutes_ago, status in plan:
            at = self.now - timedelta(minutes=minutes_ago)
            source = self._source()
            agent = self.rng.choice(self.agents) if source == VisitSource.RECEPTION else None
            lead = self._new_lead(at, source, agent)
            visit = self._new_visit(lead, at, self._purpose(first=True), source)
            lead.visits = 1
            lead.visited_on = self.today
            self.rows.link(visit, "opportunity_id", self._new_opportunity(lead, at))
            dispatched = None if status == waiting else self._dispatch(lead, at)
            if dispatched is None or dispatched[1] == AssignmentReason.QUEUE:
                self._to_pool(lead, at, PoolReason.WAITING, None)
                continue
            staff, reason, candidates, assigned_at = dispatched
            self._assign(lead, staff, assigned_at, reason, visit=visit, candidates=candidates)
            visit.consultant_id = staff.id
            visit.assigned_at = assigned_at
            visit.status = status.value
            staff.desk.last_walk_in_at = assigned_at
            staff.busy_until = self.now + timedelta(hours=1)
            if status == receiving:
                visit.reception_started_at = assigned_at + timedelta(minutes=3)
                self.rows.link(staff.desk, "current_visit_id", visit)

    def _finish_presence(self) -> None:
        for staff in self.consultants:
            settings = staff.desk
            username = staff.user.username
            if username in _TODAY_ON_DUTY:
                settings.presence = Presence.ON_DUTY.value
                settings.presence_since = self._at(self.today, 8, 50)
            elif username == _TODAY_ON_BREAK:
                settings.presence = Presence.ON_BREAK.value
                settings.presence_since = self.break_from
            else:
                settings.presence = Presence.OFF_DUTY.value
                settings.presence_since = self._at(self.today - timedelta(days=1), 18, 35)
            settings.presence_since = min(settings.presence_since, self.now)

    def _audit_trail(self) -> None:
        store_id = self.store.id
        self.rows.add(
            AuditEvent(
                store_id=store_id,
                actor_id=self.manager.id,
                at=self.setup_at + timedelta(hours=2),
                action="rules_changed",
                entity="rule_set",
                entity_id=self.rule_set.id,
                data={
                    "version": 1,
                    "default_load_cap": DEFAULT_LOAD_CAP,
                    "callback_retry_limit": DEFAULT_RETRY_LIMIT,
                    "cycles": {str(g): list(c) for g, c in DEFAULT_CYCLES.items()},
                },
            )
        )
        signed_in = [self.manager, *self.agents, *self._today_staff()]
        for i, staff in enumerate(signed_in):
            at = min(self._at(self.today, 8, 40 + 2 * i), self.now)
            staff.user.last_login_at = at
            self.rows.add(AuditEvent(store_id=store_id, actor_id=staff.id, at=at, action="sign_in"))
        for task in self.done_tasks[-3:]:  # agents looked up the full number before calling
            row = task.row
            assert row.claimed_at is not None
            event = AuditEvent(
                store_id=store_id,
                actor_id=row.completed_by,
                at=row.claimed_at + timedelta(minutes=1),
                action="reveal_mobile",
                entity="customer",
            )
            self.rows.add(event, entity_id=task.lead.customer)

    def _today_staff(self) -> Sequence[_Staff]:
        return [s for s in self.consultants if self._works(s, self.today)]

    # --- summary ----------------------------------------------------------------------------

    def _counts(self) -> dict[str, int]:
        rows = self.rows
        open_tasks = [
            t
            for t in rows.rows[CallbackTask]
            if isinstance(t, CallbackTask) and t.status == CallbackStatus.OPEN
        ]
        return {
            "staff": len(_STAFF),
            "car_models": len(self.car_models),
            "customers": rows.count(Customer),
            "visits": rows.count(Visit),
            "opportunities": rows.count(Opportunity),
            "needs_assessments": rows.count(NeedsAssessment),
            "follow_ups": rows.count(FollowUp),
            "invitations": rows.count(Invitation),
            "callback_tasks": rows.count(CallbackTask),
            "open_callback_tasks": len(open_tasks),
            "assignments": rows.count(Assignment),
            "job_runs": rows.count(JobRun),
            "audit_events": rows.count(AuditEvent),
        }
