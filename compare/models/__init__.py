"""Comparisons, their results and images, the events of their states, the limits of calls."""

from .comparisons import (
    Status,
    TERMINAL,
    NOT_BILLED,
    results_ended,
    CostSource,
    COST_WORDS,
    COST_TITLES,
    EstimateSource,
    ComparisonQuerySet,
    Comparison,
    Result,
    reference_path,
    ReferenceImage,
    image_path,
    ResultImage,
)
from .events import ORDER_LOCK, ResultEvent
from .limits import RouteSlot, RouteMinute, TeamSlot

__all__ = [
    "Status",
    "TERMINAL",
    "NOT_BILLED",
    "results_ended",
    "CostSource",
    "COST_WORDS",
    "COST_TITLES",
    "EstimateSource",
    "ComparisonQuerySet",
    "Comparison",
    "Result",
    "reference_path",
    "ReferenceImage",
    "image_path",
    "ResultImage",
    "ORDER_LOCK",
    "ResultEvent",
    "RouteSlot",
    "RouteMinute",
    "TeamSlot",
]
