from .comparisons import (
    TERMINAL,
    ApiToken,
    Comparison,
    CostSource,
    ReferenceImage,
    Result,
    ResultImage,
    Status,
    image_path,
    reference_path,
)
from .teams import Invite, Membership, Role, Team

__all__ = [
    "TERMINAL", "ApiToken", "Comparison", "CostSource", "ReferenceImage", "Result", "ResultImage", "Status",
    "image_path", "reference_path", "Invite", "Membership", "Role", "Team",
]
