"""Bad input to the real tracker gets a 4xx with a clear `error`, never a 5xx.

Malformed JSON, wrong types, bodies over Segment's limits, bad gzip, unknown encodings,
missing, wrong or disabled write keys, wrong methods and unknown paths are each refused with
the status a client can act on. What an authenticated source sent and the tracker refused is
not lost: after a load it sits in the dead-letter queue with its reason, and the loader's
counts add up (received = accepted + rejected). Last, schemathesis walks every operation of
tracking/openapi.json against the running tracker: no server error, and every answer is one
the document declares.
"""

from __future__ import annotations

import base64
import gzip
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.tracking import TrackingHome, herald

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingHome]:
    service = TrackingHome.create(tmp_path_factory.mktemp("bad-input"))
    try:
        yield service
    finally:
        service.delete_queues()


@pytest.fixture(scope="module")
def url(service: TrackingHome) -> Iterator[str]:
    with service.tracker(workers=1) as url:
        yield url


@pytest.fixture(scope="module")
def api(service: TrackingHome, url: str) -> Iterator[httpx.Client]:
    """A client of the Segment API with the source's write key, as Segment's SDKs send it."""
    with httpx.Client(base_url=url, auth=(service.write_key, ""), timeout=30) as client:
        yield client


def a_track(**fields: Any) -> dict[str, Any]:
    return {"userId": "SHOP-7", "event": "Product Viewed", "messageId": str(uuid.uuid4()), **fields}


def refused(response: httpx.Response, status: int) -> str:
    """The response's `error`, once it is the refusal expected."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["success"] is False
    return str(document["error"])


# --- the body --------------------------------------------------------------------------


def test_malformed_json_is_refused(api: httpx.Client) -> None:
    error = refused(api.post("/v1/track", content=b'{"userId": "SHOP-7", "event": }'), 400)

    assert error.startswith("the body is not valid JSON: ")


def test_an_empty_body_is_refused(api: httpx.Client) -> None:
    assert refused(api.post("/v1/identify", content=b""), 400) == (
        "the body is empty: send a JSON object"
    )


def test_a_body_that_is_not_an_object_is_refused(api: httpx.Client) -> None:
    assert refused(api.post("/v1/page", json=["SHOP-7"]), 400) == "a message must be a JSON object"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"userId": True}, "userId must be a string or a number"),
        ({"event": 42}, "event must be a string"),
        ({"properties": "cheap"}, "properties must be a JSON object"),
        ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not an ISO 8601 date-time"),
        ({"event": ""}, "a track call needs an event name"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(
    api: httpx.Client, fields: dict[str, Any], error: str
) -> None:
    assert refused(api.post("/v1/track", json=a_track(**fields)), 400).startswith(error)


def test_a_message_over_32_kb_is_refused(api: httpx.Client) -> None:
    message = a_track(properties={"note": "x" * 33 * 1024})

    assert refused(api.post("/v1/track", json=message), 400) == (
        "the body is over 32 KB (32 KB per message, 500 KB per batch)"
    )


def test_a_batch_over_500_kb_is_refused(api: httpx.Client) -> None:
    message = {**a_track(properties={"note": "x" * 30_000}), "type": "track"}

    response = api.post("/v1/batch", json={"batch": [message] * 18})

    assert refused(response, 400) == "the body is over 500 KB (32 KB per message, 500 KB per batch)"


def test_a_batch_of_30_kb_messages_under_500_kb_is_accepted(api: httpx.Client) -> None:
    message = {**a_track(properties={"note": "x" * 30_000}), "type": "track"}

    assert api.post("/v1/batch", json={"batch": [message] * 15}).json() == {"success": True}


def test_a_gzip_body_is_accepted(api: httpx.Client) -> None:
    response = api.post(
        "/v1/track",
        content=gzip.compress(orjson.dumps(a_track())),
        headers={"content-encoding": "gzip"},
    )

    assert (response.status_code, response.json()) == (200, {"success": True})


def test_a_body_that_is_not_gzip_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/v1/track", content=orjson.dumps(a_track()), headers={"content-encoding": "gzip"}
    )

    assert refused(response, 400).startswith("the body is not valid gzip: ")


def test_a_gzip_body_over_the_limit_once_uncompressed_is_refused(api: httpx.Client) -> None:
    bomb = gzip.compress(orjson.dumps(a_track(properties={"note": "x" * 10_000_000})))

    response = api.post("/v1/track", content=bomb, headers={"content-encoding": "gzip"})

    assert len(bomb) < 32 * 1024
    assert refused(response, 400).startswith("the body is over 32 KB uncompressed")


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br"])
def test_an_unsupported_content_encoding_is_refused(api: httpx.Client, encoding: str) -> None:
    response = api.post(
        "/v1/track", content=orjson.dumps(a_track()), headers={"content-encoding": encoding}
    )

    assert refused(response, 415) == f"Content-Encoding {encoding!r}: send gzip or nothing"


def test_a_body_nested_deeper_than_the_tracker_can_keep_is_refused_clearly(
    api: httpx.Client,
) -> None:
    deep = b'{"a":' * 300 + b"1" + b"}" * 300
    body = b'{"userId":"SHOP-7","event":"Deep","properties":' + deep + b"}"

    assert "nest" in refused(api.post("/v1/track", content=body), 400)


def test_a_damaged_herald_token_in_the_context_does_not_lose_the_event(api: httpx.Client) -> None:
    message = a_track(context={"heraldToken": "t1.é.x"})

    response = api.post("/v1/track", content=orjson.dumps(message))

    assert (response.status_code, response.json()) == (200, {"success": True})


# --- the write key ---------------------------------------------------------------------


def test_a_call_without_a_write_key_is_refused(url: str) -> None:
    response = httpx.post(f"{url}/v1/track", json=a_track())

    assert refused(response, 401) == (
        "no write key: send it as the HTTP Basic user name (or as writeKey in the body)"
    )


def test_a_call_with_an_unknown_write_key_is_refused(url: str) -> None:
    response = httpx.post(f"{url}/v1/track", json=a_track(), auth=("wk_not-a-key", ""))

    assert refused(response, 401) == "unknown or disabled write key"


def test_the_write_key_in_the_body_is_accepted(service: TrackingHome, url: str) -> None:
    response = httpx.post(f"{url}/v1/track", json=a_track(writeKey=service.write_key))

    assert (response.status_code, response.json()) == (200, {"success": True})


def test_an_unknown_write_key_in_the_body_is_refused(url: str) -> None:
    response = httpx.post(f"{url}/v1/track", json=a_track(writeKey="wk_not-a-key"))

    assert refused(response, 401) == "unknown or disabled write key"


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer abc", b"Basic not base64!", b"Basic \xe9\xe9\xe9\xe9"],
    ids=["bearer", "not-base64", "latin-1"],
)
def test_an_authorization_that_is_not_http_basic_is_refused(url: str, authorization: bytes) -> None:
    response = httpx.post(
        f"{url}/v1/track", json=a_track(), headers={"authorization": authorization}
    )

    assert refused(response, 401)


def test_a_disabled_source_s_write_key_is_refused(service: TrackingHome, url: str) -> None:
    created = herald(service.env, "source", "create", "kiosk", "--db", "customers")
    key = created.stdout.strip()
    disabled = herald(service.env, "source", "disable", "kiosk")
    assert (created.returncode, disabled.returncode) == (0, 0), created.stderr + disabled.stderr

    response = httpx.post(f"{url}/v1/track", json=a_track(), auth=(key, ""))

    assert refused(response, 401) == "unknown or disabled write key"


# --- methods and paths -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_a_call_with_another_method_than_post_is_refused(api: httpx.Client, method: str) -> None:
    assert refused(api.request(method, "/v1/track"), 405) == "use POST"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/v1/purchase", "no such call /v1/purchase"),
        ("/v2/track", "no such page /v2/track"),
        ("/admin", "no such page /admin"),
        ("/c/", "no such page /c/"),
    ],
)
def test_an_unknown_path_is_a_404(api: httpx.Client, path: str, error: str) -> None:
    assert refused(api.post(path, json=a_track()), 404) == error


def test_a_preflight_allows_the_browser_to_post(url: str) -> None:
    response = httpx.options(f"{url}/v1/batch", headers={"origin": "https://shop.example"})

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_the_openapi_document_is_served(url: str) -> None:
    response = httpx.get(f"{url}/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.0")


# --- what is refused is kept -----------------------------------------------------------


def test_refused_events_of_a_source_land_in_the_dead_letter_queue_with_their_reasons(
    service: TrackingHome, api: httpx.Client
) -> None:
    service.load(until_idle=0.5)  # what earlier tests sent
    marker = f"dlq-{uuid.uuid4().hex[:8]}"
    good = {**a_track(properties={"marker": marker}), "type": "track"}
    no_event = {"type": "track", "userId": "SHOP-7", "properties": {"marker": marker}}
    bad_type = {"type": "identify", "userId": True, "traits": {"marker": marker}}
    batch = api.post("/v1/batch", json={"batch": [good, no_event, bad_type]})
    single = api.post("/v1/track", json=a_track(event=7, properties={"marker": marker}))
    broken = api.post("/v1/page", content=b'{"userId": "' + marker.encode() + b'", ')

    summary = service.load(until_idle=0.5)

    assert batch.json() == {
        "success": True,
        "accepted": 1,
        "rejected": [
            "batch[1]: a track call needs an event name",
            "batch[2]: userId must be a string or a number",
        ],
    }
    assert [single.status_code, broken.status_code] == [400, 400]
    assert summary["received"] == summary["accepted"] + summary["rejected"]
    assert (summary["accepted"], summary["rejected"]) == (1, 4)
    reasons = sorted(reason for reason, body in service.dead_letters() if marker.encode() in body)
    assert reasons[:3] == [
        "batch[1]: a track call needs an event name",
        "batch[2]: userId must be a string or a number",
        "event must be a string",
    ]
    assert reasons[3].startswith("the body is not valid JSON: ")


def test_a_refused_request_without_a_write_key_is_not_kept(service: TrackingHome, url: str) -> None:
    service.load(until_idle=0.5)
    marker = f"anon-{uuid.uuid4().hex[:8]}"

    httpx.post(f"{url}/v1/track", json={"userId": True, "properties": {"marker": marker}})

    assert service.load(until_idle=0.5)["received"] == 0
    assert [body for _reason, body in service.dead_letters() if marker.encode() in body] == []


# --- every operation of the OpenAPI document -------------------------------------------

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEGMENT_CALLS = ("identify", "track", "page", "screen", "group", "alias", "batch", "b")
SHORT_CALLS = ("i", "t", "p", "s", "g", "a")  # analytics-next posts to the initials
EVERY_OPERATION = {
    *(f"{method} /v1/{call}" for method in ("POST", "OPTIONS") for call in SEGMENT_CALLS),
    *(f"{method} /v1/{call}" for method in ("POST", "OPTIONS") for call in SHORT_CALLS),
    "GET /v1/projects/{writeKey}/settings",
    "GET /sourceConfig/",
    "GET /o/{token}",
    "GET /c/{token}",
    "HEAD /c/{token}",
    "GET /u/{token}",
    "POST /u/{token}",
    "GET /v/{token}",
    "GET /t.js",
    "HEAD /t.js",
    "GET /health",
    "GET /metrics",
}  # and GET /openapi.json, which schemathesis leaves out when it loads the document from it


def test_every_operation_answers_as_the_openapi_document_says_and_never_5xx(
    service: TrackingHome, url: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    authorization = "Basic " + base64.b64encode(f"{service.write_key}:".encode()).decode()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.label for operation in operations} == EVERY_OPERATION

    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                answers_as_documented(operation.as_strategy(mode), url, authorization)
            except Unsatisfiable:  # nothing to break: no parameters and no body
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label


def answers_as_documented(
    cases: SearchStrategy[schemathesis.Case], url: str, authorization: str
) -> None:
    """Up to 6 requests of `cases`, each with the write key: none answered 5xx, and each
    answered with a status, content type, headers and body the document declares."""

    @settings(
        max_examples=6,  # per operation and phase; the suite must stay under 15 minutes
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def answers_as_documented_case(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=url,
            headers={"Authorization": authorization},
            checks=CHECKS,
            timeout=30,
        )

    answers_as_documented_case()
