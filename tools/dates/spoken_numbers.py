"""Numbers as speech-to-text writes them, in date phrases: years, decades and ordinals in words -> digits.

"nineteen ninety nine" -> "1999", "two thousand and ten" -> "2010", "twenty twenty-one" -> "2021",
"the nineteen seventies" -> "the 1970s", "the two thousands" -> "the 2000s", "the twenty second"
-> "the 22nd", "Jan first" -> "Jan 1st", "twenty five years ago" -> "25 years ago".  The date rules
then only need digits.  :func:`digits` also returns, for each character of its output, where it
came from in the input, so a phrase found in the converted text can be cut from the original.

A pair such as "twenty one" is a year only after a century word that cannot be a count ("nineteen",
"eighteen", "twenty" followed by a tens word): "twenty one years ago" stays 21, "twenty twenty"
is 2020.  Single small numbers ("two or three years back") are left as words: the date rules
read those, and "a second photo" must not become a day.
"""
from __future__ import annotations

import re

UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9}
ORDINAL_TEENS = {"tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
                 "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19}
ORDINAL_TENS = {"twentieth": 20, "thirtieth": 30}
DECADES = {"tens": 10, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60,
           "seventies": 70, "eighties": 80, "nineties": 90}

_alt = lambda words: "|".join(sorted(words, key=len, reverse=True))  # noqa: E731
_S = r"(?:\s+|-)"  # "twenty-one", "twenty one"
_UNIT, _TEEN, _TEN = _alt(UNITS), _alt(TEENS), _alt(TENS)
_TWO_DIGITS = rf"(?:(?:{_TEN})(?:{_S}(?:{_UNIT}))?|{_TEEN}|(?:oh|o){_S}(?:{_UNIT}))"
# "nineteen ninety nine", "eighteen eighty", "twenty twenty-one", "twenty oh five", "nineteen hundred"
_CENTURY_YEAR = rf"(?P<c>eighteen|nineteen|twenty){_S}(?:(?P<yy>{_TWO_DIGITS})|(?P<hundred>hundred))(?![\w'-])"
# "two thousand", "two thousand and ten", "two thousand nineteen"
_THOUSAND_YEAR = rf"two{_S}thousand(?:(?:\s+and)?{_S}(?P<ty>{_TWO_DIGITS}|{_UNIT}))?(?![\w'-])"
# "the nineteen seventies", "the two thousands", "the twenty tens"
_DECADE = rf"(?P<dc>eighteen|nineteen|twenty){_S}(?P<dd>{_alt(DECADES)})|two{_S}thousands"
_ORDINAL = (rf"(?:(?P<ot>{_TEN}){_S})?(?P<ou>{_alt(ORDINAL_UNITS)})|(?P<oteen>{_alt(ORDINAL_TEENS)})"
            rf"|(?P<otens>{_alt(ORDINAL_TENS)})")
_CARDINAL = rf"(?P<kt>{_TEN}){_S}(?P<ku>{_UNIT})"

_PATTERN = re.compile(rf"(?<![\w'-])(?:(?P<decade>{_DECADE})|(?P<year>{_CENTURY_YEAR})|(?P<thousand>{_THOUSAND_YEAR})"
                      rf"|(?P<ordinal>{_ORDINAL})|(?P<cardinal>{_CARDINAL}))(?![\w'])", re.IGNORECASE)


def _two_digits(text: str) -> int:
    words = re.split(r"\s+|-", text.lower())
    if words[0] in ("oh", "o"):
        return UNITS[words[1]]
    if words[0] in TEENS:
        return TEENS[words[0]]
    if words[0] in UNITS:  # "two thousand nine"
        return UNITS[words[0]]
    return TENS[words[0]] + (UNITS[words[1]] if len(words) > 1 else 0)


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _replacement(m: re.Match) -> str:
    if m["decade"]:
        if not m["dc"]:
            return "2000s"
        century = {"eighteen": 1800, "nineteen": 1900, "twenty": 2000}[m["dc"].lower()]
        return f"{century + DECADES[m['dd'].lower()]}s"
    if m["year"]:
        century = {"eighteen": 1800, "nineteen": 1900, "twenty": 2000}[m["c"].lower()]
        if m["hundred"]:
            return str(century)
        return str(century + _two_digits(m["yy"]))  # never "twenty one": its second word is no tens word
    if m["thousand"]:
        return str(2000 + (_two_digits(m["ty"]) if m["ty"] else 0))
    if m["ordinal"]:
        if m["ou"]:
            n = ORDINAL_UNITS[m["ou"].lower()] + (TENS[m["ot"].lower()] if m["ot"] else 0)
        else:
            n = ORDINAL_TEENS.get((m["oteen"] or "").lower()) or ORDINAL_TENS[m["otens"].lower()]
        return f"{n}{_suffix(n)}" if n <= 31 else m[0]
    return str(TENS[m["kt"].lower()] + UNITS[m["ku"].lower()])


def digits(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with number words in digits, and for each output character the span of ``text`` it
    came from (every character of a replacement points at the whole run it replaced)."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for m in _PATTERN.finditer(text):
        new = _replacement(m)
        out.append(text[at:m.start()])
        spans.extend((i, i + 1) for i in range(at, m.start()))
        out.append(new)
        spans.extend([(m.start(), m.end())] * len(new))
        at = m.end()
    out.append(text[at:])
    spans.extend((i, i + 1) for i in range(at, len(text)))
    return "".join(out), spans


def words_to_digits(text: str) -> str:
    return digits(text)[0]
