"""The load test's clients, each a thread with a browser of its own (a ``requests`` session, an
address of its own behind the proxy, cookies): tablets walking visitors through the kiosk,
consultants receiving them, managers starting the nightly run.

A tablet does what the pages make a visitor do: welcome, number, name or "that's me",
interest, privacy notice and consent, done; with think time between the steps. When an answer
is cut (its gunicorn worker was killed) the visitor taps again: the same form with the same
cookie, so the same check-in and its idempotency key. When the service is away (503) the outage
page asks /healthz until it answers and brings the visitor back to their step, where they send
it again. A 429 (none is expected: each tablet stays within its limits) is waited out.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bench.load_seed import SURNAMES, StoreSeed
from web.kiosk_device import KIOSK_COOKIE
from web.sealed import unseal

SESSION_COOKIE = "showroom_session"
TIMEOUT = 35  # seconds: longer than gunicorn's own worker timeout (30 s)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_MODELS = re.compile(r'name="car_model" value="([^"]+)"')
_PURPOSES = re.compile(r'name="purpose" value="([^"]+)"')
_STARTS = re.compile(r'action="/console/arrivals/(\d+)/start"')
_ENDS = re.compile(r'action="/console/arrivals/(\d+)/end"')
_SIG = re.compile(r'id="arrivals-sig" name="sig" value="([^"]*)"')


# --- what was measured ---------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    status: int | str  # the HTTP status, or "cut" (connection lost) / "timeout"
    ms: float
    at: float  # time.monotonic() when the request was sent


class Recorder:
    """Every request's kind, status and time; thread-safe (appends only)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)


@dataclass
class CheckinRecord:
    """One kiosk check-in that reached its consent step."""

    store_id: int
    mobile: str
    key: str
    new: bool
    twin: bool
    done: bool = False
    cut: bool = False  # the consent's answer was cut at least once (kill -9)
    outage: bool = False  # the consent met the database outage (503) at least once
    saved_before_resubmit: int | None = None  # visits with its key found after the cut
    customer_before_resubmit: int | None = None  # customers with its mobile then (new ones)


@dataclass
class Shared:
    """What the clients share: the server, the stop signal, the results."""

    base_url: str
    secret_key: str
    recorder: Recorder
    stop: threading.Event
    think: tuple[float, float]  # seconds between two steps of a visitor
    returning_share: float
    count_visits: Callable[[int, str, str], tuple[int, int]]  # store, key, mobile -> counts
    ramp: float = 8.0  # seconds over which the tablets start
    checkins: list[CheckinRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fresh: dict[int, list[str]] = field(default_factory=dict)  # store -> new mobiles seen
    started: dict[int, list[str]] = field(default_factory=dict)  # store -> new, just begun
    serial: dict[int, int] = field(default_factory=dict)

    def new_mobile(self, store: StoreSeed) -> str:
        with self.lock:
            n = self.serial.get(store.index, 0) + 1
            self.serial[store.index] = n
        return f"15{store.index % 10}{n:08d}"

    def fail(self, text: str) -> None:
        with self.lock:
            if len(self.failures) < 200:
                self.failures.append(text)


class Cut(Exception):
    """The flow gave up on a step (an answer it cannot go on from)."""


# --- one browser ---------------------------------------------------------------------------------


class Browser:
    def __init__(self, shared: Shared, address: str) -> None:
        self.shared = shared
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = address
        self.http.headers["User-Agent"] = "showroom-loadtest"

    def send(
        self,
        kind: str,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response | str:
        """One request, measured: the response, or "cut" / "timeout"."""
        at = time.monotonic()
        start = time.perf_counter()
        outcome: requests.Response | str
        try:
            outcome = self.http.request(
                method,
                self.shared.base_url + path,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            status: int | str = outcome.status_code
        except requests.Timeout:
            outcome = status = "timeout"
        except requests.ConnectionError:
            outcome = status = "cut"
        ms = (time.perf_counter() - start) * 1000
        self.shared.recorder.add(Sample(kind, status, ms, at))
        return outcome

    def wait_for_service(self) -> None:
        """What the outage page does: ask /healthz every few seconds until it answers."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(2)
            answer = self.send("health poll", "GET", "/healthz")
            if isinstance(answer, requests.Response) and answer.status_code == 200:
                return
        raise Cut("the service did not come back in 120 s")

    def sleep(self, seconds: float) -> None:
        self.shared.stop.wait(seconds)


def token_of(html: str) -> str:
    match = _TOKEN.search(html) or _META_TOKEN.search(html)
    if not match:
        raise Cut("no CSRF token on the page")
    return match.group(1)


# --- a tablet at the entrance ------------------------------------------------------------------


class Tablet(threading.Thread):
    def __init__(self, shared: Shared, store: StoreSeed, device: int, token: str, seed: int):
        super().__init__(name=f"tablet-{store.code}-{device}", daemon=True)
        self.shared = shared
        self.store = store
        self.rnd = random.Random(seed)
        self.browser = Browser(shared, f"10.1.{store.index}.{device + 1}")
        self.browser.http.cookies.set(KIOSK_COOKIE, token, domain="127.0.0.1", path="/")
        app = Flask("loadtest-cookie-reader")
        app.secret_key = shared.secret_key
        self._app = app
        self._cookies = SecureCookieSessionInterface().get_signing_serializer(app)
        self.think_time = shared.think
        self.flows = 0

    def run(self) -> None:
        self.browser.sleep(self.rnd.uniform(0, self.shared.ramp))  # not all at once
        while not self.shared.stop.is_set():
            try:
                self.visit()
                self.flows += 1
            except Cut as exc:
                self.shared.fail(f"{self.name}: {exc}")
                self.browser.send("kiosk page", "GET", "/kiosk/reset")
            except Exception as exc:  # a bug of the load test itself: say so, go on
                self.shared.fail(f"{self.name}: {type(exc).__name__}: {exc}")
            self.browser.sleep(self.rnd.uniform(1, 4))  # the next visitor walks up

    # --- the steps ---

    def think(self) -> None:
        self.browser.sleep(self.rnd.uniform(*self.think_time))

    def page(self, path: str) -> str:
        """GET a page of the flow: 200 expected (waits out an outage, repeats a cut one)."""
        for _ in range(8):
            answer = self.browser.send("kiosk page", "GET", path)
            if isinstance(answer, str):
                self.browser.sleep(1)
                continue
            if answer.status_code == 200:
                return answer.text
            if answer.status_code == 503:
                self.browser.wait_for_service()
                continue
            if answer.status_code == 429:
                self.browser.sleep(20)
                continue
            raise Cut(f"GET {path}: {answer.status_code}")
        raise Cut(f"GET {path}: no answer")

    def post(
        self,
        kind: str,
        path: str,
        fields: dict[str, str],
        html: str,
        record: CheckinRecord | None = None,
    ) -> str:
        """POST the step's form: its 303's target. A cut answer is sent again as it was; after
        a 503 the visitor is back on the step's page and sends it again."""
        data = {"csrf_token": token_of(html), **fields}
        for _ in range(10):
            answer = self.browser.send(kind, "POST", path, data)
            if isinstance(answer, str):
                if record is not None:
                    self._cut(record)
                self.browser.sleep(self.rnd.uniform(0.3, 1.0))
                continue
            if answer.status_code == 303:
                return answer.headers["Location"]
            if answer.status_code == 503:
                if record is not None:
                    record.outage = True
                self.browser.wait_for_service()
                data = {"csrf_token": token_of(self.page(path)), **fields}
                continue
            if answer.status_code == 429:
                self.browser.sleep(20)
                continue
            raise Cut(f"POST {path}: {answer.status_code}")
        raise Cut(f"POST {path}: no answer after 10 tries")

    def _cut(self, record: CheckinRecord) -> None:
        """The check-in's answer was lost: what did the database keep of it, before the visitor
        taps again?"""
        if record.cut:
            return
        record.cut = True
        visits, customers = self.shared.count_visits(record.store_id, record.key, record.mobile)
        record.saved_before_resubmit = visits
        record.customer_before_resubmit = customers

    def key(self) -> str:
        """The check-in's idempotency key, read from the sealed state in the session cookie
        (the load test knows the secret key: it checks the database by it)."""
        cookie = self.browser.http.cookies.get(SESSION_COOKIE)
        data = self._cookies.loads(cookie) if cookie else {}
        with self._app.app_context():
            state = unseal(data.get("checkin"))
        if not isinstance(state, dict) or "key" not in state:
            raise Cut("no check-in in the session")
        return str(state["key"])

    def visit(self) -> None:
        record, html = self.up_to_consent()
        self.think()
        self.check_in(record, html)

    def up_to_consent(self) -> tuple[CheckinRecord, str]:
        """A visitor from the welcome screen to the privacy notice: the check-in as it stands
        (its idempotency key) and the notice's page."""
        shared, store, rnd = self.shared, self.store, self.rnd
        twin = False
        with shared.lock:
            known = store.returning + shared.fresh.get(store.index, [])
            recent = shared.started.get(store.index, [])
            if rnd.random() < shared.returning_share:
                mobile = rnd.choice(known)
                new = False
            elif recent and rnd.random() < 0.04:
                # someone else at this store is checking in this new number right now
                mobile, new, twin = rnd.choice(recent[-5:]), True, True
            else:
                mobile, new = "", True
        if not mobile:
            mobile = shared.new_mobile(store)
        if new and not twin:
            with shared.lock:
                shared.started.setdefault(store.index, []).append(mobile)

        self.page("/kiosk/")
        self.think()
        html = self.page("/kiosk/mobile")
        self.think()
        target = self.post("kiosk step", "/kiosk/mobile", {"mobile": mobile}, html)
        html = self.page(target)
        self.think()
        if target.endswith("/kiosk/confirm"):
            target = self.post("kiosk step", target, {"answer": "yes"}, html)
        else:
            surname, title = rnd.choice(SURNAMES), rnd.choice(("mr", "ms"))
            target = self.post("kiosk step", target, {"surname": surname, "title": title}, html)
        html = self.page(target)
        self.think()
        model = rnd.choice(_MODELS.findall(html) or ["none"])
        purpose = rnd.choice(_PURPOSES.findall(html) or ["look"])
        party = str(rnd.choice((1, 1, 2, 2, 3, 4)))
        interest = {"car_model": model, "purpose": purpose, "party_size": party}
        target = self.post("kiosk step", target, interest, html)
        html = self.page(target)
        record = CheckinRecord(store.id, mobile, self.key(), new, twin)
        with shared.lock:
            shared.checkins.append(record)
        return record, html

    def check_in(self, record: CheckinRecord, html: str) -> None:
        """The consent step: the check-in itself, then the done screen."""
        consent = {"consent": "yes"} if self.rnd.random() < 0.7 else {}
        target = self.post("kiosk check-in", "/kiosk/consent", consent, html, record)
        if not target.endswith("/kiosk/done"):
            raise Cut(f"the check-in went to {target}")
        record.done = True
        if record.new:
            with self.shared.lock:
                self.shared.fresh.setdefault(self.store.index, []).append(record.mobile)
        self.page("/kiosk/done")


# --- staff ---------------------------------------------------------------------------------------


class Staff(Browser):
    """A member of staff at the console."""

    def __init__(self, shared: Shared, address: str, username: str, password: str) -> None:
        super().__init__(shared, address)
        self.username = username
        self.password = password
        self.token = ""

    def sign_in(self, kind: str = "console sign-in") -> int | str:
        """The sign-in page and its form: the POST's status (302 when signed in)."""
        page = self.send(kind, "GET", "/console/login")
        if isinstance(page, str) or page.status_code != 200:
            return page if isinstance(page, str) else page.status_code
        answer = self.send(
            kind,
            "POST",
            "/console/login",
            {
                "csrf_token": token_of(page.text),
                "username": self.username,
                "password": self.password,
            },
        )
        if isinstance(answer, str):
            return answer
        if answer.status_code == 302:
            home = self.send("console page", "GET", "/console/")
            if isinstance(home, requests.Response) and home.status_code == 200:
                self.token = token_of(home.text)
                return 302
            return home if isinstance(home, str) else home.status_code
        return answer.status_code

    def sign_in_until_done(self, deadline: float) -> None:
        while self.sign_in() != 302:
            if time.monotonic() > deadline:
                raise Cut(f"{self.username} could not sign in")
            time.sleep(1)

    def act(self, kind: str, path: str, data: dict[str, str] | None = None) -> int | str:
        answer = self.send(kind, "POST", path, {"csrf_token": self.token, **(data or {})})
        return answer if isinstance(answer, str) else answer.status_code


class Consultant(threading.Thread):
    """On duty at the start page: polls the arrivals panel as the page does (every 3 s), starts
    the reception of a visitor given to them, ends it a few seconds later; now and then a
    short break."""

    def __init__(self, shared: Shared, staff: Staff, reception: tuple[float, float], seed: int):
        super().__init__(name=f"consultant-{staff.username}", daemon=True)
        self.shared = shared
        self.staff = staff
        self.reception = reception
        self.rnd = random.Random(seed)
        self.received = 0

    def run(self) -> None:
        try:
            self._run()
        except Cut as exc:
            self.shared.fail(f"{self.name}: {exc}")
        except Exception as exc:
            self.shared.fail(f"{self.name}: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        staff, rnd = self.staff, self.rnd
        staff.act("console action", "/console/presence", {"presence": "on_duty"})
        sig, starts, ends = "", [], []
        until = 0.0
        while not self.shared.stop.is_set():
            answer = staff.send(
                "console arrivals poll",
                "GET",
                f"/console/arrivals?sig={sig}",
                headers={"HX-Request": "true"},
            )
            if isinstance(answer, requests.Response) and answer.status_code == 200:
                html = answer.text
                found = _SIG.search(html)
                sig = found.group(1) if found else ""
                starts, ends = _STARTS.findall(html), _ENDS.findall(html)
                tokens = _TOKEN.findall(html)
                if tokens:
                    staff.token = tokens[0]
            now = time.monotonic()
            if ends and now >= until:
                staff.act("console action", f"/console/arrivals/{ends[0]}/end")
                self.received += 1
                sig = ""  # the panel changed: ask for it whole
            elif starts and not ends:
                staff.act("console action", f"/console/arrivals/{starts[0]}/start")
                until = now + rnd.uniform(*self.reception)
                sig = ""
            elif not starts and not ends and rnd.random() < 0.02:
                staff.act("console action", "/console/presence", {"presence": "on_break"})
                self.shared.stop.wait(rnd.uniform(5, 15))
                staff.act("console action", "/console/presence", {"presence": "on_duty"})
                sig = ""
            self.shared.stop.wait(3)


def manager_run_now(manager: Staff, path: str = "/console/nightly") -> int | str:
    """The manager's Run now (or the admin's test job): the page, then its form."""
    page = manager.send("console page", "GET", path)
    if isinstance(page, str) or page.status_code != 200:
        return page if isinstance(page, str) else page.status_code
    manager.token = token_of(page.text)
    return manager.act("console run now", path)
