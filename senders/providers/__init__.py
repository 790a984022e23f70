"""Channel providers by name: the pipeline looks a channel's provider up here.

    provider = channel_provider("telegram", run_spec, settings)    # a TelegramProvider
    PROVIDERS["email"]                                             # SmtpProvider

A new channel adds its class to `PROVIDERS` and its construction to `channel_provider`
(see senders/channel.py for the interface); the pipeline does not change. E-mail providers
are made by the worker per delivery-rules route (senders/worker.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from herald.errors import HeraldError
from senders.channel import Provider
from senders.providers.smtp import SmtpProvider
from senders.providers.telegram import TelegramConfig, TelegramProvider
from senders.providers.webhook import WebhookConfig, WebhookProvider

if TYPE_CHECKING:
    from herald.settings import Settings

PROVIDERS: dict[str, type] = {
    "email": SmtpProvider,
    "webhook": WebhookProvider,
    "telegram": TelegramProvider,
}


class ProviderConfigError(HeraldError):
    """A channel whose provider is not configured (no bot token, no webhook URL)."""


def channel_provider(channel: str, spec: dict[str, Any], settings: Settings) -> Provider:
    """The provider of a non-e-mail channel for a run (its spec) on this host (settings)."""
    if channel == "telegram":
        if not settings.telegram_bot_token:
            raise ProviderConfigError("Telegram: set HERALD_TELEGRAM_BOT_TOKEN to the bot's token")
        return TelegramProvider(
            TelegramConfig(token=settings.telegram_bot_token, api_base=settings.telegram_api_url)
        )
    if channel == "webhook":
        hook = spec.get("webhook") or {}
        url = hook.get("url")
        secret_env = hook.get("secret_env")
        secret = os.environ.get(secret_env, "") if secret_env else ""
        if not url or not secret:
            raise ProviderConfigError(
                "webhook: the run needs webhook.url and webhook.secret_env (the environment "
                "variable holding the signing secret)"
            )
        return WebhookProvider(WebhookConfig(url=url, secret=secret))
    raise ProviderConfigError(f"no provider for channel {channel!r}")
