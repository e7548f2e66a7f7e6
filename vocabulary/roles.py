"""Who acts in the product: the roles a token or a web account carries."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STEERING_OFFICE = "steering_office"
    COMMUNE_LEADER = "commune_leader"
    OFFICIAL_IN_CHARGE = "official_in_charge"
    READER = "reader"
    # The head of one of the province's agencies: answers the agency's assignments as a commune
    # leader answers the commune's.
    AGENCY_HEAD = "agency_head"
    # A leader of the Steering Committee: the plans name one in charge of each task, the second
    # rung of the ladder of an overdue task.
    COMMITTEE_LEADER = "committee_leader"


# Who answers an assignment: the commune's leader or the agency's head.
ASSIGNEE_ROLES = (Role.COMMUNE_LEADER, Role.AGENCY_HEAD)
