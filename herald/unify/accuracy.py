"""Pairwise precision and recall of a unification against a truth of who is who.

A pair is two records in one predicted component (predicted pair) or of one true person
(true pair); counted per group as n·(n − 1)/2, never by listing pairs. Only records present
in both tables count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PROFILE_SOURCES = ("crm_contacts", "web_signups", "shop_customers")


@dataclass(frozen=True)
class Accuracy:
    records: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def _pairs(table: pa.Table, keys: list[str]) -> int:
    counts = table.group_by(keys).aggregate([([], "count_all")]).column("count_all")
    counts = pc.cast(counts, pa.int64())
    return int(pc.sum(pc.divide(pc.multiply(counts, pc.subtract(counts, 1)), 2)).as_py() or 0)


def pairwise_accuracy(predicted: pa.Table, truth: pa.Table) -> Accuracy:
    """`predicted` has record_key, component_id; `truth` has record_key, person_id."""
    joined = predicted.select(["record_key", "component_id"]).join(
        truth.select(["record_key", "person_id"]), "record_key", join_type="inner"
    )
    return Accuracy(
        records=joined.num_rows,
        predicted_pairs=_pairs(joined, ["component_id"]),
        true_pairs=_pairs(joined, ["person_id"]),
        correct_pairs=_pairs(joined, ["component_id", "person_id"]),
    )


def read_truth(home: Path, seed: int, sources: tuple[str, ...] = PROFILE_SOURCES) -> pa.Table:
    """The generator's truth file, limited to the profile sources."""
    truth = pq.read_table(home / "truth" / f"identities-s{seed}.parquet")
    return truth.filter(pc.is_in(truth.column("source"), pa.array(sources)))
