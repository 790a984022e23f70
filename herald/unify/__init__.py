"""Unification: one profile per real customer, on any warehouse engine.

    from herald.unify import build_inputs, unify
    build_inputs(warehouse)                # unify_identifiers, unify_attributes from staging
    result = unify(warehouse)              # identity_components(record_key, component_id)

See `herald.unify.pipeline` for the steps and `herald.unify.accuracy` for scoring a run
against generated truth.
"""

from __future__ import annotations

from herald.unify.accuracy import Accuracy, pairwise_accuracy, read_truth
from herald.unify.errors import NotConverged, UnifyError
from herald.unify.fuzzy import FuzzyConfig, FuzzyRun
from herald.unify.graph import GraphRun, JunkValue
from herald.unify.pipeline import UnifyConfig, UnifyResult, unify
from herald.unify.sources import STAGING_SOURCES, ProfileSource, build_inputs

__all__ = [
    "STAGING_SOURCES",
    "Accuracy",
    "FuzzyConfig",
    "FuzzyRun",
    "GraphRun",
    "JunkValue",
    "NotConverged",
    "ProfileSource",
    "UnifyConfig",
    "UnifyError",
    "UnifyResult",
    "build_inputs",
    "pairwise_accuracy",
    "read_truth",
    "unify",
]
