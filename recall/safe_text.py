"""User data on a screen: paths, names, captions, places, tags and transcripts are shown as text.

Two things can go wrong when they are printed as they are. A renderer reads them as markup (a
folder named ``[wedding] 2019`` loses its name, a name like ``[/]bob`` raises an error), and
control characters reach the terminal (a file name holding ``\\033]0;title\\007`` retitles the
window, ``\\033[2J`` clears it). ``visible`` turns every control, bidirectional-override and
undecodable character into a printable escape; ``markup`` also escapes it for Rich markup.
"""
from __future__ import annotations

import re
import unicodedata

from rich.markup import escape as _rich_escape

# C0 and C1 controls and DEL; bidi embeddings, overrides and isolates (they reorder what follows:
# "Trojan Source"); lone surrogates (a file name's undecodable bytes as Python holds them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, keep_newlines: bool = False) -> str:
    """``value`` as text in which every character prints as itself or as a visible escape."""
    text = value if isinstance(value, str) else str(value)
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape_char, line) for line in text.split("\n"))
    return _UNSAFE.sub(_escape_char, text)


def markup(value: object) -> str:
    """``value`` made visible and escaped, to embed in a Rich markup string."""
    return _rich_escape(visible(value))


def json_safe(value: object) -> object:
    """A structure for ``json.dumps(ensure_ascii=False)``: strings holding undecodable bytes (lone
    surrogates, which no encoder can write) get their readable form; JSON escapes the rest."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return re.sub("[\ud800-\udfff]", _escape_char, value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def one_line(value: object, limit: int = 300) -> str:
    """A message squeezed to one visible line (errors from deep inside a library can be long)."""
    text = " ".join(visible(value, keep_newlines=True).split())
    text = unicodedata.normalize("NFC", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
