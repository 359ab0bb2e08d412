"""Search attributes for Temporal visibility. None carries personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_TYPE = SearchAttributeKey.for_keyword("CaseType")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
REGION_CODE = SearchAttributeKey.for_keyword("RegionCode")
REGION_PATH = SearchAttributeKey.for_keyword_list("RegionPath")
DEADLINE = SearchAttributeKey.for_datetime("Deadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
ASSIGNED_TO = SearchAttributeKey.for_keyword("AssignedTo")

ALL = [CASE_TYPE, CASE_STATUS, CASE_STAGE, REGION_CODE, REGION_PATH, DEADLINE, OVERDUE, ASSIGNED_TO]
