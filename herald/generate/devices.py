"""Devices people browse and shop with: browsers and the iOS / Android app."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from herald.generate import text
from herald.generate.people import People, Window
from herald.generate.randomness import choose, first_occurrence
from herald.generate.text import MS_PER_DAY, MS_PER_HOUR

WEB, IOS, ANDROID = 0, 1, 2
PLATFORMS = pa.array(["web", "ios", "android"], pa.string())
# Operating systems and their versions.
OS_NAMES = pa.array(["Windows", "macOS", "Linux", "iOS", "Android"], pa.string())
WINDOWS, MACOS, LINUX, OS_IOS, OS_ANDROID = range(5)
OS_VERSIONS: tuple[tuple[str, ...], ...] = (
    ("10", "11"),
    ("13.6", "14.5", "14.7", "15.1", "15.3"),
    ("6.5", "6.8"),
    ("16.7", "17.4", "17.6", "18.0", "18.1", "18.3"),
    ("11", "12", "13", "14", "15"),
)
_VERSION_OFFSET = np.cumsum([0] + [len(versions) for versions in OS_VERSIONS])[:-1]
OS_VERSION_VALUES = pa.array([v for versions in OS_VERSIONS for v in versions], pa.string())
BROWSERS = pa.array(
    ["Chrome", "Safari", "Firefox", "Edge", "Yandex Browser", "Samsung Internet"], pa.string()
)
# Share of each browser by operating system (rows follow OS_NAMES).
_BROWSER_SHARES = np.array(
    [
        [0.55, 0.0, 0.10, 0.15, 0.20, 0.0],
        [0.40, 0.50, 0.10, 0.0, 0.0, 0.0],
        [0.50, 0.0, 0.50, 0.0, 0.0, 0.0],
        [0.15, 0.85, 0.0, 0.0, 0.0, 0.0],
        [0.70, 0.0, 0.0, 0.0, 0.20, 0.10],
    ]
)
_BROWSER_CDF = np.cumsum(_BROWSER_SHARES, axis=1)
APP_VERSIONS = pa.array(["4.8.2", "4.9.0", "4.9.1", "5.0.0", "5.1.3", "5.2.0"], pa.string())

# How a device is identified in web events: not at all, by a web sign-up, by a shop account.
ANONYMOUS, BY_SIGNUP, BY_CUSTOMER = 0, 1, 2


@dataclass
class Devices:
    person: np.ndarray
    platform: np.ndarray
    os: np.ndarray
    os_version: np.ndarray  # index into OS_VERSION_VALUES
    browser: np.ndarray  # -1 for apps
    app_version: np.ndarray  # -1 for the web
    has_push: np.ndarray
    window_start: np.ndarray  # ms: sessions fall in [window_start, window_end]
    window_end: np.ndarray
    identified_by: np.ndarray
    record: np.ndarray  # web sign-up or shop customer row it is identified by, else -1
    anonymous_id: pa.Array
    device_id: pa.Array
    push_token: pa.Array

    @property
    def size(self) -> int:
        return int(self.person.shape[0])


def sample_devices(
    person: People,
    signup_person: np.ndarray,
    customer_person: np.ndarray,
    rng: np.random.Generator,
    window: Window,
) -> Devices:
    """0-3 devices a person; whoever signed up on the web has one, the first, to sign up on."""
    count = person.size
    known = person.in_web | person.in_shop
    per_person = np.where(
        known,
        1 + rng.binomial(2, 0.22, count),
        choose(rng, count, {0: 50, 1: 42, 2: 8}),
    )
    owner = np.repeat(np.arange(count), per_person)
    devices = owner.shape[0]
    first_of_person = first_occurrence(owner, count)
    ordinal = np.arange(devices) - first_of_person[owner]

    signup_of_person = np.full(count, -1, dtype=np.int64)
    signup_of_person[signup_person] = np.arange(signup_person.shape[0])
    customer_of_person = first_occurrence(customer_person, count)
    signup_device = (ordinal == 0) & (signup_of_person[owner] >= 0)

    russian = person.russian[owner]
    platform = np.where(
        russian,
        choose(rng, devices, {WEB: 55, ANDROID: 30, IOS: 15}),
        choose(rng, devices, {WEB: 55, ANDROID: 15, IOS: 30}),
    )
    platform = np.where(signup_device & (rng.random(devices) < 0.85), WEB, platform)
    web_os = choose(rng, devices, {WINDOWS: 48, MACOS: 18, LINUX: 2, OS_IOS: 12, OS_ANDROID: 20})
    os = np.select([platform == IOS, platform == ANDROID], [OS_IOS, OS_ANDROID], web_os)
    version_count = np.array([len(versions) for versions in OS_VERSIONS])[os]
    os_version = _VERSION_OFFSET[os] + (rng.random(devices) ** 0.7 * version_count).astype(np.int64)
    browser_draw = rng.random(devices)
    browser = (browser_draw[:, None] > _BROWSER_CDF[os]).sum(axis=1)
    browser = np.where(platform == WEB, np.minimum(browser, len(BROWSERS) - 1), -1)
    app_version = np.where(
        platform == WEB, -1, (rng.random(devices) ** 0.6 * len(APP_VERSIONS)).astype(np.int64)
    )
    push_share = np.select([platform == IOS, platform == ANDROID], [0.55, 0.65], 0.08)
    has_push = rng.random(devices) < push_share

    # Devices start with the person's first contact or some time after it.
    first_seen = person.first_seen[owner]
    latest = window.end_ms - 3 * MS_PER_HOUR
    later = (rng.random(devices) * 0.5 * (latest - first_seen)).astype(np.int64)
    start = np.minimum(first_seen + np.where(ordinal == 0, 0, later), latest)
    life = rng.exponential(200 * MS_PER_DAY, devices).astype(np.int64)
    end = np.minimum(start + life, latest)

    customer = customer_of_person[owner]
    by_customer = (customer >= 0) & ~signup_device & (rng.random(devices) < 0.7)
    identified_by = np.select([signup_device, by_customer], [BY_SIGNUP, BY_CUSTOMER], ANONYMOUS)
    record = np.select([signup_device, by_customer], [signup_of_person[owner], customer], -1)

    device_id = text.assemble(
        (platform == IOS).astype(np.int64),
        lambda upper, rows: text.uuid4(rng, rows.shape[0], upper=bool(upper)),
    )
    anonymous_id = text.uuid4(rng, devices)
    token_kind = np.where(has_push, np.where(platform == IOS, 1, 2), 0)

    def build_token(kind: int, rows: np.ndarray) -> pa.Array:
        size = rows.shape[0]
        if kind == 0:
            return pa.nulls(size, pa.string())
        if kind == 1:  # APNs device token
            return text.from_matrix(text.hex_token(rng, size, 32))
        return text.compose(  # FCM registration token
            [text.url_safe_token(rng, size, 22), ":APA91b", text.url_safe_token(rng, size, 134)],
            size,
        )

    push_token = text.assemble(token_kind, build_token)
    return Devices(
        person=owner,
        platform=platform,
        os=os,
        os_version=os_version,
        browser=browser,
        app_version=app_version,
        has_push=has_push,
        window_start=start,
        window_end=end,
        identified_by=identified_by,
        record=record,
        anonymous_id=anonymous_id,
        device_id=device_id,
        push_token=push_token,
    )


def devices_table(
    devices: Devices,
    signup_ids: pa.Array,
    customer_ids: pa.Array,
    first_seen_ms: np.ndarray,
    last_seen_ms: np.ndarray,
) -> pa.Table:
    by_customer = devices.identified_by == BY_CUSTOMER
    by_signup = devices.identified_by == BY_SIGNUP
    return pa.table(
        {
            "device_id": devices.device_id,
            "anonymous_id": devices.anonymous_id,
            "customer_id": text.pick(customer_ids, np.where(by_customer, devices.record, -1)),
            "signup_id": text.pick(signup_ids, np.where(by_signup, devices.record, -1)),
            "platform": text.pick(PLATFORMS, devices.platform),
            "os": text.pick(OS_NAMES, devices.os),
            "os_version": text.pick(OS_VERSION_VALUES, devices.os_version),
            "browser": text.pick(BROWSERS, devices.browser),
            "app_version": text.pick(APP_VERSIONS, devices.app_version),
            "push_token": devices.push_token,
            "first_seen_at": text.timestamps(first_seen_ms),
            "last_seen_at": text.timestamps(last_seen_ms),
        }
    )
