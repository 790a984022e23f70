"""Errors of identity unification."""

from __future__ import annotations

from herald.errors import HeraldError


class UnifyError(HeraldError):
    """Unification cannot run on its input or did not finish."""


class NotConverged(UnifyError):
    """Label propagation still changed labels after the allowed number of iterations."""
