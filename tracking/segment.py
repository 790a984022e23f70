"""Segment Spec messages as the HTTP API receives them: checked, completed, or refused with
a reason a developer can act on.

    events, rejected = read_call("track", body)      # one call: SegmentError if it is bad
    events, rejected = read_call("batch", body)      # a batch: the bad messages in `rejected`

Limits are Segment's: 32 KB per message, 500 KB per batch. A message keeps what the client
sent; the tracker only adds `type` (single calls), a `messageId` when there is none, and the
batch's shared `context` and `integrations` under the message's own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
CALLS = ("identify", "track", "page", "screen", "group", "alias")
_TEXT_FIELDS = ("event", "name", "category", "groupId", "previousId", "messageId")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")


class SegmentError(ValueError):
    """A request the API refuses, with the reason (the response's `error`)."""


def parse_json(body: bytes, limit: int) -> Any:
    if len(body) > limit:
        raise SegmentError(
            f"the body is {len(body):,} bytes; the limit is {limit // 1024} KB "
            "(32 KB per message, 500 KB per batch)"
        )
    if not body:
        raise SegmentError("the body is empty: send a JSON object")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SegmentError(f"the body is not valid JSON: {exc}") from None
    # orjson reads 1024 levels but writes 255, and the envelope puts a message 2 levels
    # down: a body that could be that deep is written once to check (counting is cheap).
    try:
        if body.count(b"{") + body.count(b"[") > 250:
            orjson.dumps([[document]])
    except orjson.JSONEncodeError:
        raise SegmentError(
            "the body is nested too deeply: keep objects and arrays under 250 levels"
        ) from None
    return document


def _identity(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SegmentError(f"{name} must be a string or a number")
    text = value if isinstance(value, str) else str(value)
    if len(text) > 255:
        raise SegmentError(f"{name} is longer than 255 characters")
    return text


def check_message(message: object, call: str | None) -> dict[str, Any]:
    """The message, completed, if it is a valid `call` (or any call, from its `type`)."""
    if not isinstance(message, dict):
        raise SegmentError("a message must be a JSON object")
    kind = message.get("type", call) if call is None else call
    if kind not in CALLS:
        raise SegmentError(f"type must be one of {', '.join(CALLS)} (got {kind!r})")
    message["type"] = kind
    user_id = _identity(message.get("userId"), "userId")
    anonymous_id = _identity(message.get("anonymousId"), "anonymousId")
    if user_id is None and anonymous_id is None and kind != "alias":
        raise SegmentError("a message needs a userId or an anonymousId")
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    for name in _TEXT_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise SegmentError(f"{name} must be a string")
    for name in _OBJECT_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, dict):
            raise SegmentError(f"{name} must be a JSON object")
    for name in _TIME_FIELDS:
        value = message.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise SegmentError(f"{name} must be an ISO 8601 date-time text")
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise SegmentError(
                    f"{name} {value[:40]!r} is not an ISO 8601 date-time "
                    "(e.g. 2026-11-26T10:00:00.000Z)"
                ) from None
    if kind == "track" and not message.get("event"):
        raise SegmentError("a track call needs an event name")
    if kind == "group" and _identity(message.get("groupId"), "groupId") is None:
        raise SegmentError("a group call needs a groupId")
    if kind == "alias":
        if _identity(message.get("previousId"), "previousId") is None or user_id is None:
            raise SegmentError("an alias call needs a previousId and a userId")
        message["previousId"] = _identity(message.get("previousId"), "previousId")
    if not message.get("messageId"):
        message["messageId"] = f"hrd-{uuid.uuid4()}"
    elif len(message["messageId"]) > 255:
        raise SegmentError("messageId is longer than 255 characters")
    return message


Refused = list[tuple[str, Any]]  # (reason, the message as sent)


def read_call(call: str, body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]], Refused]:
    """(the request's top level, its accepted messages, the refused ones with reasons).

    A single call that is wrong raises SegmentError; a batch keeps its good messages and
    gives a reason (`batch[i]: …`) for each bad one."""
    if call == "batch":
        document = parse_json(body, MAX_BATCH_BYTES)
        if not isinstance(document, dict):
            raise SegmentError("the body must be a JSON object with a batch array")
        messages = document.get("batch")
        if not isinstance(messages, list):
            raise SegmentError("the body needs a batch array of messages")
        shared_context = document.get("context")
        shared_integrations = document.get("integrations")
        if shared_context is not None and not isinstance(shared_context, dict):
            raise SegmentError("context must be a JSON object")
        accepted: list[dict[str, Any]] = []
        refused: Refused = []
        for index, message in enumerate(messages):
            try:
                if (  # only a body over 32 KB can hold a message over 32 KB
                    len(body) > MAX_EVENT_BYTES
                    and isinstance(message, dict)
                    and len(orjson.dumps(message)) > MAX_EVENT_BYTES
                ):
                    raise SegmentError("the message is over 32 KB")
                checked = check_message(message, None)
            except SegmentError as exc:
                refused.append((f"batch[{index}]: {exc}", message))
                continue
            if shared_context:
                checked["context"] = {**shared_context, **(checked.get("context") or {})}
            if shared_integrations and "integrations" not in checked:
                checked["integrations"] = shared_integrations
            accepted.append(checked)
        return document, accepted, refused
    document = parse_json(body, MAX_EVENT_BYTES)
    return document, [check_message(document, call)], []
