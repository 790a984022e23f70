"""Idempotency keys: one per message a run may send (run, profile, channel, step).

    idempotency_key("run-7", "p_shop:crm:1", "email")        # 'run-7|p_shop:crm:1|email|main'

A key is readable when short; one longer than the send log's column is replaced by its
SHA-256, keeping the run as its prefix so a run's keys stay together.
"""

from __future__ import annotations

import hashlib

MAX_KEY_CHARS = 200
MAIN_STEP = "main"


def idempotency_key(run_id: str, profile_id: str, channel: str, step: str = MAIN_STEP) -> str:
    key = f"{run_id}|{profile_id}|{channel}|{step}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{run_id[:64]}|sha256:{digest}"
