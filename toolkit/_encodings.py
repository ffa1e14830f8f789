"""Text that is not what its feed says: binary files given as text, and mojibake.

Used by ``toolkit._readers`` before a text file is parsed. Each finding is one line naming the line of
the file and what to do; the reader prefixes the file.

Mojibake is UTF-8 text decoded as cp1252 (or latin-1): ``RÖD`` becomes ``RÃ–D``, ``BLÅ`` becomes
``BLÃ…``. In UTF-8 those characters are ``C3 83`` or ``C3 82`` followed by the UTF-8 of a character
that cp1252 decodes from a byte 0x80-0xBF, a pattern real Nordic text does not hold. Found in a file
read with a non-UTF-8 ``encoding``, the file is UTF-8; found in a file read as UTF-8, the export
itself mangled the text, and no encoding option reads it right.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import SourceError

if TYPE_CHECKING:
    from toolkit.source_options import SourceOptions

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive", None),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook", "excel"),
    (b"PAR1", "a Parquet file", "parquet"),
    (b"%PDF", "a PDF document", None),
    (b"\x1f\x8b", "a gzip archive", None),
)
# "Ã" or "Â", then a character cp1252 (or latin-1) decodes from 0x80-0xBF, all as UTF-8
_MOJIBAKE = re.compile(
    rb"\xc3[\x82\x83](?:\xc2[\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xc6\x92|\xcb[\x86\x9c]"
    rb"|\xe2\x80[\x93\x94\x98-\x9e\xa0-\xa2\xa6\xb0\xb9\xba]|\xe2\x82\xac|\xe2\x84\xa2)"
)
_WORD = re.compile(r"[^\s,;|\t\"']*[^\x00-\x7f][^\s,;|\t\"']*")


def refuse_binary(file: Path, fmt: str, opts: SourceOptions) -> None:
    """Raise SourceError for a binary file given as text (an .xlsx renamed .csv, a ZIP, a PDF).

    >>> import tempfile, pathlib
    >>> from toolkit.sources import SourceOptions
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stock.csv"
    >>> _ = path.write_bytes(b"PK\\x03\\x04" + bytes(40))
    >>> try:
    ...     refuse_binary(path, "csv", SourceOptions())
    ... except SourceError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    line 1: the file is a ZIP archive, not csv text; export the data as csv
    """
    with file.open("rb") as fh:
        head = fh.read(4096)
    found = next(((what, kind) for magic, what, kind in _MAGIC if head.startswith(magic)), None)
    wide = opts.encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    if found is None and not wide and head.count(b"\x00") > max(4, len(head) // 100):
        found = ("binary data (it is full of NUL bytes)", None)
    if found is None:
        return
    what, kind = found
    if head.startswith(b"PK") and (b"[Content_Types].xml" in head or b"xl/" in head):
        what, kind = "an Excel workbook (.xlsx)", "excel"
    fix = f'set format = "{kind}" for it' if kind else f"export the data as {fmt}"
    msg = f"{file}: line 1: the file is {what}, not {fmt} text; {fix}"
    raise SourceError(msg)


def misread(data: bytes, opts: SourceOptions, *, native: bool) -> str | None:
    """What is wrong with the text (UTF-8 bytes, as read): an undecodable header, or mojibake.

    ``native`` says the bytes are the file's own (read as UTF-8), not decoded from ``opts.encoding``.

    >>> from toolkit.sources import SourceOptions
    >>> mangled = "PartNo\\nJACKA-RÖD\\n".encode().decode("cp1252").encode()
    >>> print(misread(mangled, SourceOptions(encoding="cp1252"), native=False).split(";")[0])
    line 2: 'JACKA-RÃ–D' is UTF-8 text read as cp1252 (it should read 'JACKA-RÖD')
    """
    if native:
        problem = _header_bytes(data, opts)
        if problem:
            return problem
    if b"\xc3\x83" not in data and b"\xc3\x82" not in data:
        return None
    found = _MOJIBAKE.search(data)
    if found is None:
        return None
    line = data.count(b"\n", 0, found.start()) + 1
    start = data.rfind(b"\n", 0, found.start()) + 1
    end = data.find(b"\n", found.start())
    text = data[start : end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    word = next((w for w in _WORD.findall(text) if "Ã" in w or "Â" in w), text.strip())
    right = _repaired(word)
    if native:
        return (
            f"line {line}: {word!r} is mojibake (UTF-8 text that was decoded as cp1252 before the "
            f"file was written; it should read {right!r}); fix the export's encoding: no encoding "
            "option reads it right"
        )
    return (
        f"line {line}: {word!r} is UTF-8 text read as {opts.encoding} (it should read {right!r}); "
        'set the feed option encoding = "utf-8"'
    )


def _repaired(word: str) -> str:
    for codec in ("cp1252", "latin-1"):
        try:
            return word.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return word


def _header_bytes(data: bytes, opts: SourceOptions) -> str | None:
    """polars reads a header that is not UTF-8 with replacement characters: name its bad byte instead,
    so the mapping is not blamed for an encoding problem."""
    start = 0
    for _ in range(opts.skip_rows):
        start = data.find(b"\n", start) + 1
    end = data.find(b"\n", start)
    header = data[start : end if end >= 0 else len(data)]
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        return decode_message(opts.skip_rows + 1, header[exc.start], "utf-8")
    return None


def decode_message(line: int, byte: int, codec: str) -> str:
    """A byte that is not valid in ``codec``: the line, the byte and the encoding option to set."""
    codec = codec.removesuffix("-sig")
    hint = '"latin-1"' if codec == "cp1252" else '"cp1252" or "latin-1"'
    return (
        f"line {line}: byte 0x{byte:02X} is not valid {codec}; set the feed option "
        f"encoding to the file's encoding (e.g. encoding = {hint})"
    )
