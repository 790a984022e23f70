"""From a run and a recipient to the message a provider delivers: render, track, compose, sign.

    run = RunContext.load(store, run_id, settings)    # template compiled once per run
    outbound = build_message(run, recipient, key, destination, builders)

A run's spec (kept on the run in the store) says what to send:

    {"template": {"subject": "...", "html": "...", "from": "news@shop.example", ...},
     "topic": "news",                      # the resource consent is checked for (default *)
     "mail_from": "bounces@shop.example",  # the envelope sender (default: the From address)
     "tracking": true,                     # open pixel and tracked links (default true)
     "unsubscribe_mailto": "unsubscribe@shop.example",
     "feedback_id": "news",                # the campaign part of Feedback-ID
     "address_field": "email"}             # the snapshot column holding the address

Personalisation sees the recipient's snapshot columns, `profile_id` and `address`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald.errors import HeraldError
from herald.i18n import LANGUAGES, translate
from herald.sending.runs import SendRunInfo
from herald.sending.web_versions import VIEW_IN_BROWSER, web_version_path, write_web_version
from herald.sending.wire import Recipient
from herald.templates import MessageTemplate
from herald.tokens import TokenError, TokenKeys, TrackingToken, sign_token
from senders.channel import OutboundMessage
from senders.dkim import DkimSigner
from senders.email import EmailParts, Tracking, compose_email, rewrite_links


class MessageBuildError(HeraldError):
    """A message that cannot be built for a recipient (the reason is recorded as failed)."""


@dataclass
class RunContext:
    """A run as a worker holds it: its spec, compiled template, state and limits."""

    info: SendRunInfo
    template: MessageTemplate
    state: str
    throttle_per_second: int | None
    topic: str
    address_field: str
    checked_at: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def channel(self) -> str:
        return self.info.channel

    @classmethod
    def from_info(cls, info: SendRunInfo) -> RunContext:
        spec = info.spec
        template = MessageTemplate.from_spec(spec.get("template") or {})
        return cls(
            info=info,
            template=template,
            state=info.state,
            throttle_per_second=info.throttle_per_second,
            topic=info.topic,
            address_field=info.address_field,
        )


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID of a key: the same for every attempt (receivers can dedupe on it)."""
    digest = hashlib.blake2b(key.encode(), digest_size=15).hexdigest()
    return f"{digest}@{domain}"


@dataclass
class EmailBuilder:
    """Builds signed e-mail for the runs of one worker."""

    signers: dict[str, DkimSigner]
    token_keys: TokenKeys | None
    tracking_url: str
    home: Path | None = None  # where web versions are written (HERALD_HOME)

    def build(
        self, run: RunContext, recipient: Recipient, key: str, destination: str
    ) -> OutboundMessage:
        context = dict(recipient.fields)
        context["profile_id"] = recipient.profile_id
        context["address"] = recipient.address
        parts = run.template.render(context)
        from_address = parts.get("from") or ""
        if "@" not in from_address:
            raise MessageBuildError("the template gives no From address")
        from_domain = from_address.rsplit("@", 1)[1].lower()
        message_id = message_id_for(key, from_domain)
        spec = run.info.spec
        tracking = self._tracking(run, recipient, message_id, parts.get("html"))
        feedback = f"{run.id}:{spec.get('feedback_id') or run.info.kind}:{run.channel}:herald"
        message = compose_email(
            EmailParts(
                subject=parts.get("subject") or "",
                html=parts.get("html"),
                text=parts.get("text"),
                from_address=from_address,
                from_name=parts.get("from_name") or "",
                reply_to=parts.get("reply_to") or None,
                to_address=recipient.address,
                to_name=str(context.get("name") or ""),
                headers={"X-Herald-Key": key, "X-Herald-Run": run.id},
            ),
            message_id=message_id,
            feedback_id=feedback,
            tracking=tracking,
        )
        signer = self.signers.get(from_domain)
        if signer is not None:
            message = signer.sign(message)
        return OutboundMessage(
            key=key,
            channel="email",
            recipient=recipient.address,
            destination=recipient.address.rpartition("@")[2].lower(),  # SMTP routes by domain
            content={"message": message, "mail_from": spec.get("mail_from") or from_address},
            message_id=message_id,
        )

    def _tracking(
        self, run: RunContext, recipient: Recipient, message_id: str, html: str | None
    ) -> Tracking | None:
        """Open pixel, tracked links and unsubscribe (with `tracking`, the default), and the
        web version (with `web_version`): all signed tokens the tracker verifies."""
        keys = self.token_keys
        spec = run.info.spec
        if keys is None:
            return None
        database = run.info.database or ""
        language = str(recipient.fields.get("language") or "en")
        language = language if language in LANGUAGES else "en"
        base = self.tracking_url.rstrip("/")

        def token(kind: str, **extra: Any) -> str:
            return sign_token(
                TrackingToken(
                    kind=kind,  # type: ignore[arg-type]
                    database=database,
                    profile_id=recipient.profile_id,
                    campaign_run=run.id,
                    message_id=message_id,
                    channel="email",
                    language=language,
                    **extra,
                ),
                keys,
            )

        def click(position: int, url: str) -> str:
            try:
                return f"{base}/c/{token('click', link=position, url=url)}"
            except TokenError:  # not a web address a click may go to: left untracked
                return url

        tracked = bool(spec.get("tracking", True))
        web_url = None
        if spec.get("web_version") and html is not None and self.home is not None:
            path = web_version_path(self.home, run.id, message_id)
            if path is not None:
                write_web_version(path, rewrite_links(html, click) if tracked else html)
                web_url = f"{base}/v/{token('view')}"
        mailto = spec.get("unsubscribe_mailto")
        return Tracking(
            open_url=f"{base}/o/{token('open')}" if tracked else None,
            click_url=click if tracked else None,
            unsubscribe_url=f"{base}/u/{token('unsubscribe', resource=run.topic)}",
            unsubscribe_mailto=f"mailto:{mailto}?subject=unsubscribe" if mailto else None,
            web_version_url=web_url,
            web_version_label=translate(VIEW_IN_BROWSER, language),
        )


@dataclass
class PartsBuilder:
    """Builds the content of a non-e-mail channel: its rendered parts as they are."""

    channel: str

    def build(
        self, run: RunContext, recipient: Recipient, key: str, destination: str
    ) -> OutboundMessage:
        context = dict(recipient.fields)
        context["profile_id"] = recipient.profile_id
        context["address"] = recipient.address
        parts = run.template.render(context)
        if self.channel == "webhook" and "body" not in parts:
            parts["body"] = {"profile_id": recipient.profile_id, "fields": recipient.fields}
        return OutboundMessage(
            key=key,
            channel=self.channel,
            recipient=recipient.address,
            destination=destination,
            content=parts,
            message_id=message_id_for(key, "herald"),
        )


Builder = Callable[[RunContext, Recipient, str, str], OutboundMessage]
