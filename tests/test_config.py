from __future__ import annotations

import pickle

import pytest

from toolkit.config import DEFAULT_ARRIVAL_ALLOWANCE, DEFAULT_BASE_URL, Secret, Settings, database_url, is_loopback
from toolkit.errors import ConfigError


def test_defaults_apply_when_nothing_is_given() -> None:
    settings = Settings.load(environ={})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.database == "sqlite:///attio-sync.db"
    assert settings.api_key is None
    assert (settings.read_rate, settings.write_rate) == (100.0, 25.0)


def test_flag_beats_environment_beats_default() -> None:
    env = {"ATTIO_API_KEY": "from-env", "ATTIO_BASE_URL": "https://eu.example.org", "ATTIO_SYNC_DB": "env.db"}
    from_env = Settings.load(environ=env)
    assert from_env.require_key().reveal() == "from-env"
    assert from_env.base_url == "https://eu.example.org"
    assert from_env.database == "sqlite:///env.db"
    flagged = Settings.load(api_key="from-flag", base_url="http://127.0.0.1:8711", database="flag.db", environ=env)
    assert flagged.require_key().reveal() == "from-flag"
    assert flagged.base_url == "http://127.0.0.1:8711"
    assert flagged.database == "sqlite:///flag.db"


def test_the_arrival_allowance_comes_from_the_environment_to_the_clients_budgets() -> None:
    from toolkit.client import AttioClient

    assert Settings.load(environ={}).arrival_allowance == DEFAULT_ARRIVAL_ALLOWANCE == 0.05
    for text, seconds in (("0.2", 0.2), ("0", 0.0)):
        settings = Settings.load(api_key="k", environ={"ATTIO_SYNC_ARRIVAL_ALLOWANCE": text})
        client = AttioClient.from_settings(settings)
        assert client.budgets.write.allowance == client.budgets.read.allowance == seconds


def test_database_takes_sqlalchemy_urls_as_they_are() -> None:
    assert database_url("postgresql://u@db/attio") == "postgresql://u@db/attio"
    assert Settings.load(database="sqlite:////tmp/x.db", environ={}).database == "sqlite:////tmp/x.db"


def test_settings_are_immutable() -> None:
    settings = Settings.load(environ={})
    with pytest.raises(AttributeError):
        settings.base_url = "https://elsewhere"  # type: ignore[misc]


def test_missing_key_says_how_to_provide_one() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={}).require_key()
    message = str(caught.value)
    assert "ATTIO_API_KEY" in message and "--api-key" in message


@pytest.mark.parametrize("url", ["http://api.attio.com", "http://10.0.0.5:8000", "http://example.org"])
def test_plain_http_is_refused_unless_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        Settings.load(base_url=url, environ={})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8711", "http://localhost:1", "http://[::1]:8711", "http://127.9.9.9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert Settings.load(base_url=url, environ={}).base_url == url


@pytest.mark.parametrize(("given", "environ", "expected"), [
    (
        {"base_url": "ftp://x", "read_rate": -1, "write_rate": "fast"},
        {},
        ["base URL 'ftp://x' is not an http(s) URL",
         "read rate must be above 0, got -1",
         "write rate must be a number, got 'fast'"],
    ),
    (
        {"base_url": "https://api.attio.com/v2", "timeout": 0, "max_attempts": "x"},
        {"ATTIO_SYNC_OUTAGE_TIMEOUT": "soon"},
        ["base URL 'https://api.attio.com/v2' must not have a path (attio-sync adds /v2/...)",
         "timeout must be above 0, got 0",
         "max attempts must be a number, got 'x'",
         "outage timeout must be a number, got 'soon'"],
    ),
    ({}, {"ATTIO_SYNC_ARRIVAL_ALLOWANCE": "-0.1"}, ["arrival allowance must be 0 or more seconds, got '-0.1'"]),
    ({}, {"ATTIO_SYNC_ARRIVAL_ALLOWANCE": "nan"}, ["arrival allowance must be 0 or more seconds, got 'nan'"]),
    ({}, {"ATTIO_SYNC_ARRIVAL_ALLOWANCE": "50ms"}, ["arrival allowance must be a number, got '50ms'"]),
])
def test_every_problem_is_reported_at_once_naming_the_setting_and_the_value(
    given: dict[str, object], environ: dict[str, str], expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(**given, environ=environ)  # type: ignore[arg-type]
    assert caught.value.errors == expected
    assert str(caught.value) == "; ".join(expected)  # what the CLI prints: one line, every problem


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("192.168.1.1") and not is_loopback("api.attio.com")


def test_the_key_never_shows_in_repr_str_or_pickle() -> None:
    settings = Settings.load(api_key="sk_live_very_secret", environ={})
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.api_key), str(settings.api_key)):
        assert "sk_live_very_secret" not in text
    with pytest.raises(TypeError):
        pickle.dumps(settings.api_key)
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
