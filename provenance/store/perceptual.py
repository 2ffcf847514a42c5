"""Perceptual prints in the ledger: recording them, and finding those within a Hamming distance.

The lookup is multi-index hashing (Norouzi et al., 2012). A print is three bands of 22, 21 and
21 bits, each indexed; two prints within distance d agree within floor(d / 3) bits on at least
one band (pigeonhole: were all three bands further apart, the prints would differ in
3 * (floor(d / 3) + 1) > d bits). So every band value within that radius of each query's is
probed with indexed IN lookups (the probes of all of a file's queries in one sorted list per
band), and the rows they return are verified by popcount. At NEAR_AI_DISTANCE (radius 2) that
is 254 + 232 + 232 values a print, which on a million random prints return about 280 rows,
instead of reading all million. Only prints of the current `ALGORITHM` are compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from provenance.detect.perceptual import (
    ALGORITHM,
    QueryPrint,
    StoredPrint,
    band_probes,
    bands,
    probe_radius,
    to_signed,
)
from provenance.store import bulk
from provenance.store.models import Content, Location, PerceptualPrint
from provenance.store.queries import chunked

__all__ = ["details_of", "near_prints", "near_regions", "record_prints", "stale_contents"]


_TABLE = bulk.table_of(PerceptualPrint)
_BAND_COLUMNS = (_TABLE.c.band0, _TABLE.c.band1, _TABLE.c.band2)
# Built once: `bulk.select_in` compiles a statement once per IN-list length.
_CANDIDATES = select(_TABLE.c.content_id, _TABLE.c.region, _TABLE.c.print).where(
    _TABLE.c.algorithm == bindparam("algorithm")
)
_EXISTING = select(_TABLE.c.content_id).where(_TABLE.c.algorithm == bindparam("algorithm"))
_CURRENT = {"algorithm": ALGORITHM}


@dataclass(frozen=True)
class Candidate:
    """A stored print within the distance of one of a file's query prints."""

    content_id: int
    region: str
    """The stored region ("whole", "crop-left", "third-top" ..., "@white" for the view over white)."""
    distance: int
    query: QueryPrint
    """The nearest query print that may be compared with that region."""


def record_prints(session: Session, rows: Iterable[tuple[int, Sequence[StoredPrint]]]) -> int:
    """Record each content's prints (of the current ALGORITHM); contents that already have
    them keep theirs. Returns how many prints were added."""
    given: dict[int, Sequence[StoredPrint]] = {}
    for content_id, prints in rows:
        if prints:
            given.setdefault(content_id, prints)
    if not given:
        return 0
    connection = session.connection()
    known = {
        row[0]
        for row in bulk.select_in(connection, _EXISTING, _TABLE.c.content_id, list(given), _CURRENT)
    }
    new = [
        (
            content_id,
            ALGORITHM,
            stored.region,
            to_signed(stored.value),
            *bands(stored.value),
            stored.detail,
        )
        for content_id, prints in given.items()
        if content_id not in known
        for stored in prints
    ]
    bulk.insert_rows(
        connection,
        _TABLE,
        (
            "content_id",
            "algorithm",
            "region",
            "print",
            *(column.name for column in _BAND_COLUMNS),
            "detail",
        ),
        new,
    )
    return len(new)


def stale_contents(session: Session) -> list[tuple[int, str, list[tuple[int, bytes]]]]:
    """(content id, digest, [(root id, path) where it was seen]) of every content printed by an
    older algorithm only: what `Ledger.reprint` prints again."""
    current = select(_TABLE.c.content_id).where(_TABLE.c.algorithm == ALGORITHM)
    stale = (
        select(_TABLE.c.content_id)
        .where(_TABLE.c.algorithm != ALGORITHM, _TABLE.c.content_id.not_in(current))
        .distinct()
    )
    rows = session.execute(
        select(Content.id, Content.digest, Location.root_id, Location.path)
        .join(Location, Location.content_id == Content.id, isouter=True)
        .where(Content.id.in_(stale))
        .order_by(Content.id, Location.id)
    )
    found: dict[int, tuple[str, list[tuple[int, bytes]]]] = {}
    for content_id, digest, root_id, path in rows:
        _, places = found.setdefault(content_id, (digest, []))
        if root_id is not None:
            places.append((root_id, path))
    return [(content_id, digest, places) for content_id, (digest, places) in found.items()]


def near_regions(
    session: Session, queries: Sequence[QueryPrint], max_distance: int
) -> list[Candidate]:
    """Every stored print within `max_distance` bits of a query print it may be compared with
    (`QueryPrint.compared_with`), nearest first."""
    rows = _rows_near(session, [query.value for query in queries], max_distance)
    if not rows:
        return []
    values = np.fromiter((value for _, _, value in rows), dtype=np.int64, count=len(rows))
    distances = _distances(values, [query.value for query in queries])
    found: list[tuple[int, int, str, int]] = []
    for row_index, (content_id, region, _) in enumerate(rows):
        base = region.split("@", 1)[0]
        best: tuple[int, int] | None = None
        for query_index, query in enumerate(queries):
            distance = int(distances[row_index, query_index])
            if (
                distance <= max_distance
                and base in query.compared_with
                and (best is None or distance < best[0])
            ):
                best = (distance, query_index)
        if best is not None:
            found.append((best[0], content_id, region, best[1]))
    found.sort()
    return [
        Candidate(content_id, region, distance, queries[query_index])
        for distance, content_id, region, query_index in found
    ]


def details_of(session: Session, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], bytes]:
    """The detail prints of (content id, region) pairs, of the current ALGORITHM."""
    pairs = set(wanted)
    found: dict[tuple[int, str], bytes] = {}
    for chunk in chunked(sorted({content_id for content_id, _ in pairs})):
        statement = select(_TABLE.c.content_id, _TABLE.c.region, _TABLE.c.detail).where(
            _TABLE.c.content_id.in_(chunk), _TABLE.c.algorithm == ALGORITHM
        )
        for content_id, region, detail in session.execute(statement):
            if (content_id, region) in pairs and detail is not None:
                found[content_id, region] = detail
    return found


def near_prints(
    session: Session,
    print_value: int | Sequence[int],
    max_distance: int,
    restrict_to_content_ids: Select[int] | None = None,
) -> list[tuple[int, int]]:
    """(content id, distance) of every content with a print (any region) within
    `max_distance` bits of one of the given prints, nearest first.

    `restrict_to_content_ids`, a SELECT of content ids (the contents of generated assets,
    say), keeps only the matches it holds.
    """
    lookups = [print_value] if isinstance(print_value, int) else list(print_value)
    rows = _rows_near(session, lookups, max_distance)
    if not rows:
        return []
    values = np.fromiter((value for _, _, value in rows), dtype=np.int64, count=len(rows))
    distances = _distances(values, lookups).min(axis=1)
    nearest: dict[int, int] = {}
    for (content_id, _, _), distance in zip(rows, distances.tolist(), strict=True):
        if distance <= max_distance and distance < nearest.get(content_id, max_distance + 1):
            nearest[content_id] = distance
    found = sorted((distance, content_id) for content_id, distance in nearest.items())
    if restrict_to_content_ids is not None and found:
        allowed = _allowed(
            session, [content_id for _, content_id in found], restrict_to_content_ids
        )
        found = [(distance, content_id) for distance, content_id in found if content_id in allowed]
    return [(content_id, distance) for distance, content_id in found]


def _rows_near(
    session: Session, lookups: Sequence[int], max_distance: int
) -> list[tuple[int, str, int]]:
    """(content id, region, print) of every row that agrees with a lookup on a band within the
    probe radius: a superset of the rows within `max_distance`."""
    if not lookups or max_distance < 0:
        return []
    radius = probe_radius(max_distance)
    connection = session.connection()
    rows: dict[tuple[int, str], int] = {}
    for band, column in enumerate(_BAND_COLUMNS):
        probes = sorted(
            {probe for value in lookups for probe in band_probes(band, bands(value)[band], radius)}
        )
        for content_id, region, value in bulk.select_in(
            connection, _CANDIDATES, column, probes, _CURRENT
        ):
            rows[content_id, region] = value
    return [(content_id, region, value) for (content_id, region), value in rows.items()]


def _distances(values: npt.NDArray[np.int64], lookups: Sequence[int]) -> npt.NDArray[np.int64]:
    """(rows, lookups): the Hamming distance of each stored print to each lookup."""
    unsigned = values.view(np.uint64)
    queries = np.array([to_signed(value) for value in lookups], dtype=np.int64).view(np.uint64)
    differing = np.bitwise_xor(unsigned[:, None], queries[None, :])
    counts: npt.NDArray[np.int64] = _popcount(differing).astype(np.int64)
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
