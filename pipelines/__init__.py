"""Dagster code location. `defs` is what workspace.yaml and `dagster dev -m pipelines` load."""

from pipelines.definitions import build_definitions

defs = build_definitions()
