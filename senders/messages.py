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

Campaign runs add `fragments` (the sources of the fragments the template includes, frozen
at launch), `data` (external SQL and HTTP sources, herald/content/external.py), `locale` (of
the filters), `variant` and `factors` (A/B/n and MVT).

Personalisation sees the recipient's snapshot columns, `profile_id`, `address`, `variant`,
`factors` and `data` (the external sources' values for this recipient).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald.content.external import ExternalData, ExternalDataError, parse_data_sources
from herald.errors import HeraldError
from herald.i18n import LANGUAGES, translate
from herald.sending.runs import SendRunInfo
from herald.sending.web_versions import VIEW_IN_BROWSER, web_version_path, write_web_version
from herald.sending.wire import Recipient
from herald.templates import MessageTemplate, MessageTemplateError
from herald.tokens import MessageTokens, TokenError, TokenKeys, TrackingToken
from senders.channel import OutboundMessage
from senders.dkim import DkimSigner
from senders.email import EmailParts, Tracking, compose_email, rewrite_links


class MessageBuildError(HeraldError):
    """A message that cannot be built for a recipient (the reason is recorded as failed)."""


@dataclass(frozen=True)
class LinkPlan:
    """A run's tracked links, found once in the HTML template rather than in every message.

    Each http(s) link with a fixed address is replaced in the template by a marker
    (`HERALDLINK<n>Z`); per recipient the markers become that recipient's signed click URLs
    in one pass. Links whose address is itself a template (`href="{{ url }}"`) can only be
    found after rendering: with `dynamic`, the rendered HTML is scanned for them too, and they
    are numbered after the fixed ones.
    """

    urls: tuple[str, ...]
    dynamic: bool

    @classmethod
    def of(cls, html: str) -> tuple[str, LinkPlan]:
        urls: list[str] = []

        def mark(position: int, url: str) -> str:
            urls.append(url)
            return f"HERALDLINK{position}Z"

        planned = rewrite_links(html, mark)
        return planned, cls(tuple(urls), bool(_TEMPLATED_HREF.search(html)))

    def apply(self, html: str, click: Callable[[int, str], str]) -> str:
        if not self.urls:
            return html
        return _LINK_MARK.sub(lambda m: click(int(m[1]), self.urls[int(m[1]) - 1]), html)


_LINK_MARK = re.compile(r"HERALDLINK(\d+)Z")
_TEMPLATED_HREF = re.compile(r"""href\s*=\s*["']?[^"'>\s]*[{][{%]""", re.IGNORECASE)


@dataclass
class RunContext:
    """A run as a worker holds it: its spec, compiled template, link plan, state, limits."""

    info: SendRunInfo
    template: MessageTemplate
    state: str
    throttle_per_second: int | None
    topic: str
    address_field: str
    links: LinkPlan | None = None  # e-mail with tracking: the template's links
    checked_at: float = 0.0
    locale: str | None = None
    data: ExternalData | None = None  # the template's external sources, cached per run
    extra: dict[str, Any] = field(default_factory=dict)  # variant, factors

    def context(
        self, recipient: Recipient, data: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What the template sees for a recipient."""
        context = dict(recipient.fields)
        context.update(self.extra)
        context["profile_id"] = recipient.profile_id
        context["address"] = recipient.address
        if data is not None:
            context["data"] = data
        return context

    def fetch_data(self, recipients: list[Recipient]) -> list[dict[str, Any] | str]:
        """Each recipient's external data, or the reason it could not be fetched (blocking:
        called in a thread, one chunk at a time)."""
        assert self.data is not None
        fetched: list[dict[str, Any] | str] = []
        for recipient in recipients:
            try:
                fetched.append(self.data.fetch(self.context(recipient)))
            except ExternalDataError as exc:
                fetched.append(str(exc))
        return fetched

    def close(self) -> None:
        if self.data is not None:
            self.data.close()

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def channel(self) -> str:
        return self.info.channel

    @classmethod
    def from_info(
        cls, info: SendRunInfo, connection_url: Callable[[str], str] | None = None
    ) -> RunContext:
        """The run's template compiled (MessageTemplateError if it cannot be) and its data
        sources ready (`connection_url` names the databases of SQL sources)."""
        spec = info.spec
        parts = dict(spec.get("template") or {})
        links = None
        html = parts.get("html")
        if info.channel == "email" and spec.get("tracking", True) and isinstance(html, str):
            parts["html"], links = LinkPlan.of(html)
        data = None
        if spec.get("data"):
            try:
                sources = parse_data_sources(spec["data"])
            except ExternalDataError as exc:
                raise MessageTemplateError(f"the template's data: {exc}") from None
            data = ExternalData(sources, connection_url=connection_url or _no_connections)
        extra: dict[str, Any] = {}
        if spec.get("variant"):
            extra["variant"] = spec["variant"]
        if spec.get("factors"):
            extra["factors"] = dict(spec["factors"])
        return cls(
            info=info,
            template=MessageTemplate.from_spec(parts, fragments=spec.get("fragments") or None),
            state=info.state,
            throttle_per_second=info.throttle_per_second,
            topic=info.topic,
            address_field=info.address_field,
            links=links,
            locale=spec.get("locale"),
            data=data,
            extra=extra,
        )


def _no_connections(name: str) -> str:
    raise ExternalDataError(f"no data connection {name!r} is known to this sender")


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
        self,
        run: RunContext,
        recipient: Recipient,
        key: str,
        destination: str,
        data: Mapping[str, Any] | None = None,
    ) -> OutboundMessage:
        context = run.context(recipient, data)
        parts = run.template.render(context, locale=run.locale)
        from_address = parts.get("from") or ""
        if "@" not in from_address:
            raise MessageBuildError("the template gives no From address")
        from_domain = from_address.rsplit("@", 1)[1].lower()
        message_id = message_id_for(key, from_domain)
        spec = run.info.spec
        html, tracking = self._tracking(run, recipient, message_id, parts.get("html"))
        feedback = f"{run.id}:{spec.get('feedback_id') or run.info.kind}:{run.channel}:herald"
        message = compose_email(
            EmailParts(
                subject=parts.get("subject") or "",
                html=html,
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
    ) -> tuple[str | None, Tracking | None]:
        """The HTML with its links tracked, and what else to insert: open pixel and tracked
        links (with `tracking`, the default), unsubscribe (always), the web version (with
        `web_version`); every URL a signed token the tracker verifies."""
        spec = run.info.spec
        plan = run.links
        if self.token_keys is None:  # nothing can be signed: links stay as they were
            if html is not None and plan is not None:
                html = plan.apply(html, lambda position, url: url)
            return html, None
        language = str(recipient.fields.get("language") or "en")
        language = language if language in LANGUAGES else "en"
        base = self.tracking_url.rstrip("/")
        tokens = MessageTokens(
            TrackingToken(
                kind="open",
                database=run.info.database or "",
                profile_id=recipient.profile_id,
                campaign_run=run.id,
                message_id=message_id,
                channel="email",
                language=language,
            ),
            self.token_keys,
        )

        def click(position: int, url: str) -> str:
            try:
                return f"{base}/c/{tokens.sign('click', link=position, url=url)}"
            except TokenError:  # not a web address a click may go to: left untracked
                return url

        click_url = None
        if html is not None and plan is not None:
            html = plan.apply(html, click)
            if plan.dynamic:
                fixed = len(plan.urls)
                click_url = lambda position, url: click(position + fixed, url)  # noqa: E731
        web_url = None
        if spec.get("web_version") and html is not None and self.home is not None:
            path = web_version_path(self.home, run.id, message_id)
            if path is not None:
                shown = rewrite_links(html, click_url) if click_url is not None else html
                write_web_version(path, shown)
                web_url = f"{base}/v/{tokens.sign('view')}"
        mailto = spec.get("unsubscribe_mailto")
        return html, Tracking(
            open_url=f"{base}/o/{tokens.sign('open')}" if plan is not None else None,
            click_url=click_url,
            unsubscribe_url=f"{base}/u/{tokens.sign('unsubscribe', resource=run.topic)}",
            unsubscribe_mailto=f"mailto:{mailto}?subject=unsubscribe" if mailto else None,
            web_version_url=web_url,
            web_version_label=translate(VIEW_IN_BROWSER, language),
        )


@dataclass
class PartsBuilder:
    """Builds the content of a non-e-mail channel: its rendered parts as they are."""

    channel: str

    def build(
        self,
        run: RunContext,
        recipient: Recipient,
        key: str,
        destination: str,
        data: Mapping[str, Any] | None = None,
    ) -> OutboundMessage:
        context = run.context(recipient, data)
        parts = run.template.render(context, locale=run.locale)
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
