"""The segments part of the JSON API: the same operations as `herald segment ...`.

The API writes the operational store only (rule 1): a saved, changed or frozen segment, or
a changed list, is refreshed by a Dagster run that the `segment_sensor` requests within
about 30 s (responses say `refresh: requested`). Reads open the warehouse read-only.

No `from __future__ import annotations` here: the routes are annotated with aliases local to
`add_segment_routes` (`Definition`, `WarehouseDep`), which FastAPI could not resolve from
strings, and would then take for query parameters.
"""

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.background import BackgroundTask

from herald.errors import HeraldError, WarehouseBusy, WarehouseError
from herald.profiles.databases import UnknownProfileDatabase, get_database
from herald.segments.catalog import (
    NotAStaticSegment,
    SegmentExists,
    SegmentInUse,
    UnknownSegment,
    change_list,
    delete_segment,
    freeze_segment,
    get_segment,
    list_segments,
    save_segment,
)
from herald.segments.definition import SegmentDefinitionError, parse_definition
from herald.segments.export import EXPORT_FORMATS, UnknownSegmentField, export_segment
from herald.segments.service import (
    SegmentInputsMissing,
    UnknownProfile,
    definition_checker,
    estimate,
    explain,
    latest_sizes,
    read_members,
    unknown_profiles,
)
from herald.warehouse.base import Warehouse
from ui.errors import APIError

MAX_MEMBERS_PAGE = 10_000
MAX_LIST_CHANGE = 100_000


class FreezeRequest(BaseModel):
    as_name: str = Field(alias="as", description="The name of the static copy.")


class ListChange(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=MAX_LIST_CHANGE)
    remove: list[str] = Field(default_factory=list, max_length=MAX_LIST_CHANGE)


@contextlib.contextmanager
def segment_errors() -> Iterator[None]:
    """Segment errors as API errors: 404 unknown, 409 conflict, 422 bad input, 503 busy."""
    try:
        yield
    except (UnknownSegment, UnknownProfile, UnknownProfileDatabase) as exc:
        raise APIError(404, str(exc)) from None
    except (SegmentInUse, NotAStaticSegment, SegmentInputsMissing, SegmentExists) as exc:
        raise APIError(409, str(exc)) from None
    except (SegmentDefinitionError, UnknownSegmentField) as exc:
        raise APIError(422, str(exc)) from None
    except WarehouseBusy as exc:
        raise APIError(503, str(exc)) from None
    except WarehouseError as exc:
        raise APIError(503, f"the warehouse cannot be read now: {exc}") from None
    except HeraldError as exc:
        raise APIError(422, str(exc)) from None


def add_segment_routes(
    app: FastAPI,
    store: Engine,
    authorized: Callable[..., None],
    warehouse_dependency: Callable[..., Iterator[Warehouse]],
) -> None:
    options: dict[str, Any] = {"dependencies": [Depends(authorized)], "tags": ["segments"]}
    WarehouseDep = Annotated[Warehouse, Depends(warehouse_dependency)]
    Definition = Annotated[dict[str, Any], Body(description="A segment definition document.")]

    @app.get("/api/v1/segments", **options)
    def segments(database: str | None = None) -> list[dict[str, Any]]:
        """Every segment (of one database with ?database=)."""
        with segment_errors():
            return [segment.summary() for segment in list_segments(store, database)]

    @app.post("/api/v1/segments", status_code=201, **options)
    def create_segment(document: Definition, wh: WarehouseDep) -> dict[str, Any]:
        """Save a segment (a new version when it exists); checked against the schema and the
        warehouse before anything is written."""
        with segment_errors():
            definition = parse_definition(document)
            schema = get_database(store, definition.database).schema
            saved = save_segment(store, definition, check=definition_checker(wh, schema))
        return {"segment": saved.summary(), "refresh": "requested"}

    @app.post("/api/v1/segments/estimate", **options)
    def estimate_segment(document: Definition, wh: WarehouseDep) -> dict[str, Any]:
        """How many profiles an unsaved definition matches now."""
        with segment_errors():
            definition = parse_definition(document)
            schema = get_database(store, definition.database).schema
            return estimate(wh, schema, definition)

    @app.get("/api/v1/segments/{name}", **options)
    def segment(name: str, wh: WarehouseDep) -> dict[str, Any]:
        """A segment, its current definition and its latest size."""
        with segment_errors():
            found = get_segment(store, name)
            return {
                **found.summary(),
                **latest_sizes(wh, name).get(name, {}),
                "definition": dict(found.definition.document),
            }

    @app.delete("/api/v1/segments/{name}", status_code=204, **options)
    def remove_segment(name: str) -> Response:
        """Delete a segment (409 when other segments name it)."""
        with segment_errors():
            delete_segment(store, name)
        return Response(status_code=204)

    @app.get("/api/v1/segments/{name}/members", **options)
    def members(
        name: str,
        wh: WarehouseDep,
        limit: Annotated[int, Query(ge=0, le=MAX_MEMBERS_PAGE)] = 100,
        after: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> dict[str, Any]:
        """The members computed last, ordered by profile id; page with ?after=<last id>."""
        with segment_errors():
            get_segment(store, name)
            page = read_members(wh, name, limit=limit, after=after)
        return page or {"segment": name, "members": 0, "profiles": []}

    @app.post("/api/v1/segments/{name}/members", **options)
    def change_members(name: str, change: ListChange, wh: WarehouseDep) -> dict[str, Any]:
        """Add profiles to, or remove them from, a static segment; ids that are no profile
        (yet) are kept and listed in `unknown_profiles`."""
        with segment_errors():
            added = change_list(store, name, change.add, included=True, source="api")
            removed = change_list(store, name, change.remove, included=False, source="api")
            unknown = unknown_profiles(wh, get_segment(store, name).database, change.add)
        return {
            "segment": name,
            "added": added["changed"],
            "removed": removed["changed"],
            "unknown_profiles": unknown[:100],
            "unknown_count": len(unknown),
            "refresh": "requested",
        }

    @app.get("/api/v1/segments/{name}/explain", **options)
    def explain_segment(
        name: str, wh: WarehouseDep, profile: Annotated[str, Query(max_length=1000)]
    ) -> dict[str, Any]:
        """Why a profile is in the segment or not: each condition true or false, with the
        value behind it."""
        with segment_errors():
            found = get_segment(store, name)
            schema = get_database(store, found.database).schema
            return explain(wh, schema, found.definition, profile)

    @app.post("/api/v1/segments/{name}/freeze", status_code=201, **options)
    def freeze(name: str, request: FreezeRequest) -> dict[str, Any]:
        """A static copy of a dynamic segment's members, taken at its first refresh."""
        with segment_errors():
            frozen = freeze_segment(store, name, request.as_name)
        return {"segment": frozen.summary(), "refresh": "requested"}

    @app.get("/api/v1/segments/{name}/export", **options)
    def export(
        name: str,
        wh: WarehouseDep,
        format: Literal["csv", "xlsx", "parquet"] = "csv",
        fields: Annotated[str | None, Query(description="Comma-separated fields.")] = None,
    ) -> FileResponse:
        """The members with chosen profile fields as a file."""
        assert format in EXPORT_FORMATS
        with segment_errors():
            found = get_segment(store, name)
            chosen = [field.strip() for field in fields.split(",")] if fields else None
            folder = Path(tempfile.mkdtemp(prefix="herald-export-"))
            out = folder / f"{name}.{format}"
            export_segment(wh, name, found.database, chosen, format, out)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return FileResponse(
            out,
            filename=f"{name}-{stamp}.{format}",
            background=BackgroundTask(_remove, folder),
        )


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink(missing_ok=True)
    folder.rmdir()
