from .comparisons import (
    TERMINAL,
    ApiToken,
    Comparison,
    CostSource,
    EstimateSource,
    ReferenceImage,
    Result,
    ResultImage,
    Status,
    image_path,
    reference_path,
)
from .benchmarks import Benchmark, BenchmarkAlert, BenchmarkRun, RunStatus
from .budgets import BudgetState, CallCost, OverBudget, SubmitRefused, TeamPrice
from .checks import ResultCheck, TextStatus, checks_of, checks_status
from .credentials import TeamCredential
from .events import ResultEvent
from .notifications import (
    EVENTS,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailSubscription,
    NotificationEvent,
    Webhook,
    WebhookFormat,
)
from .limits import RouteMinute, RouteSlot, TeamSlot
from .ops import IdempotencyKey, WorkerHeartbeat
from .prompts import Batch, BatchItem, Prompt, PromptSet
from .reviews import Comment, Rating, Thumb, Verdict, VerdictKind
from .rollups import JudgedComparison, RouteDay
from .sharing import ExternalVote, ShareKind, ShareLink
from .teams import Invite, Membership, Role, Team

__all__ = [
    "TERMINAL", "ApiToken", "Comparison", "CostSource", "EstimateSource", "ReferenceImage", "Result", "ResultImage", "Status",
    "image_path", "reference_path", "Invite", "Membership", "Role", "Team",
    "Comment", "Rating", "Thumb", "Verdict", "VerdictKind", "JudgedComparison", "RouteDay",
    "ExternalVote", "ShareKind", "ShareLink",
    "TeamCredential", "RouteMinute", "RouteSlot", "TeamSlot",
    "BudgetState", "CallCost", "OverBudget", "SubmitRefused", "TeamPrice",
    "Batch", "BatchItem", "Prompt", "PromptSet", "ResultCheck", "TextStatus", "checks_of", "checks_status",
    "IdempotencyKey", "WorkerHeartbeat", "ResultEvent",
    "Benchmark", "BenchmarkAlert", "BenchmarkRun", "RunStatus",
    "EVENTS", "Delivery", "DeliveryAttempt", "DeliveryStatus", "EmailSubscription", "NotificationEvent",
    "Webhook", "WebhookFormat",
]
