"""Time limits of a consultation or complaint by kind (接诉即办), from the dated parameters in
``policy/params/service_request.yaml``: first contact in hours, resolution in working days."""

from __future__ import annotations

from datetime import date

from models.service_request import RequestKind, RequestLimits
from policy.parameters import ParameterSet


def request_limits(params: ParameterSet, kind: RequestKind, on: date) -> RequestLimits:
    """The limits in force for ``kind`` on the day of receipt."""
    p = "service_request"
    return RequestLimits(
        first_contact_hours=params.integer(f"{p}.first_contact_hours.{kind.value}", on),
        reminder_hours=params.integer(f"{p}.reminder_hours", on),
        resolution_working_days=params.integer(f"{p}.resolution_working_days.{kind.value}", on),
        reminder_working_days=params.integer(f"{p}.reminder_working_days", on),
        follow_up_hours=params.integer(f"{p}.follow_up_hours", on),
        parameter_version=params.version,
    )
