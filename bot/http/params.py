"""Request values the API reads, bounded so that out-of-range input is a 422, never a 500.

Ids are SQL BIGINTs (a larger path id overflowed the driver); times must exist in UTC (an offset
can carry 9999-12-31 past the calendar); durations are bounded (a silence of 1e12 minutes
overflowed datetime arithmetic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, Field

MAX_ID = 2**63 - 1
# Ten years: longer than any silence means to last; an end date can say "forever" if needed.
MAX_DURATION_MINUTES = 10 * 366 * 24 * 60


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range in UTC") from None


StoredId = Annotated[int, Path(ge=1, le=MAX_ID, description="a stored object's id")]
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
DurationMinutes = Annotated[float, Field(gt=0, le=MAX_DURATION_MINUTES, allow_inf_nan=False)]
