"""Retrying units of work that the database aborted as conflicts (no database needed)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from provenance.store.engine import retry_conflicts


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def aborted(sqlstate: str | None, message: str = "conflict") -> OperationalError:
    return OperationalError("UPDATE ...", {}, DriverError(message, sqlstate))


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("40001", "could not serialize access"),
        ("40P01", "deadlock detected"),
        (None, "database is locked"),
    ],
)
def test_conflicts_are_retried_until_the_work_goes_through(
    sqlstate: str | None, message: str
) -> None:
    calls = []

    @retry_conflicts
    def work(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise aborted(sqlstate, message)
        return value * 2

    assert work(21) == 42
    assert calls == [21, 21, 21]


def test_other_errors_are_not_retried() -> None:
    calls = []

    @retry_conflicts
    def work() -> None:
        calls.append(1)
        raise aborted("42501", "permission denied")

    with pytest.raises(OperationalError):
        work()
    assert calls == [1]


def test_retries_give_up_eventually() -> None:
    calls = []

    @retry_conflicts
    def work() -> None:
        calls.append(1)
        raise aborted("40001")

    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 5
