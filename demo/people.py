"""The demo store's fixed cast and content: staff, how each consultant works, car models,
customers' names and numbers, and the words people use in notes and answers."""

from __future__ import annotations

from dataclasses import dataclass

from core.enums import ActivityKind, CallbackOutcome, DefeatReason, Grade, Role

STAFF: tuple[tuple[str, Role, str], ...] = (
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
class Profile:
    """How a consultant works in the story."""

    day_off: int  # weekday (0 = Monday); everyone works weekends
    diligence: float  # chance to make a follow-up that is due
    dormant_bias: float  # extra weight on grading C (a consultant who gives up too early)
    load_cap: int | None = None  # their own cap; None: the store's default


PROFILES: dict[str, Profile] = {
    "sales1": Profile(0, 0.96, 0.0),
    "sales2": Profile(1, 0.94, 0.0),
    "sales3": Profile(2, 0.92, 0.05),
    "sales4": Profile(3, 0.93, 0.0),
    "sales5": Profile(0, 0.92, 0.0, load_cap=15),  # new in the team: a lower cap
    "sales6": Profile(1, 0.88, 0.3),  # grades too many customers dormant
    "sales7": Profile(2, 0.95, 0.0),
    "sales8": Profile(3, 0.74, 0.05),  # misses follow-ups
}
# Today: who is on the floor; sales6 goes on a break; the others have the day off.
TODAY_ON_DUTY = ("sales1", "sales2", "sales3", "sales4", "sales6")
TODAY_ON_BREAK = "sales6"
SLOPPY = "sales8"

CAR_MODELS: tuple[tuple[str, str, int], ...] = (  # name, brand, popularity
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
KIOSK_NAME = "展厅入口平板"

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐"  # the most common first
    "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁沈"
)
SURNAME_WEIGHTS = [max(1, 24 - i // 2) for i in range(len(SURNAMES))]
MOBILE_PREFIXES = tuple(
    f"1{n}"
    for n in (30, 31, 32, 33, 35, 36, 37, 38, 39, 50, 51, 52, 53, 55, 56, 57, 58, 59, 66, 73, 76)
) + tuple(f"1{n}" for n in (77, 80, 81, 82, 83, 85, 86, 87, 88, 89, 91, 99))

# Brands customers buy instead (as core/callbacks/service.py BRANDS stores them).
COMPETITORS = ("本田", "大众", "日产", "比亚迪", "特斯拉", "吉利", "理想", "小鹏", "别克", "长安")
COMPETITOR_WEIGHTS = (14, 14, 9, 16, 7, 8, 6, 5, 5, 4)
BOUGHT_REASONS = (
    "对方优惠更多",
    "对方店离家近",
    "顾问后来没再联系",
    "更喜欢对方车型的配置",
    "对方提车更快",
    "朋友推荐",
    "新能源补贴更划算",
)
CONCERNS = (
    "价格还想再等等",
    "等年底促销",
    "家人意见不统一",
    "在考虑新能源车型",
    "贷款方案还在比较",
    "想等新款上市",
    "旧车置换价格偏低",
)
DEFEAT_NOTES: dict[str, str] = {
    DefeatReason.OTHER_BRAND: "客户已在{brand}4S店订车",
    DefeatReason.PRICE: "客户认为价格偏高，优惠空间不够",
    DefeatReason.FINANCING: "贷款审批未通过，暂不购车",
    DefeatReason.NO_LONGER_NEEDS: "家庭原因暂缓购车",
    DefeatReason.UNREACHABLE: "多次联系不上客户",
    DefeatReason.OTHER: "客户改变购车计划",
}
DEFEAT_WEIGHTS: dict[str, int] = {
    DefeatReason.OTHER_BRAND: 46,
    DefeatReason.PRICE: 20,
    DefeatReason.FINANCING: 7,
    DefeatReason.NO_LONGER_NEEDS: 12,
    DefeatReason.UNREACHABLE: 10,
    DefeatReason.OTHER: 5,
}
FOLLOW_UP_NOTES: dict[str, tuple[str, ...]] = {
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
FIRST_CALL_NOTE = "电话沟通，完成需求分析"
LAST_CALL_NOTE = "电话沟通，客户表示不再考虑"
OVERRIDE_UP = ("客户已交意向金，实际意向高于评分", "老客户转介绍，购车意向明确")
OVERRIDE_DOWN = ("客户明确年底前不会购车", "决策人未到场，保守评级")
REBALANCE_NOTE = "经理调整：{high}负荷偏高，转给{low}"
RETURN_NOTE = "经理收回长期未跟进的客户，重新分配"
DEPOSITS = (5000, 5000, 8000, 10000, 10000, 20000)
ORDER_NOTE = "签订{model}订单"

# A consultant's follow-up of a high-intent customer: (defeat, invitation, re-grade by phone).
FOLLOW_UP_ODDS: dict[str, tuple[float, float, float]] = {
    Grade.H: (0.05, 0.32, 0.08),
    Grade.A: (0.05, 0.2, 0.12),
    Grade.B: (0.06, 0.13, 0.12),
}
ORDER_AT_REVISIT: dict[str | None, float] = {Grade.H: 0.5, Grade.A: 0.26, Grade.B: 0.12}
GRADE_LADDER = (Grade.C, Grade.B, Grade.A, Grade.H)
NO_CHANGE = "no_change"  # a reached call that changes nothing (core/callbacks/service.py)
# What customer service hears once the customer is reached, by what the call is about.
OUTCOME_ODDS: dict[str, tuple[tuple[str, float], ...]] = {
    "dormant": (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.16),
        (CallbackOutcome.INVITE_BACK, 0.32),
        (CallbackOutcome.DO_NOT_CONTACT, 0.04),
        (CallbackOutcome.CALL_AGAIN, 0.48),
    ),
    "stalled": (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.1),
        (CallbackOutcome.DO_NOT_CONTACT, 0.02),
        (CallbackOutcome.INVITE_BACK, 0.63),
        (NO_CHANGE, 0.25),
    ),
    "defeat": (
        (CallbackOutcome.BOUGHT_ELSEWHERE, 0.74),
        (CallbackOutcome.DO_NOT_CONTACT, 0.04),
        (CallbackOutcome.INVITE_BACK, 0.17),
        (CallbackOutcome.CALL_AGAIN, 0.05),
    ),
    "won": ((NO_CHANGE, 1.0),),
}
