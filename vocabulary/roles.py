"""Who acts in the product: the roles a token or a web account carries."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STEERING_OFFICE = "steering_office"
    COMMUNE_LEADER = "commune_leader"
    OFFICIAL_IN_CHARGE = "official_in_charge"
    READER = "reader"
