"""The tracker's local spool: bundles kept on disk while RabbitMQ cannot confirm them.

A bundle is written to a temporary name, fsynced and renamed into place, so a spool file is
whole or absent. Replaying takes an exclusive `flock` on a file, publishes it with a
confirm, then deletes it: several worker processes can replay one spool without publishing
a file twice at once, and a worker killed mid-replay releases its lock (a file published but
not yet deleted is published again; the loader deduplicates by message id).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUFFIX = ".bundle"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._sequence = 0
        self._prefix = uuid.uuid4().hex[:12]

    def write(self, body: bytes) -> Path:
        """Keep a bundle durably; returns its file."""
        self._sequence += 1
        name = f"{self._prefix}-{self._sequence:09d}{SUFFIX}"
        final = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, body)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        return final

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def count(self) -> int:
        return sum(1 for _ in self.directory.glob(f"*{SUFFIX}"))

    @contextmanager
    def claim(self, path: Path) -> Iterator[bytes | None]:
        """The file's bundle while this process holds it (None: another process does, or it
        is gone); delete it with `done` inside the block once it is published."""
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            if not path.exists():  # replayed and deleted by another process meanwhile
                yield None
                return
            chunks = []
            while chunk := os.read(descriptor, 1 << 20):
                chunks.append(chunk)
            yield b"".join(chunks)
        finally:
            os.close(descriptor)

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)
