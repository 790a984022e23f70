"""Shop orders and their lines.

Online orders are the Order Completed events of sessions logged in with a shop account
(same customer, same time, the product added to the cart as the first line); store orders
are drawn per customer after registration. Totals follow the lines exactly:
total = round(sum(quantity * unit_price) - discount, 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from herald.generate import text
from herald.generate.catalogue import CURRENCIES, PROMO_CODES, RATES, Catalogue, Traffic
from herald.generate.devices import BY_CUSTOMER, WEB, Devices
from herald.generate.events import Browsing
from herald.generate.people import People, Window
from herald.generate.randomness import choose, later, lay_out, uniform_between
from herald.generate.records import ShopCustomers, record_numbers
from herald.generate.text import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE

STORE_ORDERS_PER_CUSTOMER = 1.45  # Poisson mean, on top of online orders
CHANNELS = pa.array(["web", "app", "store"], pa.string())
CHANNEL_WEB, CHANNEL_APP, CHANNEL_STORE = 0, 1, 2
STATUSES = pa.array(
    ["created", "paid", "shipped", "delivered", "cancelled", "returned"], pa.string()
)
CREATED, PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = range(6)
# Events before an Order Completed in its session: Product Added, checkout page, Checkout
# Started, success page — so the added product is four events back.
_ADDED_BEFORE_ORDER = 4


@dataclass
class Orders:
    """Orders in id order, with their lines."""

    customer: np.ndarray  # shop customer row
    created: np.ndarray
    numbers: np.ndarray
    total: np.ndarray
    currency: np.ndarray
    order_of_event: np.ndarray  # per Order Completed event (in event order), its order row
    orders: pa.Table
    items: pa.Table

    def order_ids(self) -> pa.Array:
        return text.prefixed_id("ORD-", self.numbers)


def registration_times(
    customers: ShopCustomers,
    devices: Devices,
    identify_time: np.ndarray,
    customer_device: np.ndarray,
    rng: np.random.Generator,
    window: Window,
) -> np.ndarray:
    """Registration comes before the first login of any device with the account."""
    registered = customers.registered_ms.copy()
    logins = identify_time[customer_device] - rng.integers(
        MS_PER_MINUTE, 30 * MS_PER_MINUTE, customer_device.shape[0]
    )
    np.minimum.at(registered, devices.record[customer_device], logins)
    return np.maximum(registered, window.start_ms)


def place_orders(
    customers: ShopCustomers,
    registered: np.ndarray,
    person: People,
    browsing: Browsing,
    devices: Devices,
    catalogue: Catalogue,
    traffic: Traffic,
    rng: np.random.Generator,
    window: Window,
    chunk: int,
    customer_ids: pa.Array,
) -> Orders:
    events, sessions = browsing.events, browsing.sessions
    online_event = browsing.order_events
    online_session = events.session[online_event]
    online_device = sessions.device[online_session]
    online_count = online_event.shape[0]

    store_per_customer = rng.poisson(STORE_ORDERS_PER_CUSTOMER, customers.size)
    store_customer = np.repeat(np.arange(customers.size), store_per_customer)
    store_created = uniform_between(
        rng,
        registered[store_customer],
        np.full(store_customer.shape[0], window.end_ms - MS_PER_HOUR),
    )

    customer = np.concatenate([devices.record[online_device], store_customer])
    created = np.concatenate([events.timestamp[online_event], store_created])
    channel = np.concatenate(
        [
            np.where(devices.platform[online_device] == WEB, CHANNEL_WEB, CHANNEL_APP),
            np.full(store_customer.shape[0], CHANNEL_STORE),
        ]
    )
    traffic_row = np.concatenate(
        [sessions.traffic[online_session], np.full(store_customer.shape[0], -1)]
    )
    first_product = np.concatenate(
        [
            events.product[online_event - _ADDED_BEFORE_ORDER],
            np.full(store_customer.shape[0], -1),
        ]
    )
    order, numbers = record_numbers(chunk, created)
    customer, created, channel = customer[order], created[order], channel[order]
    traffic_row, first_product, numbers = traffic_row[order], first_product[order], numbers[order]
    position = np.empty(order.shape[0], dtype=np.int64)
    position[order] = np.arange(order.shape[0])
    order_of_event = position[:online_count]
    count = customer.shape[0]

    russian = person.russian[customers.person[customer]]
    currency = np.where(russian, 0, choose(rng, count, {0: 20, 1: 45, 2: 35}))
    rate = np.array([RATES[name] for name in CURRENCIES])[currency]

    # Lines.
    lines = 1 + rng.poisson(1.5, count)
    layout = lay_out(lines[:, None])
    line_order = layout.row
    item_count = line_order.shape[0]
    product = catalogue.draw(rng, item_count)
    is_first = layout.position == 0
    product = np.where(
        is_first & (first_product[line_order] >= 0), first_product[line_order], product
    )
    quantity = choose(rng, item_count, {1: 80, 2: 15, 3: 3, 4: 1, 5: 1})
    unit_price = np.round(catalogue.price_rub[product] / rate[line_order], 2)
    subtotal = np.add.reduceat(quantity * unit_price, layout.row_start) if count else np.zeros(0)

    promo = np.where(rng.random(count) < 0.22, rng.integers(0, len(PROMO_CODES), count), -1)
    share = np.array([code[1] for code in PROMO_CODES])[np.maximum(promo, 0)]
    fixed = np.array([code[2] for code in PROMO_CODES])[np.maximum(promo, 0)]
    discount = np.where(share > 0, np.round(subtotal * share, 2), np.round(fixed / rate, 2))
    discount = np.where(promo >= 0, np.minimum(discount, subtotal), 0.0)
    total = np.round(subtotal - discount, 2)

    status, updated = _statuses(channel, created, rng, window)

    order_ids = text.prefixed_id("ORD-", numbers)
    orders_table = pa.table(
        {
            "order_id": order_ids,
            "customer_id": text.pick(customer_ids, customer),
            "created_at": text.timestamps(created),
            "updated_at": text.timestamps(updated),
            "status": text.pick(STATUSES, status),
            "currency": text.pick(pa.array(list(CURRENCIES), pa.string()), currency),
            "total": pa.array(total, pa.float64()),
            "discount": pa.array(discount, pa.float64()),
            "promo_code": text.pick(
                pa.array([code[0] for code in PROMO_CODES], pa.string()), promo
            ),
            "channel": text.pick(CHANNELS, channel),
            "utm_source": text.pick(traffic.utm_source, traffic_row),
            "utm_campaign": text.pick(traffic.utm_campaign, traffic_row),
        }
    )
    items_table = pa.table(
        {
            "order_id": order_ids.take(pa.array(line_order)),
            "line_number": pa.array((layout.position + 1).astype(np.int32), pa.int32()),
            "product_id": text.pick(catalogue.product_id, product),
            "product_name": text.pick(catalogue.product_name, product),
            "category": text.pick(catalogue.category, product),
            "brand": text.pick(catalogue.brand, product),
            "quantity": pa.array(quantity.astype(np.int32), pa.int32()),
            "unit_price": pa.array(unit_price, pa.float64()),
        }
    )
    return Orders(
        customer=customer,
        created=created,
        numbers=numbers,
        total=total,
        currency=currency,
        order_of_event=order_of_event,
        orders=orders_table,
        items=items_table,
    )


def _statuses(
    channel: np.ndarray, created: np.ndarray, rng: np.random.Generator, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Where each order got to by the end of the window, and when it last changed."""
    count = created.shape[0]
    end = window.end_ms - 1_000
    paid = created + rng.integers(MS_PER_MINUTE, 30 * MS_PER_MINUTE, count)
    shipped = paid + rng.integers(MS_PER_DAY, 3 * MS_PER_DAY, count)
    delivered = shipped + rng.integers(MS_PER_DAY, 5 * MS_PER_DAY, count)
    unpaid = rng.random(count) < 0.02
    status = np.select(
        [unpaid | (paid >= end), shipped >= end, delivered >= end],
        [CREATED, PAID, SHIPPED],
        DELIVERED,
    )
    updated = np.select(
        [status == CREATED, status == PAID, status == SHIPPED], [created, paid, shipped], delivered
    )
    store = channel == CHANNEL_STORE
    status = np.where(store, DELIVERED, status)
    updated = np.where(store, created, updated)

    cancelled = rng.random(count) < np.where(store, 0.0, 0.05)
    cancel_time = created + rng.integers(10 * MS_PER_MINUTE, 2 * MS_PER_DAY, count)
    cancelled &= cancel_time < end
    returned = ~cancelled & (rng.random(count) < 0.03)
    return_time = created + rng.integers(10 * MS_PER_DAY, 20 * MS_PER_DAY, count)
    returned &= return_time < end
    status = np.select([cancelled, returned], [CANCELLED, RETURNED], status)
    updated = np.select([cancelled, returned], [cancel_time, return_time], updated)
    return status, np.minimum(updated, end)


def shop_updated_times(
    registered: np.ndarray, rng: np.random.Generator, window: Window
) -> np.ndarray:
    changed = rng.random(registered.shape[0]) >= 0.4
    return np.where(
        changed, later(rng, registered, 90 * MS_PER_DAY, window.end_ms - 1_000), registered
    )


def customer_devices(devices: Devices) -> np.ndarray:
    """Devices identified by a shop account."""
    return np.flatnonzero(devices.identified_by == BY_CUSTOMER)
