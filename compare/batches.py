"""Prompt sets and batch runs (issue 7): the feature's interface for the rest of the project (the
API, the `compare` command, benchmarks, the compare page). What each part does lives beside it:

- compare/prompt_sets.py: the built-in prompt sets and the team's saved prompts;
- compare/batch_planning.py: validating a set's prompts as comparisons, creating and cancelling a batch;
- compare/batch_matrix.py: the prompts × routes matrix a batch's page, CSV and API show;
- compare/batch_views.py: the pages (compare/batch_urls.py).
"""

from .batch_matrix import build_matrix
from .batch_planning import BatchItemForm, BatchRefused, cancel_batch, create_batch, plan_batch
from .prompt_sets import (PromptSetView, PromptView, all_sets, builtin_sets, find_set, initial_from_prompt,
                             save_prompt)

__all__ = ["BatchItemForm", "BatchRefused", "PromptSetView", "PromptView", "all_sets", "build_matrix", "builtin_sets",
           "cancel_batch", "create_batch", "find_set", "initial_from_prompt", "plan_batch", "save_prompt"]
