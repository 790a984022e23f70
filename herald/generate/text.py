"""Building Arrow string columns from numpy arrays without a Python loop per row.

Fixed-width text (ids, phone numbers, timestamps, UUIDs) is laid out as a numpy byte matrix,
one row per value, and handed to Arrow as the data buffer of a string array. Variable-width
text is picked from small lookup arrays with `take` and glued with Arrow's string kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ByteMatrix = np.ndarray  # (rows, width) uint8, ASCII/UTF-8 bytes
Part = bytes | str | np.ndarray

_HEX_PAIRS = np.array(
    [ord(f"{i:02x}"[0]) | (ord(f"{i:02x}"[1]) << 8) for i in range(256)], dtype=np.uint16
)
_HEX_PAIRS_UPPER = np.array(
    [ord(f"{i:02X}"[0]) | (ord(f"{i:02X}"[1]) << 8) for i in range(256)], dtype=np.uint16
)
_ALNUM = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)


def from_matrix(matrix: ByteMatrix) -> pa.StringArray:
    """A string array whose i-th value is the bytes of row i."""
    rows, width = matrix.shape
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    offsets = np.arange(0, rows * width + 1, width, dtype=np.int32)
    array = pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
    return array


def digit_matrix(values: np.ndarray, width: int) -> ByteMatrix:
    """Zero-padded decimal digits of non-negative integers, as a (rows, width) byte matrix."""
    rest = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((rest.shape[0], width), dtype=np.uint8)
    for position in range(width - 1, -1, -1):
        out[:, position] = rest % 10 + 48
        rest //= 10
    return out


def compose(parts: Sequence[Part], rows: int) -> pa.StringArray:
    """Fixed-width strings made of literal pieces and byte-matrix columns, side by side."""
    blocks: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, str | bytes):
            literal = part.encode() if isinstance(part, str) else part
            blocks.append(np.broadcast_to(np.frombuffer(literal, np.uint8), (rows, len(literal))))
        else:
            blocks.append(part)
    return from_matrix(np.concatenate(blocks, axis=1) if blocks else np.empty((rows, 0), np.uint8))


def fill_template(template: str, digits: ByteMatrix) -> pa.StringArray:
    """Strings shaped like `template`, each '#' taking the next column of `digits`."""
    rows = digits.shape[0]
    encoded = np.frombuffer(template.encode(), np.uint8)
    out = np.empty((rows, encoded.shape[0]), dtype=np.uint8)
    taken = 0
    for position, byte in enumerate(encoded):
        if byte == ord("#"):
            out[:, position] = digits[:, taken]
            taken += 1
        else:
            out[:, position] = byte
    return from_matrix(out)


def prefixed_id(prefix: str, numbers: np.ndarray, width: int = 7) -> pa.StringArray:
    """Ids like CRM-0000123: the prefix and the number zero-padded to at least `width`."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.shape[0] == 0:
        return pa.array([], pa.string())
    needed = max(width, len(str(int(numbers.max()))))
    return compose([prefix, digit_matrix(numbers, needed)], numbers.shape[0])


def decimal(values: np.ndarray) -> pa.StringArray:
    """Integers as decimal text without padding."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def uuid4(rng: np.random.Generator, rows: int, upper: bool = False) -> pa.StringArray:
    """Random RFC 4122 version-4 UUID strings, drawn from `rng`."""
    raw = np.frombuffer(rng.bytes(rows * 16), dtype=np.uint8).reshape(rows, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    chars = (_HEX_PAIRS_UPPER if upper else _HEX_PAIRS)[raw].view(np.uint8).reshape(rows, 32)
    out = np.empty((rows, 36), dtype=np.uint8)
    out[:, 0:8] = chars[:, 0:8]
    out[:, 9:13] = chars[:, 8:12]
    out[:, 14:18] = chars[:, 12:16]
    out[:, 19:23] = chars[:, 16:20]
    out[:, 24:36] = chars[:, 20:32]
    out[:, [8, 13, 18, 23]] = ord("-")
    return from_matrix(out)


def hex_token(rng: np.random.Generator, rows: int, nbytes: int) -> ByteMatrix:
    """Random lowercase hex, 2*nbytes characters a row."""
    raw = np.frombuffer(rng.bytes(rows * nbytes), dtype=np.uint8).reshape(rows, nbytes)
    return _HEX_PAIRS[raw].view(np.uint8).reshape(rows, nbytes * 2)


def url_safe_token(rng: np.random.Generator, rows: int, length: int) -> ByteMatrix:
    """Random base64url characters, `length` a row."""
    return _ALNUM[rng.integers(0, 64, size=(rows, length), dtype=np.uint8)]


def pick(lookup: pa.Array, indices: np.ndarray) -> pa.Array:
    """lookup[indices]; negative indices give null."""
    indices = np.asarray(indices)
    if indices.shape[0] and indices.min() < 0:
        masked = pa.array(indices.astype(np.int32), mask=indices < 0)
        return lookup.take(masked)
    return lookup.take(pa.array(indices.astype(np.int32)))


def constant(value: str, rows: int) -> pa.Array:
    """The same text in every row."""
    return pa.array([value], pa.string()).take(pa.array(np.zeros(rows, dtype=np.int32)))


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def concat_skipping_nulls(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation treating nulls as empty text."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """Values with nulls where mask is true."""
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def where(mask: np.ndarray, when_true: pa.Array, when_false: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), when_true, when_false)


def assemble(
    groups: np.ndarray,
    build: Callable[[int, np.ndarray], pa.Array],
    value_type: pa.DataType = pa.string(),
) -> pa.Array:
    """One array built group by group: build(group, row_indices) makes that group's values.

    Rows keep their order; each group's builder sees only its own rows.
    """
    groups = np.asarray(groups)
    rows = groups.shape[0]
    if rows == 0:
        return pa.array([], value_type)
    present = np.unique(groups)
    if present.shape[0] == 1:
        return build(int(present[0]), np.arange(rows))
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    bounds = [*np.searchsorted(sorted_groups, present, side="left").tolist(), rows]
    pieces = []
    for position, group in enumerate(present.tolist()):
        rows_of_group = order[bounds[position] : bounds[position + 1]]
        pieces.append(build(int(group), rows_of_group).cast(value_type))
    combined = pa.concat_arrays(pieces)
    inverse = np.empty(rows, dtype=np.int64)
    inverse[order] = np.arange(rows)
    return combined.take(pa.array(inverse))


# --- calendar ---------------------------------------------------------------------------------
MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR


def civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01."""
    as_days = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = as_days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (as_days - months).astype(np.int64) + 1
    return year, month, day


def date_digits(days: np.ndarray, order: str = "ymd") -> ByteMatrix:
    """Digits of a date in the given field order: 'ymd' → YYYYMMDD, 'dmy' → DDMMYYYY."""
    year, month, day = civil(days)
    fields = {"y": digit_matrix(year, 4), "m": digit_matrix(month, 2), "d": digit_matrix(day, 2)}
    return np.concatenate([fields[name] for name in order], axis=1)


def timestamp_text(ms: np.ndarray) -> pa.StringArray:
    """'YYYY-MM-DD HH:MM:SS' for milliseconds since the epoch (UTC, seconds truncated)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // MS_PER_DAY
    second_of_day = (ms - days * MS_PER_DAY) // MS_PER_SECOND
    year, month, day = civil(days)
    rows = ms.shape[0]
    return compose(
        [
            digit_matrix(year, 4),
            "-",
            digit_matrix(month, 2),
            "-",
            digit_matrix(day, 2),
            " ",
            digit_matrix(second_of_day // 3600, 2),
            ":",
            digit_matrix(second_of_day // 60 % 60, 2),
            ":",
            digit_matrix(second_of_day % 60, 2),
        ],
        rows,
    )


def timestamps(ms: np.ndarray) -> pa.TimestampArray:
    return pa.array(np.asarray(ms, dtype=np.int64), pa.timestamp("ms"))


def dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Date32Array:
    return pa.array(np.asarray(days, dtype=np.int32), pa.date32(), mask=mask)
