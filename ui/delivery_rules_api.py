"""The delivery-rules part of the JSON API: read and replace `<HERALD_HOME>/delivery-rules.yml`
(semantics and file format: herald/delivery_rules.py).

- `GET /api/v1/delivery-rules` — the effective rules, resolved per provider, with `source`
  (the file, or `built-in` when there is none), `path`, `exists`, and `yaml`: the file's text
  (or the built-in rules as a complete file when there is none).
  A file on disk that no longer validates is a 409 with its problems and its text.
- `PUT /api/v1/delivery-rules` — a new rules file: YAML text (`Content-Type: application/yaml`
  or `text/plain`) or the same document as JSON. It is validated first, then written
  atomically; the answer is the new effective rules. Bad rules are a 422 with `error` (one
  line) and `problems` (each with its line and field), and nothing is written.

Senders read the file when they start or reload; a change does not touch messages in flight.

No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from herald.delivery_rules import (
    MAX_RULES_BYTES,
    DeliveryRules,
    DeliveryRulesError,
    load_rules,
    rules_path,
    rules_to_yaml,
    save_rules,
)
from ui.errors import APIError

_BODY_DOC = (
    "The rules file as YAML text (application/yaml or text/plain), or the same document "
    "as JSON (application/json)."
)


def add_delivery_rules_routes(
    app: FastAPI, authorized: Callable[..., None], path: Path | None = None
) -> None:
    """Add the routes; the file is `path`, or `rules_path(app.state.settings)` per request."""
    options: dict[str, Any] = {"dependencies": [Depends(authorized)], "tags": ["delivery"]}

    def file_of(request: Request) -> Path:
        return path if path is not None else rules_path(request.app.state.settings)

    @app.get("/api/v1/delivery-rules", **options)
    def delivery_rules(request: Request) -> Any:
        """The effective delivery rules and where they come from."""
        file = file_of(request)
        try:
            rules = load_rules(file)
            text = file.read_text(encoding="utf-8") if file.exists() else rules_to_yaml(rules)
        except DeliveryRulesError as exc:
            return _invalid(exc, 409, {"path": str(file), "yaml": _read_text(file)})
        except OSError as exc:
            raise APIError(503, f"{file} cannot be read: {exc}") from None
        return _answer(rules, file, text)

    @app.put(
        "/api/v1/delivery-rules",
        openapi_extra={
            "requestBody": {
                "description": _BODY_DOC,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        },
        **options,
    )
    async def replace_delivery_rules(request: Request) -> Any:
        """Validate new delivery rules, then save them (422 with every problem if invalid)."""
        file = file_of(request)
        body = await request.body()
        if len(body) > MAX_RULES_BYTES:
            raise APIError(413, f"the rules are over {MAX_RULES_BYTES // 1024} KB")
        try:
            text = _rules_text(body, request.headers.get("content-type", ""))
            rules = save_rules(file, text)
        except DeliveryRulesError as exc:
            return _invalid(exc, 422)
        except OSError as exc:
            raise APIError(503, f"{file} cannot be written: {exc}") from None
        return _answer(rules, file, text)


def _rules_text(body: bytes, content_type: str) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DeliveryRulesError(["the rules must be UTF-8 text"]) from None
    if "json" not in content_type.lower():
        return text
    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise DeliveryRulesError([f"line {exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(document, dict):
        raise DeliveryRulesError(["the rules must be a JSON object"])
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _answer(rules: DeliveryRules, file: Path, text: str) -> dict[str, Any]:
    return {
        **rules.as_json(),
        "path": str(file),
        "exists": file.exists(),
        "yaml": text,
    }


def _invalid(
    exc: DeliveryRulesError, status: int, extra: dict[str, Any] | None = None
) -> JSONResponse:
    """Rules that do not validate: every problem, with the first one's line and field."""
    content: dict[str, Any] = {"error": str(exc), "problems": exc.problems}
    if exc.line is not None:
        content["line"] = exc.line
    if exc.field is not None:
        content["field"] = exc.field
    return JSONResponse({**content, **(extra or {})}, status_code=status)


def _read_text(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
