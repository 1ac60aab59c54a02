"""Retention's ``within`` durations: restic's ``--keep-within`` syntax, plus weeks.

A duration is one or more ``<count><unit>`` with units ``y`` (years), ``m`` (months),
``w`` (weeks), ``d`` (days) and ``h`` (hours), each at most once: ``30d``, ``2w``,
``1y6m``, ``12h``, ``1y2m3d4h``. Years and months are calendar ones (a month back from
March 31 is February 28 or 29), which is why the result is a ``relativedelta`` and not a
``timedelta``.
"""

from __future__ import annotations

import re
from typing import Final

from dateutil.relativedelta import relativedelta

from actors.plans.errors import RetentionError

__all__ = ["parse_duration"]

_PART: Final = re.compile(r"(\d{1,6})([ymwdh])")
_UNITS: Final = {"y": "years", "m": "months", "w": "weeks", "d": "days", "h": "hours"}


def parse_duration(text: str, *, field: str = "retention.within") -> relativedelta:
    """``text`` (``"1y6m"``) as a calendar duration.

    Raises:
        RetentionError: not ``<count><unit>`` parts, a unit twice, or a zero duration;
            the message names ``field`` and the text.
    """
    parts = list(_PART.finditer(text))
    if not parts or "".join(part.group(0) for part in parts) != text:
        raise RetentionError(f"{field}: {text!r}: not a duration; write counts with units "
                             f"y, m, w, d, h, as in '30d', '2w', '1y6m', '12h'")
    amounts: dict[str, int] = {}
    for part in parts:
        unit = _UNITS[part.group(2)]
        if unit in amounts:
            raise RetentionError(f"{field}: {text!r}: {part.group(2)!r} given twice")
        amounts[unit] = int(part.group(1))
    if not any(amounts.values()):
        raise RetentionError(f"{field}: {text!r}: a zero duration keeps only the newest "
                             f"checkpoint; give a longer one, or use last = 1")
    return relativedelta(years=amounts.get("years", 0), months=amounts.get("months", 0),
                         weeks=amounts.get("weeks", 0), days=amounts.get("days", 0),
                         hours=amounts.get("hours", 0))
