"""A Segment Spec message the tracker's HTTP API receives (tracking/segment.py) is checked
call by call and refused with a reason a developer can act on; a batch keeps its good
messages and gives a reason for each bad one."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tracking.segment import (
    CALLS,
    MAX_EVENT_BYTES,
    SegmentError,
    check_message,
    read_call,
)

# --- Segment Spec messages (tracking/segment.py) ---------------------------------------
# What the tracker's HTTP API checks in each call before an event is kept: the fields each
# call needs, their types, Segment's size limits, and what it completes (type, messageId,
# a batch's shared context).

IDENTITY = {"userId": "u-1"}
VALID_CALLS: dict[str, dict[str, Any]] = {
    "identify": {**IDENTITY, "traits": {"email": "ann@shop.example"}},
    "track": {**IDENTITY, "event": "Order Completed", "properties": {"total": 10}},
    "page": {**IDENTITY, "name": "Home", "properties": {"url": "https://shop.example/"}},
    "screen": {**IDENTITY, "name": "Cart"},
    "group": {**IDENTITY, "groupId": "g-1", "traits": {"plan": "pro"}},
    "alias": {"userId": "u-1", "previousId": "anon-1"},
}


def body(document: object) -> bytes:
    return orjson.dumps(document)


def single_refusal(call: str, document: object) -> str:
    with pytest.raises(SegmentError) as refused:
        read_call(call, body(document))
    return str(refused.value)


@pytest.mark.parametrize("call", CALLS)
def test_a_valid_call_is_accepted_with_its_type(call: str) -> None:
    _document, events, refused = read_call(call, body(VALID_CALLS[call]))

    assert refused == []
    assert [event["type"] for event in events] == [call]


@pytest.mark.parametrize("call", CALLS)
def test_a_call_keeps_what_the_client_sent(call: str) -> None:
    _document, [event], _refused = read_call(call, body(VALID_CALLS[call]))

    assert {key: event[key] for key in VALID_CALLS[call]} == VALID_CALLS[call]


def test_the_path_decides_the_type_of_a_single_call() -> None:
    _document, [event], _refused = read_call(
        "track", body({**VALID_CALLS["track"], "type": "page"})
    )

    assert event["type"] == "track"


@pytest.mark.parametrize("call", ["identify", "track", "page", "screen", "group"])
def test_an_anonymous_id_alone_identifies_the_sender(call: str) -> None:
    message = {**VALID_CALLS[call], "anonymousId": "anon-1"}
    del message["userId"]

    _document, [event], _refused = read_call(call, body(message))

    assert (event["anonymousId"], "userId" in event) == ("anon-1", False)


@pytest.mark.parametrize("call", ["identify", "track", "page", "screen", "group"])
@pytest.mark.parametrize("missing", [{}, {"userId": ""}, {"userId": None, "anonymousId": ""}])
def test_a_call_without_a_user_id_or_anonymous_id_is_refused(
    call: str, missing: dict[str, Any]
) -> None:
    message = {key: value for key, value in VALID_CALLS[call].items() if key != "userId"}

    assert single_refusal(call, {**message, **missing}) == (
        "a message needs a userId or an anonymousId"
    )


@pytest.mark.parametrize(
    ("call", "message", "reason"),
    [
        ("track", {"userId": "u-1"}, "a track call needs an event name"),
        ("track", {"userId": "u-1", "event": ""}, "a track call needs an event name"),
        ("group", {"userId": "u-1"}, "a group call needs a groupId"),
        ("group", {"userId": "u-1", "groupId": ""}, "a group call needs a groupId"),
        ("alias", {"userId": "u-1"}, "an alias call needs a previousId and a userId"),
        ("alias", {"previousId": "anon-1"}, "an alias call needs a previousId and a userId"),
        (
            "alias",
            {"anonymousId": "a", "previousId": "anon-1"},
            "an alias call needs a previousId and a userId",
        ),
    ],
)
def test_a_call_without_the_field_it_needs_is_refused(
    call: str, message: dict[str, Any], reason: str
) -> None:
    assert single_refusal(call, message) == reason


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("userId", True, "userId must be a string or a number"),
        ("userId", ["u-1"], "userId must be a string or a number"),
        ("userId", {"id": 1}, "userId must be a string or a number"),
        ("anonymousId", False, "anonymousId must be a string or a number"),
        ("userId", "u" * 256, "userId is longer than 255 characters"),
        ("event", 42, "event must be a string"),
        ("name", ["Home"], "name must be a string"),
        ("category", 1.5, "category must be a string"),
        ("messageId", 7, "messageId must be a string"),
        ("messageId", "m" * 256, "messageId is longer than 255 characters"),
        ("properties", [1, 2], "properties must be a JSON object"),
        ("traits", "vip", "traits must be a JSON object"),
        ("context", 3, "context must be a JSON object"),
        ("integrations", True, "integrations must be a JSON object"),
        ("timestamp", 1764150000, "timestamp must be an ISO 8601 date-time text"),
        (
            "sentAt",
            "yesterday",
            "sentAt 'yesterday' is not an ISO 8601 date-time (e.g. 2026-11-26T10:00:00.000Z)",
        ),
        (
            "originalTimestamp",
            "2026-02-30T10:00:00Z",
            "originalTimestamp '2026-02-30T10:00:00Z' is not an ISO 8601 date-time "
            "(e.g. 2026-11-26T10:00:00.000Z)",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(
    field: str, value: object, reason: str
) -> None:
    assert single_refusal("track", {**VALID_CALLS["track"], field: value}) == reason


@pytest.mark.parametrize(
    ("call", "message", "reason"),
    [
        ("group", {"userId": "u-1", "groupId": 12}, "groupId must be a string"),
        ("alias", {"userId": "u-1", "previousId": 12}, "previousId must be a string"),
        ("alias", {"userId": "u-1", "previousId": "p" * 256}, "previousId is longer than 255"),
    ],
)
def test_the_ids_of_group_and_alias_calls_are_checked(
    call: str, message: dict[str, Any], reason: str
) -> None:
    assert single_refusal(call, message).startswith(reason)


@pytest.mark.parametrize(("sent", "kept"), [(42, "42"), (4.5, "4.5"), ("42", "42")])
def test_a_number_as_user_id_is_kept_as_text(sent: object, kept: str) -> None:
    _document, [event], _refused = read_call("identify", body({"userId": sent}))

    assert event["userId"] == kept


def test_a_number_as_anonymous_id_is_kept_as_text() -> None:
    _document, [event], _refused = read_call("page", body({"anonymousId": 7}))

    assert event["anonymousId"] == "7"


def test_a_number_as_alias_user_id_is_kept_as_text() -> None:
    _document, [event], _refused = read_call("alias", body({"userId": 9, "previousId": "a-1"}))

    assert (event["userId"], event["previousId"]) == ("9", "a-1")


@pytest.mark.parametrize(
    "moment", ["2026-11-26T10:00:00.000Z", "2026-11-26T10:00:00+03:00", "2026-11-26"]
)
def test_iso_8601_timestamps_are_accepted(moment: str) -> None:
    message = {**VALID_CALLS["track"], "timestamp": moment, "sentAt": moment}

    _document, [event], _refused = read_call("track", body(message))

    assert event["timestamp"] == moment


def test_a_message_id_is_added_when_the_client_sent_none() -> None:
    _document, [event], _refused = read_call("track", body(VALID_CALLS["track"]))

    assert event["messageId"].startswith("hrd-")


def test_an_empty_message_id_is_replaced() -> None:
    _document, [event], _refused = read_call(
        "track", body({**VALID_CALLS["track"], "messageId": ""})
    )

    assert event["messageId"].startswith("hrd-")


def test_every_added_message_id_is_new() -> None:
    ids = {read_call("page", body(VALID_CALLS["page"]))[1][0]["messageId"] for _ in range(50)}

    assert len(ids) == 50


def test_the_client_s_message_id_is_kept() -> None:
    message = {**VALID_CALLS["track"], "messageId": "ajs-123"}

    _document, [event], _refused = read_call("track", body(message))

    assert event["messageId"] == "ajs-123"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the body is empty: send a JSON object"),
        (b"{not json", "the body is not valid JSON: "),
        (b"[1, 2]", "a message must be a JSON object"),
        (b'"track"', "a message must be a JSON object"),
        (b"null", "a message must be a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(SegmentError) as refused:
        read_call("track", raw)

    assert str(refused.value).startswith(reason)


def test_a_message_over_32_kb_is_refused_with_the_limit() -> None:
    message = {**VALID_CALLS["track"], "properties": {"note": "x" * MAX_EVENT_BYTES}}

    assert single_refusal("track", message).endswith(
        "the limit is 32 KB (32 KB per message, 500 KB per batch)"
    )


def test_a_message_of_exactly_32_kb_is_accepted() -> None:
    padding = MAX_EVENT_BYTES - len(body({**VALID_CALLS["track"], "properties": {"note": ""}}))
    raw = body({**VALID_CALLS["track"], "properties": {"note": "x" * padding}})

    assert len(raw) == MAX_EVENT_BYTES
    assert len(read_call("track", raw)[1]) == 1


@pytest.mark.parametrize("call", ["track", "batch"])
def test_a_body_nested_deeper_than_the_tracker_can_keep_is_refused(call: str) -> None:
    deep = b'{"a":' * 300 + b"1" + b"}" * 300
    message = b'{"type":"track","userId":"u","event":"e","properties":' + deep + b"}"
    raw = message if call == "track" else b'{"batch":[' + message + b"]}"

    with pytest.raises(SegmentError, match="nest"):
        read_call(call, raw)  # orjson reads 1024 levels but writes only 255


# --- batches ---------------------------------------------------------------------------


def batch_of(*messages: object, **shared: object) -> bytes:
    return body({"batch": list(messages), **shared})


def test_a_batch_accepts_messages_of_every_call() -> None:
    messages = [{**VALID_CALLS[call], "type": call} for call in CALLS]

    _document, events, refused = read_call("batch", batch_of(*messages))

    assert ([event["type"] for event in events], refused) == (list(CALLS), [])


def test_a_batch_keeps_its_good_messages_and_refuses_the_bad_ones_with_reasons() -> None:
    good = {"type": "track", "userId": "u-1", "event": "Viewed"}
    no_event = {"type": "track", "userId": "u-2"}
    no_type = {"userId": "u-3"}

    _document, events, refused = read_call("batch", batch_of(good, no_event, "text", no_type))

    assert [event["userId"] for event in events] == ["u-1"]
    assert refused == [
        ("batch[1]: a track call needs an event name", no_event),
        ("batch[2]: a message must be a JSON object", "text"),
        (
            "batch[3]: type must be one of identify, track, page, screen, group, alias (got None)",
            no_type,
        ),
    ]


def test_a_batch_refuses_a_message_over_32_kb_and_keeps_the_rest() -> None:
    large = {"type": "track", "userId": "u-1", "event": "Big", "properties": {"x": "y" * 33_000}}
    small = {"type": "page", "userId": "u-1"}

    _document, events, refused = read_call("batch", batch_of(large, small))

    assert [event["type"] for event in events] == ["page"]
    assert [reason for reason, _message in refused] == ["batch[0]: the message is over 32 KB"]


def test_a_batch_over_500_kb_is_refused_whole() -> None:
    message = {"type": "track", "userId": "u-1", "event": "E", "properties": {"x": "y" * 30_000}}

    with pytest.raises(SegmentError, match="the limit is 500 KB"):
        read_call("batch", batch_of(*[message] * 18))


def test_a_batch_s_shared_context_is_merged_under_each_message_s_own() -> None:
    own = {"type": "page", "userId": "u-1", "context": {"locale": "ru-RU"}}
    bare = {"type": "page", "userId": "u-2"}
    shared = {"library": {"name": "analytics-python"}, "locale": "en-US"}

    _document, events, _refused = read_call("batch", batch_of(own, bare, context=shared))

    assert [event["context"] for event in events] == [
        {"library": {"name": "analytics-python"}, "locale": "ru-RU"},
        shared,
    ]


def test_a_batch_s_shared_integrations_go_to_messages_without_their_own() -> None:
    own = {"type": "page", "userId": "u-1", "integrations": {"All": False}}
    bare = {"type": "page", "userId": "u-2"}

    _document, events, _refused = read_call(
        "batch", batch_of(own, bare, integrations={"All": True})
    )

    assert [event["integrations"] for event in events] == [{"All": False}, {"All": True}]


def test_every_message_of_a_batch_gets_a_message_id() -> None:
    messages = [
        {"type": "page", "userId": "u-1"},
        {"type": "page", "userId": "u-1", "messageId": "m"},
    ]

    _document, events, _refused = read_call("batch", batch_of(*messages))

    assert events[0]["messageId"].startswith("hrd-")
    assert events[1]["messageId"] == "m"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[]", "the body must be a JSON object with a batch array"),
        (b'{"batch": {}}', "the body needs a batch array of messages"),
        (b'{"messages": []}', "the body needs a batch array of messages"),
        (b'{"batch": [], "context": "web"}', "context must be a JSON object"),
        (b"{", "the body is not valid JSON: "),
    ],
)
def test_a_batch_that_is_not_a_batch_is_refused_whole(raw: bytes, reason: str) -> None:
    with pytest.raises(SegmentError) as refused:
        read_call("batch", raw)

    assert str(refused.value).startswith(reason)


def test_check_message_reads_the_call_from_the_message_type() -> None:
    message = check_message({"type": "screen", "anonymousId": "a-1"}, None)

    assert message["type"] == "screen"


def test_check_message_for_a_given_call_ignores_the_message_type() -> None:
    message = check_message({"type": "nonsense", "userId": "u-1"}, "identify")

    assert message["type"] == "identify"


def test_check_message_refuses_an_unknown_type() -> None:
    with pytest.raises(SegmentError, match=r"type must be one of .* \(got 'purchase'\)"):
        check_message({"type": "purchase", "userId": "u-1"}, None)
