"""Settings: profiles, feeds, secrets, and errors that name the file, the table and the key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from toolkit import ConfigError, ToolkitError, load_settings
from toolkit.config import Secret, parse_period

SECRET = "Sup3r-Secret-Value-123456"

PROFILE = """
[profiles.stage]
base_url = "https://acme.api-se.stage.norce.tech"
client_id = "acme-connect"
scope = "stage"
"""

FEED = """
[feeds.stock]
entity = "onhands"
profile = "stage"
account = "ERP"
source = "data/stock_*.csv"
options = { separator = ";", encoding = "cp1252" }
mapping = { Artikelnr = "PartNo", Saldo = "OnhandValue" }
[feeds.stock.policies]
full_every = "7d"
max_deactivation_ratio = 0.2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "norce.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_profiles_and_feeds(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, PROFILE + FEED), environ={})
    feed = settings.feed("stock")
    assert feed.entity == "onhands"
    assert feed.account == 10000
    assert feed.format == "csv"
    assert feed.options["separator"] == ";"
    assert feed.policies.full_every is not None and feed.policies.full_every.days == 7
    assert feed.policies.max_deactivation_ratio == 0.2
    assert feed.source_path == tmp_path.resolve() / "data/stock_*.csv"
    assert settings.state_dir == tmp_path.resolve() / ".norce"
    profile = settings.profile_of(feed)
    assert profile.connect_url == "https://acme.api-se.stage.norce.tech/commerce/connect/4.0/"
    assert profile.token_url == "https://acme.api-se.stage.norce.tech/identity/1.0/connect/token"
    assert profile.rate_limit_per_minute == 60


def test_numeric_account_and_missing_account_warns(tmp_path: Path) -> None:
    text = PROFILE + FEED.replace('account = "ERP"', "account = 4242")
    assert load_settings(write(tmp_path, text), environ={}).feed("stock").account == 4242
    settings = load_settings(write(tmp_path, PROFILE + FEED.replace('account = "ERP"\n', "")), environ={})
    assert settings.feed("stock").account is None
    assert any("one system account per source system" in w for w in settings.warnings)


def test_secret_from_environment_and_dotenv(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILE + FEED)
    from_env = load_settings(path, environ={"NORCE_STAGE_CLIENT_SECRET": SECRET})
    assert from_env.profile("stage").require_secret().reveal() == SECRET
    (tmp_path / ".env").write_text(f"# local\nNORCE_STAGE_CLIENT_SECRET='{SECRET}'\n")
    from_file = load_settings(path, environ={})
    assert from_file.profile("stage").require_secret().reveal() == SECRET


def test_environment_overrides_base_url_and_ca_bundle(tmp_path: Path) -> None:
    env = {"NORCE_STAGE_BASE_URL": "http://127.0.0.1:9999", "NORCE_STAGE_CA_BUNDLE": "/tmp/ca.pem"}
    profile = load_settings(write(tmp_path, PROFILE), environ=env).profile("stage")
    assert profile.base_url == "http://127.0.0.1:9999"
    assert profile.ca_bundle == Path("/tmp/ca.pem")


BAD = [
    (
        "unknown entity",
        FEED.replace('"onhands"', '"stocks"'),
        "[feeds.stock] key 'entity'",
        "unknown entity 'stocks'",
    ),
    (
        "missing source",
        FEED.replace('source = "data/stock_*.csv"\n', ""),
        "[feeds.stock] key 'source'",
        "missing",
    ),
    (
        "unknown account",
        FEED.replace('"ERP"', '"SAP"'),
        "[feeds.stock] key 'account'",
        "unknown system account 'SAP'",
    ),
    ("http to remote host", FEED, "[profiles.stage] key 'base_url'", "expected https://"),
    (
        "bad mapping",
        FEED.replace('"OnhandValue"', '"Saldo"'),
        "[feeds.stock] key 'mapping'",
        "not a column of onhands",
    ),
    (
        "bad period",
        FEED.replace('"7d"', '"weekly"'),
        "[feeds.stock.policies] key 'full_every'",
        "is not a period",
    ),
    (
        "bad ratio",
        FEED.replace("0.2", "2.0"),
        "[feeds.stock.policies] key 'max_deactivation_ratio'",
        "between 0 and 1",
    ),
    (
        "unknown profile",
        FEED.replace('profile = "stage"', 'profile = "prod"'),
        "[feeds.stock] key 'profile'",
        "unknown profile 'prod'",
    ),
]


@pytest.mark.parametrize(("case", "feed", "where", "what"), BAD, ids=[b[0] for b in BAD])
def test_bad_settings_name_file_table_and_key(
    tmp_path: Path, case: str, feed: str, where: str, what: str
) -> None:
    profile = PROFILE.replace("https://acme", "http://acme") if case == "http to remote host" else PROFILE
    path = write(tmp_path, profile + feed)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"NORCE_STAGE_CLIENT_SECRET": SECRET})
    message = str(info.value)
    assert str(path) in message and where in message and what in message
    assert SECRET not in message
    assert isinstance(info.value, ToolkitError)


def test_missing_secret_when_needed_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILE)
    profile = load_settings(path, environ={}).profile("stage")
    with pytest.raises(ConfigError, match=r"\[profiles.stage\].*NORCE_STAGE_CLIENT_SECRET") as info:
        profile.require_secret()
    assert str(path) in str(info.value)


def test_http_allowed_for_loopback(tmp_path: Path) -> None:
    text = PROFILE.replace("https://acme.api-se.stage.norce.tech", "http://127.0.0.1:8765")
    assert load_settings(write(tmp_path, text), environ={}).profile("stage").base_url.startswith("http:")
    dns = PROFILE.replace("https://acme.api-se.stage.norce.tech", "http://connect.localhost:8765")
    with pytest.raises(ConfigError, match="https"):  # a *.localhost name goes through DNS: not loopback
        load_settings(write(tmp_path, dns), environ={})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[profiles\n"))


def test_unknown_feed_lists_known_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, PROFILE + FEED), environ={})
    with pytest.raises(ConfigError, match="no feed 'prices'; known feeds: stock"):
        settings.feed("prices")


def test_secret_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(write(tmp_path, PROFILE + FEED), environ={"NORCE_STAGE_CLIENT_SECRET": SECRET})
    profile = settings.profile("stage")
    logging.getLogger("toolkit.test").warning("settings %r profile %s %r", settings, profile, profile)
    shown = [
        repr(settings),
        str(settings),
        repr(profile),
        str(profile),
        caplog.text,
        repr(profile.client_secret),
        str(profile.client_secret),
        f"{profile.client_secret}",
    ]
    assert all(SECRET not in text for text in shown)
    assert profile.client_secret == Secret(SECRET)


def test_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET))


def test_parse_period() -> None:
    assert parse_period("12h").total_seconds() == 12 * 3600
    with pytest.raises(ValueError, match="not a period"):
        parse_period("soon")


def test_repo_settings_file_loads() -> None:
    settings = load_settings(Path(__file__).resolve().parents[1] / "norce.toml", environ={})
    assert "sandbox" in settings.profiles


@pytest.mark.parametrize(
    ("table", "line", "said"),
    [
        (
            "[feeds.stock.policies]",
            "max_deactivation_rato = 0.5",
            r"\[feeds.stock.policies\] key "
            r"'max_deactivation_rato': unknown key; did you mean 'max_deactivation_ratio'\?",
        ),
        ("[feeds.stock]", "owns_structur = false", r"'owns_structur': unknown key; did you mean 'owns_struc"),
        ("[profiles.stage]", "rate_limit = 30", r"\[profiles.stage\] key 'rate_limit': unknown key"),
    ],
)
def test_a_misspelt_key_is_refused_not_ignored(tmp_path: Path, table: str, line: str, said: str) -> None:
    text = (PROFILE + FEED).replace(table + "\n", f"{table}\n{line}\n", 1)
    assert line in text
    with pytest.raises(ConfigError, match=said):
        load_settings(write(tmp_path, text), environ={})
