"""Settings from ``norce.toml`` plus the environment (and an optional, git-ignored ``.env``).

A profile is one Connect environment (sandbox, stage, production); a feed is one source of one entity.
The client secret of profile ``P`` comes from ``NORCE_<P>_CLIENT_SECRET`` (upper-cased, ``-`` as ``_``),
never from the file. ``NORCE_<P>_BASE_URL`` and ``NORCE_<P>_CA_BUNDLE`` override the file's values (this is
how a sandbox started on a free port is handed to notebooks and the CLI).

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "norce.toml").write_text('''
... [profiles.sandbox]
... base_url = "http://127.0.0.1:8765"
... client_id = "sandbox"
... scope = "sandbox"
... [feeds.stock]
... entity = "onhands"
... profile = "sandbox"
... account = "ERP"
... source = "data/stock_*.csv"
... ''')
>>> settings = load_settings(d / "norce.toml", environ={"NORCE_SANDBOX_CLIENT_SECRET": "s3cret"})
>>> settings.feeds["stock"].account
10000
>>> settings.profiles["sandbox"].client_secret
Secret('**********')
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from toolkit.entities import ENTITIES, GUID, SYSTEM_ACCOUNTS, VALUE_ENUMS, Entity
from toolkit.errors import ConfigError

__all__ = [
    "EventSettings",
    "Feed",
    "KindOption",
    "Policies",
    "Profile",
    "Secret",
    "Settings",
    "load_settings",
    "parse_period",
    "settings_from",
]

KindOption = Literal["auto", "change", "full"]
"""What a caller asks for: ``auto`` lets planning choose a change or a full feed."""
SourceFormat = Literal["csv", "excel", "parquet", "json", "ndjson"]
_FORMATS: dict[str, SourceFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


class Secret:
    """A string that does not show itself: repr and str are masked; ``reveal()`` gives the value.

    >>> s = Secret("hunter2")
    >>> s, str(s), s.reveal()
    (Secret('**********'), '**********', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pickling would carry the value out of sight
        msg = "Secret cannot be pickled"
        raise TypeError(msg)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1); ``foo.localhost`` goes
    through DNS, so it is not.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "example.com", "a.localhost")]
    [True, True, False, False]
    """
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EventSettings:
    """A profile's JobCompletedEvent receiver (``[profiles.P.events]``; see ``toolkit.events``).

    ``secret`` (from the variable ``secret_env``) authenticates Norce's POSTs; waiting on jobs reads
    their events from the ledger every ``check_seconds`` and asks Job/Get or Job/List only for a job
    without an event after ``grace_seconds``; ``fetch_counts`` reads the counts of jobs known by their
    event with one Job/List at the end (an event carries no Totals, Inserts, Updates or Fail).
    """

    secret_env: str
    secret: Secret | None = field(default=None, repr=False)
    grace_seconds: float = 60.0
    check_seconds: float = 1.0
    fetch_counts: bool = True


@dataclass(frozen=True)
class Profile:
    """One Connect environment."""

    name: str
    base_url: str
    client_id: str
    scope: str
    client_secret: Secret | None = field(default=None, repr=False)
    application_id: str | None = None
    application_key: str | None = None  # Company.ApplicationKey, the default of the profile's feeds
    ca_bundle: Path | None = None
    rate_limit_per_minute: int = 60
    connect_path: str = "/commerce/connect/4.0/"
    token_path: str = "/identity/1.0/connect/token"
    job_prefix: str = "Job/"
    timeout_seconds: float = 30.0
    source: str = "norce.toml"
    events: EventSettings | None = None

    @property
    def connect_url(self) -> str:
        return self.base_url.rstrip("/") + self.connect_path

    @property
    def token_url(self) -> str:
        return self.base_url.rstrip("/") + self.token_path

    @property
    def secret_variable(self) -> str:
        return secret_variable(self.name)

    def require_secret(self) -> Secret:
        """The client secret, or a ConfigError naming the variable to set."""
        if self.client_secret is None:
            msg = (
                f"{self.source} [profiles.{self.name}]: no client secret; set "
                f"{self.secret_variable} in the environment or in .env beside {self.source}"
            )
            raise ConfigError(msg)
        return self.client_secret

    def __str__(self) -> str:
        return f"profile {self.name!r} ({self.base_url}, client {self.client_id!r}, scope {self.scope!r})"


@dataclass(frozen=True)
class Policies:
    """What a feed allows: how often to send a full feed, how much may be rejected or deactivated."""

    full_every: timedelta | None = None
    max_deactivation_ratio: float = 0.10
    max_reject_ratio: float = 0.05
    on_reject: Literal["skip", "fail"] = "skip"
    max_items: int = 5000
    max_bytes: int = 20_000_000
    max_extra_requests: float = 0.10
    min_rows: int = 0  # a source with fewer rows looks cut off and is refused
    min_ratio: float = 0.0  # ... or with fewer rows than this share of the baseline's
    # who deactivates removed items: "auto" = a feed that maps the deactivation field (IsActive, a
    # SKU's Status), or any feed where no other feed of the entity maps it; "always"; "never"
    deactivate: Literal["auto", "always", "never"] = "auto"
    # False: full feeds never send FullFile; removed items are deactivated explicitly instead
    full_file: bool = True
    # True: plan a partition of key ranges at a time, bodies and snapshot written as they are made,
    # for feeds larger than memory (toolkit.streaming); about this many rows per partition
    stream: bool = False
    rows_per_partition: int = 2_000_000
    # a streamed change plan diffs on row hashes (toolkit.hashdiff) while source and baseline hold
    # at most this many rows each (about 60 bytes a row in memory); above it, a partition at a time
    max_hashed_rows: int = 120_000_000


@dataclass(frozen=True)
class Feed:
    """One source of one entity, sent with one system account to one profile."""

    name: str
    entity: str
    profile: str
    account: int | None
    source: str
    format: SourceFormat
    options: Mapping[str, Any] = field(default_factory=dict)
    mapping: Mapping[str, str] = field(default_factory=dict)
    key: tuple[str, ...] | None = None
    policies: Policies = field(default_factory=Policies)
    root: Path = Path(".")
    # source value -> enum name, per canonical column (``st`` -> ``Pieces``), applied before the checks
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    application_key: str | None = None  # sent on every company (ImportCompanies requires it)
    # customers and companies keyed by Code list SearchOnlyByCode, so Connect never matches a new
    # customer to an existing one by e-mail (or a company by organization number)
    search_only_by_code: bool = True
    # customers: "delta" adds each customer's company link and keeps links made elsewhere; "owned": the
    # feed owns all of a customer's links, so its list replaces them (see toolkit.plan_elements)
    company_links: Literal["delta", "owned"] = "delta"
    # products: False for a feed (a PIM) whose Code/ManufacturerCode/ManufacturerPartNo only locate
    # SKUs: it never moves them nor sends FullFile, the structure is another feed's (plan_structure)
    owns_structure: bool = True

    @property
    def header_flags(self) -> tuple[str, ...]:
        """Names listed in every header of this feed (``SearchOnlyByCode`` where it applies)."""
        keyed_by_code = self.key is None or tuple(self.key) == ("Code",)
        by_code = self.entity in ("customers", "companies") and keyed_by_code and self.search_only_by_code
        return ("SearchOnlyByCode",) if by_code else ()

    @property
    def source_path(self) -> Path:
        """The source path or glob, resolved against the directory of norce.toml."""
        return self.root / self.source


@dataclass(frozen=True)
class Settings:
    """Everything in norce.toml, with secrets from the environment."""

    path: Path
    state_dir: Path
    profiles: Mapping[str, Profile]
    feeds: Mapping[str, Feed]
    warnings: tuple[str, ...] = ()

    def feed(self, name: str) -> Feed:
        try:
            return self.feeds[name]
        except KeyError:
            msg = f"{self.path}: no feed {name!r}; known feeds: {', '.join(sorted(self.feeds)) or 'none'}"
            raise ConfigError(msg) from None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            msg = f"{self.path}: no profile {name!r}; known: {', '.join(sorted(self.profiles)) or 'none'}"
            raise ConfigError(msg) from None

    def profile_of(self, feed: Feed | str) -> Profile:
        f = self.feed(feed) if isinstance(feed, str) else feed
        return self.profile(f.profile)


def secret_variable(profile: str) -> str:
    """The environment variable holding the client secret of ``profile``.

    >>> secret_variable("stage-se")
    'NORCE_STAGE_SE_CLIENT_SECRET'
    """
    return f"NORCE_{re.sub(r'[^A-Za-z0-9]', '_', profile).upper()}_CLIENT_SECRET"


_PERIOD = re.compile(r"^\s*(\d+)\s*([dhwm])\s*$")


def parse_period(text: str) -> timedelta:
    """Parse ``"7d"``, ``"12h"``, ``"2w"`` or ``"30m"`` (minutes).

    >>> parse_period("7d")
    datetime.timedelta(days=7)
    """
    m = _PERIOD.match(text)
    if not m:
        msg = f"{text!r} is not a period like '7d', '12h', '2w' or '30m'"
        raise ValueError(msg)
    n, unit = int(m[1]), m[2]
    return {
        "d": timedelta(days=n),
        "h": timedelta(hours=n),
        "w": timedelta(weeks=n),
        "m": timedelta(minutes=n),
    }[unit]


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments and blank lines ignored, quotes stripped."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.removeprefix("export ").split("=", 1)
        values[k.strip()] = v.strip().strip("'\"")
    return values


class _Table:
    """A TOML table that names itself in errors."""

    def __init__(self, file: str, name: str, data: Mapping[str, Any]) -> None:
        self.file, self.name, self.data = file, name, data
        self.asked: set[str] = set()  # every key a reader looked for, present or not

    def refuse_unknown(self) -> None:
        """Raise for a key no reader asked for: a misspelt policy would otherwise be ignored silently."""
        unknown = sorted(set(self.data) - self.asked)
        if unknown:
            close = difflib.get_close_matches(unknown[0], self.asked, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(self.asked))}"
            raise self.fail(unknown[0], f"unknown key{hint}")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file} [{self.name}] key {key!r}: {problem}")

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, expected: str | None = None
    ) -> Any:
        self.asked.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, f"missing; expected {expected or _kind_name(kind)}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            found = f"{type(value).__name__} {value!r}"
            raise self.fail(key, f"expected {expected or _kind_name(kind)}, found {found}")
        return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        dict: "a table",
        list: "a list",
    }
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _profile(t: _Table, name: str, env: Mapping[str, str], root: Path) -> Profile:
    prefix = secret_variable(name).removesuffix("CLIENT_SECRET")
    overrides = {k: env[prefix + k.upper()] for k in ("base_url", "ca_bundle") if prefix + k.upper() in env}
    t = _Table(t.file, t.name, {**t.data, **overrides})
    base_url = t.get("base_url", str, expected="a URL such as https://{slug}.api-se.stage.norce.tech")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise t.fail("base_url", f"expected an http(s) URL, found {base_url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise t.fail("base_url", f"expected https:// for non-loopback host {parts.hostname!r}")
    ca = t.get("ca_bundle", str, None)
    secret = env.get(secret_variable(name))
    profile = Profile(
        name=name,
        base_url=base_url.rstrip("/"),
        client_id=t.get("client_id", str),
        scope=t.get("scope", str, expected="a string such as 'stage' or 'prod'"),
        client_secret=Secret(secret) if secret else None,
        application_id=t.get("application_id", str, None),
        application_key=_guid(t, "application_key"),
        ca_bundle=(root / ca) if ca else None,
        rate_limit_per_minute=t.get("rate_limit_per_minute", int, 60),
        connect_path=t.get("connect_path", str, "/commerce/connect/4.0/"),
        token_path=t.get("token_path", str, "/identity/1.0/connect/token"),
        job_prefix=t.get("job_prefix", str, "Job/"),
        timeout_seconds=float(t.get("timeout_seconds", (int, float), 30.0)),
        source=t.file,
        events=_events(t, name, env),
    )
    t.refuse_unknown()
    return profile


def _events(parent: _Table, name: str, env: Mapping[str, str]) -> EventSettings | None:
    body = parent.get("events", dict, None)
    if body is None:
        return None
    t = _Table(parent.file, f"{parent.name}.events", body)
    default_env = secret_variable(name).removesuffix("CLIENT_SECRET") + "EVENTS_SECRET"
    variable = t.get("secret_env", str, default_env)
    seconds = {
        k: float(t.get(k, (int, float), d)) for k, d in (("grace_seconds", 60.0), ("check_seconds", 1.0))
    }
    for k, v in seconds.items():
        if v <= 0:
            raise t.fail(k, f"expected a number of seconds above 0, found {v:g}")
    settings = EventSettings(
        secret_env=variable,
        secret=Secret(env[variable]) if env.get(variable) else None,
        fetch_counts=t.get("fetch_counts", bool, True),
        **seconds,
    )
    t.refuse_unknown()
    return settings


def _guid(t: _Table, key: str) -> str | None:
    value: str | None = t.get(key, str, None, expected="a GUID like 3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    if value is not None and not re.match(GUID, value):
        raise t.fail(key, f"expected a GUID like 3f2504e0-4f89-11d3-9a0c-0305e82c3301, found {value!r}")
    return value


def _values(t: _Table, ent: Entity) -> dict[str, dict[str, str]]:
    """``[feeds.F.values.Column]`` tables: source values -> names of the column's enum."""
    out: dict[str, dict[str, str]] = {}
    for column, table in t.get("values", dict, {}).items():
        enum = ent.column(column).values if ent.has_column(column) else None
        if enum is None or not isinstance(table, dict):
            raise t.fail(
                "values",
                f"{column!r} is not an enum-typed column of {ent.name} with a table of "
                "source value = enum name",
            )
        names = {m.name for m in VALUE_ENUMS[enum]}
        wrong = {k: v for k, v in table.items() if v not in names}
        if wrong:
            raise t.fail(
                "values",
                f"{column}: {wrong} are not {enum} names; expected one of {', '.join(sorted(names))}",
            )
        out[column] = dict(table)
    return out


def _account(t: _Table, warnings: list[str]) -> int | None:
    value = t.get("account", (str, int), None, expected="a system account name or number")
    if value is None:
        warnings.append(
            f"{t.file} [{t.name}]: no 'account'; Norce recommends one system account per source system"
        )
        return None
    if isinstance(value, int):
        return value
    if value not in SYSTEM_ACCOUNTS:
        raise t.fail("account", f"unknown system account {value!r}; known: {', '.join(SYSTEM_ACCOUNTS)}")
    return SYSTEM_ACCOUNTS[value]


def _policies(t: _Table) -> Policies:
    full_every = t.get("full_every", str, None, expected="a period such as '7d'")
    try:
        period = parse_period(full_every) if full_every else None
    except ValueError as exc:
        raise t.fail("full_every", str(exc)) from None
    on_reject = t.get("on_reject", str, "skip")
    if on_reject not in ("skip", "fail"):
        raise t.fail("on_reject", f"expected 'skip' or 'fail', found {on_reject!r}")
    deactivate = t.get("deactivate", str, "auto")
    if deactivate not in ("auto", "always", "never"):
        raise t.fail("deactivate", f"expected 'auto', 'always' or 'never', found {deactivate!r}")
    ratios = {
        k: float(t.get(k, (int, float), d))
        for k, d in (
            ("max_deactivation_ratio", 0.10),
            ("max_reject_ratio", 0.05),
            ("max_extra_requests", 0.10),
            ("min_ratio", 0.0),
        )
    }
    for k, v in ratios.items():
        if not 0 <= v <= 1:
            raise t.fail(k, f"expected a ratio between 0 and 1, found {v}")
    policies = Policies(
        full_every=period,
        on_reject=on_reject,
        max_items=t.get("max_items", int, 5000),
        max_bytes=t.get("max_bytes", int, 20_000_000),
        min_rows=t.get("min_rows", int, 0),
        deactivate=deactivate,
        full_file=t.get("full_file", bool, True),
        stream=t.get("stream", bool, False),
        rows_per_partition=t.get("rows_per_partition", int, 2_000_000),
        max_hashed_rows=t.get("max_hashed_rows", int, 120_000_000),
        **ratios,
    )
    t.refuse_unknown()
    return policies


def _feed(t: _Table, name: str, profiles: Mapping[str, Profile], root: Path, warnings: list[str]) -> Feed:
    entity = t.get("entity", str, expected=f"one of {', '.join(sorted(ENTITIES))}")
    if entity not in ENTITIES:
        raise t.fail("entity", f"unknown entity {entity!r}; expected one of {', '.join(sorted(ENTITIES))}")
    profile = t.get("profile", str, next(iter(profiles), None) or ...)
    if profile not in profiles:
        raise t.fail("profile", f"unknown profile {profile!r}; known: {', '.join(profiles) or 'none'}")
    source = t.get("source", str, expected="a file path or glob, relative to norce.toml")
    fmt = t.get("format", str, None) or _FORMATS.get(Path(source.replace("*", "x")).suffix.lower())
    if fmt not in _FORMATS.values():
        raise t.fail("format", f"expected one of csv, excel, parquet, json, ndjson, found {fmt!r}")
    mapping = t.get("mapping", dict, {})
    ent = ENTITIES[entity]
    for src, dst in mapping.items():
        if not isinstance(dst, str) or not ent.has_column(dst):
            raise t.fail("mapping", f"{src!r} maps to {dst!r}, which is not a column of {entity}")
    key = t.get("key", list, None)
    feed = Feed(
        name=name,
        entity=entity,
        profile=profile,
        account=_account(t, warnings),
        source=source,
        format=fmt,  # type: ignore[arg-type]
        options=t.get("options", dict, {}),
        mapping=mapping,
        key=tuple(key) if key else None,
        policies=_policies(_Table(t.file, f"{t.name}.policies", t.get("policies", dict, {}))),
        root=root,
        values=_values(t, ent),
        application_key=_guid(t, "application_key") or profiles[profile].application_key,
        search_only_by_code=t.get("search_only_by_code", bool, True),
        company_links=_company_links(t),
        owns_structure=t.get("owns_structure", bool, True),
    )
    t.refuse_unknown()
    return feed


def _company_links(t: _Table) -> Literal["delta", "owned"]:
    links = t.get("company_links", str, "delta")
    if links not in ("delta", "owned"):
        raise t.fail("company_links", f'expected "delta" or "owned", found {links!r}')
    return "owned" if links == "owned" else "delta"


def load_settings(path: str | Path = "norce.toml", *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``norce.toml`` and the secrets of its profiles from the environment or ``.env``.

    Parameters
    ----------
    path
        The settings file; relative paths in it are resolved against its directory.
    environ
        The environment to read secrets from; ``os.environ`` when None. A ``.env`` beside the file
        fills in what the environment lacks.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: settings file not found (expected norce.toml with [profiles] and [feeds])"
        raise ConfigError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}"
        raise ConfigError(msg) from None
    root = path.parent.resolve()
    env = {**read_dotenv(root / ".env"), **(os.environ if environ is None else environ)}
    return settings_from(data, path=path, root=root, environ=env)


def settings_from(
    data: Mapping[str, Any],
    *,
    path: Path = Path("norce.toml"),
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from the parsed TOML ``data`` of ``path`` (no file is read: for notebooks and tests).

    Relative paths resolve against ``root`` (default: the current directory); secrets come from
    ``environ`` only (default: none).

    Examples
    --------
    >>> import tomllib
    >>> data = tomllib.loads('''
    ... [profiles.shop]
    ... base_url = "https://shop.api-se.stage.norce.tech"
    ... client_id = "c"
    ... scope = "stage"
    ... [feeds.stock]
    ... entity = "onhands"
    ... profile = "shop"
    ... account = 10000
    ... source = "stock.csv"
    ... ''')
    >>> settings_from(data).feed("stock").entity
    'onhands'
    """
    root = root if root is not None else Path.cwd()
    env = environ or {}
    file = str(path)
    top = _Table(file, "settings", data.get("settings", {}))
    profiles = {
        name: _profile(_Table(file, f"profiles.{name}", body), name, env, root)
        for name, body in _Table(file, "profiles", data).get("profiles", dict, {}).items()
    }
    warnings: list[str] = []
    feeds = {
        name: _feed(_Table(file, f"feeds.{name}", body), name, profiles, root, warnings)
        for name, body in _Table(file, "feeds", data).get("feeds", dict, {}).items()
    }
    state = Path(top.get("state_dir", str, ".norce"))
    return Settings(
        path=path,
        state_dir=state if state.is_absolute() else root / state,
        profiles=profiles,
        feeds=feeds,
        warnings=tuple(warnings),
    )
