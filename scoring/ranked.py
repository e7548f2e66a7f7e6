"""What a ranking ranks: the province's communes, or its agencies (the departments and other
bodies a plan's tasks go to). Each is ranked among its own kind only, under rule sets of its
own: an agency and a commune are never compared."""

from __future__ import annotations

from enum import StrEnum


class Ranked(StrEnum):
    COMMUNES = "communes"
    AGENCIES = "agencies"
