"""Samples added up per (pid, tid, stack): the ``sample_totals`` table every view reads.

Counted from each batch of samples as the writer appends it (stax.recording.sqlite_writer),
or taken already added up from a backend that did it in compiled code
(:meth:`stax.event_columns.RawStacks.add_up`); and by the reader from decoded blocks when a
view needs other groups (a time range, a recorder that was killed before writing the
table).  ``Counter`` over the zipped columns counts in C; the weights are a product per
group when a batch's weights are all one value (every fixed-period sampler), a loop over
the samples only otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator

from stax.recording.column_blocks import is_constant
from stax.stack_table import SampleColumns


class GroupTotals:
    """Sample count and weight sum per key (any hashable made from a block's columns)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.weights: Counter = Counter()

    def add(self, keys: Iterable[Hashable], weights, constant: bool | None = None) -> None:  # noqa: ANN001
        """Count the samples whose keys ``keys`` yields, weighted by the array ``weights``."""
        if constant is None:
            constant = is_constant(weights)
        if constant and len(weights):
            block = Counter(keys)
            self.counts.update(block)
            each = weights[0]
            mine = self.weights
            for key, n in block.items():
                mine[key] += n * each
            return
        counts, mine = self.counts, self.weights
        for key, weight in zip(keys, weights, strict=True):
            counts[key] += 1
            mine[key] += weight

    def rows(self) -> Iterator[tuple]:
        """(key, count, weight) per key."""
        weights = self.weights
        for key, count in self.counts.items():
            yield key, count, weights[key]


class SampleTotals(GroupTotals):
    """The ``sample_totals`` rows: (pid, tid, stack id) -> count, weight."""

    def add_block(self, cols: SampleColumns) -> None:
        self.add(zip(cols.pid, cols.tid, cols.stack_id, strict=True), cols.weight)

    def add_groups(self, rows: Iterable[tuple[int, int, int, int, int]]) -> None:
        """Rows (pid, tid, stack, count, weight) already added up (RawStacks.add_up)."""
        counts, weights = self.counts, self.weights
        for pid, tid, stack, count, weight in rows:
            key = (pid, tid, stack)
            counts[key] += count
            weights[key] += weight

    def table_rows(self) -> Iterator[tuple[int, int, int, int, int]]:
        for (pid, tid, stack), count, weight in self.rows():
            yield pid, tid, stack, count, weight
