"""The reading options of a feed (``Feed.options``), below ``sources`` and its readers, which all take them.

The options are described in the docstring of ``toolkit.sources``, which re-exports ``SourceOptions``
and ``PickMode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from toolkit.config import Feed
from toolkit.errors import ConfigError

__all__ = ["PickMode", "SourceOptions"]

PickMode = Literal["newest", "all"]


@dataclass(frozen=True)
class SourceOptions:
    """The reading options of a feed (see the docstring of ``toolkit.sources``)."""

    separator: str = ","
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    decimal_comma: bool = False
    thousands: str | None = None
    skip_rows: int = 0
    sheet: str | int = 0
    pick: PickMode = "newest"
    empty_as_null: bool = True
    list_separator: str = "|"
    date_format: str = "%Y-%m-%d"
    culture: str | None = None
    drop_columns: tuple[str, ...] = ()

    @classmethod
    def from_feed(cls, feed: Feed) -> SourceOptions:
        """Options from ``feed.options``; an unknown key or a bad value raises ConfigError.

        >>> SourceOptions.from_mapping({"separator": ";"}).separator
        ';'
        """
        return cls.from_mapping(feed.options, where=f"feed {feed.name!r}")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, where: str = "options") -> SourceOptions:
        _check_types(options, where)
        opts = cls(**{**options, "drop_columns": tuple(options.get("drop_columns", ()))})
        if not all(isinstance(c, str) for c in opts.drop_columns):
            msg = f"{where}: option drop_columns expected a list of column names, found {opts.drop_columns!r}"
            raise ConfigError(msg)
        if opts.pick not in ("newest", "all"):
            msg = f"{where}: option pick expected 'newest' or 'all', found {opts.pick!r}"
            raise ConfigError(msg)
        if len(opts.separator) != 1 or (opts.quote_char and len(opts.quote_char) != 1):
            msg = f"{where}: options separator and quote_char must be one character each"
            raise ConfigError(msg)
        return opts


def _check_types(options: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(options) - set(_OPTION_TYPES))
    if unknown:
        msg = f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(_OPTION_TYPES)}"
        raise ConfigError(msg)
    for name, value in options.items():
        kinds = _OPTION_TYPES[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            msg = f"{where}: option {name} expected {expected}, found {value!r}"
            raise ConfigError(msg)


_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "separator": (str,),
    "quote_char": (str, type(None)),
    "encoding": (str,),
    "decimal_comma": (bool,),
    "thousands": (str, type(None)),
    "skip_rows": (int,),
    "sheet": (str, int),
    "pick": (str,),
    "empty_as_null": (bool,),
    "list_separator": (str,),
    "date_format": (str,),
    "culture": (str, type(None)),
    "drop_columns": (list, tuple),
}
