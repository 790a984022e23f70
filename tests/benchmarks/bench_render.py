# ruff: noqa: E501  (the e-mail below is HTML as people write it, long lines included)
"""Render benchmark (issue #8): MessageTemplate.render per core, beside plain Jinja2.

    python -m tests.benchmarks.bench_render [--profiles 10000] [--repeats 3]

A realistic ~20 KB personalised HTML e-mail (a header, a condition, 10 product cards in a
loop over a list field with `currency` and `date` filters, a footer fragment, a subject with
first_name), rendered for --profiles distinct profiles of 12 fields each (nothing is
cached across recipients but the filters' formatted values), with external data as an
already fetched dict in context['data']. Measured on one core (this process): renders/s of
`MessageTemplate.render` (every part: subject, preheader, html and the text part derived
from it), against the same template in a plain `jinja2.Environment` (no sandbox, no guards,
the same filters and fragment, html autoescaped, the derived text template rendered after
it). Herald's HTML template writes the text part in the same pass; a second Herald row
renders the same e-mail with a Jinja comment in it, which Herald does not pair, so its text
template is rendered after the HTML as plain Jinja does. Before timing, every part Herald
renders is checked equal to plain Jinja's for 200 recipients. The best of --repeats passes
is kept. Writes tests/benchmarks/results/render.json and render.md. Timings are reported,
never asserted; target ≥ 10,000 renders/s per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, Environment

from herald.content.filters import FILTERS, FUNCTIONS
from herald.content.sandbox import _BUDGET, RenderBudget, RenderLimits
from herald.templates import MessageTemplate, text_template_from_html

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_PER_SECOND = 10_000

CARD = """
<tr><td class="card" style="padding:16px;border:1px solid #e5e5e5;border-radius:8px;font-family:Arial,sans-serif">
  <table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>
    <td width="120" style="padding-right:12px"><a href="https://shop.example/p/{{ p.sku }}?utm_source=email&utm_campaign=winter">
      <img src="https://cdn.shop.example/img/{{ p.sku }}.jpg" width="120" height="120" alt="{{ p.name }}" style="display:block;border:0"></a></td>
    <td style="vertical-align:top;color:#222;font-size:15px;line-height:21px">
      <a href="https://shop.example/p/{{ p.sku }}?utm_source=email&utm_campaign=winter" style="color:#1a1a1a;font-weight:bold;text-decoration:none">{{ p.name }}</a><br>
      <span style="color:#777;font-size:13px">{{ p.brand }} · in stock since {{ p.since|date }}</span><br>
      <span style="color:#c00;font-size:18px;font-weight:bold">{{ p.price|currency }}</span>
      {% if p.old_price %}<span style="color:#999;text-decoration:line-through;font-size:13px">{{ p.old_price|currency }}</span>{% endif %}
      <p style="margin:8px 0 0 0;color:#555;font-size:13px;line-height:18px">Chosen for you because you like {{ p.category }}. Free delivery to {{ city }} on orders over 3 000 ₽, returns within 30 days, and a gift wrap on request at checkout.</p>
    </td></tr></table></td></tr>
<tr><td height="12" style="font-size:0;line-height:0">&nbsp;</td></tr>"""

INFO = (
    "Orders placed before 14:00 leave our warehouse the same day; couriers deliver in Moscow "
    "and Saint Petersburg the next day and elsewhere within two to five days, and you can "
    "follow every parcel from the order page. Pick-up points accept parcels for seven days, "
    "and a courier can be rescheduled from the link in the SMS you receive on the day. "
    "Anything that does not fit can be returned within thirty days, at no cost, at any "
    "pick-up point."
)

HTML = (
    """<!DOCTYPE html><html lang="{{ language }}"><head><meta charset="utf-8"><title>Winter sale</title>
<style>body{margin:0;padding:0;background:#f4f4f4}.card{background:#fff}@media (max-width:600px){.card{padding:8px!important}}</style></head>
<body><table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f4"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;max-width:600px">
<tr><td style="padding:24px;font-family:Arial,sans-serif;background:#1a1a1a"><a href="https://shop.example/?utm_source=email"><img src="https://cdn.shop.example/logo.png" width="140" alt="Shop" style="border:0"></a></td></tr>
<tr><td style="padding:24px 24px 8px 24px;font-family:Arial,sans-serif;font-size:22px;color:#1a1a1a">Hello, {{ first_name }}!</td></tr>
<tr><td style="padding:0 24px 16px 24px;font-family:Arial,sans-serif;font-size:15px;line-height:22px;color:#333">
{% if tier == "gold" %}As a gold member you get an extra 10% off everything below until {{ data.sale_ends|date("long") }}.
{% else %}Our winter sale runs until {{ data.sale_ends|date("long") }}: you have {{ points|number }} points to spend.{% endif %}
We picked {{ products|length }} {{ plural(products|length, "product", "products") }} for you in {{ city }}.</td></tr>
<tr><td style="padding:0 24px">
{% for p in products %}<table role="presentation" width="100%" cellpadding="0" cellspacing="0">"""
    + CARD
    + """</table>{% endfor %}
</td></tr>
<tr><td style="padding:16px 24px;font-family:Arial,sans-serif;font-size:13px;line-height:19px;color:#555">
"""
    + "".join(
        f'<p style="margin:0 0 12px 0"><b>{title}.</b> {INFO}</p>\n'
        for title in ("Delivery", "Returns", "Gift wrap", "Loyalty points", "Payment")
    )
    + """</td></tr>
<tr><td style="padding:16px 24px;font-family:Arial,sans-serif;font-size:13px;color:#555">Your coupon: <b>{{ data.coupon }}</b> ({{ data.discount|percent }} off), last order {{ last_order_at|date }}.</td></tr>
</table>{% include "footer" %}</td></tr></table></body></html>"""
)

FOOTER = """<table role="presentation" width="600"><tr><td style="padding:24px;font-family:Arial,sans-serif;font-size:12px;line-height:18px;color:#888;background:#fafafa">
You receive this e-mail because you subscribed at shop.example with {{ address }}.
<a href="https://shop.example/unsubscribe?u={{ profile_id }}" style="color:#888">Unsubscribe</a> ·
<a href="https://shop.example/preferences?u={{ profile_id }}" style="color:#888">Preferences</a> ·
<a href="https://shop.example/privacy" style="color:#888">Privacy</a><br>Shop Ltd, 1 Example Street, Moscow. {% for s in ["vk", "tg", "ok"] %}<a href="https://shop.example/s/{{ s }}" style="color:#888">{{ s }}</a> {% endfor %}
</td></tr></table>"""

SPEC = {
    "subject": "{{ first_name }}, your winter picks are here",
    "preheader": "Up to 50% off for {{ city }}",
    "from": "news@shop.example",
    "from_name": "Shop",
    "html": HTML,
}

CATALOGUE_NAMES = [
    "Wool scarf",
    "Down jacket",
    "Thermal mug",
    "Snow boots",
    "Ski gloves",
    "Knitted hat",
    "Fleece blanket",
    "Hand warmer",
    "Tea set",
    "Candle",
]


def make_contexts(profiles: int, seed: int = 8) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    catalogue = [
        {
            "sku": f"SKU{n:05d}",
            "name": f"{rng.choice(CATALOGUE_NAMES)} {n}",
            "brand": rng.choice(["Nord", "Polar", "Taiga", "Aurora"]),
            "category": rng.choice(["outdoor", "home", "kitchen", "gifts"]),
            "price": round(rng.uniform(300, 30000), 2),
            "old_price": round(rng.uniform(300, 40000), 2) if rng.random() < 0.4 else None,
            "since": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        }
        for n in range(500)
    ]
    data = {"sale_ends": "2026-12-31", "coupon": "WINTER26", "discount": 0.15}
    cities = ["Moscow", "Kazan", "Omsk", "Perm", "Tver", "Sochi"]
    contexts = []
    for n in range(profiles):
        contexts.append(
            {
                "profile_id": f"p{n:07d}",
                "address": f"user{n}@mail.example",
                "email": f"user{n}@mail.example",
                "first_name": rng.choice(["Anna", "Ivan", "Olga", "Pavel", "Maria", "Oleg"]),
                "last_name": rng.choice(["Ivanova", "Petrov", "Smirnova", "Kuznetsov"]),
                "city": rng.choice(cities),
                "language": rng.choice(["ru", "en"]),
                "tier": rng.choice(["gold", "silver", "basic"]),
                "points": rng.randint(0, 50000),
                "last_order_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
                "plan": rng.choice(["free", "plus"]),
                "score": rng.random(),
                "products": rng.sample(catalogue, 10),
                "data": data,
            }
        )
    return contexts


# the same e-mail with a Jinja comment: rendered the way a template Herald cannot pair is
UNPAIRED_SPEC = {
    **SPEC,
    "html": HTML.replace('lang="{{ language }}"', 'lang="{{ language }}{# not paired #}"', 1),
}


def bench_herald(
    contexts: list[dict[str, Any]], spec: dict[str, str] = SPEC
) -> tuple[float, float]:
    """Wall-clock and CPU seconds to render every part for every recipient."""
    template = MessageTemplate.from_spec(spec, fragments={"footer": FOOTER})
    started, cpu = time.perf_counter(), time.process_time()
    for context in contexts:
        template.render(context)
    return time.perf_counter() - started, time.process_time() - cpu


def plain_templates() -> dict[str, Any]:
    def env(autoescape: bool, fragments: dict[str, str]) -> Environment:
        environment = Environment(
            autoescape=autoescape,
            loader=DictLoader(fragments),
            auto_reload=False,
            keep_trailing_newline=True,
        )
        environment.filters.update(FILTERS)
        environment.globals.update(FUNCTIONS)
        return environment

    plain = env(False, {"footer": FOOTER})
    html_env = env(True, {"footer": FOOTER})
    text_env = env(False, {"footer": text_template_from_html(FOOTER)})
    return {
        "subject": plain.from_string(SPEC["subject"]),
        "preheader": plain.from_string(SPEC["preheader"]),
        "html": html_env.from_string(HTML),
        "text": text_env.from_string(text_template_from_html(HTML)),
    }


def render_plain(templates: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    token = _BUDGET.set(RenderBudget(RenderLimits(), context["language"]))
    parts = {name: template.render(context) for name, template in templates.items()}
    parts["subject"], parts["preheader"] = parts["subject"].strip(), parts["preheader"].strip()
    _BUDGET.reset(token)
    return parts


def check_same_output(contexts: list[dict[str, Any]]) -> dict[str, int]:
    """Herald renders what plain Jinja renders, a different e-mail for each recipient."""
    templates = plain_templates()
    paired = MessageTemplate.from_spec(SPEC, fragments={"footer": FOOTER})
    unpaired = MessageTemplate.from_spec(UNPAIRED_SPEC, fragments={"footer": FOOTER})
    seen = set()
    first = render_plain(templates, contexts[0])
    for context in contexts:
        expected = render_plain(templates, context)
        for template in (paired, unpaired):
            parts = template.render(context)
            for name in ("subject", "preheader", "html", "text"):
                if parts[name] != expected[name]:
                    raise AssertionError(f"{name} differs from plain Jinja's for {context}")
        seen.add(parts["html"])
    if len(seen) != len(contexts):
        raise AssertionError("two recipients got the same e-mail")
    html, text = first["html"], first["text"]
    return {
        "html_chars": len(html),
        "html_bytes": len(html.encode()),
        "text_chars": len(text),
        "text_bytes": len(text.encode()),
    }


def bench_plain(contexts: list[dict[str, Any]]) -> tuple[float, float]:
    templates = plain_templates()
    limits = RenderLimits()
    started, cpu = time.perf_counter(), time.process_time()
    for context in contexts:
        # the filters read the locale from the render's budget: set it as Herald does
        token = _BUDGET.set(RenderBudget(limits, context["language"]))
        parts = {name: template.render(context) for name, template in templates.items()}
        parts["from"], parts["from_name"] = SPEC["from"], SPEC["from_name"]
        _BUDGET.reset(token)
    return time.perf_counter() - started, time.process_time() - cpu


def run(profiles: int, repeats: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    contexts = make_contexts(profiles)
    sizes = check_same_output(contexts[:200])
    bench_herald(contexts[:500])  # warm the caches and the filters' formats
    bench_herald(contexts[:500], UNPAIRED_SPEC)
    bench_plain(contexts[:500])
    # interleaved, so that a busy neighbour on a shared box slows all three alike
    herald, unpaired, plain = [], [], []
    for _ in range(repeats):
        herald.append(bench_herald(contexts))
        unpaired.append(bench_herald(contexts, UNPAIRED_SPEC))
        plain.append(bench_plain(contexts))
    herald_s, unpaired_s, plain_s = (
        min(wall for wall, _ in runs) for runs in (herald, unpaired, plain)
    )
    herald_cpu, unpaired_cpu, plain_cpu = (
        min(cpu for _, cpu in runs) for runs in (herald, unpaired, plain)
    )
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus_used": 1, "python": platform.python_version()},
        "profiles": profiles,
        "fields_per_profile": len(contexts[0]),
        **sizes,
        "herald_renders_per_s": profiles / herald_s,
        "herald_unpaired_renders_per_s": profiles / unpaired_s,
        "plain_jinja_renders_per_s": profiles / plain_s,
        # per second of this process's CPU time: what a core gives when a busy neighbour on
        # a shared box takes some of the wall-clock time
        "herald_renders_per_cpu_s": profiles / herald_cpu,
        "herald_unpaired_renders_per_cpu_s": profiles / unpaired_cpu,
        "plain_jinja_renders_per_cpu_s": profiles / plain_cpu,
        "overhead_ratio": herald_s / plain_s,
        "target_renders_per_s": TARGET_PER_SECOND,
    }


def render_markdown(report: dict[str, Any]) -> str:
    met = "met" if report["herald_renders_per_s"] >= TARGET_PER_SECOND else "MISSED"
    return "\n".join(
        [
            f"# Render benchmark ({report['when']}, one core, Python {report['machine']['python']})",
            "",
            f"{report['profiles']:,} distinct profiles ({report['fields_per_profile']} fields), "
            f"a {report['html_chars']:,}-character ({report['html_bytes']:,} bytes) HTML "
            f"e-mail with 10 product cards and a {report['text_chars']:,}-character text part, "
            "currency/date/percent/plural filters and a footer fragment; every part rendered "
            "(subject, preheader, html, derived text), checked equal to plain Jinja's.",
            "",
            "| renderer | renders/s (wall clock) | renders per CPU-second | target ≥ 10,000 |",
            "|---|---|---|---|",
            f"| MessageTemplate.render (sandbox, limits) | {report['herald_renders_per_s']:,.0f} "
            f"| {report['herald_renders_per_cpu_s']:,.0f} | {met} |",
            "| MessageTemplate.render, a template it does not pair (text rendered after the "
            f"HTML) | {report['herald_unpaired_renders_per_s']:,.0f} "
            f"| {report['herald_unpaired_renders_per_cpu_s']:,.0f} | |",
            f"| plain jinja2.Environment | {report['plain_jinja_renders_per_s']:,.0f} "
            f"| {report['plain_jinja_renders_per_cpu_s']:,.0f} | |",
            "",
            f"Herald with its sandbox and guards takes {report['overhead_ratio']:.2f}× the plain "
            "Jinja2 time (its HTML template writes the text part in the same pass; plain Jinja2 "
            "renders the text template after the HTML).",
            "",
        ]
    )


def run_and_report(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--profiles", type=int, default=int(os.environ.get("BENCH_RENDER_PROFILES", "10000"))
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    report = run(args.profiles, args.repeats)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "render.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "render.md").write_text(render_markdown(report))
    print(render_markdown(report))


if __name__ == "__main__":
    run_and_report()
