"""Errors Herald raises at its edges, each with a message meant for a person."""

from __future__ import annotations


class HeraldError(Exception):
    """Base class: the message is shown to the user as it is, without a stack trace."""


class SettingsError(HeraldError):
    """A setting is missing, malformed or points at something unreachable."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class WarehouseError(HeraldError):
    """A warehouse statement failed."""


class WarehouseBusy(WarehouseError):
    """The embedded warehouse file is locked by a writer for longer than a reader waits."""


class ModelError(HeraldError):
    """A SQL model cannot be loaded, rendered or materialised."""
