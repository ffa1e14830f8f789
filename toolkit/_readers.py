"""Raw readers behind ``toolkit.sources``: one file of one format -> a LazyFrame of raw values.

Every reader adds ``_source`` (file name) and ``_row`` (1-based data row, Int64). CSV is read as text
only (the casts happen in ``sources``, where a failure keeps the raw text). Errors are explained here:
polars does not say on which line a file went wrong, so on failure the file is scanned again in
Python (the error path only) to name the line and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from toolkit import _encodings
from toolkit.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from toolkit.source_options import SourceOptions

_CHUNK = 1 << 20
CUT_OFF = "the file looks cut off"  # the end of the message flagging a cut-off last line
_NATIVE = {"utf-8", "utf-8-sig"}  # polars reads these itself (it skips a BOM)


def scan_raw(file: Path, fmt: str, opts: SourceOptions) -> pl.LazyFrame:
    """A LazyFrame of the file's columns plus ``_source`` and ``_row``."""
    if file.stat().st_size == 0:
        msg = f"{file}: the file is empty; expected a header line (or data) in {fmt} format"
        raise SourceError(msg)
    if fmt in ("csv", "json", "ndjson"):
        _encodings.refuse_binary(file, fmt, opts)
    readers = {
        "csv": _scan_csv,
        "excel": _scan_excel,
        "parquet": _scan_parquet,
        "json": _scan_json,
        "ndjson": _scan_ndjson,
    }
    lf = readers[fmt](file, opts)
    return lf.with_columns(pl.col("_row").cast(pl.Int64), pl.lit(file.name).alias("_source"))


def schema_of(lf: pl.LazyFrame, file: Path, fmt: str, opts: SourceOptions) -> dict[str, pl.DataType]:
    """The frame's schema; reading the header may already fail (then a SourceError explains)."""
    try:
        return dict(lf.collect_schema())
    except pl.exceptions.PolarsError as exc:
        raise explain(exc, [file], fmt, opts) from exc


def explain(exc: Exception, files: list[Path], fmt: str, opts: SourceOptions) -> SourceError:
    """A SourceError naming the file and line that ``exc`` (a polars error) came from."""
    for file in files:
        problem = _diagnose(file, fmt, opts)
        if problem:
            return SourceError(f"{file}: {problem}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    names = ", ".join(str(f) for f in files)
    return SourceError(f"{names}: cannot be read as {fmt}: {first}")


def codec_of(encoding: str) -> str | None:
    """The Python codec to decode with, or None when polars reads the file itself (UTF-8).

    >>> codec_of("UTF8"), codec_of("windows-1252"), codec_of("latin-1"), codec_of("utf8-lossy")
    (None, 'cp1252', 'iso8859-1', None)
    """
    if encoding.lower().replace("_", "-") in ("utf8-lossy", "utf-8-lossy"):
        return None
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        msg = f"option encoding: unknown encoding {encoding!r}; expected utf-8, utf-8-sig, cp1252, latin-1"
        raise ConfigError(msg) from None
    return None if name in _NATIVE else name


def _is_lossy(opts: SourceOptions) -> bool:
    return opts.encoding.lower().replace("_", "-") in ("utf8-lossy", "utf-8-lossy")


def _utf8(file: Path, opts: SourceOptions) -> Path | io.BytesIO:
    """The file itself, or its content decoded from ``opts.encoding`` as UTF-8 bytes."""
    codec = codec_of(opts.encoding)
    if codec is None:
        return file
    out = io.BytesIO()
    problem = _decode(file, codec, out)
    if problem:
        raise SourceError(f"{file}: {problem}")
    out.seek(0)
    return out


def _decode(file: Path, codec: str, out: io.BytesIO | None = None) -> str | None:
    """Decode ``file`` in chunks (writing UTF-8 to ``out``); a message naming the line on failure."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    line = 1
    with file.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = chunk[exc.start] if exc.start < len(chunk) else 0
                line += chunk.count(b"\n", 0, exc.start)
                return _encodings.decode_message(line, at, codec)
            line += chunk.count(b"\n")
            if out is not None:
                out.write(text.encode("utf-8"))
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _encodings.decode_message(line, 0, codec)
    if out is not None:
        out.write(tail.encode("utf-8"))
    return None


# --- CSV -------------------------------------------------------------------------------------------
def _scan_csv(file: Path, opts: SourceOptions) -> pl.LazyFrame:
    source = _utf8(file, opts)
    data = source.getvalue() if isinstance(source, io.BytesIO) else source.read_bytes()
    if not _is_lossy(opts):
        problem = _encodings.misread(data, opts, native=source is file)
        if problem:
            raise SourceError(f"{file}: {problem}")
    lf = _polars_csv(source, opts, ragged=False)
    expected = len(schema_of(lf, file, "csv", opts)) - 1  # the header's fields (not _row)
    problem = _truncated_tail(file, opts, expected)
    ragged, has_long = _ragged_rows(data, opts, expected)
    if has_long:  # polars refuses a long row; keep its fields up to the header's, and flag it
        lf = _polars_csv(source, opts, ragged=True)
    if problem or ragged is not None:
        flag = ragged if ragged is not None else pl.lit(None, pl.String)
        if problem:
            flag = pl.when(pl.col("_row") == pl.len()).then(pl.lit(problem)).otherwise(flag)
        lf = lf.with_columns(flag.alias("_error"))
    return lf


def _polars_csv(source: Path | io.BytesIO, opts: SourceOptions, *, ragged: bool) -> pl.LazyFrame:
    return pl.scan_csv(
        source,
        separator=opts.separator,
        quote_char=opts.quote_char or None,
        skip_rows=opts.skip_rows,
        infer_schema=False,
        encoding="utf8-lossy" if _is_lossy(opts) else "utf8",
        empty_string_is_null=False,
        raise_if_empty=False,
        row_index_name="_row",
        row_index_offset=1,
        truncate_ragged_lines=ragged,
    )


def _ragged_rows(data: bytes, opts: SourceOptions, expected: int) -> tuple[pl.Expr | None, bool]:
    """A message for each data row with fewer or more fields than the header's ``expected`` (None if
    none), and whether any row has more.

    polars pads a short row with empty text, which would clear its missing fields, and refuses a long
    one: both are flagged here instead. Fields are counted per line, as separators plus one; a line
    with quotes that counts too many is parsed to count them truly. Blank lines are left alone, and
    so is a file whose quoted fields span lines (its lines and rows do not align). Lines are split and
    counted a chunk at a time, so only one chunk's lines are held at once.
    """
    quote = opts.quote_char if opts.quote_char and opts.quote_char.encode() in data else None
    if quote is None and _complete(data, opts, expected):
        return None, False
    found, line = [], 0
    for chunk in _line_chunks(data, opts):
        if chunk is None:
            return None, False
        lines = pl.DataFrame({"line": chunk.str.split("\n").explode()}).with_row_index("_row", offset=line)
        line += lines.height - 1  # the chunk's last piece is empty: the next chunk starts there
        if quote and (lines["line"].str.count_matches(quote, literal=True) % 2 == 1).any():
            return None, False
        count = pl.col("line").str.count_matches(opts.separator, literal=True) + 1
        odd = lines.with_columns(count.alias("fields")).filter(pl.col("fields") != expected)
        odd = odd.filter((pl.col("line") != "") & (pl.col("line") != "\r"))
        found.append(_recount(odd, opts, quote) if quote else odd)
    # line i (from 0) after skip_rows lines and the header is data row i - skip_rows
    rows = pl.concat(found).with_columns(pl.col("_row").cast(pl.Int64) - opts.skip_rows)
    rows = rows.filter((pl.col("_row") > 0) & (pl.col("fields") != expected))
    if rows.is_empty():
        return None, False
    per_row = pl.col("_row").replace_strict(rows["_row"].cast(pl.UInt32), rows["fields"], default=None)
    short = pl.format(f"the row has {{}} of {expected} fields: some are missing", per_row)
    long = pl.format(
        f"the row has {{}} fields, the header {expected}: a separator too many (an "
        "unquoted separator in a text field?)",
        per_row,
    )
    message = pl.when(per_row < expected).then(short).when(per_row > expected).then(long)
    return message, bool((rows["fields"] > expected).any())


def _recount(odd: pl.DataFrame, opts: SourceOptions, quote: str) -> pl.DataFrame:
    """Lines counted long only because a quoted field holds the separator: their true field count."""
    long = odd.filter(pl.col("line").str.contains(quote, literal=True))
    if long.is_empty():
        return odd
    reader = csv.reader(long["line"].to_list(), delimiter=opts.separator, quotechar=quote)
    counts = pl.Series([len(row) for row in reader], dtype=odd["fields"].dtype)
    fixed = long.with_columns(counts.alias("fields"))
    return pl.concat([odd.join(long.select("_row"), on="_row", how="anti"), fixed])


def _complete(data: bytes, opts: SourceOptions, expected: int) -> bool:
    """True when no line can be short, judged from counts alone (a file without quotes).

    When the separators add up to exactly ``expected - 1`` per data line, every line has that many
    (or one is long and one short, and polars refuses the long one).
    """
    start = 0
    for _ in range(opts.skip_rows + 1):  # past the skipped lines and the header
        start = data.find(b"\n", start) + 1
        if start == 0:
            return True
    lines = data.count(b"\n", start) + (0 if data.endswith(b"\n") else 1)
    return data.count(opts.separator.encode(), start) == (expected - 1) * lines


def _line_chunks(data: bytes, opts: SourceOptions, size: int = 1 << 25) -> Iterator[pl.Series | None]:
    """``data`` as text in chunks of whole lines (None for text that is not UTF-8 where that is an
    error: the read itself explains it)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + size, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        piece = data[start:end]
        try:
            yield pl.Series([piece], dtype=pl.Binary).cast(pl.String)
        except pl.exceptions.PolarsError:
            yield pl.Series([piece.decode("utf-8", errors="replace")]) if _is_lossy(opts) else None
        start = end


def _truncated_tail(file: Path, opts: SourceOptions, expected: int) -> str | None:
    """A message when the last line has no line end and fewer fields than the header."""
    with file.open("rb") as fh:
        fh.seek(max(file.stat().st_size - 65536, 0))
        tail = fh.read()
    if tail.endswith((b"\n", b"\r")) or b"\n" not in tail:
        return None
    last = tail.rsplit(b"\n", 1)[1].decode(codec_of(opts.encoding) or "utf-8", errors="replace")
    quoting = {"quotechar": opts.quote_char} if opts.quote_char else {"quoting": csv.QUOTE_NONE}
    found = len(next(csv.reader([last], delimiter=opts.separator, **quoting), []))
    if found >= expected:
        return None
    return f"the last line has {found} of {expected} fields and no line end: {CUT_OFF}"


def _diagnose_csv(file: Path, opts: SourceOptions) -> str | None:
    codec = codec_of(opts.encoding) or "utf-8-sig"
    problem = None if _is_lossy(opts) else _decode(file, codec)
    if problem:
        return problem
    quoting = {"quotechar": opts.quote_char} if opts.quote_char else {"quoting": csv.QUOTE_NONE}
    with file.open(encoding=codec, errors="replace", newline="") as fh:
        for _ in range(opts.skip_rows):
            fh.readline()
        reader = csv.reader(fh, delimiter=opts.separator, strict=True, **quoting)
        header = next(reader, [])
        start = reader.line_num + 1
        try:
            for row in reader:
                if len(row) > len(header):
                    return (
                        f"line {start + opts.skip_rows}: {len(row)} fields, expected "
                        f"{len(header)} as in the header (check the separator "
                        f"{opts.separator!r} and quote_char options)"
                    )
                start = reader.line_num + 1
        except csv.Error as exc:
            return (
                f"line {start + opts.skip_rows}: {exc}; expected a field closed by "
                f"{opts.quote_char!r} (an unterminated quote?)"
            )
    return None


# --- Excel, Parquet, JSON, NDJSON ------------------------------------------------------------------
def _scan_excel(file: Path, opts: SourceOptions) -> pl.LazyFrame:
    sheet = {"sheet_name": opts.sheet} if isinstance(opts.sheet, str) else {"sheet_id": opts.sheet + 1}
    try:
        frame = pl.read_excel(
            file,
            engine="calamine",
            **sheet,
            read_options={"header_row": opts.skip_rows},
            infer_schema_length=None,
            drop_empty_rows=False,
            raise_if_empty=False,
        )
    except Exception as exc:  # fastexcel raises its own exception types
        raise SourceError(f"{file}: {_excel_problem(file, opts, exc)}") from exc
    frame = frame.with_row_index("_row", offset=1)
    data = [c for c in frame.columns if c != "_row"]
    return frame.filter(~pl.all_horizontal(pl.col(data).is_null())).lazy() if data else frame.lazy()


def _excel_problem(file: Path, opts: SourceOptions, exc: Exception) -> str:
    try:
        import fastexcel

        sheets = fastexcel.read_excel(str(file)).sheet_names
    except Exception:
        return f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"
    return f"cannot read sheet {opts.sheet!r}; the workbook has sheets {sheets} ({exc})"


def _scan_parquet(file: Path, opts: SourceOptions) -> pl.LazyFrame:
    return pl.scan_parquet(file).with_row_index("_row", offset=1)


def _scan_json(file: Path, opts: SourceOptions) -> pl.LazyFrame:
    source = _utf8(file, opts)
    with file.open("rb") as fh:
        head = fh.read(64)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):  # any ASCII-based encoding
        msg = f"{file}: line 1: expected a JSON array of objects ([{{...}}, ...])"
        raise SourceError(msg)
    try:
        frame = pl.read_json(source, infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise explain(exc, [file], "json", opts) from exc
    return frame.with_row_index("_row", offset=1).lazy()


def _scan_ndjson(file: Path, opts: SourceOptions) -> pl.LazyFrame:
    return pl.scan_ndjson(
        _utf8(file, opts), infer_schema_length=None, row_index_name="_row", row_index_offset=1
    )


def _diagnose_json(file: Path, opts: SourceOptions, *, lines: bool) -> str | None:
    codec = codec_of(opts.encoding) or "utf-8-sig"
    problem = _decode(file, codec)
    if problem:
        return problem
    text = file.read_text(encoding=codec, errors="replace")
    chunks = enumerate(text.splitlines(), start=1) if lines else [(1, text)]
    for offset, chunk in chunks:
        if not chunk.strip():
            continue
        try:
            value = json.loads(chunk)
        except json.JSONDecodeError as exc:
            return f"line {offset + exc.lineno - 1}: {exc.msg}; expected valid JSON"
        if lines and not isinstance(value, dict):
            return f"line {offset}: expected one JSON object per line, found {type(value).__name__}"
    return None


def _diagnose(file: Path, fmt: str, opts: SourceOptions) -> str | None:
    if fmt == "csv":
        return _diagnose_csv(file, opts)
    if fmt in ("json", "ndjson"):
        return _diagnose_json(file, opts, lines=fmt == "ndjson")
    if fmt == "parquet":
        with file.open("rb") as fh:
            if fh.read(4) != b"PAR1":
                return "not a Parquet file (expected the PAR1 magic bytes)"
    return None
