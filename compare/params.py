"""Ids and dates from request parameters, checked: a bad value is a clear error naming the field,
never a database overflow or a date arithmetic error (HTTP 500)."""

from datetime import date

# A primary key fits a signed 64-bit integer (SQLite and PostgreSQL bigint).
MAX_ID = 2**63 - 1
# Filters take days in this range: a far date (9999-12-31) would overflow the day-after arithmetic.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2999, 12, 31)


class BadParameter(ValueError):
    """A parameter that cannot be used; ``field`` names it, the message says why."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def object_id(value, field):
    """The id in ``value`` (a string of ASCII digits, or an int from JSON), or BadParameter."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadParameter(field, f"{field} must be an id (a whole number).")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
        raise BadParameter(field, f"{field} must be an id (a whole number from 1 to {MAX_ID}).")
    return int(text)


def day(text, field):
    """The YYYY-MM-DD date in ``text`` within EARLIEST_DAY..LATEST_DAY, or BadParameter."""
    try:
        found = date.fromisoformat(text.strip())
    except ValueError:
        raise BadParameter(field, f"“{text}” is not a date (YYYY-MM-DD).") from None
    if not EARLIEST_DAY <= found <= LATEST_DAY:
        raise BadParameter(field, f"“{text}” is outside {EARLIEST_DAY} to {LATEST_DAY}.")
    return found
