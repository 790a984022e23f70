"""Building the whole project on a warehouse without Dagster: for tests, benchmarks and tools.

Dagster runs the same steps (herald.landing, herald.models.materialize) one asset at a time.
"""

from __future__ import annotations

from pathlib import Path

from herald.landing import LandingLoad, load_landing
from herald.models.materialize import ModelRun, materialize_model, run_data_tests
from herald.models.project import SqlProject
from herald.models.render import Renderer, Target, dependencies
from herald.warehouse import Warehouse


def target_of(warehouse: Warehouse) -> Target:
    return Target(warehouse.dialect, warehouse.database)


def model_order(project: SqlProject) -> list[str]:
    graph = {
        name: rendered.refs | {test.to for test in project.models[name].data_tests if test.to}
        for name, rendered in dependencies(project).items()
    }
    return project.order(graph)


def asset_readers(project: SqlProject) -> set[str]:
    """Models that read a Python asset's table (asset_table()), directly or through refs:
    building them needs those assets (profiles, segment_inputs) built first."""
    rendered = dependencies(project)
    readers = {name for name, model in rendered.items() if model.assets}
    for name in model_order(project):
        if rendered[name].refs & readers:
            readers.add(name)
    return readers


def load_all_landing(
    warehouse: Warehouse, project: SqlProject, landing_dir: Path
) -> list[LandingLoad]:
    return [load_landing(warehouse, landing_dir, table) for table in project.sources.values()]


def build_models(
    warehouse: Warehouse,
    project: SqlProject,
    *,
    with_tests: bool = True,
    names: set[str] | None = None,
) -> list[ModelRun]:
    """Build the models (those in `names` when given) in dependency order."""
    renderer = Renderer(project, target_of(warehouse))
    runs = []
    for name in model_order(project):
        if names is not None and name not in names:
            continue
        model = project.models[name]
        run = materialize_model(warehouse, renderer, model)
        if with_tests:
            run.tests = run_data_tests(warehouse, renderer, model)
        runs.append(run)
    return runs
