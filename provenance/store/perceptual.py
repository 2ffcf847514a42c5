"""Perceptual prints in the ledger: recording them, and finding those within a Hamming distance.

The lookup is multi-index hashing. A print is three bands of 22, 21 and 21 bits, each indexed;
two prints within distance d agree within floor(d / 3) bits on at least one band (pigeonhole:
were all three bands further apart, the prints would differ in 3 * (floor(d / 3) + 1) > d
bits). So every band value within that radius of the query's is probed with indexed IN
lookups, and the candidates they return are verified by popcount. At NEAR_AI_DISTANCE
(radius 2) that is 254 + 232 + 232 values, which on a million random prints return about
280 candidates, instead of reading all million.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from provenance.detect.perceptual import band_probes, bands, probe_radius, to_signed
from provenance.store import bulk
from provenance.store.models import PerceptualPrint
from provenance.store.queries import chunked

_TABLE = bulk.table_of(PerceptualPrint)
_BAND_COLUMNS = (_TABLE.c.band0, _TABLE.c.band1, _TABLE.c.band2)
# Built once: `bulk.select_in` compiles a statement once per IN-list length.
_CANDIDATES = select(_TABLE.c.content_id, _TABLE.c.print)
_EXISTING = select(_TABLE.c.content_id)


def record_prints(session: Session, rows: Iterable[tuple[int, int]]) -> int:
    """Record (content id, print) pairs; contents that already have a print keep it.

    Prints may be given signed or unsigned. Returns how many were added.
    """
    given: dict[int, int] = {}
    for content_id, value in rows:
        given.setdefault(content_id, to_signed(value))
    if not given:
        return 0
    connection = session.connection()
    known = {
        row[0] for row in bulk.select_in(connection, _EXISTING, _TABLE.c.content_id, list(given))
    }
    new = [
        (content_id, value, *bands(value))
        for content_id, value in given.items()
        if content_id not in known
    ]
    bulk.insert_rows(
        connection,
        _TABLE,
        ("content_id", "print", *(column.name for column in _BAND_COLUMNS)),
        new,
    )
    return len(new)


def near_prints(
    session: Session,
    print_value: int | Sequence[int],
    max_distance: int,
    restrict_to_content_ids: Select[int] | None = None,
) -> list[tuple[int, int]]:
    """(content id, distance) of every recorded print within `max_distance` bits, nearest first.

    `print_value` may be several prints of one file (`ImagePrints.lookups`: its own print and
    its prints as a crop); a content's distance is then to the nearest of them.
    `restrict_to_content_ids`, a SELECT of content ids (the contents of generated assets,
    say), keeps only the matches it holds.
    """
    lookups = [print_value] if isinstance(print_value, int) else list(print_value)
    if not lookups or max_distance < 0:
        return []
    radius = probe_radius(max_distance)
    connection = session.connection()
    candidates: dict[int, int] = {}
    for band, column in enumerate(_BAND_COLUMNS):
        probes = sorted(
            {probe for value in lookups for probe in band_probes(band, bands(value)[band], radius)}
        )
        for content_id, value in bulk.select_in(connection, _CANDIDATES, column, probes):
            candidates[content_id] = value
    if not candidates:
        return []
    ids = np.fromiter(candidates.keys(), dtype=np.int64, count=len(candidates))
    values = np.fromiter(candidates.values(), dtype=np.int64, count=len(candidates))
    distances = _nearest_distances(values, lookups)
    near = distances <= max_distance
    found = sorted(zip(distances[near].tolist(), ids[near].tolist(), strict=True))
    if restrict_to_content_ids is not None and found:
        allowed = _allowed(
            session, [content_id for _, content_id in found], restrict_to_content_ids
        )
        found = [(distance, content_id) for distance, content_id in found if content_id in allowed]
    return [(content_id, distance) for distance, content_id in found]


def _nearest_distances(
    values: npt.NDArray[np.int64], lookups: Sequence[int]
) -> npt.NDArray[np.int64]:
    """For each print in `values`, its Hamming distance to the nearest of `lookups`."""
    unsigned = values.view(np.uint64)
    queries = np.array([to_signed(value) for value in lookups], dtype=np.int64).view(np.uint64)
    differing = np.bitwise_xor(unsigned[:, None], queries[None, :])
    counts: npt.NDArray[np.int64] = _popcount(differing).min(axis=1).astype(np.int64)
    return counts


def _popcount(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    if hasattr(np, "bitwise_count"):
        counted: npt.NDArray[np.uint8] = np.bitwise_count(values)
        return counted
    # numpy < 2.0: count the bits of each byte through a table.
    table = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)
    as_bytes = values.reshape(*values.shape, 1).view(np.uint8)
    summed: npt.NDArray[np.uint8] = table[as_bytes].sum(axis=-1, dtype=np.uint8)
    return summed


def _allowed(session: Session, content_ids: list[int], among: Select[int]) -> set[int]:
    allowed: set[int] = set()
    for chunk in chunked(content_ids):
        statement = select(_TABLE.c.content_id).where(
            _TABLE.c.content_id.in_(chunk), _TABLE.c.content_id.in_(among)
        )
        allowed.update(session.execute(statement).scalars())
    return allowed
