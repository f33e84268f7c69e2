"""CSV files as municipal portals publish them: encoding detected (UTF-8 with or without BOM, Shift_JIS/CP932,
EUC-JP), header row naming the columns, one Record per data row labelled with its line number."""

from __future__ import annotations

import codecs
import csv
import io

from charset_normalizer import from_bytes

from adapters.opendata.records import Dataset, Record

JAPANESE = ("cp932", "euc_jp")
REPLACEMENT = "\ufffd"


class EncodingUnknown(ValueError):
    pass


def _errors(data: bytes, encoding: str) -> int:
    return data.decode(encoding, errors="replace").count(REPLACEMENT)


def detect_encoding(data: bytes) -> str:
    """The encoding that decodes `data` with the fewest invalid bytes; charset-normalizer breaks ties."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    scores = {enc: _errors(data, enc) for enc in ("utf-8", *JAPANESE)}
    best = min(scores.values())
    tolerated = max(2, len(data) // 200)  # a few bad rows must not hide the file's encoding
    candidates = [enc for enc, n in scores.items() if n == best]
    if len(candidates) == 1 and best <= tolerated:
        return candidates[0]
    guess = from_bytes(data, cp_isolation=list(candidates) + ["cp1252", "gb18030", "big5"]).best()
    if guess is not None:
        return "cp932" if guess.encoding in ("shift_jis", "cp932") else guess.encoding
    if best <= tolerated:
        return candidates[0]
    raise EncodingUnknown("cannot tell the file's character encoding; give it with --encoding")


def read_csv(name: str, data: bytes, encoding: str | None = None, delimiter: str = ",") -> Dataset:
    """Rows keyed by header; a row with undecodable bytes or the wrong field count is kept as a problem record."""
    encoding = encoding or detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    dataset = Dataset(name, "csv", encoding=encoding)
    header: list[str] | None = None
    line = 0
    for row in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [h.strip() for h in row]
            continue
        label = f"row {start}"
        problem = None
        if any(REPLACEMENT in cell for cell in row):
            problem = f"holds bytes that are not valid {encoding} (the file's encoding)"
        elif len(row) != len(header):
            problem = f"has {len(row)} fields, the header has {len(header)}"
        fields = {h: cell.strip() for h, cell in zip(header, row) if h}
        dataset.records.append(Record(label, fields, problem=problem))
    return dataset
