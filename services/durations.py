"""ISO 8601 durations as the API accepts them: `PT10S`, `P3D`, `P1DT12H`, `P2W`, and a leading
`-` where a signed offset is allowed. Years and months are refused: their length varies."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def parse_duration(text: str, *, signed: bool = False) -> int:
    """Seconds in an ISO 8601 duration; raises ValueError with a message a person can act on."""
    match = _DURATION.match(text.strip().upper())
    parts = {k: v for k, v in (match.groupdict() if match else {}).items() if k != "sign" and v}
    if not match or not parts or text.strip().upper().endswith("T"):
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration such as PT10S, PT2H, P3D or P1DT12H"
        )
    if match.group("sign") and not signed:
        raise ValueError(f"{text!r}: a negative duration is not allowed here")
    seconds = sum(int(v) * _SECONDS[k] for k, v in parts.items())
    return -seconds if match.group("sign") else seconds


def format_duration(seconds: int) -> str:
    """The canonical form the API answers with: `-P1DT2H`, `PT30S`."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date_part = f"{days}D" if days else ""
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")
