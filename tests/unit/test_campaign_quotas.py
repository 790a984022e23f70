"""Sending limits and warm-up: counted in the store before enqueueing, never past a cap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from herald.campaigns.quotas import release, reserve, set_limit, used, warmup_allowance
from herald.store import create_store_engine, migrate

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    migrate(url)
    return create_store_engine(url)


def test_the_warmup_ramp_grows_by_its_factor_up_to_its_cap() -> None:
    days = [warmup_allowance(1000, 1.5, 5000, day) for day in range(6)]

    assert days == [1000, 1500, 2250, 3375, 5000, 5000]
    assert warmup_allowance(1000, 2.0, 5000, 10_000) == 5000


def test_a_scope_without_a_limit_grants_everything(store: Engine) -> None:
    assert reserve(store, ["campaign:free"], 12_345, now=NOW) == 12_345


def test_a_day_limit_grants_what_is_left_then_nothing(store: Engine) -> None:
    set_limit(store, "domain:shop.example", per_day=100)

    first = reserve(store, ["domain:shop.example"], 70, now=NOW)
    second = reserve(store, ["domain:shop.example"], 70, now=NOW + timedelta(hours=1))
    third = reserve(store, ["domain:shop.example"], 70, now=NOW + timedelta(hours=2))
    tomorrow = reserve(store, ["domain:shop.example"], 70, now=NOW + timedelta(days=1))

    assert (first, second, third, tomorrow) == (70, 30, 0, 70)


def test_the_tightest_of_several_scopes_and_windows_wins(store: Engine) -> None:
    set_limit(store, "campaign:news", per_hour=40, per_day=1000)
    set_limit(store, "domain:shop.example", per_day=50)

    granted = [
        reserve(store, ["campaign:news", "domain:shop.example"], 30, now=NOW + timedelta(hours=h))
        for h in range(3)
    ]

    assert granted == [30, 20, 0]
    assert used(store, "campaign:news", NOW)["hour"] == 30


def test_the_warmup_counts_from_its_first_day(store: Engine) -> None:
    set_limit(
        store,
        "domain:new.example",
        warmup_start=10,
        warmup_factor=2.0,
        warmup_cap=30,
        warmup_from=datetime(2026, 11, 25, tzinfo=UTC),
    )

    today = reserve(store, ["domain:new.example"], 100, now=NOW)  # day 1: 20
    later = reserve(store, ["domain:new.example"], 100, now=NOW + timedelta(days=5))  # capped

    assert (today, later) == (20, 30)


def test_a_restart_with_a_new_engine_sees_what_was_counted(store: Engine, tmp_path: Path) -> None:
    set_limit(store, "domain:shop.example", per_day=10)
    reserve(store, ["domain:shop.example"], 8, now=NOW)
    store.dispose()

    restarted = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")

    assert reserve(restarted, ["domain:shop.example"], 8, now=NOW) == 2


def test_schedulers_at_once_never_grant_more_than_the_limit(store: Engine) -> None:
    set_limit(store, "domain:shop.example", per_day=500)
    granted: list[int] = []

    def take() -> None:
        for _ in range(20):
            granted.append(reserve(store, ["domain:shop.example"], 7, now=NOW))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(granted) <= 500
    assert used(store, "domain:shop.example", NOW)["day"] == sum(granted)


def test_what_could_not_be_enqueued_is_given_back(store: Engine) -> None:
    set_limit(store, "domain:shop.example", per_day=10)
    reserve(store, ["domain:shop.example"], 10, now=NOW)

    release(store, ["domain:shop.example"], 4, now=NOW)

    assert reserve(store, ["domain:shop.example"], 10, now=NOW) == 4


def test_a_domain_scope_is_the_same_whatever_its_case(store: Engine) -> None:
    set_limit(store, "domain:Shop.Example", per_day=5)

    assert reserve(store, ["domain:shop.example"], 10, now=NOW) == 5


def test_setting_the_same_ramp_again_keeps_its_first_day(store: Engine) -> None:
    ramp = {"warmup_start": 10, "warmup_factor": 2.0, "warmup_cap": 80}
    first = set_limit(
        store, "domain:new.example", **ramp, warmup_from=datetime(2026, 11, 20, tzinfo=UTC)
    )

    again = set_limit(
        store, "domain:new.example", per_hour=50, warmup_start=10, warmup_factor=2.0, warmup_cap=80
    )

    assert again.warmup_from == first.warmup_from == datetime(2026, 11, 20, tzinfo=UTC)
