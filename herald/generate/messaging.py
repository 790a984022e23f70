"""What the sender did with CRM contacts: message events and subscription changes.

Contacts receive some of the campaigns sent after they were created, on channels they can be
reached on. Each send has a `sent` event and what followed: delivery or a bounce (typo'd
mailbox domains always bounce hard), opens, clicks, and rarely an unsubscribe or a complaint.
Unsubscribes show up again in the subscriptions source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from herald.generate import people as p
from herald.generate import text, vocabulary
from herald.generate.catalogue import MESSAGE_CHANNELS, SITE, Campaigns
from herald.generate.devices import IOS, Devices
from herald.generate.people import People, Vocabulary, Window
from herald.generate.randomness import first_occurrence, later, lay_out, lookup
from herald.generate.records import CrmContacts
from herald.generate.text import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND

EMAIL, SMS, PUSH = 0, 1, 2
SENDS_PER_ELIGIBLE_CAMPAIGN = 0.1  # Poisson rate per campaign sent after a contact exists

EVENT_TYPES = pa.array(
    ["sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained", "failed"],
    pa.string(),
)
SENT, DELIVERED, OPENED, CLICKED, BOUNCED, UNSUBSCRIBED, COMPLAINED, FAILED = range(8)
# Blocks of a send, in time order, and the event type of each.
_BLOCK_TYPES = np.array(
    [SENT, DELIVERED, BOUNCED, FAILED, OPENED, CLICKED, UNSUBSCRIBED, COMPLAINED]
)
B_SENT, B_DELIVERED, B_BOUNCED, B_FAILED, B_OPENED, B_CLICKED, B_UNSUB, B_COMPLAINED = range(8)

# (bounce type, SMTP code, enhanced status, diagnostic); failures have no SMTP fields.
DELIVERY_PROBLEMS: tuple[tuple[str | None, int | None, str | None, str], ...] = (
    ("hard", 550, "5.1.1", "550 5.1.1 user unknown"),
    ("hard", 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
    ("hard", 553, "5.1.3", "553 5.1.3 Invalid recipient address syntax"),
    ("hard", 551, "5.1.6", "551 5.1.6 Recipient has moved; no forwarding address"),
    ("hard", 554, "5.7.1", "554 5.7.1 Message rejected as spam"),
    ("hard", 550, "5.7.1", "550 5.7.1 Delivery not authorized, message refused"),
    ("hard", 550, "5.1.2", "550 5.1.2 Host unknown: domain name not found"),
    ("soft", 452, "4.2.2", "452 4.2.2 Mailbox full"),
    ("soft", 421, "4.7.0", "421 4.7.0 Try again later, closing connection"),
    ("soft", 450, "4.2.1", "450 4.2.1 Mailbox temporarily unavailable"),
    ("soft", 451, "4.3.0", "451 4.3.0 Temporary local problem, please try again later"),
    ("soft", 451, "4.7.1", "451 4.7.1 Greylisted, please try again later"),
    ("soft", 552, "5.2.2", "552 5.2.2 Mailbox full, quota exceeded"),
    (None, None, None, "absent subscriber"),
    (None, None, None, "unknown subscriber"),
    (None, None, None, "rejected by operator"),
    (None, None, None, "Unregistered"),
    (None, None, None, "BadDeviceToken"),
    (None, None, None, "UNREGISTERED"),
    (None, None, None, "INVALID_ARGUMENT"),
)
_HARD = np.arange(0, 6)
_DOMAIN_NOT_FOUND = 6
_SOFT = np.arange(7, 13)
_SMS_FAILURE = np.arange(13, 16)
_APNS_FAILURE = np.arange(16, 18)
_FCM_FAILURE = np.arange(18, 20)
LINK_PATHS = ("/sale", "/new", "/catalog/smartphones", "/blog/gift-ideas")


@dataclass
class Messaging:
    events: pa.Table
    unsubscribe_contact: np.ndarray  # CRM row per unsubscribe event
    unsubscribe_channel: np.ndarray
    unsubscribe_resource: np.ndarray
    unsubscribe_time: np.ndarray


def _pick_from(rng: np.random.Generator, options: np.ndarray, rows: int) -> np.ndarray:
    return options[rng.integers(0, options.shape[0], rows)]


def message_events(
    crm: CrmContacts,
    person: People,
    devices: Devices,
    vocab: Vocabulary,
    campaigns: Campaigns,
    rng: np.random.Generator,
    window: Window,
) -> Messaging:
    contacts = crm.person.shape[0]
    first_campaign = np.searchsorted(campaigns.send_at, crm.created_ms, side="right")
    eligible = campaigns.size - first_campaign
    per_contact = rng.poisson(SENDS_PER_ELIGIBLE_CAMPAIGN * eligible)
    contact = np.repeat(np.arange(contacts), per_contact)
    campaign = first_campaign[contact] + (rng.random(contact.shape[0]) * eligible[contact]).astype(
        np.int64
    )
    # A contact gets a campaign once; channels they cannot be reached on are skipped.
    unique_key = np.unique(contact * campaigns.size + campaign)
    contact, campaign = unique_key // campaigns.size, unique_key % campaigns.size
    channel = campaigns.channel[campaign]

    person_row = crm.person[contact]
    push_device = first_occurrence(
        devices.person[devices.has_push], person.size
    )  # position among push devices
    push_rows = np.flatnonzero(devices.has_push)
    device_of_person = lookup(push_rows, push_device)
    device = device_of_person[person_row]
    reachable = np.select(
        [channel == EMAIL, channel == SMS],
        [crm.has_email[contact], crm.has_phone[contact]],
        device >= 0,
    )
    contact, campaign, channel = contact[reachable], campaign[reachable], channel[reachable]
    person_row, device = person_row[reachable], device[reachable]
    sends = contact.shape[0]
    sent_at = campaigns.send_at[campaign] + rng.integers(0, 2 * MS_PER_HOUR, sends)

    email, sms, push = channel == EMAIL, channel == SMS, channel == PUSH
    draw = rng.random((sends, 8))
    hard = email & (crm.email_typo[contact] | (draw[:, 0] < 0.008))
    soft = email & ~hard & (draw[:, 1] < 0.006)
    failed = ~email & (draw[:, 2] < np.where(sms, 0.03, 0.06))
    delivered = ~(hard | soft | failed)
    opens = np.where(
        delivered & (draw[:, 3] < np.where(email, 0.25, np.where(push, 0.08, 0.0))),
        1 + (draw[:, 4] < 0.3),
        0,
    )
    clicks = np.where(
        (opens > 0) & email & (draw[:, 5] < 0.2),
        1 + (draw[:, 6] < 0.25),
        np.where(sms & delivered & (draw[:, 5] < 0.025), 1, 0),
    )
    unsubscribed = delivered & ~push & (draw[:, 7] < np.where(email, 0.004, 0.003))
    complained = email & delivered & (rng.random(sends) < 0.0005)

    counts = np.stack(
        [np.ones(sends, np.int64), delivered, hard | soft, failed, opens, clicks, unsubscribed,
         complained],
        axis=1,
    ).astype(np.int64)  # fmt: skip
    layout = lay_out(counts)
    send, block, position = layout.row, layout.block, layout.position
    count = layout.size

    delivery_delay = np.select(
        [email, sms],
        [rng.integers(MS_PER_SECOND, 20 * MS_PER_SECOND, sends),
         rng.integers(2 * MS_PER_SECOND, 60 * MS_PER_SECOND, sends)],
        rng.integers(500, 5 * MS_PER_SECOND, sends),
    )  # fmt: skip
    first_open = delivery_delay + rng.exponential(6 * MS_PER_HOUR, sends).astype(np.int64)
    engaged = np.where(opens > 0, first_open, delivery_delay)
    per_event = rng.exponential(1.0, count)
    offset = np.select(
        [
            block == B_SENT,
            block == B_DELIVERED,
            block == B_BOUNCED,
            block == B_FAILED,
            block == B_OPENED,
            block == B_CLICKED,
            block == B_UNSUB,
        ],
        [
            0,
            delivery_delay[send],
            np.where(
                soft[send],
                10 * MS_PER_MINUTE + (per_event * 2 * MS_PER_HOUR).astype(np.int64),
                MS_PER_SECOND + (per_event * 5 * MS_PER_SECOND).astype(np.int64),
            ),
            MS_PER_SECOND + (per_event * 3 * MS_PER_SECOND).astype(np.int64),
            first_open[send] + position * (per_event * MS_PER_DAY).astype(np.int64),
            engaged[send] + (position + per_event) * 3 * MS_PER_MINUTE,
            engaged[send] + MS_PER_SECOND + (per_event * 2 * MS_PER_MINUTE).astype(np.int64),
        ],
        delivery_delay[send] + (per_event * 12 * MS_PER_HOUR).astype(np.int64),
    )
    occurred = sent_at[send] + offset.astype(np.int64)
    kept = occurred < window.end_ms  # what would happen after the end has not happened yet
    rows = np.flatnonzero(kept)
    send, block, occurred = send[rows], block[rows], occurred[rows]
    event_type = _BLOCK_TYPES[block]
    count = rows.shape[0]

    send_channel = channel[send]
    problem = np.full(count, -1, dtype=np.int64)
    bounce_rows = block == B_BOUNCED
    typo_bounce = bounce_rows & crm.email_typo[contact[send]]
    problem = np.where(bounce_rows & hard[send], _pick_from(rng, _HARD, count), problem)
    problem = np.where(bounce_rows & soft[send], _pick_from(rng, _SOFT, count), problem)
    problem = np.where(typo_bounce, _DOMAIN_NOT_FOUND, problem)
    failed_rows = block == B_FAILED
    send_platform = lookup(devices.platform, device)
    by_apns = send_platform[send] == IOS
    problem = np.where(
        failed_rows,
        np.select(
            [send_channel == SMS, by_apns],
            [_pick_from(rng, _SMS_FAILURE, count), _pick_from(rng, _APNS_FAILURE, count)],
            _pick_from(rng, _FCM_FAILURE, count),
        ),
        problem,
    )
    bounce_type = pa.array([row[0] for row in DELIVERY_PROBLEMS], pa.string())
    smtp_code = pa.array([row[1] for row in DELIVERY_PROBLEMS], pa.int32())
    smtp_status = pa.array([row[2] for row in DELIVERY_PROBLEMS], pa.string())
    diagnostic = pa.array([row[3] for row in DELIVERY_PROBLEMS], pa.string())

    clicked = block == B_CLICKED
    link = np.where(clicked, rng.integers(0, len(LINK_PATHS), count), -1)
    campaign_ids = text.pick(campaigns.campaign_id, campaign[send])
    channel_names = pa.array(list(MESSAGE_CHANNELS), pa.string())
    url = text.concat(
        text.pick(pa.array([SITE + path for path in LINK_PATHS], pa.string()), link),
        "?utm_source=herald&utm_medium=",
        text.pick(channel_names, send_channel),
        "&utm_campaign=",
        campaign_ids,
        "&utm_content=link",
        text.decimal(link + 1),
    )

    # Recipients and providers.
    kind = person.phone_kind[person_row]

    def recipient(group: int, where: np.ndarray) -> pa.Array:
        if group == EMAIL:
            return crm.email_normalised.take(pa.array(contact[where]))
        if group == SMS:
            return p.e164(kind[where], person.phone_digits[person_row[where]])
        return devices.push_token.take(pa.array(device[where]))  # push: device >= 0

    recipient_of_send = text.assemble(channel, recipient)
    operator_choice = rng.integers(0, 12, sends)
    operator_names = [name for names in vocabulary.SMS_OPERATORS for name in names]
    operator_offset = np.cumsum([0] + [len(names) for names in vocabulary.SMS_OPERATORS])[:-1]
    operator_count = np.array([len(names) for names in vocabulary.SMS_OPERATORS])
    operator = operator_offset[kind] + operator_choice % operator_count[kind]
    provider_values = pa.concat_arrays(
        [
            vocab.domains.values,
            pa.array([*operator_names, "apns", "fcm"], pa.string()),
        ]
    )
    domain_count = len(vocab.domains.values)
    apns = domain_count + len(operator_names)
    provider_of_send = np.select(
        [email, sms, send_platform == IOS],
        [crm.email_domain[contact], domain_count + operator, apns],
        apns + 1,  # fcm
    )

    message_id = text.uuid4(rng, sends)
    table = pa.table(
        {
            "event_id": text.uuid4(rng, count),
            "message_id": message_id.take(pa.array(send)),
            "campaign_id": campaign_ids,
            "channel": text.pick(channel_names, send_channel),
            "recipient": recipient_of_send.take(pa.array(send)),
            "contact_id": text.pick(crm.contact_id, contact[send]),
            "event_type": text.pick(EVENT_TYPES, event_type),
            "occurred_at": text.timestamps(occurred),
            "url": url,
            "link_position": pa.array((link + 1).astype(np.int32), pa.int32(), mask=~clicked),
            "bounce_type": text.pick(bounce_type, problem),
            "smtp_code": text.pick(smtp_code, problem),
            "smtp_status": text.pick(smtp_status, problem),
            "diagnostic": text.pick(diagnostic, problem),
            "provider": text.pick(provider_values, provider_of_send[send]),
        }
    )
    unsub = np.flatnonzero(block == B_UNSUB)
    return Messaging(
        events=table,
        unsubscribe_contact=contact[send[unsub]],
        unsubscribe_channel=send_channel[unsub],
        unsubscribe_resource=campaigns.resource[campaign[send[unsub]]],
        unsubscribe_time=occurred[unsub],
    )


# --- subscriptions ----------------------------------------------------------------------------
SUBSCRIPTION_CHANNELS = pa.array(["email", "sms", "push", "telegram"], pa.string())
SUBSCRIPTION_RESOURCES = pa.array(["newsletter", "promo", "transactional"], pa.string())
SUBSCRIPTION_STATUSES = pa.array(["subscribed", "unsubscribed"], pa.string())
SUBSCRIPTION_SOURCES = pa.array(["crm", "web", "shop"], pa.string())
# (channel, resource, share of reachable contacts subscribed, needs: 0 email 1 phone 2 push 3 -)
_SUBSCRIPTION_KINDS: tuple[tuple[int, int, float, int], ...] = (
    (0, 0, 0.85, 0),
    (0, 1, 0.60, 0),
    (0, 2, 0.40, 0),
    (1, 1, 0.40, 1),
    (1, 2, 0.20, 1),
    (2, 1, 0.50, 2),
    (3, 0, 0.08, 3),
)


def subscriptions_table(
    crm: CrmContacts,
    person: People,
    devices: Devices,
    messaging: Messaging,
    rng: np.random.Generator,
    window: Window,
) -> pa.Table:
    contacts = crm.person.shape[0]
    has_push_device = np.zeros(person.size, dtype=bool)
    has_push_device[devices.person[devices.has_push]] = True
    reachable = np.stack(
        [crm.has_email, crm.has_phone, has_push_device[crm.person], np.ones(contacts, bool)],
        axis=1,
    )
    kinds = np.array(_SUBSCRIPTION_KINDS)
    needs = kinds[:, 3].astype(np.int64)
    subscribed = (rng.random((contacts, kinds.shape[0])) < kinds[:, 2]) & reachable[:, needs]
    contact, kind = np.nonzero(subscribed)
    channel = kinds[kind, 0].astype(np.int64)
    resource = kinds[kind, 1].astype(np.int64)
    end = window.end_ms - MS_PER_SECOND
    changed = later(rng, crm.created_ms[contact], MS_PER_DAY, end)
    status = np.zeros(contact.shape[0], dtype=np.int64)

    # Some people change their mind later: unsubscribe, and a few come back.
    leaves = rng.random(contact.shape[0]) < 0.06
    left_at = changed + rng.exponential(120 * MS_PER_DAY, contact.shape[0]).astype(np.int64)
    leaves &= left_at < end
    returns = leaves & (rng.random(contact.shape[0]) < 0.2)
    back_at = left_at + rng.exponential(60 * MS_PER_DAY, contact.shape[0]).astype(np.int64)
    returns &= back_at < end

    from_messages = messaging.unsubscribe_contact.shape[0]
    contact = np.concatenate(
        [contact, contact[leaves], contact[returns], messaging.unsubscribe_contact]
    )
    channel = np.concatenate(
        [channel, channel[leaves], channel[returns], messaging.unsubscribe_channel]
    )
    resource = np.concatenate(
        [resource, resource[leaves], resource[returns], messaging.unsubscribe_resource]
    )
    status = np.concatenate(
        [status, np.ones(int(leaves.sum()), np.int64), np.zeros(int(returns.sum()), np.int64),
         np.ones(from_messages, np.int64)]
    )  # fmt: skip
    changed = np.concatenate(
        [changed, left_at[leaves], back_at[returns], messaging.unsubscribe_time]
    )
    rows = contact.shape[0]
    person_row = crm.person[contact]
    source_weight = np.stack(
        [
            np.full(rows, 50.0),
            np.where(person.in_web[person_row], 30.0, 0.0),
            np.where(person.in_shop[person_row], 20.0, 0.0),
        ],
        axis=1,
    )
    cumulative = np.cumsum(source_weight, axis=1)
    source = (rng.random(rows) * cumulative[:, -1] > cumulative[:, :-1].T).sum(axis=0)
    # Unsubscribe links in emails are on the web; replies to SMS reach the CRM.
    message_source = np.where(messaging.unsubscribe_channel == EMAIL, 1, 0)
    source[rows - from_messages :] = message_source

    order = np.lexsort((changed, contact))
    return pa.table(
        {
            "contact_id": text.pick(crm.contact_id, contact[order]),
            "channel": text.pick(SUBSCRIPTION_CHANNELS, channel[order]),
            "resource": text.pick(SUBSCRIPTION_RESOURCES, resource[order]),
            "status": text.pick(SUBSCRIPTION_STATUSES, status[order]),
            "changed_at": text.timestamps(changed[order]),
            "source": text.pick(SUBSCRIPTION_SOURCES, source[order]),
        }
    )
