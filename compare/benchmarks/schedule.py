"""A benchmark's schedule: a 5-field cron expression (minute hour day-of-month month day-of-week,
UTC), parsed with Celery's field parser, and the next minute it matches."""

from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone as dt_timezone

from celery.schedules import ParseException, crontab_parser
from django.utils import timezone


@dataclass(frozen=True)
class Cron:
    """A 5-field cron expression (minute hour day-of-month month day-of-week, UTC)."""

    text: str
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text):
        """Raises ValueError naming the bad field."""
        if not isinstance(text, str):
            raise ValueError("schedule must be a 5-field cron string (UTC) or null.")
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"“{text}” is not a 5-field cron expression (minute hour day month weekday, UTC).")
        names = ("minute", "hour", "day of month", "month", "day of week")
        bounds = ((60, 0), (24, 0), (31, 1), (12, 1), (7, 0))
        sets = []
        for name, field, (size, low) in zip(names, fields, bounds):
            try:
                values = crontab_parser(size, low).parse(field)
            except (ParseException, ValueError, IndexError) as exc:
                raise ValueError(f"The cron {name} field “{field}” is not valid: {exc}") from None
            if not values or any(v < low or v >= size + low for v in values):
                raise ValueError(f"The cron {name} field “{field}” is out of range.")
            sets.append(frozenset(values))
        weekdays = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(" ".join(fields), sets[0], sets[1], sets[2], sets[3], weekdays,
                   fields[2] == "*", fields[4] == "*")

    def _day_matches(self, day):
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:  # cron's rule: both restricted means either matches
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment):
        """The first matching minute strictly after `moment` (UTC); None if none within 5 years."""
        moment = moment.astimezone(dt_timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = moment.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= moment:
                            return candidate
            day += timedelta(days=1)
        return None


def next_run(schedule, after=None):
    return Cron.parse(schedule).next_after(after or timezone.now()) if schedule else None
