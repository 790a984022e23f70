"""Seeded random streams and the few drawing helpers every source uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# One stream per (seed, chunk, purpose): a chunk's output never depends on another chunk's.
PEOPLE, CRM, WEB, SHOP, DEVICES, EVENTS, ORDERS, MESSAGES, SUBSCRIPTIONS = range(9)


def stream(seed: int, chunk: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, chunk, purpose])


def draw(cdf: np.ndarray, rng: np.random.Generator, rows: int) -> np.ndarray:
    """Indices drawn with the probabilities a cumulative-share array describes."""
    return np.minimum(np.searchsorted(cdf, rng.random(rows), side="right"), cdf.shape[0] - 1)


def choose(rng: np.random.Generator, rows: int, shares: dict[int, float]) -> np.ndarray:
    """A code per row, drawn with the given shares."""
    codes = np.array(list(shares.keys()), dtype=np.int64)
    weights = np.array(list(shares.values()), dtype=np.float64)
    return codes[rng.choice(codes.shape[0], size=rows, p=weights / weights.sum())]


def first_occurrence(owners: np.ndarray, owner_count: int) -> np.ndarray:
    """For each owner, the position of its first row in `owners` (or -1)."""
    first = np.full(owner_count, -1, dtype=np.int64)
    positions = np.arange(owners.shape[0], dtype=np.int64)
    first[owners[::-1]] = positions[::-1]
    return first


def lookup(values: np.ndarray, indices: np.ndarray, missing: int = -1) -> np.ndarray:
    """values[indices], with `missing` where an index is negative (values may be empty)."""
    out = np.full(indices.shape[0], missing, dtype=values.dtype)
    found = indices >= 0
    out[found] = values[indices[found]]
    return out


def uniform_between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integers uniformly in [low, high] (high >= low), row by row."""
    span = np.maximum(high - low, 0).astype(np.float64)
    return low + (rng.random(low.shape[0]) * span).astype(np.int64)


def later(rng: np.random.Generator, base: np.ndarray, mean_ms: float, end_ms: int) -> np.ndarray:
    """Times an exponential while after `base`; those that would pass `end_ms` fall
    uniformly between base and the end instead (no pile-up at the end)."""
    rows = int(base.shape[0])
    candidate = base + rng.exponential(mean_ms, rows).astype(np.int64)
    fallback = base + (rng.random(rows) * np.maximum(end_ms - 1 - base, 0)).astype(np.int64)
    return np.where(candidate < end_ms, candidate, fallback)


@dataclass(frozen=True)
class Blocks:
    """Items laid out row by row and, within a row, block by block.

    Given counts[row, block], item i belongs to `row[i]`, `block[i]` and is the
    `position[i]`-th item of its block; `start[row, block]` is the first item of each block.
    """

    row: np.ndarray
    block: np.ndarray
    position: np.ndarray
    start: np.ndarray
    row_start: np.ndarray

    @property
    def size(self) -> int:
        return int(self.row.shape[0])


def lay_out(counts: np.ndarray) -> Blocks:
    rows, block_count = counts.shape
    flat = counts.reshape(-1).astype(np.int64)
    total = int(flat.sum())
    starts = np.cumsum(flat) - flat
    item_block = np.repeat(np.tile(np.arange(block_count), rows), flat)
    item_row = np.repeat(np.arange(rows), counts.sum(axis=1).astype(np.int64))
    position = np.arange(total, dtype=np.int64) - np.repeat(starts, flat)
    start = starts.reshape(rows, block_count)
    row_start = start[:, 0] if block_count else np.zeros(rows, dtype=np.int64)
    return Blocks(item_row, item_block, position, start, row_start)
