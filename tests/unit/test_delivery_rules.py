"""Delivery rules: which provider a recipient belongs to, its limits, its retry schedule.

A recipient's provider is found by its domain, then by its MX hosts, else its own domain is
its group. The rules file merges over the built-in rules, and every mistake in it is a
DeliveryRulesError naming the line and the field. Retries back off exponentially, capped,
and stop at the max age (RFC 5321 §4.5.4.1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.delivery_rules import (
    DeliveryRulesError,
    RetrySchedule,
    builtin_rules,
    load_rules,
    parse_duration,
    parse_rules,
    proportional_jitter,
    rules_path,
    rules_to_yaml,
    save_rules,
)
from herald.settings import Settings

HOUR = 3600.0
DAY = 86400.0


# ---------------------------------------------------------------------------------------------
# Which provider


def test_a_provider_is_found_by_the_recipient_domain_whatever_its_case():
    rules = builtin_rules()

    assert rules.provider_for("GoogleMail.COM.", None).group == "gmail"


def test_a_company_on_a_big_provider_is_found_by_its_mx_hosts():
    rules = builtin_rules()

    rule = rules.provider_for("corp.example", ["ASPMX.L.GOOGLE.COM."])

    assert rule.group == "gmail"


def test_the_domain_wins_over_the_mx_hosts():
    rules = builtin_rules()

    rule = rules.provider_for("yandex.ru", ["mx.other.example", "alt1.aspmx.l.google.com"])

    assert rule.group == "yandex"


def test_an_unknown_domain_is_its_own_group_under_the_default_limits():
    rules = builtin_rules()

    first = rules.provider_for("shop.example", ["mx.shop.example"])
    second = rules.provider_for("store.example", ["mx.store.example"])

    assert (first.name, first.group, second.group) == (
        "default",
        "domain:shop.example",
        "domain:store.example",
    )


def test_an_internationalised_domain_matches_in_its_idna_form():
    rules = parse_rules("providers:\n  rf: {domains: [xn--80a1acny.xn--p1ai]}\n")

    assert rules.provider_for("Почта.рф", None).group == "rf"


def test_an_idn_written_in_the_file_in_unicode_matches_its_punycode_form():
    rules = parse_rules("providers:\n  rf: {domains: [почта.рф]}\n")

    assert rules.provider_for("xn--80a1acny.xn--p1ai", None).group == "rf"


# ---------------------------------------------------------------------------------------------
# Built-in rules and the file over them


def test_without_a_file_the_built_in_rules_apply(tmp_path: Path):
    rules = load_rules(tmp_path / "delivery-rules.yml")

    assert (rules.source, rules.provider_for("gmail.com").per_second) == ("built-in", 50)


def test_the_big_mailbox_providers_are_built_in():
    rules = builtin_rules()

    groups = {rules.provider_for(domain).group for domain in ["outlook.com", "mail.ru", "me.com"]}

    assert groups == {"outlook", "mailru", "icloud"}


def test_the_rules_path_is_in_herald_home(tmp_path: Path):
    settings = Settings(home=tmp_path)

    assert rules_path(settings) == tmp_path.resolve() / "delivery-rules.yml"


def test_a_provider_in_the_file_changes_only_what_it_names():
    rules = parse_rules("providers:\n  gmail: {per_second: 5}\n")
    gmail = rules.provider_for("gmail.com")

    assert (gmail.per_second, gmail.per_hour, gmail.max_connections) == (5, 100_000, 5)


def test_a_provider_leaving_out_a_limit_takes_the_default():
    rules = parse_rules(
        "defaults: {messages_per_connection: 40, per_hour: 900}\n"
        "providers:\n  corp: {domains: [corp.example]}\n"
    )
    corp = rules.provider_for("corp.example")

    assert (corp.messages_per_connection, corp.per_hour) == (40, 900)


def test_a_provider_may_lift_a_default_rate_with_null():
    rules = parse_rules(
        "defaults: {per_second: 10}\n"
        "providers:\n  corp: {domains: [corp.example], per_second: null}\n"
    )

    assert rules.provider_for("corp.example").per_second is None


def test_a_provider_retry_overrides_only_the_fields_it_gives():
    rules = parse_rules("providers:\n  gmail:\n    retry: {first: 1m}\n")
    retry = rules.provider_for("gmail.com").retry

    assert (retry.first, retry.factor, retry.max_age) == (60, 2, 4 * DAY)


def test_include_builtin_false_starts_from_nothing():
    rules = parse_rules("include_builtin: false\n")

    assert rules.provider_for("gmail.com").group == "domain:gmail.com"


def test_routes_send_a_provider_through_a_smart_host_and_the_rest_to_mx():
    rules = parse_rules(
        "routes:\n"
        "  gmail: {mode: smarthost, host: relay.example, port: 587, tls: starttls,\n"
        "          username: herald, password_env: HERALD_SMTP_PASSWORD}\n"
    )

    gmail, other = rules.provider_for("gmail.com").route, rules.provider_for("a.example").route

    assert (gmail.mode, gmail.host, gmail.port, other.mode) == (
        "smarthost",
        "relay.example",
        587,
        "mx",
    )


def test_a_smart_host_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RELAY_SECRET", "s3cret")
    rules = parse_rules(
        "routes:\n  default: {mode: smarthost, host: relay.example, username: u, "
        "password_env: RELAY_SECRET}\n"
    )

    assert rules.default.route.password() == "s3cret"


def test_mx_overrides_are_kept_by_normalised_domain():
    rules = parse_rules('mx_overrides: {Example.TEST: "127.0.0.1:2525"}\n')

    assert rules.mx_overrides == {"example.test": "127.0.0.1:2525"}


def test_the_effective_rules_written_as_yaml_read_back_the_same():
    rules = parse_rules("providers:\n  corp: {domains: [corp.example], per_hour: 60}\n")

    again = parse_rules(rules_to_yaml(rules))

    assert again.as_json()["providers"] == rules.as_json()["providers"]


def test_as_json_says_where_the_rules_come_from(tmp_path: Path):
    path = tmp_path / "delivery-rules.yml"
    path.write_text("defaults: {max_connections: 3}\n")

    document = load_rules(path).as_json()

    assert (document["source"], document["default"]["max_connections"]) == (str(path), 3)


def test_an_empty_file_means_the_built_in_rules():
    assert parse_rules("# nothing yet\n").provider_for("ya.ru").group == "yandex"


# ---------------------------------------------------------------------------------------------
# Mistakes


def _problems(text: str) -> list[str]:
    with pytest.raises(DeliveryRulesError) as caught:
        parse_rules(text)
    return caught.value.problems


def test_an_unknown_setting_is_named_with_its_line():
    problems = _problems("defaults:\n  max_connections: 3\n  max_conections: 4\n")

    assert problems == ["line 3: defaults.max_conections: unknown setting (check the spelling)"]


def test_every_wrong_value_is_reported_with_its_field_and_line():
    problems = _problems("providers:\n  gmail:\n    per_second: -1\n    max_connections: 0\n")

    assert problems == [
        "line 4: providers.gmail.max_connections: Input should be greater than or equal to 1",
        "line 3: providers.gmail.per_second: Input should be greater than 0",
    ]


def test_a_misspelt_provider_retry_field_is_named_with_its_line():
    problems = _problems("providers:\n  gmail:\n    retry: {frist: 1m}\n")

    assert problems == ["line 3: providers.gmail.retry.frist: unknown setting (check the spelling)"]


def test_a_bad_duration_says_what_a_duration_looks_like():
    problems = _problems("defaults:\n  retry: {first: 5 minutes}\n")

    assert problems == [
        "line 2: defaults.retry.first: a duration is 30s, 5m, 2h, 4d or seconds, not '5 minutes'"
    ]


def test_broken_yaml_is_reported_with_its_line():
    with pytest.raises(DeliveryRulesError) as caught:
        parse_rules("defaults:\n  retry: {first: 5m\n")

    assert caught.value.line is not None and "not valid YAML" in str(caught.value)


def test_a_route_for_no_provider_is_refused():
    problems = _problems("routes:\n  gmial: {mode: mx}\n")

    assert problems[0].startswith("line 1: routes: no provider 'gmial'")


def test_a_smart_host_route_needs_a_host():
    problems = _problems("routes:\n  default: {mode: smarthost}\n")

    assert problems == ["line 2: routes.default: a smarthost route needs a host"]


def test_a_domain_in_two_providers_is_refused():
    problems = _problems("providers:\n  mine: {domains: [Gmail.com]}\n")

    assert problems == ["line 1: providers: domain gmail.com is in both gmail and mine"]


def test_a_retry_that_starts_after_its_cap_is_refused():
    problems = _problems("defaults:\n  retry: {first: 5h, max_delay: 1h}\n")

    assert problems == ["line 2: defaults.retry: first must not be longer than max_delay"]


def test_an_mx_override_must_be_host_and_port():
    problems = _problems('mx_overrides: {example.test: "127.0.0.1:99999"}\n')

    assert "the port must be 1-65535" in problems[0]


def test_a_file_that_is_a_list_is_refused():
    assert _problems("- gmail\n") == [
        "the rules must be a mapping (defaults:, providers:, routes:, mx_overrides:)"
    ]


def test_a_broken_file_names_the_file(tmp_path: Path):
    path = tmp_path / "delivery-rules.yml"
    path.write_text("defaults: {per_hour: lots}\n")

    with pytest.raises(DeliveryRulesError) as caught:
        load_rules(path)

    assert str(caught.value).startswith(f"{path}: line 1: defaults.per_hour:")


# ---------------------------------------------------------------------------------------------
# Saving


def test_saving_writes_valid_rules(tmp_path: Path):
    path = tmp_path / "delivery-rules.yml"

    save_rules(path, "defaults: {max_connections: 4}\n")

    assert load_rules(path).default.max_connections == 4


def test_saving_invalid_rules_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    path = tmp_path / "delivery-rules.yml"
    save_rules(path, "defaults: {max_connections: 4}\n")

    with pytest.raises(DeliveryRulesError):
        save_rules(path, "defaults: {max_connections: many}\n")

    assert [p.name for p in tmp_path.iterdir()] == ["delivery-rules.yml"] and (
        load_rules(path).default.max_connections == 4
    )


# ---------------------------------------------------------------------------------------------
# Durations and retries


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("4d", 345600), ("1w", 604800), (90, 90)],
)
def test_durations_read_as_seconds(text: str | int, seconds: float):
    assert parse_duration(text) == seconds


def test_the_default_retry_backs_off_from_five_minutes_to_four_hours():
    retry = builtin_rules().default.retry

    delays = [retry.delay(attempt, first_attempt_at=0, now=0) for attempt in range(1, 9)]

    assert delays == [300, 600, 1200, 2400, 4800, 9600, 4 * HOUR, 4 * HOUR]


def test_the_default_retry_gives_up_after_four_days():
    retry = builtin_rules().default.retry

    assert retry.delay(30, first_attempt_at=0, now=4 * DAY) is None


def test_the_last_retry_falls_at_the_max_age():
    retry = RetrySchedule(first=2, factor=2, max_delay=60, max_age=100)

    assert retry.delay(5, first_attempt_at=0, now=90) == 10


def test_short_schedules_serve_tests():
    retry = parse_rules("defaults:\n  retry: {first: 2s, factor: 1, max_delay: 2s, max_age: 10s}\n")

    assert retry.default.retry.delay(3, first_attempt_at=0, now=4) == 2


def test_jitter_moves_a_delay_within_its_fraction():
    retry = RetrySchedule(first=100, factor=2, max_delay=1000, max_age=DAY)
    highest = retry.with_jitter(proportional_jitter(0.1, random=lambda: 1.0))
    lowest = retry.with_jitter(proportional_jitter(0.1, random=lambda: 0.0))

    assert (lowest.delay(1, 0, 0), highest.delay(1, 0, 0)) == (90, pytest.approx(110))


def test_attempts_count_from_one():
    with pytest.raises(ValueError, match="attempt counts from 1"):
        RetrySchedule(first=1, factor=2, max_delay=2, max_age=3).delay(0, 0, 0)
