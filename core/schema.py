"""Every feature's models, imported so that the mapper registry and the metadata are complete.

Import this (the app, the worker, migrations and tests do) before the first query or
``create_all``: a model refers to the tables of other features by name.
"""

from __future__ import annotations

from core import audit as audit
from core.callbacks import models as callbacks
from core.checkin import models as checkin
from core.db import Base
from core.dispatch import models as dispatch
from core.nightly import models as nightly
from core.opportunities import models as opportunities
from core.rules import models as rules
from core.stores import models as stores

MODULES = (stores, opportunities, checkin, dispatch, rules, callbacks, nightly, audit)

__all__ = ["MODULES", "Base"]
