"""Web and app sessions and the Segment-style events they produce.

Each device has sessions; each session is laid out as blocks of events in a fixed order:

    landing page · Signed Up · Identify · more pages · (product page, Product Viewed)×n ·
    Product Added · (checkout page, Checkout Started) · (success page, Order Completed) ·
    Goal Completed

so funnels narrow naturally: a later block only happens when the earlier one did. A device
identified by a sign-up or a shop account carries that user_id from its Identify event on;
only sessions identified by a shop account can complete an order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from herald.generate import text
from herald.generate.catalogue import GOALS, Catalogue, Pages, Traffic
from herald.generate.devices import BY_CUSTOMER, BY_SIGNUP, WEB, Devices
from herald.generate.randomness import draw, first_occurrence, lay_out, uniform_between
from herald.generate.text import MS_PER_SECOND

# Event kinds.
PAGE, PRODUCT_VIEWED, PRODUCT_ADDED, CHECKOUT_STARTED, ORDER_COMPLETED = range(5)
GOAL_COMPLETED, SIGNED_UP, IDENTIFY = 5, 6, 7
EVENT_NAMES = pa.array(
    [
        "Page Viewed",
        "Product Viewed",
        "Product Added",
        "Checkout Started",
        "Order Completed",
        "Goal Completed",
        "Signed Up",
        "Identify",
    ],
    pa.string(),
)
EVENT_TYPES = pa.array(["page", "track", "identify"], pa.string())
_TYPE_OF_KIND = np.array([0, 1, 1, 1, 1, 1, 1, 2])

# Blocks of a session, in order.
LANDING, SIGNUP, IDENTIFIED, BROWSE, PRODUCTS, ADDED, CHECKOUT, ORDER, GOAL = range(9)
BLOCKS = 9
# Kind of the even (0, 2, …) and odd items of each block; pair blocks alternate page, track.
_EVEN_KIND = np.array([PAGE, SIGNED_UP, IDENTIFY, PAGE, PAGE, PRODUCT_ADDED, PAGE, PAGE, 5])
_ODD_KIND = np.array([PAGE, SIGNED_UP, IDENTIFY, PAGE, PRODUCT_VIEWED, PRODUCT_ADDED,
                      CHECKOUT_STARTED, ORDER_COMPLETED, GOAL_COMPLETED])  # fmt: skip

# Sessions a device: 1 + Poisson(extra); devices logged in to a shop account come back more.
SESSIONS_EXTRA_ANONYMOUS = 0.15
SESSIONS_EXTRA_CUSTOMER = 0.9
DUPLICATE_SHARE = 0.001  # events delivered twice (at-least-once transport)


@dataclass
class Sessions:
    device: np.ndarray
    start: np.ndarray
    traffic: np.ndarray
    ordinal: np.ndarray  # session number within its device, in time order
    identified_from: np.ndarray  # events from this block on carry user_id (BLOCKS = none)


@dataclass
class Events:
    """Events as parallel arrays, grouped by device and session, in time order."""

    session: np.ndarray
    kind: np.ndarray
    block: np.ndarray
    page: np.ndarray
    product: np.ndarray  # -1 where none
    goal: np.ndarray  # -1 where none
    timestamp: np.ndarray
    identified: np.ndarray  # carries the device's user_id

    @property
    def size(self) -> int:
        return int(self.session.shape[0])


@dataclass
class Browsing:
    sessions: Sessions
    events: Events
    signup_time: np.ndarray  # per web sign-up record: its Signed Up event time (ms)
    signup_traffic: np.ndarray  # per web sign-up record: traffic row of that session
    identify_time: np.ndarray  # per device: its Identify event time, or -1
    first_seen: np.ndarray  # per device (ms)
    last_seen: np.ndarray  # per device (ms)
    order_events: np.ndarray  # event rows of Order Completed, in event order


def simulate(
    devices: Devices,
    signup_count: int,
    catalogue: Catalogue,
    pages: Pages,
    traffic: Traffic,
    rng: np.random.Generator,
    end_ms: int,
) -> Browsing:
    device_count = devices.size
    extra = np.where(
        devices.identified_by == BY_CUSTOMER, SESSIONS_EXTRA_CUSTOMER, SESSIONS_EXTRA_ANONYMOUS
    )
    per_device = 1 + rng.poisson(extra)
    session_device = np.repeat(np.arange(device_count), per_device)
    session_count = session_device.shape[0]
    first_session = first_occurrence(session_device, device_count)
    ordinal = np.arange(session_count) - first_session[session_device]
    # The first session opens the device's window; the rest fall anywhere in it.
    start = uniform_between(
        rng, devices.window_start[session_device], devices.window_end[session_device]
    )
    start = np.where(ordinal == 0, devices.window_start[session_device], start)
    order = np.lexsort((start, session_device))
    start = start[order]  # sessions stay grouped by device, now in time order

    is_app = devices.platform[session_device] != WEB
    session_traffic = np.where(
        is_app,
        draw(traffic.app_cdf, rng, session_count),
        draw(traffic.web_cdf, rng, session_count),
    )

    # Which session identifies the device: the sign-up session (mostly the first),
    # or any session for a shop account.
    identified_by = devices.identified_by[session_device]
    chosen = (rng.random(device_count) * per_device).astype(np.int64)
    chosen = np.where(
        (devices.identified_by == BY_SIGNUP) & (rng.random(device_count) < 0.6), 0, chosen
    )
    identify_ordinal = chosen[session_device]
    identifying = (identified_by != 0) & (ordinal == identify_ordinal)
    signing_up = (identified_by == BY_SIGNUP) & (ordinal == identify_ordinal)
    identified_from = np.select(
        [identified_by == 0, ordinal > identify_ordinal, identifying],
        [BLOCKS, 0, IDENTIFIED],
        BLOCKS,
    )
    can_order = (identified_by == BY_CUSTOMER) & (ordinal >= identify_ordinal)

    counts = np.zeros((session_count, BLOCKS), dtype=np.int64)
    counts[:, LANDING] = 1
    counts[:, SIGNUP] = signing_up
    counts[:, IDENTIFIED] = identifying
    counts[:, BROWSE] = rng.poisson(0.5, session_count)
    # Logged-in customers come to buy more often; anonymous checkouts stop at the login.
    shopping = np.where(can_order, 0.8, 0.4)
    views = np.where(rng.random(session_count) < shopping, 1 + rng.poisson(0.5, session_count), 0)
    counts[:, PRODUCTS] = 2 * views
    added = (views > 0) & (rng.random(session_count) < np.where(can_order, 0.6, 0.25))
    counts[:, ADDED] = added
    checkout = added & (rng.random(session_count) < np.where(can_order, 0.75, 0.45))
    counts[:, CHECKOUT] = 2 * checkout
    ordered = checkout & can_order & (rng.random(session_count) < 0.85)
    counts[:, ORDER] = 2 * ordered
    counts[:, GOAL] = rng.random(session_count) < 0.03

    layout = lay_out(counts)
    event_count = layout.size
    session = layout.row
    block = layout.block
    odd = layout.position % 2 == 1
    kind = np.where(odd, _ODD_KIND[block], _EVEN_KIND[block])

    # Pages and products.
    landing_page = draw(pages.landing_cdf, rng, session_count)
    product = np.full(event_count, -1, dtype=np.int64)
    in_products = block == PRODUCTS
    pair_session = session[in_products & ~odd]
    landing_category = pages.category_of_page[landing_page[pair_session]]
    same_category = (landing_category >= 0) & (rng.random(pair_session.shape[0]) < 0.6)
    pair_product = np.where(
        same_category,
        catalogue.draw_in_category(rng, np.maximum(landing_category, 0)),
        catalogue.draw(rng, pair_session.shape[0]),
    )
    product[in_products] = np.repeat(pair_product, 2)
    in_added = block == ADDED
    # The product added to the cart is the last one viewed in the session.
    product[in_added] = product[layout.start[session[in_added], ADDED] - 1]
    goal = np.where(block == GOAL, rng.integers(0, len(GOALS), event_count), -1)

    page = np.select(
        [
            (block == LANDING) | (block == IDENTIFIED),
            block == SIGNUP,
            block == BROWSE,
            in_products | in_added,
            block == CHECKOUT,
            block == ORDER,
            block == GOAL,
        ],
        [
            landing_page[session],
            pages.signup,
            draw(pages.browse_cdf, rng, event_count),
            pages.first_product_page + product,
            pages.checkout,
            pages.success,
            pages.goal_page[np.maximum(goal, 0)],
        ],
        pages.home,
    )

    # Times: a page every ~45 s, its track event a moment after it.
    same_page = odd & ((block == PRODUCTS) | (block == CHECKOUT) | (block == ORDER))
    on_page_track = (block == SIGNUP) | (block == IDENTIFIED) | in_added | (block == GOAL)
    gap = np.where(
        same_page,
        rng.integers(200, 1_500, event_count),
        np.where(
            on_page_track,
            rng.integers(1_000, 20_000, event_count),
            3 * MS_PER_SECOND + rng.exponential(45_000, event_count).astype(np.int64),
        ),
    )
    gap[layout.row_start] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[layout.row_start], counts.sum(axis=1))
    timestamp = np.minimum(start[session] + elapsed, end_ms - 1)

    identified = block >= identified_from[session]

    device_of_event = session_device[session]
    event_first = first_occurrence(device_of_event, device_count)
    device_first_seen = timestamp[event_first]
    # Every device has at least one session and every session at least one event.
    device_last_seen = np.maximum.reduceat(timestamp, event_first) if event_count else timestamp

    identify_rows = np.flatnonzero(kind == IDENTIFY)
    identify_time = np.full(device_count, -1, dtype=np.int64)
    identify_time[device_of_event[identify_rows]] = timestamp[identify_rows]

    signup_rows = np.flatnonzero(kind == SIGNED_UP)
    signup_record = devices.record[device_of_event[signup_rows]]
    signup_time = np.zeros(signup_count, dtype=np.int64)
    signup_time[signup_record] = timestamp[signup_rows]
    signup_traffic = np.zeros(signup_count, dtype=np.int64)
    signup_traffic[signup_record] = session_traffic[session[signup_rows]]

    return Browsing(
        sessions=Sessions(
            session_device, start, session_traffic, ordinal, identified_from.astype(np.int64)
        ),
        events=Events(session, kind, block, page, product, goal, timestamp, identified),
        signup_time=signup_time,
        signup_traffic=signup_traffic,
        identify_time=identify_time,
        first_seen=device_first_seen,
        last_seen=device_last_seen,
        order_events=np.flatnonzero(kind == ORDER_COMPLETED),
    )


def _json_number(values: np.ndarray) -> pa.Array:
    return text.decimal(values) if values.dtype.kind == "i" else pa.array(values).cast(pa.string())


def web_events_table(
    browsing: Browsing,
    devices: Devices,
    catalogue: Catalogue,
    pages: Pages,
    traffic: Traffic,
    user_ids: pa.Array,
    identify_emails: pa.Array,
    order_ids: pa.Array,
    order_totals: np.ndarray,
    order_currencies: pa.Array,
    order_of_event: np.ndarray,
    rng: np.random.Generator,
    end_ms: int,
) -> pa.Table:
    """The web_events table. user_ids and identify_emails are per device (null where
    anonymous); order columns are per order, order_of_event per Order Completed event."""
    sessions, events = browsing.sessions, browsing.events
    unique_count = events.size
    message_id = text.uuid4(rng, unique_count)
    session_id = text.uuid4(rng, sessions.device.shape[0])
    delay = 50 + rng.exponential(1_500, unique_count).astype(np.int64)
    is_app_event = devices.platform[sessions.device[events.session]] != WEB
    offline = is_app_event & (rng.random(unique_count) < 0.03)
    late = rng.exponential(2 * 3_600_000, unique_count).astype(np.int64)
    delay = np.where(offline, delay + late, delay)
    received = np.maximum(np.minimum(events.timestamp + delay, end_ms - 1), events.timestamp)
    order_row = np.full(unique_count, -1, dtype=np.int64)
    order_row[browsing.order_events] = order_of_event

    # Referrer: a page's is the session's previous page, or where the session came from
    # (-1 below); a track event's is that of the page it fired on.
    index = np.arange(unique_count)
    is_page = events.kind == PAGE
    session_first = first_occurrence(events.session, sessions.device.shape[0])[events.session]
    last_page = np.maximum.accumulate(np.where(is_page, index, -1))
    previous_page = np.concatenate([[-1], last_page[:-1]])
    page_referrer = np.where(previous_page >= session_first, previous_page, -1)
    referring = np.where(is_page, page_referrer, page_referrer[last_page])

    # Duplicates: a few events delivered twice, identical rows side by side.
    duplicated = np.flatnonzero(rng.random(unique_count) < DUPLICATE_SHARE)
    rows = np.sort(np.concatenate([index, duplicated]))

    session = events.session[rows]
    device = sessions.device[session]
    kind = events.kind[rows]
    page = events.page[rows]
    product = events.product[rows]
    app = devices.platform[device] != WEB
    traffic_row = sessions.traffic[session]
    landing = events.block[rows] == LANDING
    url = text.pick(pages.url, page + app * pages.size)
    url_with_query = text.concat_skipping_nulls(
        url, text.pick(traffic.query, np.where(landing, traffic_row, -1))
    )
    referring_event = referring[rows]
    external = referring_event < 0
    referrer = text.where(
        external,
        text.pick(traffic.referrer, np.where(app, -1, traffic_row)),
        text.pick(pages.url, np.where(app | external, -1, events.page[referring_event])),
    )
    utm_row = np.where(landing, traffic_row, -1)
    is_product_event = (kind == PRODUCT_VIEWED) | (kind == PRODUCT_ADDED)
    event_product = np.where(is_product_event, product, -1)
    price = catalogue.price_rub[np.maximum(product, 0)]
    order = order_row[rows]
    goal = events.goal[rows]

    def properties(group: int, where: np.ndarray) -> pa.Array:
        if group == PAGE:
            return text.concat('{"path":"', text.pick(pages.path, page[where]), '"}')
        if group in (PRODUCT_VIEWED, PRODUCT_ADDED):
            return text.concat(
                '{"product_id":"',
                text.pick(catalogue.product_id, product[where]),
                '","price":',
                _json_number(price[where].astype(np.int64)),
                ',"currency":"RUB","quantity":1}',
            )
        if group == CHECKOUT_STARTED:
            return text.constant('{"currency":"RUB","step":1}', where.shape[0])
        if group == ORDER_COMPLETED:
            orders = order[where]
            return text.concat(
                '{"order_id":"',
                text.pick(order_ids, orders),
                '","total":',
                _json_number(order_totals[orders]),
                ',"currency":"',
                text.pick(order_currencies, orders),
                '"}',
            )
        if group == GOAL_COMPLETED:
            return text.concat('{"goal":"', text.pick(GOAL_NAMES, goal[where]), '"}')
        if group == SIGNED_UP:
            return text.constant('{"method":"email"}', where.shape[0])
        return text.concat_skipping_nulls(
            '{"email":"', text.pick(identify_emails, device[where]), '"}'
        )

    return pa.table(
        {
            "message_id": message_id.take(pa.array(rows)),
            "type": text.pick(EVENT_TYPES, _TYPE_OF_KIND[kind]),
            "event": text.pick(EVENT_NAMES, kind),
            "anonymous_id": text.pick(devices.anonymous_id, device),
            "user_id": text.pick(user_ids, np.where(events.identified[rows], device, -1)),
            "session_id": text.pick(session_id, session),
            "device_id": text.pick(devices.device_id, device),
            "timestamp": text.timestamps(events.timestamp[rows]),
            "received_at": text.timestamps(received[rows]),
            "url": url_with_query,
            "path": text.pick(pages.path, page),
            "title": text.pick(pages.title, np.where(app, -1, page)),
            "referrer": referrer,
            "utm_source": text.pick(traffic.utm_source, utm_row),
            "utm_medium": text.pick(traffic.utm_medium, utm_row),
            "utm_campaign": text.pick(traffic.utm_campaign, utm_row),
            "utm_content": text.pick(traffic.utm_content, utm_row),
            "utm_term": text.pick(traffic.utm_term, utm_row),
            "product_id": text.pick(catalogue.product_id, event_product),
            "category": text.pick(catalogue.category, event_product),
            "brand": text.pick(catalogue.brand, event_product),
            "price": pa.array(price, mask=~is_product_event),
            "goal": text.pick(GOAL_NAMES, goal),
            "properties": text.assemble(kind, properties),
        }
    )


GOAL_NAMES = pa.array([goal for goal, _page in GOALS], pa.string())
