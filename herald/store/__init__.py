"""The operational store: control plane and hot state (SQLite file or PostgreSQL).

engine = create_store_engine(settings.database_url)   # SettingsError if unreachable
migrate(settings.database_url)                         # Alembic upgrade head, idempotent
run = record_run_started(engine, "materialize", selection="staging/*")
record_run_finished(engine, run, status="succeeded", rows_written=1200)
"""

from __future__ import annotations

from herald.store.engine import create_store_engine, session_scope, store_url
from herald.store.landing import LandingFileAlreadyLoaded, loaded_files, record_loaded_file
from herald.store.migrate import current_revision, downgrade, head_revision, migrate
from herald.store.models import (
    Base,
    LandingFile,
    PipelineRun,
    ProfileDatabase,
    ProfileEdit,
    ProfileImport,
    ProfileRelation,
    ProfileSchemaVersion,
    ProfileSubscription,
    ProfileSubscriptionChange,
    RunStatus,
    SqlSource,
)
from herald.store.runs import (
    UnknownRun,
    get_run,
    recent_runs,
    record_run_finished,
    record_run_started,
)

__all__ = [
    "Base",
    "LandingFile",
    "LandingFileAlreadyLoaded",
    "PipelineRun",
    "ProfileDatabase",
    "ProfileEdit",
    "ProfileImport",
    "ProfileRelation",
    "ProfileSchemaVersion",
    "ProfileSubscription",
    "ProfileSubscriptionChange",
    "RunStatus",
    "SqlSource",
    "UnknownRun",
    "create_store_engine",
    "current_revision",
    "downgrade",
    "get_run",
    "head_revision",
    "loaded_files",
    "migrate",
    "recent_runs",
    "record_loaded_file",
    "record_run_finished",
    "record_run_started",
    "session_scope",
    "store_url",
]
