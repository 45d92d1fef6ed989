"""Store-local calendar helpers. 'Next day' and 'overnight' mean the store's local calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def store_zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def local_date(moment: datetime, timezone: str) -> date:
    """The store-local calendar date of an aware moment."""
    return moment.astimezone(store_zone(timezone)).date()


def day_bounds_utc(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a store-local day, as aware UTC datetimes."""
    zone = store_zone(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_moment(day: date, at: time, timezone: str) -> datetime:
    """An aware UTC datetime for a store-local date and wall-clock time."""
    return datetime.combine(day, at, tzinfo=store_zone(timezone)).astimezone(UTC)
