"""A shop for campaign tests: profiles imported and unified, segments computed (by `herald`
subprocesses, as a user would), a receiving SMTP server, queues of its own on the real
RabbitMQ, and in-process access to the scheduler and a worker.

    shop = CampaignShop.create(tmp_path, sink)
    shop.segment("gold", "{field: level, op: equals, value: gold}")
    shop.template("news", NEWS_TEMPLATE)
    shop.campaign({"name": "news", "template": "news", "audience": {"segments": ["gold"]}})
    shop.herald("campaign", "launch", "news")
    shop.work_until_idle()                 # an in-process worker drains the queues
    sink.by_recipient()

Clients are `c<n>` with `user<n>@example.com` (the sink accepts every test domain).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from herald.settings import Settings
from tests.support.cli import run_herald
from tests.support.sending import MailSink, SendingHome

SCHEMA = """\
database: shop
title: Shop
fields:
  - {name: email, type: string, identifier: email}
  - {name: given_name, type: string, match: given_name}
  - {name: city, type: string}
  - {name: level, type: enum, values: [bronze, silver, gold], default: bronze}
  - {name: bonus_points, type: integer, default: 0}
  - {name: timezone, type: string}
  - {name: language, type: string}
"""
ZONES = ["Europe/Moscow", "Asia/Vladivostok", "Europe/London"]
LEVELS = ["gold", "silver", "bronze"]


def clients_csv(count: int) -> str:
    lines = ["id,email,given_name,city,level,bonus_points,timezone,language"]
    for n in range(1, count + 1):
        lines.append(
            f"c{n},user{n}@example.com,Name{n},City{n % 4},{LEVELS[n % 3]},{n * 10},"
            f"{ZONES[(n // 3) % 3]},{'ru' if n % 2 else 'en'}"
        )
    return "\n".join(lines) + "\n"


def profile(key: str) -> str:
    return f"p_shop:clients.csv:{key}"


def build_shop(folder: Path, home: Path, clients: int) -> None:
    """Schema applied, `clients` imported from clients.csv and unified, by `herald`."""
    (folder / "schema.yml").write_text(SCHEMA)
    (folder / "clients.csv").write_text(clients_csv(clients))
    for args in (
        ["db", "apply", "--schema", str(folder / "schema.yml")],
        ["import", str(folder / "clients.csv"), "--db", "shop", "--key", "id"],
        ["unify", "--db", "shop"],
    ):
        done = run_herald(args, home)
        assert done.returncode == 0, done.stderr + done.stdout


def prepared_shop(shared: Path, clients: int) -> Path:
    """The home of a freshly built shop in `shared`, built by whichever test process asks
    first (the others wait on a lock); its copies are independent homes."""
    base = shared / f"campaign-shop-{clients}"
    with open(shared / f"campaign-shop-{clients}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "ready").exists():
            shutil.rmtree(base, ignore_errors=True)
            (base / "home").mkdir(parents=True)
            build_shop(base, base / "home", clients)
            (base / "ready").touch()
    return base / "home"


def shared_folder(factory: Any) -> Path:
    """A folder every test process of this pytest session sees (xdist workers each have a
    base folder of their own, under one session folder)."""
    base = Path(factory.getbasetemp())
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@dataclass
class CampaignShop:
    folder: Path
    sending: SendingHome
    env: dict[str, str]

    @classmethod
    def create(
        cls, folder: Path, sink: MailSink, *, clients: int = 30, shared: Path | None = None
    ) -> CampaignShop:
        """A shop in `folder/home`. With `shared` (a folder all test processes of the session
        see), the shop's first state — schema applied, clients imported and unified — is
        built once there and copied, rather than built by every test module."""
        home = folder / "home"
        if shared is not None:
            shutil.copytree(prepared_shop(shared, clients), home)
        sending = SendingHome.create(
            folder, sink, domains=("example.com", "example.org"), dkim=False, schema=False
        )
        env = {k: v for k, v in sending.env.items() if k.startswith("HERALD_")}
        shop = cls(folder, sending, env)
        if shared is None:
            build_shop(folder, home, clients)
        return shop

    @property
    def settings(self) -> Settings:
        return self.sending.settings

    @property
    def store(self) -> Engine:
        return self.sending.store

    @property
    def home(self) -> Path:
        return self.sending.home

    def herald(self, *args: str) -> Any:
        return run_herald(list(args), self.home, env=self.env)

    def ok(self, *args: str, output: bool = True) -> Any:
        done = self.herald(*args)
        assert done.returncode == 0, done.stderr + done.stdout
        return json.loads(done.stdout) if output else done.stdout

    def write(self, name: str, content: Any) -> str:
        path = self.folder / name
        path.write_text(
            content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        )
        return str(path)

    def segment(self, name: str, where: str) -> None:
        self.segments({name: where})

    def segments(self, definitions: dict[str, str]) -> None:
        """Dynamic segments of the shop (name: flow-style condition), saved with `herald
        segment create --no-refresh` and computed together by one `herald segment refresh`."""
        for name, where in definitions.items():
            text = f"name: {name}\ndatabase: shop\nwhere: {where}\n"
            path = self.write(f"{name}.segment.yml", text)
            self.ok("segment", "create", "--file", path, "--no-refresh")
        self.ok("segment", "refresh", *definitions, "--inputs")

    def template(self, name: str, document: dict[str, Any], *, cli: bool = True) -> Any:
        """Save a template: with `herald template create` (as a user would), or in-process
        through the same functions (faster, for tests about something else)."""
        if cli:
            path = self.write(f"{name}.template.yml", {"name": name, **document})
            return self.ok("template", "create", "--file", path)
        from herald.campaigns.content import save_content, template_document
        from herald.campaigns.preview import validate_document

        shaped = template_document(document)
        problems = [p for p in validate_document(self.store, shaped) if p["severity"] == "error"]
        assert not problems, problems
        return save_content(self.store, "template", name, shaped, mode="create").public()

    def campaign(self, document: dict[str, Any], *, cli: bool = False) -> Any:
        """Save a campaign: in-process through what `herald campaign create` calls (its
        parsing, checks and saving), or with the command itself (`cli`)."""
        definition = {"channel": "email", "database": "shop", **document}
        if cli:
            path = self.write(f"{document['name']}.campaign.yml", definition)
            return self.ok("campaign", "create", "--file", path)
        from herald.campaigns.catalog import save_campaign
        from herald.campaigns.definition import parse_campaign
        from herald.campaigns.preview import check_campaign

        parsed = parse_campaign(definition)
        check_campaign(self.store, parsed)
        info, created = save_campaign(self.store, parsed)
        return {"campaign": info.name, "kind": info.kind, "state": info.state, "created": created}

    def work_until_idle(self, **options: Any) -> Any:
        return self.sending.work_until_idle(**options)

    def close(self) -> None:
        self.sending.delete_queues()
        self.store.dispose()
