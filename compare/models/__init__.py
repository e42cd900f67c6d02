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
from .benchmarks import Benchmark, BenchmarkAlert, BenchmarkRun, RunStatus
from .budgets import BudgetState, CallCost, OverBudget, SubmitRefused, TeamPrice
from .credentials import TeamCredential
from .limits import RouteMinute, RouteSlot, TeamSlot
from .ops import IdempotencyKey, WorkerHeartbeat
from .prompts import Batch, BatchItem, Prompt, PromptSet
from .reviews import Comment, Rating, Thumb, Verdict, VerdictKind
from .rollups import JudgedComparison, RouteDay
from .sharing import ExternalVote, ShareKind, ShareLink
from .teams import Invite, Membership, Role, Team

__all__ = [
    "TERMINAL", "ApiToken", "Comparison", "CostSource", "ReferenceImage", "Result", "ResultImage", "Status",
    "image_path", "reference_path", "Invite", "Membership", "Role", "Team",
    "Comment", "Rating", "Thumb", "Verdict", "VerdictKind", "JudgedComparison", "RouteDay",
    "ExternalVote", "ShareKind", "ShareLink",
    "TeamCredential", "RouteMinute", "RouteSlot", "TeamSlot",
    "BudgetState", "CallCost", "OverBudget", "SubmitRefused", "TeamPrice",
    "Batch", "BatchItem", "Prompt", "PromptSet",
    "IdempotencyKey", "WorkerHeartbeat",
    "Benchmark", "BenchmarkAlert", "BenchmarkRun", "RunStatus",
]
