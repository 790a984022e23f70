"""What every import command does after reading: load the records, print the outcome."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import typer
from sqlalchemy import Engine

from herald.errors import HeraldError
from herald.i18n import translate_reason, translate_report
from herald.profiles.importing import ImportResult, record_import_run
from herald.settings import Settings

IMPORT_ASSETS = "raw_profile_records,stg_profiles__records"


def load_and_report(settings: Settings, store: Engine, result: ImportResult, load: bool) -> None:
    """Load the import's landing files in a Dagster run (if asked), print its JSON summary,
    and fail with one line if the load failed (the files stay for the next run)."""
    summary = result.summary()
    if settings.language != "en":
        summary["rejected_by_reason"] = {
            translate_reason(reason, settings.language): count
            for reason, count in result.outcome.reasons.items()
        }
        if summary.get("report"):
            summary["report"] = str(
                translate_report(Path(str(summary["report"])), settings.language)
            )
    if load and result.landing_files:
        run = importlib.import_module("pipelines.run")
        outcome = run.materialize(settings, IMPORT_ASSETS)
        record_import_run(store, result.import_id, outcome.run_id)
        summary["run_id"] = outcome.run_id
        summary["loaded"] = outcome.success
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    if load and result.landing_files and not summary.get("loaded"):
        raise HeraldError(
            f"import {result.import_id} was read but loading it failed; its records stay in "
            "landing/profile_records and load with the next `herald materialize`"
        )
