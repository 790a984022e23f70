"""The RabbitMQ queues of sending, declared the same way by the launcher, the workers and
the CLI (pika or aiormq: both take these names and arguments).

    declare_send_queues(pika_channel)                  # sends, sends.priority, sends.dead
    name = delay_queue("sends", 300)                   # 'sends.delay.300', declared on use

`sends` and `sends.priority` are durable quorum queues with a delivery limit: a chunk that
kills its consumer `DELIVERY_LIMIT` times is dead-lettered to `sends.dead`, as are chunks a
worker refuses (with the reason in the `x-herald-reason` header). A delay queue holds
retries: classic and durable, one per delay (rounded, so there are few), with a message TTL
equal to the delay and dead-lettering back to its lane, which is how a retry comes back.
A hold queue (classic, durable) keeps a paused run's chunks until it is resumed or
cancelled, and is deleted once emptied.
"""

from __future__ import annotations

from typing import Any

from herald.broker import DELIVERY_LIMIT, REASON_HEADER

__all__ = ["DELIVERY_LIMIT", "REASON_HEADER", "SendQueues"]


class SendQueues:
    """The queue names of one sending setup (`HERALD_SENDS_QUEUE`, default `sends`)."""

    def __init__(self, base: str = "sends") -> None:
        self.base = base
        self.sends = base
        self.priority = f"{base}.priority"
        self.dead = f"{base}.dead"
        self.lanes = (self.priority, self.sends)

    def hold(self, run_id: str) -> str:
        return f"{self.base}.hold.{run_id}"

    def lane_of(self, kind: str) -> str:
        return self.priority if kind == "transactional" else self.sends

    def lane_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead,
        }

    def declare(self, channel: Any) -> None:
        """Declare the lanes and the dead-letter queue on a pika channel."""
        channel.queue_declare(queue=self.dead, durable=True, arguments=DEAD_ARGUMENTS)
        for lane in self.lanes:
            channel.queue_declare(queue=lane, durable=True, arguments=self.lane_arguments())


DEAD_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}


def rounded_delay(seconds: float) -> int:
    """A delay in whole seconds with two significant digits (so 7 s, 45 s, 310 s -> 310,
    3,725 s -> 3,700): retries share a few delay queues instead of one per value."""
    whole = max(1, round(seconds))
    if whole < 100:
        return whole
    scale = 10 ** (len(str(whole)) - 2)
    return round(whole / scale) * scale


def delay_queue(lane: str, seconds: int) -> str:
    return f"{lane}.delay.{seconds}"


def delay_arguments(lane: str, seconds: int) -> dict[str, Any]:
    return {
        "x-message-ttl": seconds * 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": lane,
    }
