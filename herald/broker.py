"""The RabbitMQ queues services meet in, declared the same way by every client.

    declare_events_queues(channel, settings.events_queue)    # pika (the loader)
    EVENTS_ARGUMENTS, dead_letter_queue(name)                 # what aiormq (the tracker) declares

`events` carries what the tracker (and later the sender) takes in, as bundles of envelopes
(tracking/wire.py); the loader moves them into landing files. It is a durable quorum queue:
a message that fails `DELIVERY_LIMIT` deliveries (a poison message that kills its consumer)
is dead-lettered to `<queue>.dead`, where the loader also puts every event it rejects, with
the reason in the `x-herald-reason` header. Nothing is dropped.
"""

from __future__ import annotations

from typing import Any

DELIVERY_LIMIT = 5
REASON_HEADER = "x-herald-reason"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def events_arguments(queue: str) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_letter_queue(queue),
    }


DEAD_LETTER_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}


def declare_events_queues(channel: Any, queue: str) -> None:
    """Declare the events queue and its dead-letter queue on a pika channel."""
    channel.queue_declare(
        queue=dead_letter_queue(queue), durable=True, arguments=DEAD_LETTER_ARGUMENTS
    )
    channel.queue_declare(queue=queue, durable=True, arguments=events_arguments(queue))
