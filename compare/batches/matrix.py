"""A batch's prompts × routes matrix as the page, its CSV and the API show it: a row per prompt, a
column per route with its totals, cells still blind to the user masked (compare/review/visibility.py)."""

import csv
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch

from compare.batches.models import Batch, BatchItem
from compare.checks.models import ResultCheck, checks_of, checks_status
from compare.models import COST_WORDS, TERMINAL, Result, Status
from compare.review.models import Verdict
from compare.review.visibility import Visibility

CSV_HEADER = ["position", "title", "comparison", "size", "route", "status", "latency_ms", "cost_usd",
              "cost_source", "estimate_source", "seed", "error", "text_accuracy", "size_matches", "blank"]


@dataclass
class Column:
    key: str
    label: str
    results: list = field(default_factory=list)  # of the rows this user may see

    @property
    def succeeded(self):
        return sum(r.status == Status.SUCCEEDED for r in self.results)

    @property
    def finished(self):
        return sum(r.status in TERMINAL for r in self.results)

    @property
    def median_latency_ms(self):
        values = [r.latency_ms for r in self.results if r.status == Status.SUCCEEDED and r.latency_ms is not None]
        return statistics.median(values) if values else None

    @property
    def costs(self):
        """[(cost word, USD)] of the finished results, summed per word (billed, from usage, team
        price, est., rough), in that order; words with no result left out."""
        sums = {}
        for r in self.results:
            if r.status in TERMINAL and r.cost_is_known:
                sums[r.cost_word] = sums.get(r.cost_word, Decimal(0)) + r.cost_usd
        return [(word, sums[word]) for word in COST_WORDS if word in sums]

    @property
    def costs_by_source(self):
        """{cost_source: USD} as the API names them ("rough" is an "estimated" whose price is unresolved)."""
        sums = {}
        for r in self.results:
            if r.status in TERMINAL and r.cost_is_known:
                sums[r.cost_source] = sums.get(r.cost_source, Decimal(0)) + r.cost_usd
        return sums

    @property
    def unknown_cost(self):
        return sum(r.status in TERMINAL and r.cost_source == "unknown" for r in self.results)

    def _checked(self):
        return [found for found in (checks_of(r) for r in self.results if r.status == Status.SUCCEEDED)
                if found is not None and found.status == ResultCheck.DONE]

    @property
    def checked(self):
        """Succeeded cells whose automatic checks are done (docs/checks.md)."""
        return len(self._checked())

    @property
    def text_accuracy_mean(self):
        """The mean text accuracy of the cells whose prompt quotes text that OCR could read."""
        values = [c.text_accuracy for c in self._checked() if c.text_accuracy is not None]
        return statistics.fmean(values) if values else None

    @property
    def text_scored(self):
        return sum(c.text_accuracy is not None for c in self._checked())

    @property
    def blank_count(self):
        return sum(bool(c.blank) for c in self._checked())

    @property
    def size_mismatch_count(self):
        return sum(c.size_matches is False for c in self._checked())


@dataclass
class Row:
    item: BatchItem
    cells: list  # a Result (or None) per column, in column order
    masked: bool
    held: bool
    finished: int
    total: int

    @property
    def comparison(self):
        return self.item.comparison


@dataclass
class Matrix:
    batch: Batch
    columns: list
    rows: list
    names_hidden: bool  # every row is blind to this user: the columns are not named either

    @property
    def cells(self):
        return sum(row.total for row in self.rows)

    @property
    def finished(self):
        return sum(row.finished for row in self.rows)

    @property
    def done(self):
        return bool(self.rows) and self.finished == self.cells

    @property
    def checks_pending(self):
        """Some succeeded cell's automatic checks are still running (the matrix keeps polling)."""
        return any(result is not None and checks_status(result) == "pending"
                   for row in self.rows for result in row.cells)

    @property
    def sized_rows(self):
        """Rows that ran at their prompt's own suggested size instead of the batch's."""
        return sum(row.item.size_from_prompt for row in self.rows)

    @property
    def masked_rows(self):
        return sum(row.masked for row in self.rows)


def build_matrix(batch, user):
    mine = Verdict.objects.filter(user=user) if user.is_authenticated else Verdict.objects.none()
    items = list(batch.items.select_related("comparison").prefetch_related(
        Prefetch("comparison__results", queryset=Result.objects.select_related("image_checks")),
        "comparison__results__images", Prefetch("comparison__verdicts", queryset=mine, to_attr="my_verdicts")))
    columns = [Column(key=key, label=key) for key in batch.route_keys]
    can_run = batch.team.can_run(user)
    rows = []
    for item in items:
        comparison = item.comparison
        results = list(comparison.results.all())
        seen = Visibility.for_member(comparison, user, has_verdict=bool(comparison.my_verdicts), results=results,
                                     can_run=can_run)
        masked = seen.masked
        by_route = {r.route_key: r for r in results}
        cells = [by_route.get(column.key) for column in columns]
        rows.append(Row(item=item, cells=cells, masked=masked, held=not seen.images,
                        finished=sum(r.status in TERMINAL for r in results), total=len(results)))
        if not masked:
            for column, result in zip(columns, cells):
                if result is not None:
                    column.label = result.route_label
                    column.results.append(result)
    names_hidden = bool(rows) and all(row.masked for row in rows)
    return Matrix(batch=batch, columns=columns, rows=rows, names_hidden=names_hidden)


def write_csv(matrix, out):
    """The matrix as CSV into `out` (a file or a response): one line per cell. Rows still blind to
    the user are left out."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in matrix.rows:
        if row.masked:
            continue
        for result in row.cells:
            if result is None:
                continue
            writer.writerow([row.item.position + 1, _csv_safe(row.item.title), row.comparison.pk,
                             row.comparison.params.get("size"), result.route_key, result.status,
                             "" if result.latency_ms is None else round(result.latency_ms, 1),
                             "" if result.cost_usd is None else result.cost_usd, result.cost_source,
                             result.estimate_source, result.seed_word,
                             _csv_safe(result.error), *_check_cells(result, row.held)])


def _check_cells(result, held):
    """text_accuracy, size_matches, blank of a cell's automatic checks; empty until they are done
    (and while its images are held)."""
    found = None if held else checks_of(result)
    if found is None or found.status != ResultCheck.DONE:
        return ["", "", ""]
    return ["" if found.text_accuracy is None else round(found.text_accuracy, 4),
            "" if found.size_matches is None else found.size_matches, "" if found.blank is None else found.blank]


def _csv_safe(text):
    """No spreadsheet formulas from user text."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text
