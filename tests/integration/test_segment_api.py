"""The segments of the JSON API: the same operations as `herald segment ...`, with their
statuses (201 saved, 204 deleted, 404 unknown, 409 conflict, 422 refused) and JSON errors.

The API only writes the store: members appear after a refresh, which the sensor requests in
production and the tests run themselves (`pipelines.run.materialize_segments`). The shop (six
clients imported and unified by the CLI) is set up once per module; each test owns its
segments.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.settings import Settings, load_settings
from pipelines.run import materialize_segments
from tests.integration.test_segment_cli import Shop, profile
from ui.api import create_app

SEGMENTS = "/api/v1/segments"
GOLD = {
    "name": "gold",
    "database": "shop",
    "title": "Gold customers with points",
    "where": {
        "all": [
            {"field": "level", "op": "equals", "value": "gold"},
            {"field": "bonus_points", "op": "at_least", "value": 100},
        ]
    },
}


def dynamic(name: str, where: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "database": "shop", "where": where}


def city(name: str) -> dict[str, Any]:
    return {"field": "city", "op": "equals", "value": name}


class Api:
    """The API over the shop's HERALD_HOME, and the refresh the sensor would request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = TestClient(create_app(settings))

    def refresh(self, *names: str, with_inputs: bool = False) -> None:
        outcome = materialize_segments(self.settings, list(names), with_inputs=with_inputs)
        assert outcome.success, outcome

    def member_ids(self, name: str) -> list[str]:
        response = self.client.get(f"{SEGMENTS}/{name}/members")
        assert response.status_code == 200, response.text
        return [row["profile_id"] for row in response.json()["profiles"]]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    shop = Shop(tmp_path_factory.mktemp("segment-api"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE", "HERALD_API_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("HERALD_HOME", str(shop.home))
        patch.setenv("DAGSTER_HOME", str(shop.home / "dagster"))  # the refresh sets it
        yield Api(load_settings())


@pytest.fixture(scope="module")
def gold_saved(api: Api) -> Any:
    return api.client.post(SEGMENTS, json=GOLD)


@pytest.fixture(scope="module")
def gold(api: Api, gold_saved: Any) -> None:
    api.refresh("gold", with_inputs=True)


# --- saving is not computing --------------------------------------------------------------


def test_saving_answers_201_and_leaves_the_refresh_to_the_sensor(api: Api, gold_saved: Any) -> None:
    assert gold_saved.status_code == 201, gold_saved.text
    assert gold_saved.json()["refresh"] == "requested"
    assert gold_saved.json()["segment"]["version"] == 1
    assert api.member_ids("gold") == []


# --- members, explain, estimate, export ---------------------------------------------------


def test_members_page_by_profile_id_with_after(api: Api, gold: None) -> None:
    url = f"{SEGMENTS}/gold/members"

    first = api.client.get(url, params={"limit": 1}).json()
    second = api.client.get(url, params={"limit": 1, "after": profile("c1")}).json()
    past_the_end = api.client.get(url, params={"limit": 1, "after": profile("c5")}).json()

    assert first["members"] == second["members"] == 2
    assert [row["profile_id"] for row in first["profiles"]] == [profile("c1")]
    assert [row["profile_id"] for row in second["profiles"]] == [profile("c5")]
    assert past_the_end["profiles"] == []


def test_explain_tells_a_non_member_which_condition_failed(api: Api, gold: None) -> None:
    response = api.client.get(f"{SEGMENTS}/gold/explain", params={"profile": profile("c2")})

    assert response.status_code == 200, response.text
    assert response.json()["member"] is False
    assert [(child["result"], child["value"]) for child in response.json()["tree"]["children"]] == [
        (True, "gold"),
        (False, 40),
    ]


def test_estimate_counts_without_saving(api: Api, gold: None) -> None:
    silver = dynamic("silver", {"field": "level", "op": "equals", "value": "silver"})

    response = api.client.post(f"{SEGMENTS}/estimate", json=silver)

    assert response.status_code == 200, response.text
    assert (response.json()["members"], response.json()["total"]) == (2, 6)
    assert api.client.get(f"{SEGMENTS}/silver").status_code == 404


def test_export_returns_the_members_as_csv(api: Api, gold: None) -> None:
    response = api.client.get(f"{SEGMENTS}/gold/export", params={"fields": "email,level"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["profile_id", "email", "level"],
        [profile("c1"), "ann@example.com", "gold"],
        [profile("c5"), "eve@example.com", "gold"],
    ]


# --- versions and freezing ----------------------------------------------------------------


def test_a_frozen_copy_keeps_its_members_when_the_source_changes(api: Api) -> None:
    api.client.post(SEGMENTS, json=dynamic("moscow", city("Moscow")))
    api.refresh("moscow")
    frozen = api.client.post(f"{SEGMENTS}/moscow/freeze", json={"as": "moscow-nov"})
    api.refresh("moscow-nov")

    changed = api.client.post(SEGMENTS, json=dynamic("moscow", city("Kazan")))
    api.refresh("moscow")

    assert frozen.status_code == 201 and frozen.json()["segment"]["frozen_from"] == "moscow"
    assert changed.status_code == 201 and changed.json()["segment"]["version"] == 2
    assert api.member_ids("moscow") == [profile("c2"), profile("c6")]
    assert api.member_ids("moscow-nov") == [profile("c1"), profile("c3"), profile("c5")]


# --- static lists -------------------------------------------------------------------------


def test_a_static_list_changes_at_its_next_refresh(api: Api) -> None:
    api.client.post(SEGMENTS, json={"name": "vip", "database": "shop", "kind": "static"})
    url = f"{SEGMENTS}/vip/members"
    added = api.client.post(url, json={"add": [profile(key) for key in ("c1", "c2", "c3")]})
    removed = api.client.post(url, json={"remove": [profile("c2")]})
    before_refresh = api.member_ids("vip")

    api.refresh("vip")

    assert (added.json()["added"], removed.json()["removed"]) == (3, 1)
    assert before_refresh == []
    assert api.member_ids("vip") == [profile("c1"), profile("c3")]


def test_a_dynamic_segment_refuses_a_list_change_with_409(api: Api, gold_saved: Any) -> None:
    response = api.client.post(f"{SEGMENTS}/gold/members", json={"add": [profile("c4")]})

    assert response.status_code == 409
    assert response.json()["error"].startswith("segment 'gold' is dynamic")


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        pytest.param(
            dynamic("bad", {"field": "shoe_size", "op": "equals", "value": 42}),
            "where.field: database 'shop' has no field 'shoe_size'",
            id="unknown field",
        ),
        pytest.param(
            dynamic("bad", {"field": "bonus_points", "op": "at_least", "value": "lots"}),
            "where.value: 'lots' is not a whole number",
            id="wrong value type",
        ),
        pytest.param(
            dynamic("bad", {"segment": "churned"}),
            "where: there is no segment 'churned' to refer to",
            id="unknown segment",
        ),
        pytest.param(
            dynamic("bad", {"every": []}),
            "where: unknown condition 'every'",
            id="unknown condition",
        ),
    ],
)
def test_a_definition_that_cannot_be_saved_is_a_422(
    api: Api, gold_saved: Any, definition: dict[str, Any], message: str
) -> None:
    response = api.client.post(SEGMENTS, json=definition)

    assert response.status_code == 422
    assert message in response.json()["error"]
    assert api.client.get(f"{SEGMENTS}/bad").status_code == 404


def test_a_body_that_is_not_json_is_a_422(api: Api) -> None:
    response = api.client.post(
        SEGMENTS, content=b"name: gold\nwhere: {", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422 and isinstance(response.json()["error"], str)


def test_a_cycle_between_segments_is_a_422(api: Api, gold_saved: Any) -> None:
    api.client.post(SEGMENTS, json=dynamic("gold-fans", {"segment": "gold"}))

    response = api.client.post(SEGMENTS, json={**GOLD, "where": {"segment": "gold-fans"}})

    assert response.status_code == 422
    assert response.json() == {
        "error": "where: segments would depend on each other in a cycle: gold -> gold-fans -> gold"
    }


@pytest.mark.parametrize(
    ("method", "url", "message"),
    [
        ("get", f"{SEGMENTS}/churned", "there is no segment 'churned'"),
        ("delete", f"{SEGMENTS}/churned", "there is no segment 'churned'"),
        ("get", f"{SEGMENTS}/churned/members", "there is no segment 'churned'"),
        (
            "get",
            f"{SEGMENTS}/gold/explain?profile=nobody",
            "database 'shop' has no profile 'nobody'",
        ),
    ],
)
def test_an_unknown_segment_or_profile_is_a_404(
    api: Api, gold: None, method: str, url: str, message: str
) -> None:
    response = api.client.request(method, url)

    assert response.status_code == 404
    assert message in response.json()["error"]


# --- delete and list ----------------------------------------------------------------------


def test_a_segment_named_by_another_is_kept_until_that_one_goes(api: Api, gold_saved: Any) -> None:
    api.client.post(SEGMENTS, json=dynamic("gold-in-moscow", {"all": [{"segment": "gold"}]}))

    refused = api.client.delete(f"{SEGMENTS}/gold")
    deleted = api.client.delete(f"{SEGMENTS}/gold-in-moscow")
    names = [segment["name"] for segment in api.client.get(SEGMENTS).json()]

    assert refused.status_code == 409
    assert refused.json()["error"].startswith("segment 'gold' is named by ")
    assert "gold-in-moscow" in refused.json()["error"]
    assert deleted.status_code == 204 and deleted.content == b""
    assert "gold" in names and "gold-in-moscow" not in names
