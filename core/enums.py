"""Enumerations of the domain. Stored as short strings, checked by the database."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CS_AGENT = "cs_agent"  # receptionist / customer-service agent, 客服专员
    CONSULTANT = "consultant"  # 销售顾问
    MANAGER = "manager"  # 销售经理
    ADMIN = "admin"  # 管理员


class Presence(StrEnum):
    OFF_DUTY = "off_duty"
    ON_DUTY = "on_duty"
    ON_BREAK = "on_break"


class Grade(StrEnum):
    H = "H"  # buys within 7 days
    A = "A"  # within 15 days
    B = "B"  # within 30 days
    C = "C"  # later or unknown: dormant, handed to customer service
    O = "O"  # ordered  # noqa: E741
    F = "F"  # defeated (lost)


HIGH_INTENT = (Grade.H, Grade.A, Grade.B)
ASSESSABLE = (Grade.H, Grade.A, Grade.B, Grade.C)  # what a needs analysis can give
CYCLE_GRADES = HIGH_INTENT


class OpportunityStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class PoolReason(StrEnum):
    REINVITED = "reinvited"  # re-invited by CS to another consultant
    CONSULTANT_LEFT = "consultant_left"  # owner departed or set inactive
    RETURNED = "returned"  # returned to the pool by a manager
    WAITING = "waiting"  # walk-in nobody could take
    OVER_CAP = "over_cap"  # above the consultant's cap (for instance after a cap was lowered)


class VisitSource(StrEnum):
    KIOSK = "kiosk"
    RECEPTION = "reception"


class VisitPurpose(StrEnum):
    LOOK = "look"
    TEST_DRIVE = "test_drive"
    DELIVERY = "delivery"
    OTHER = "other"


class VisitStatus(StrEnum):
    WAITING = "waiting"  # in the queue, nobody assigned yet
    ASSIGNED = "assigned"  # a consultant is on the way
    IN_RECEPTION = "in_reception"
    FINISHED = "finished"
    LEFT = "left"  # left without reception


# A consultant with a visit in one of these is busy (on the way or receiving).
BUSY = (VisitStatus.ASSIGNED.value, VisitStatus.IN_RECEPTION.value)


class ActivityKind(StrEnum):
    CALL = "call"
    MESSAGE = "message"
    REVISIT = "revisit"
    TEST_DRIVE = "test_drive"
    QUOTE = "quote"
    INVITATION = "invitation"


class InvitationStatus(StrEnum):
    SCHEDULED = "scheduled"
    HONOURED = "honoured"
    MISSED = "missed"
    CANCELLED = "cancelled"


class InvitationSource(StrEnum):
    CONSULTANT = "consultant"
    CALLBACK = "callback"


class DefeatReason(StrEnum):
    OTHER_BRAND = "other_brand"
    PRICE = "price"
    FINANCING = "financing"
    NO_LONGER_NEEDS = "no_longer_needs"
    UNREACHABLE = "unreachable"
    OTHER = "other"


class CallbackKind(StrEnum):
    DORMANT = "dormant"
    STALLED = "stalled"
    DEFEAT = "defeat"
    SCHEDULED = "scheduled"
    RETRY = "retry"


# Worklist order within a day: defeats first (freshest loss), then stalls, dormant, ...
CALLBACK_KIND_PRIORITY = {
    CallbackKind.DEFEAT: 1,
    CallbackKind.STALLED: 2,
    CallbackKind.DORMANT: 3,
    CallbackKind.RETRY: 4,
    CallbackKind.SCHEDULED: 5,
}


class StallRule(StrEnum):
    FOLLOW_UP = "follow_up"  # follow-up interval missed
    CYCLE = "cycle"  # maximum cycle without a revisit missed


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class CallResult(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"


class CallbackOutcome(StrEnum):
    BOUGHT_ELSEWHERE = "bought_elsewhere"
    INVITE_BACK = "invite_back"
    CALL_AGAIN = "call_again"
    UNREACHABLE = "unreachable"  # not reached, will be retried
    GAVE_UP = "gave_up"  # not reached, retry limit used up
    DO_NOT_CONTACT = "do_not_contact"


class AssignmentReason(StrEnum):
    RETURNING_OWNER = "returning_owner"
    ROTATION = "rotation"
    QUEUE = "queue"  # a waiting visitor handed to a consultant who freed up
    REFILL = "refill"  # cyclic refill (nightly or on demand)
    MANUAL = "manual"  # a manager or receptionist re-assigned
    REINVITE = "reinvite"  # CS invited back with the same consultant
    INVITED = "invited"  # came on the consultant's own invitation
    TO_SERVICE = "to_service"  # graded C: handed to customer service
    RELEASED = "released"  # put back into the refill pool


class ConsentChannel(StrEnum):
    KIOSK = "kiosk"
    RECEPTION = "reception"
    CALLBACK = "callback"


class JobKind(StrEnum):
    NIGHTLY = "nightly"  # the whole nightly run of a store, every step in one transaction
    PROBE = "probe"  # a worker round trip started from the admin console


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class CustomerTitle(StrEnum):
    MR = "mr"  # 先生
    MS = "ms"  # 女士
