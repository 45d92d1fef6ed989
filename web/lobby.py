"""The lobby board: a read-only screen in the showroom with the waiting queue and free consultants.

It opens on an enrolled kiosk device (no staff session there) or for a signed-in member of staff
of the store. It shows no full phone number and nothing else about the customers.

``Live`` is the polling helper the console's live panels share: a fragment carries a digest of
its own content; when a poll brings back the same digest, the server answers 204 and htmx leaves
the page alone (no flicker, no lost focus, no repeated screen-reader announcement).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup

from core.checkin.screens import lobby_board
from core.db import utcnow
from extensions import db
from web.kiosk_device import current_kiosk, is_kiosk_request

bp = Blueprint("lobby", __name__, url_prefix="/lobby")
SHOWN = 8  # waiting visitors that fit on one screen; the rest are counted


@dataclass(frozen=True)
class Live:
    """A rendered fragment and the digest of its content, kept in a hidden input."""

    html: str
    sig: str
    sig_id: str

    def __html__(self) -> str:
        tag = Markup('<input type="hidden" id="{}" name="sig" value="{}">').format(
            self.sig_id, self.sig
        )
        return Markup(self.html) + tag

    def response(self, extra: str = "") -> Any:
        """The answer to a poll: nothing (204) when the client already shows this content.
        ``extra``: markup sent along with a change only (an out-of-band swap, say)."""
        if request.args.get("sig") == self.sig:
            return "", 204
        return self.__html__() + Markup(extra)


def live(template: str, sig_id: str, **context: Any) -> Live:
    html = render_template(template, **context)
    digest = hashlib.blake2b(html.encode(), digest_size=8).hexdigest()
    return Live(html, digest, sig_id)


def _viewer() -> tuple[int, str] | None:
    """The store and its name for an enrolled kiosk or a signed-in member of staff."""
    kiosk = current_kiosk()
    if kiosk is not None:
        g.store_timezone = kiosk.timezone
        return kiosk.store_id, kiosk.store_name
    if current_user.is_authenticated:
        return current_user.store_id, current_user.store_name
    return None


def _refuse() -> Any:
    if is_kiosk_request():  # a revoked or unknown device: it may not reach the sign-in either
        abort(403)
    login = url_for("console.login", next=url_for("lobby.board"))
    if request.headers.get("HX-Request"):  # the board's poll after the staff session expired
        return "", 204, {"HX-Redirect": login}
    return redirect(login)


def _board(store_id: int, store_name: str) -> Live:
    board = lobby_board(db.session(), store_id)
    return live(
        "lobby/_board.html",
        "board-sig",
        board=board,
        now=utcnow(),
        store_name=store_name,
        shown=SHOWN,
    )


@bp.route("")
def board() -> ResponseReturnValue:
    viewer = _viewer()
    if viewer is None:
        return _refuse()
    return render_template("lobby/board.html", board=_board(*viewer), store_name=viewer[1])


@bp.route("/live")
def live_board() -> ResponseReturnValue:
    viewer = _viewer()
    if viewer is None:
        return _refuse()
    return _board(*viewer).response()
