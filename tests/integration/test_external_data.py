"""External data for templates against real services: a PostgreSQL database (the session's
throwaway database from tests/conftest.py, with a schema of this module's own) and an HTTP
server started here on 127.0.0.1 that counts the requests it gets."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from sqlalchemy.engine import URL

from herald.content.external import ExternalData, ExternalDataError, parse_data_sources
from tests.conftest import libpq_url

# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_schema(postgres_database: URL) -> Iterator[str]:
    """A schema holding `recommendations`, dropped when the module's tests are done."""
    schema = f"external_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_url(postgres_database), autocommit=True) as connection:
        connection.execute(f"create schema {schema}")
        connection.execute(f"create sequence {schema}.visits")
        connection.execute(
            f"create table {schema}.recommendations (customer_id text, rank int, title text, "
            "price numeric(10, 2), added date, seen_at timestamp)"
        )
        connection.execute(
            f"insert into {schema}.recommendations values "
            "('c1', 1, 'Kettle', 19.90, '2026-11-01', '2026-11-02 10:30:00'), "
            "('c1', 2, 'Mug', 3.50, '2026-11-03', null), "
            "('c2', 1, 'Pan', 10.00, '2026-11-04', null)"
        )
        try:
            yield schema
        finally:
            connection.execute(f"drop schema {schema} cascade")


def _shop(postgres_database: URL, schema: str, **settings: Any) -> ExternalData:
    document = {
        "source": {
            "sql": {
                "connection": "shop",
                "query": (
                    f"select title, price, added, seen_at from {schema}.recommendations "
                    "where customer_id = :customer_id order by rank"
                ),
                "params": {"customer_id": "{{ external_id }}"},
                **settings,
            }
        }
    }
    urls = {"shop": postgres_database.render_as_string(hide_password=False)}
    return ExternalData(parse_data_sources(document), connection_url=urls.__getitem__)


@pytest.mark.postgres
def test_many_rows_come_as_a_list_of_json_friendly_rows(
    postgres_database: URL, shop_schema: str
) -> None:
    with _shop(postgres_database, shop_schema) as external:
        values = external.fetch({"external_id": "c1"})

    assert values == {
        "source": [
            {
                "title": "Kettle",
                "price": 19.9,
                "added": "2026-11-01",
                "seen_at": "2026-11-02T10:30:00",
            },
            {"title": "Mug", "price": 3.5, "added": "2026-11-03", "seen_at": None},
        ]
    }


@pytest.mark.postgres
def test_one_row_comes_as_the_first_row(postgres_database: URL, shop_schema: str) -> None:
    with _shop(postgres_database, shop_schema, rows="one") as external:
        assert external.fetch({"external_id": "c1"})["source"]["title"] == "Kettle"
        assert external.fetch({"external_id": "nobody"}) == {"source": None}


@pytest.mark.postgres
def test_value_comes_as_the_first_column_of_the_first_row(
    postgres_database: URL, shop_schema: str
) -> None:
    with _shop(postgres_database, shop_schema, rows="value") as external:
        assert external.fetch({"external_id": "c2"}) == {"source": "Pan"}


@pytest.mark.postgres
def test_an_injection_attempt_matches_nothing(postgres_database: URL, shop_schema: str) -> None:
    with _shop(postgres_database, shop_schema) as external:
        assert external.fetch({"external_id": "c1' or '1'='1"}) == {"source": []}


@pytest.mark.postgres
def test_a_query_slower_than_its_timeout_is_cancelled(postgres_database: URL) -> None:
    document = {
        "slow": {
            "sql": {
                "connection": "shop",
                "query": "select pg_sleep(5), cast(:customer_id as text) as customer_id",
                "params": {"customer_id": "{{ external_id }}"},
                "timeout": 0.5,
            }
        }
    }
    urls = {"shop": postgres_database.render_as_string(hide_password=False)}
    with (
        ExternalData(parse_data_sources(document), connection_url=urls.__getitem__) as external,
        pytest.raises(ExternalDataError) as raised,
    ):
        external.fetch({"external_id": "c1"})

    assert str(raised.value).startswith("slow: no answer within 0.5 s from connection 'shop'")
    assert raised.value.source == "slow"


@pytest.mark.postgres
def test_a_missing_table_is_a_clear_error(postgres_database: URL, shop_schema: str) -> None:
    document = {"wishes": {"sql": {"connection": "shop", "query": "select * from wishes"}}}
    urls = {"shop": postgres_database.render_as_string(hide_password=False)}
    with (
        ExternalData(parse_data_sources(document), connection_url=urls.__getitem__) as external,
        pytest.raises(ExternalDataError) as raised,
    ):
        external.fetch({})

    assert "wishes: the query fails on connection 'shop'" in str(raised.value)
    assert 'relation "wishes" does not exist' in str(raised.value)


@pytest.mark.postgres
def test_the_connection_is_read_only(postgres_database: URL, shop_schema: str) -> None:
    document = {
        "writer": {
            "sql": {
                "connection": "shop",
                "query": f"select nextval('{shop_schema}.visits')",
                "rows": "value",
            }
        }
    }
    urls = {"shop": postgres_database.render_as_string(hide_password=False)}
    with (
        ExternalData(parse_data_sources(document), connection_url=urls.__getitem__) as external,
        pytest.raises(ExternalDataError) as raised,
    ):
        external.fetch({})

    assert "writer: the query fails" in str(raised.value)
    assert "read-only transaction" in str(raised.value)


@pytest.mark.postgres
def test_an_unknown_database_is_a_clear_error_without_the_password(
    postgres_database: URL,
) -> None:
    wrong = postgres_database.set(password="s3cret-pass", database="herald_no_such_database")
    document = {"source": {"sql": {"connection": "crm", "query": "select 1", "rows": "value"}}}
    urls = {"crm": wrong.render_as_string(hide_password=False)}
    with (
        ExternalData(parse_data_sources(document), connection_url=urls.__getitem__) as external,
        pytest.raises(ExternalDataError) as raised,
    ):
        external.fetch({})

    message = str(raised.value)
    assert message.startswith("source: cannot connect to connection 'crm'")
    assert 'database "herald_no_such_database" does not exist' in message
    assert "s3cret-pass" not in message
    assert "***" in message


# --- HTTP -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Answers by path; every request is counted in `server.hits` by path."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self._answer(json.loads(self.rfile.read(length)))

    def _answer(self, body: Any) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        with self.server.lock:
            self.server.hits[path] += 1
            hits = self.server.hits[path]
        if path == "/weather":
            city = parse_qs(parts.query).get("city", [""])[0]
            self._json(200, {"city": city, "temperature": 3.5})
        elif path == "/echo":
            self._json(200, {"body": body, "authorization": self.headers["Authorization"]})
        elif path == "/flaky":
            self._json(503, {"error": "busy"}) if hits == 1 else self._json(200, {"ok": True})
        elif path == "/busy":
            self._json(503, {"error": "busy"})
        elif path == "/slow":
            time.sleep(3)
            self._json(200, {"late": True})
        elif path == "/html":
            self._send(200, b"<html>not json</html>", "text/html")
        elif path == "/big":
            self._json(200, {"blob": "x" * 1_100_000})
        elif path == "/moved":
            self._redirect("/weather?city=Bergen")
        elif path == "/away":
            self._redirect("http://elsewhere.invalid/weather")
        else:
            self._json(404, {"error": "not found"})

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, content: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the /slow path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    http_server = _Server()
    thread = threading.Thread(target=http_server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield http_server
    finally:
        http_server.shutdown()
        http_server.server_close()
        thread.join(timeout=5)


def _http(server: _Server, path: str, **settings: Any) -> ExternalData:
    document = {"source": {"http": {"url": server.base + path, "timeout": 1, **settings}}}
    return ExternalData(parse_data_sources(document), connection_url=_no_connections)


def _no_connections(name: str) -> str:
    raise KeyError(name)


def _fails(external: ExternalData, context: dict[str, Any] | None = None) -> ExternalDataError:
    with pytest.raises(ExternalDataError) as raised:
        external.fetch(context or {})
    return raised.value


def test_a_get_renders_the_url_from_the_recipient(server: _Server) -> None:
    with _http(server, "/weather?city={{ city | urlencode }}") as external:
        values = external.fetch({"city": "Saint Petersburg"})

    assert values == {"source": {"city": "Saint Petersburg", "temperature": 3.5}}


def test_a_post_sends_its_json_body_and_headers(server: _Server) -> None:
    settings = {
        "method": "POST",
        "headers": {"Authorization": "Bearer {{ token }}"},
        "json": {"customer": "{{ external_id }}", "visits": "{{ visits }}", "tags": ["vip"]},
    }
    with _http(server, "/echo", **settings) as external:
        values = external.fetch({"external_id": "c1", "visits": 4, "token": "t1"})

    assert values == {
        "source": {
            "body": {"customer": "c1", "visits": 4, "tags": ["vip"]},
            "authorization": "Bearer t1",
        }
    }


def test_answers_are_cached_across_recipients(server: _Server) -> None:
    with _http(server, "/weather?city={{ city | urlencode }}") as external:
        for recipient in [
            {"city": "Oslo", "email": "a@example.com"},
            {"city": "Oslo", "email": "b@example.com"},
            {"city": "Bergen", "email": "c@example.com"},
            {"city": "Oslo", "email": "d@example.com"},
        ]:
            external.fetch(recipient)

        assert server.hits["/weather"] == 2
        assert external.stats["hits"] == 2
        assert external.stats["misses"] == 2


def test_a_503_is_tried_again_and_then_succeeds(server: _Server) -> None:
    with _http(server, "/flaky", retries=2) as external:
        values = external.fetch({})

    assert values == {"source": {"ok": True}}
    assert server.hits["/flaky"] == 2


def test_a_service_that_stays_unavailable_fails_after_its_retries(server: _Server) -> None:
    with _http(server, "/busy", retries=2) as external:
        error = _fails(external)

    assert str(error) == (
        f"source: GET {server.base}/busy answered 503 Service Unavailable (3 attempts)"
    )
    assert server.hits["/busy"] == 3


def test_a_404_fails_at_once_without_retries(server: _Server) -> None:
    with _http(server, "/gone", retries=2) as external:
        error = _fails(external)

    assert "answered 404 Not Found; check the URL" in str(error)
    assert server.hits["/gone"] == 1


def test_a_server_that_does_not_answer_in_time_fails_within_a_bound(server: _Server) -> None:
    started = time.monotonic()
    with _http(server, "/slow", timeout=0.3, retries=2) as external:
        error = _fails(external)
    elapsed = time.monotonic() - started

    assert str(error).startswith(f"source: no answer within 0.3 s from GET {server.base}/slow")
    assert "(3 attempts)" in str(error)
    assert elapsed < 10  # a sanity bound: about timeout * (retries + 1) plus backoff


def test_a_body_that_is_not_json_is_an_error(server: _Server) -> None:
    with _http(server, "/html") as external:
        error = _fails(external)

    assert "is not JSON (text/html, 21 bytes, starting '<html>not json</html>')" in str(error)


def test_an_answer_over_one_megabyte_is_an_error(server: _Server) -> None:
    with _http(server, "/big") as external:
        error = _fails(external)

    assert "is larger than 1,000,000 bytes" in str(error)


def test_a_redirect_within_the_host_is_followed(server: _Server) -> None:
    with _http(server, "/moved") as external:
        assert external.fetch({}) == {"source": {"city": "Bergen", "temperature": 3.5}}


def test_a_redirect_to_another_host_is_refused(server: _Server) -> None:
    with _http(server, "/away") as external:
        error = _fails(external)

    assert "redirects to another host (elsewhere.invalid)" in str(error)


def test_a_refused_connection_is_tried_again_and_reported(server: _Server) -> None:
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    document = {"source": {"http": {"url": f"http://127.0.0.1:{port}/weather", "retries": 1}}}
    with ExternalData(parse_data_sources(document), connection_url=_no_connections) as external:
        error = _fails(external)

    assert str(error).startswith(f"source: cannot reach GET http://127.0.0.1:{port}/weather")
    assert str(error).endswith("(2 attempts)")


def test_a_failed_fetch_is_not_cached(server: _Server) -> None:
    with _http(server, "/flaky", retries=0) as external:
        _fails(external)
        assert external.fetch({}) == {"source": {"ok": True}}

    assert server.hits["/flaky"] == 2
