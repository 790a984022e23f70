"""`generate()`: sample landing data for N true persons, chunk by chunk.

Persons are processed in chunks of CHUNK_PERSONS; every chunk draws from its own random
streams (seed, chunk, purpose) and writes its own file per source, so the output is the
same whether chunks run one after another or on several processes, and memory stays
bounded by one chunk per process.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from herald.errors import HeraldError
from herald.generate import (
    commerce,
    files,
    messaging,
    profile_records,
    randomness,
    records,
    schemas,
    text,
)
from herald.generate.catalogue import (
    Campaigns,
    Catalogue,
    Pages,
    Traffic,
    build_campaigns,
    build_catalogue,
    build_pages,
    build_traffic,
)
from herald.generate.devices import BY_CUSTOMER, BY_SIGNUP, devices_table, sample_devices
from herald.generate.events import simulate, web_events_table
from herald.generate.people import Vocabulary, Window, build_vocabulary, sample_people
from herald.generate.text import MS_PER_DAY

CHUNK_PERSONS = 50_000  # persons a chunk: one file per source per chunk
WINDOW_DAYS = 730
DEFAULT_END_DATE = date(2026, 11, 1)


class GenerateError(HeraldError):
    """The generator was asked for something it cannot make."""


@dataclass
class GenerationReport:
    """What one generation wrote."""

    rows: dict[str, int]  # rows per landing source
    files: list[Path]  # every file written, the truth file last
    seconds: float
    truth_rows: int = 0
    profiles: int = 0
    seed: int = 0
    workers: int = 1

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _World:
    """What every chunk shares: word lists, the shop, its campaigns."""

    vocab: Vocabulary
    catalogue: Catalogue
    pages: Pages
    campaigns: Campaigns
    traffic: Traffic
    window: Window


@lru_cache(maxsize=4)
def _world(seed: int, end_date: date) -> _World:
    end_ms = (
        int(datetime(end_date.year, end_date.month, end_date.day, tzinfo=UTC).timestamp()) * 1000
    )
    window = Window(end_ms - WINDOW_DAYS * MS_PER_DAY, end_ms)
    catalogue = build_catalogue()
    campaigns = build_campaigns(seed, window.start_ms, window.end_ms)
    return _World(
        vocab=build_vocabulary(),
        catalogue=catalogue,
        pages=build_pages(catalogue),
        campaigns=campaigns,
        traffic=build_traffic(campaigns),
        window=window,
    )


@dataclass(frozen=True)
class _ChunkJob:
    home: str
    seed: int
    end_date: date
    chunk: int
    first_person: int
    persons: int


@dataclass(frozen=True)
class _ChunkResult:
    chunk: int
    rows: dict[str, int]
    files: list[str]
    truth_part: str


def _truth_part_path(home: Path, seed: int, chunk: int) -> Path:
    return home / "truth" / f".identities-s{seed}.part-{chunk:05d}.parquet"


def truth_path(home: Path, seed: int) -> Path:
    return home / "truth" / f"identities-s{seed}.parquet"


def _generate_chunk(job: _ChunkJob) -> _ChunkResult:
    home = Path(job.home)
    world = _world(job.seed, job.end_date)
    window, vocab = world.window, world.vocab
    seed, chunk = job.seed, job.chunk

    def rng(purpose: int) -> np.random.Generator:
        return randomness.stream(seed, chunk, purpose)

    written: list[str] = []
    rows: dict[str, int] = {}

    def write(source: str, table: pa.Table) -> None:
        table = table.select(schemas.SCHEMAS[source].names).cast(schemas.SCHEMAS[source])
        file_format = schemas.FORMATS[source]
        path = home / "landing" / source / files.file_name(seed, chunk, file_format)
        if file_format == "csv":
            files.write_csv(table, path)
        else:
            files.write_parquet(table, path, schemas.DICTIONARY_COLUMNS.get(source))
        written.append(str(path))
        rows[source] = table.num_rows

    person = sample_people(
        vocab, rng(randomness.PEOPLE), job.first_person, job.persons, seed, window
    )
    person_ids = person.person_ids()

    crm = records.crm_contacts(vocab, person, rng(randomness.CRM), window, chunk)
    write("crm_contacts", crm.table)
    web = records.web_signups(vocab, person, rng(randomness.WEB))
    shop = records.shop_customers(vocab, person, rng(randomness.SHOP), window)

    device_rng = rng(randomness.DEVICES)
    devices = sample_devices(person, web.person, shop.person, device_rng, window)
    event_rng = rng(randomness.EVENTS)
    browsing = simulate(
        devices, web.size, world.catalogue, world.pages, world.traffic, event_rng, window.end_ms
    )

    # Web sign-ups: the time and traffic of their Signed Up event.
    web_order, web.numbers = records.record_numbers(chunk, browsing.signup_time)
    signup_ids = web.signup_ids()
    signup_device = np.full(web.size, -1, dtype=np.int64)
    by_signup = np.flatnonzero(devices.identified_by == BY_SIGNUP)
    signup_device[devices.record[by_signup]] = by_signup
    traffic = world.traffic
    web_table = pa.table(
        {
            "signup_id": signup_ids,
            "anonymous_id": devices.anonymous_id.take(pa.array(signup_device)),
            "email": web.email,
            "phone": web.phone,
            "name": web.name,
            "city": web.city,
            "signed_up_at": pa.array(browsing.signup_time, pa.timestamp("ms")),
            "utm_source": traffic.utm_source.take(pa.array(browsing.signup_traffic)),
            "utm_medium": traffic.utm_medium.take(pa.array(browsing.signup_traffic)),
            "utm_campaign": traffic.utm_campaign.take(pa.array(browsing.signup_traffic)),
            "consent_email": pa.array(web.consent_email),
            "consent_sms": pa.array(web.consent_sms),
        }
    )
    web_table = web_table.take(pa.array(web_order))
    write("web_signups", web_table)

    # Shop customers: registered before any device logs in with the account.
    order_rng = rng(randomness.ORDERS)
    registered = commerce.registration_times(
        shop,
        devices,
        browsing.identify_time,
        commerce.customer_devices(devices),
        order_rng,
        window,
    )
    shop_order, shop.numbers = records.record_numbers(chunk, registered)
    customer_ids = shop.customer_ids()
    shop_table = pa.table(
        {
            "customer_id": customer_ids,
            "email": shop.email,
            "phone": shop.phone,
            "first_name": shop.first_name,
            "last_name": shop.last_name,
            "birth_date": shop.birth_date,
            "city": shop.city,
            "registered_at": pa.array(registered, pa.timestamp("ms")),
            "updated_at": pa.array(
                commerce.shop_updated_times(registered, order_rng, window), pa.timestamp("ms")
            ),
        }
    )
    shop_table = shop_table.take(pa.array(shop_order))
    write("shop_customers", shop_table)

    device_table = devices_table(
        devices, signup_ids, customer_ids, browsing.first_seen, browsing.last_seen
    )
    write("devices", device_table)

    orders = commerce.place_orders(
        shop,
        registered,
        person,
        browsing,
        devices,
        world.catalogue,
        traffic,
        order_rng,
        window,
        chunk,
        customer_ids,
    )
    write("orders", orders.orders)
    write("order_items", orders.items)

    identified_by_customer = devices.identified_by == BY_CUSTOMER
    identified_by_signup = devices.identified_by == BY_SIGNUP
    user_ids = pa.concat_arrays([signup_ids, customer_ids])
    user_of_device = np.select(
        [identified_by_signup, identified_by_customer],
        [devices.record, web.size + devices.record],
        -1,
    )
    emails = pa.concat_arrays([web.email, shop.email])
    events_table = web_events_table(
        browsing,
        devices,
        world.catalogue,
        world.pages,
        traffic,
        text.pick(user_ids, user_of_device),
        text.pick(emails, user_of_device),
        orders.order_ids(),
        orders.total,
        text.pick(pa.array(["RUB", "USD", "EUR"], pa.string()), orders.currency),
        orders.order_of_event,
        event_rng,
        window.end_ms,
    )
    write("web_events", events_table)
    del events_table

    message_rng = rng(randomness.MESSAGES)
    sent = messaging.message_events(
        crm, person, devices, vocab, world.campaigns, message_rng, window
    )
    write("message_events", sent.events)
    write(
        "subscriptions",
        messaging.subscriptions_table(
            crm, person, devices, sent, rng(randomness.SUBSCRIPTIONS), window
        ),
    )

    write(
        "profile_records",
        profile_records.landing_table(
            [
                profile_records.crm_records(crm, person),
                profile_records.web_records(web_table, web.person[web_order], person),
                profile_records.shop_records(
                    shop_table,
                    shop.person[shop_order],
                    person,
                    profile_records.ordered_categories(orders, shop.size).take(
                        pa.array(shop_order)
                    ),
                ),
                profile_records.device_records(devices, device_table),
            ],
            chunk=chunk,
            seed=seed,
            imported_ms=window.end_ms,
        ),
    )

    identities = [
        ("crm_contacts", crm.contact_id, crm.person),
        ("web_signups", signup_ids.take(pa.array(web_order)), web.person[web_order]),
        ("shop_customers", customer_ids.take(pa.array(shop_order)), shop.person[shop_order]),
        ("devices", devices.device_id, devices.person),
    ]
    truth = pa.concat_tables(
        pa.table(
            {
                "source": text.constant(source, len(keys)),
                "record_key": keys,
                "person_id": person_ids.take(pa.array(owners)),
            },
            schema=schemas.IDENTITIES,
        )
        for source, keys, owners in identities
    )
    part = _truth_part_path(home, seed, chunk)
    files.write_parquet(truth, part)
    return _ChunkResult(chunk, rows, written, str(part))


def generate(
    home: Path,
    profiles: int,
    seed: int = 42,
    end_date: date = DEFAULT_END_DATE,
    *,
    workers: int | None = None,
    chunk_persons: int = CHUNK_PERSONS,
) -> GenerationReport:
    """Write sample landing data for `profiles` true persons under home/landing/<source>/
    and the identity truth file home/truth/identities-s{seed}.parquet.

    Identical arguments give byte-identical files (whatever `workers` is). Earlier generated
    files (gen-*) of every source are removed first; other files are left alone.
    `workers` defaults to one process per CPU, at most one per chunk.
    """
    if profiles < 1:
        raise GenerateError(f"the number of profiles must be at least 1, not {profiles}")
    if seed < 0:
        raise GenerateError(f"the seed must be zero or more, not {seed}")
    if not 1 <= chunk_persons <= records.ID_STRIDE // 4:
        raise GenerateError(f"chunk_persons must be between 1 and {records.ID_STRIDE // 4}")
    started = time.perf_counter()
    home = Path(home)
    for source, _format, _schema in schemas.SOURCES:
        folder = home / "landing" / source
        files.remove_generated(folder)
        folder.mkdir(parents=True, exist_ok=True)
    (home / "truth").mkdir(parents=True, exist_ok=True)
    for leftover in (home / "truth").glob(f".identities-s{seed}.*"):
        leftover.unlink()  # parts of an interrupted run

    chunk_count = (profiles + chunk_persons - 1) // chunk_persons
    jobs = [
        _ChunkJob(
            home=str(home),
            seed=seed,
            end_date=end_date,
            chunk=chunk,
            first_person=chunk * chunk_persons,
            persons=min(chunk_persons, profiles - chunk * chunk_persons),
        )
        for chunk in range(chunk_count)
    ]
    if workers is None:
        workers = os.cpu_count() or 1
    workers = max(1, min(workers, chunk_count))

    results: list[_ChunkResult] = []
    if workers == 1:
        results = [_generate_chunk(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            pending: list[Future[_ChunkResult]] = [
                pool.submit(_generate_chunk, job) for job in jobs
            ]
            results = [future.result() for future in pending]

    truth = truth_path(home, seed)
    truth_rows = _merge_truth([Path(result.truth_part) for result in results], truth)

    rows = {source: 0 for source, _format, _schema in schemas.SOURCES}
    written: list[Path] = []
    for result in results:
        for source, count in result.rows.items():
            rows[source] += count
        written.extend(Path(path) for path in result.files)
    written.append(truth)
    return GenerationReport(
        rows=rows,
        files=written,
        seconds=time.perf_counter() - started,
        truth_rows=truth_rows,
        profiles=profiles,
        seed=seed,
        workers=workers,
    )


def _merge_truth(parts: list[Path], target: Path) -> int:
    """Concatenate the chunks' truth parts, in chunk order, into one file; delete the parts."""
    temporary = files.temporary_path(target)
    total = 0
    with pq.ParquetWriter(temporary, schemas.IDENTITIES, **files.PARQUET_OPTIONS) as writer:
        for part in parts:
            table = pq.read_table(part)
            writer.write_table(table, row_group_size=files.ROW_GROUP_ROWS)
            total += table.num_rows
    os.replace(temporary, target)
    for part in parts:
        part.unlink()
    return total
