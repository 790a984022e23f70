from pathlib import Path

import pytest

from herald.errors import SettingsError
from herald.settings import WarehouseURL, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HERALD_HOME", "HERALD_WAREHOUSE", "HERALD_DATABASE", "HERALD_BROKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HERALD_CONFIG", str(tmp_path / "herald.toml"))


def test_defaults_live_under_home(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.home == tmp_path / "var"
    assert settings.warehouse_url == WarehouseURL(
        engine="duckdb", path=tmp_path / "var" / "warehouse.duckdb", database="main"
    )
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'herald.sqlite'}"
    assert settings.dagster_home == tmp_path / "var" / "dagster"
    assert settings.broker == "amqp://guest:guest@127.0.0.1:5672/"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HERALD_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("HERALD_WAREHOUSE", "chdb:///data/ch")
    monkeypatch.setenv("HERALD_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/herald")
    settings = load_settings()
    assert settings.home == tmp_path / "h"
    assert settings.warehouse_url.engine == "chdb"
    assert settings.warehouse_url.path == Path("/data/ch")
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_clickhouse_urls_parse_credentials_and_tls() -> None:
    url = WarehouseURL.parse("clickhouses://analyst:p%40ss@ch.example:9443/marketing", Path("/"))
    assert (url.engine, url.host, url.port, url.user, url.password, url.database, url.secure) == (
        "clickhouse",
        "ch.example",
        9443,
        "analyst",
        "p@ss",
        "marketing",
        True,
    )
    plain = WarehouseURL.parse("clickhouse://ch.example", Path("/"))
    assert (plain.port, plain.database, plain.secure, plain.user) == (
        8123,
        "herald",
        False,
        "default",
    )
    assert "p@ss" not in url.display()


def test_herald_toml_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "herald.toml").write_text('home = "/srv/herald"\nbroker = "amqp://u:p@mq:5672/"\n')
    monkeypatch.setenv("HERALD_BROKER", "amqp://x:y@other:5672/")
    settings = load_settings()
    assert settings.home == Path("/srv/herald")
    assert settings.broker == "amqp://x:y@other:5672/"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HERALD_WAREHOUSE", "mysql://localhost/db", "HERALD_WAREHOUSE: unknown engine 'mysql'"),
        ("HERALD_WAREHOUSE", "duckdb://", "HERALD_WAREHOUSE: duckdb URL has no path"),
        (
            "HERALD_WAREHOUSE",
            "clickhouse://:8123/db",
            "HERALD_WAREHOUSE: ClickHouse URL has no host",
        ),
        ("HERALD_WAREHOUSE", "clickhouse://h:notaport/db", "HERALD_WAREHOUSE: bad port"),
        ("HERALD_DATABASE", "mongodb://x", "HERALD_DATABASE: use sqlite:///path or postgresql"),
        ("HERALD_BROKER", "http://rabbit", "HERALD_BROKER: use amqp://"),
        ("HERALD_POOL_LIMIT", "many", "HERALD_POOL_LIMIT:"),
    ],
)
def test_a_wrong_value_names_the_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_a_broken_herald_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "herald.toml").write_text("home = [unclosed\n")
    with pytest.raises(SettingsError, match=r"^herald.toml: "):
        load_settings()
