"""``norce-feeds init``: a commented ``norce.toml`` to start from, with a sandbox profile and your feeds.

Examples
--------
>>> text = settings_template(["stock=onhands"])
>>> "[feeds.stock]" in text and 'entity = "onhands"' in text
True
"""

from __future__ import annotations

from pathlib import Path

from toolkit.entities import ENTITIES, get_entity
from toolkit.errors import ConfigError

__all__ = ["settings_template", "write_settings_template"]

_HEAD = """\
# Settings for norce-feeds: profiles (Connect environments) and feeds (one source of one entity each).
# Secrets never go here: the client secret of profile P is read from NORCE_<P>_CLIENT_SECRET
# (the environment, or a git-ignored .env beside this file).

[settings]
state_dir = ".norce"          # snapshots, ledger and the shared request budget live here

# The local sandbox: `norce-feeds sandbox` serves it on 127.0.0.1:8765 (pip install "norce-toolkit[sandbox]").
[profiles.sandbox]
base_url = "http://127.0.0.1:8765"
client_id = "sandbox"
scope = "sandbox"
rate_limit_per_minute = 60    # Connect allows 60 requests a minute per customer

# A real Norce environment: replace {slug}, then set NORCE_STAGE_CLIENT_SECRET in the environment.
# [profiles.stage]
# base_url = "https://{slug}.api-se.stage.norce.tech"
# client_id = "your-client-id"
# scope = "stage"
"""

_FEED = """
# {entity} ({endpoint}); key columns: {keys}
[feeds.{name}]
entity = "{entity}"
profile = "sandbox"
account = "ERP"               # the system account Connect records as the source (a name or a number)
source = "data/{name}.csv"    # a file or a glob such as "exports/{name}_*.csv" (the newest is read)
# options = {{ separator = ";", encoding = "cp1252", decimal_comma = true }}
policies = {{ full_every = "7d", max_deactivation_ratio = 0.10 }}
# [feeds.{name}.mapping]      # your column = the canonical column
# "Your header" = "{first_key}"
"""


def _feed_table(spec: str) -> str:
    name, _, entity = spec.partition("=")
    if not name or entity not in ENTITIES:
        msg = f"init --feed {spec!r}: expected NAME=ENTITY with ENTITY one of {', '.join(ENTITIES)}"
        raise ConfigError(msg)
    e = get_entity(entity)
    return _FEED.format(
        name=name, entity=entity, endpoint=e.endpoint, keys=", ".join(e.key), first_key=e.key[0]
    )


def settings_template(feeds: list[str]) -> str:
    """The text of a commented ``norce.toml`` with one ``[feeds.NAME]`` per ``NAME=ENTITY`` of ``feeds``."""
    return _HEAD + "".join(_feed_table(spec) for spec in feeds)


def write_settings_template(path: Path, *, feeds: list[str]) -> Path:
    """Write `settings_template` to ``path``; an existing file is never overwritten (ConfigError)."""
    if path.exists():
        msg = f"{path} already exists; init writes a new settings file and never overwrites one"
        raise ConfigError(msg)
    text = settings_template(feeds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
