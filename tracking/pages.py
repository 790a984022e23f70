"""The few pages a message's recipient sees: unsubscribe (ask, then confirm) and errors,
in the recipient's language (the token's), English and Russian through Babel catalogs."""

from __future__ import annotations

from html import escape

from herald.i18n import LANGUAGES, N_, translate

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f5f4;color:#1c1917}"
    "main{max-width:32rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:.5rem}"
    "h1{font-size:1.35rem;margin:0 0 1rem}button{font:inherit;padding:.6rem 1.2rem;"
    "border:0;border-radius:.4rem;background:#b91c1c;color:#fff;cursor:pointer}"
)


def _language(language: str) -> str:
    return language if language in LANGUAGES else "en"


def page(title: str, body_html: str, language: str) -> bytes:
    return (
        f'<!doctype html><html lang="{_language(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body_html}</main></body></html>"
    ).encode()


def unsubscribe_question(language: str, channel: str) -> bytes:
    language = _language(language)
    title = translate(N_("Unsubscribe"), language)
    question = translate(
        N_("Do you want to stop receiving these messages ({channel})?"),
        language,
        channel=channel,
    )
    button = translate(N_("Unsubscribe"), language)
    form = f'<form method="post"><button type="submit">{escape(button)}</button></form>'
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(question)}</p>{form}", language)


def unsubscribed(language: str) -> bytes:
    language = _language(language)
    title = translate(N_("You are unsubscribed"), language)
    text = translate(
        N_("You will not receive these messages any more. It may take a moment to apply."),
        language,
    )
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>", language)


def broken_link(language: str, reason: str) -> bytes:
    language = _language(language)
    title = translate(N_("This link does not work"), language)
    text = translate(
        N_("The link is damaged or has expired. Nothing was changed."),
        language,
    )
    return page(
        title,
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p><p><small>{escape(reason)}</small></p>",
        language,
    )


def not_available(language: str) -> bytes:
    language = _language(language)
    title = translate(N_("This message is not available"), language)
    text = translate(N_("The web version of this message is no longer kept."), language)
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>", language)
