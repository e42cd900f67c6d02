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
from .reviews import Comment, Rating, Thumb, Verdict, VerdictKind
from .teams import Invite, Membership, Role, Team

__all__ = [
    "TERMINAL", "ApiToken", "Comparison", "CostSource", "ReferenceImage", "Result", "ResultImage", "Status",
    "image_path", "reference_path", "Invite", "Membership", "Role", "Team",
    "Comment", "Rating", "Thumb", "Verdict", "VerdictKind",
]
