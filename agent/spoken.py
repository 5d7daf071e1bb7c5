"""Spoken phrasing, tidied before any planner reads it (typed, or from speech-to-text).

Hesitations ("uh", "um"), stutters ("the, the") and discourse fillers ("you know", "basically",
"like,") go, and a self-correction keeps only the corrected value ("in Berlin, wait, Hamburg" ->
"in Hamburg"), so neither the rules nor the LLM ever see the value that was taken back.
"""
from __future__ import annotations

import re
from datetime import datetime

from tools.dates.date_phrases import MONTHS, WEEKDAYS, find_date_span


_HESITATION = r"(?:u+h+|u+m+|uhm|e+r+m+|e+r+|hmm+|mm+|a+h+|e+h+)"
# Words said twice in a stutter ("the, the dogs"), and after which a comma is only a pause
# ("in, uh, Berlin"): no clause ends with them.
_FUNCTION = ("the", "a", "an", "in", "at", "on", "near", "with", "of", "from", "to", "by", "my", "our", "and",
             "last", "during", "around")
# Self-correction markers. "no" only between punctuation (", no, the orange one"), since "no
# people" is an exclusion; the others need punctuation before them, or are never content.
_MARK = (r"(?:no+|nope|wait|sorry|actually|rather|or\s+rather|i\s+mean|scratch\s+that|make\s+that|correction"
         r"|no\s+wait|wait\s+no|no\s+no|no\s+sorry|oh\s+no|oops)")
_CORRECTION = re.compile(
    rf"(?:\s*[,;.\u2013\u2014-]+\s*{_MARK}(?:\s*[,;.\u2013\u2014-]?\s*{_MARK})*"
    r"|\s+(?:i\s+mean|or\s+rather|sorry|no\s+wait|wait\s+no|no\s+sorry|no\s+no))"
    rf"(?:\s*[,;:.\u2013\u2014-]+\s*|\s+(?=\S))(?=\S)", re.IGNORECASE)
_NOT_A_MARK = rf"(?!\s*{_MARK}(?![\w']))"  # "last, no, this summer": that comma marks a correction
_BARE_NO = re.compile(r"[,;.]\s*no+\s+(?![,;.]|(?:wait|sorry|no|i\s+mean|actually)\b)",
                      re.IGNORECASE)  # ", no people": not a marker
_LEADING_MARK = re.compile(rf"^\s*(?:{_MARK}|well|so|okay|ok)\s*[,;:.\u2013\u2014-]+\s*", re.IGNORECASE)
_DISCOURSE = re.compile(r"(?<![\w'])(?:(?<!do )(?<!did )(?<!don't )you\s+know|i\s+mean|basically|literally|honestly"
                        r"|actually|so\s+yeah|yeah|yep|kinda|sorta|what\s+was\s+it|let\s+me\s+(?:think|see)"
                        r"|let's\s+see|i\s+don'?t\s+know|i\s+dunno|i\s+guess|and\s+stuff|just(?=\s*,))(?![\w'])",
                        re.IGNORECASE)
_COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey", "gray",
            "silver", "gold", "golden", "beige", "turquoise", "teal", "navy", "violet"}
_NUMBERS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
_DETERMINERS = {"a", "an", "the", "some", "this", "that", "my", "our", "his", "her", "their", "your"}
_PREPOSITIONS = {"in", "at", "on", "near", "around", "by", "from", "to", "inside", "outside", "under", "over",
                 "behind", "during"}
# "kind of dog" is content after these; "kind of blurry" is a filler.
_KIND_OWNERS = _DETERMINERS | {"what", "which", "any", "every", "one", "same", "different", "other", "no", "each",
                               "favourite", "favorite", "new", "odd", "strange", "weird", "special", "certain"}
# "like" after these is a comparison or a verb ("more like #4", "looks like a castle").
_LIKE_KEEPERS = {"more", "look", "looks", "looked", "looking", "something", "exactly", "bit", "lot", "much",
                 "would", "i'd", "you'd", "we'd", "feel", "feels", "felt", "seems", "seemed", "sounds", "just"}
_LIKE_FILLER_AFTER = {"", "and", "but", "so", "or", "was", "were", "is", "it's", "its", "really", "totally", "there",
                      "um", "uh"}
_REFERENCE_AHEAD = re.compile(r"\s*(?:#|\d|number\b|(?:the\s+)?(?:first|second|third|fourth|fifth|sixth|seventh"
                              r"|eighth|ninth|tenth|last|other)\s+(?:one|photo|picture|pic|image|shot)s?\b"
                              r"|th(?:at|is|ose|ese)\s+(?:one|photo|picture|pic|image|shot)s?\b"
                              r"|that\b|it\b|them\b)", re.IGNORECASE)


def _previous_word(text: str, at: int) -> str:
    words = re.findall(r"[\w'#]+|[,;.!?]", text[:at])
    return "" if not words or not re.match(r"[\w#]", words[-1]) else words[-1].lower()


def _drop_like(text: str) -> str:
    """"like" as a filler ("it was like, a dog", ", like a big one") goes; the verb ("dogs like
    water") and the comparison that is feedback ("more like #4", "like the third one") stay."""
    def keep_or_drop(match: re.Match) -> str:
        before, after = _previous_word(text, match.start()), text[match.end():]
        if _REFERENCE_AHEAD.match(after) or before in _LIKE_KEEPERS:
            return match.group(0)
        if after.lstrip().startswith(",") or before in _LIKE_FILLER_AFTER:
            return " "
        return match.group(0)

    return re.sub(r"(?<![\w'])like(?![\w'])", keep_or_drop, text, flags=re.IGNORECASE)


def _drop_kind_of(text: str) -> str:
    def keep_or_drop(match: re.Match) -> str:
        return match.group(0) if _previous_word(text, match.start()) in _KIND_OWNERS else " "

    return re.sub(r"(?<![\w'])(?:kind|sort)\s+of(?![\w'])", keep_or_drop, text, flags=re.IGNORECASE)


def _token_kind(word: str) -> str | None:
    """What sort of value a word is, for lining a correction up with what it corrects."""
    low = word.lower().strip(".")
    if re.fullmatch(r"(?:1[89]|2[01])\d\d|'\d\d", low):
        return "year"
    if re.fullmatch(r"#\d+", low):
        return "photo"
    if low.isdigit() or low in _NUMBERS:
        return "number"
    for kind, words in (("colour", _COLOURS), ("month", MONTHS), ("weekday", WEEKDAYS),
                        ("season", {"summer", "winter", "spring", "autumn", "fall"})):
        if low in words and len(low) > 2:
            return kind
    if word[:1].isupper() and word != "I":
        return "name"
    return None


def _correct_once(said: str, fix: str, now: datetime) -> str | None:
    """``said`` with its last clause corrected by ``fix`` (what followed "no,"/"I mean"), or None
    when nothing in that clause lines up with the correction (then both stay)."""
    cut = max(said.rfind(","), said.rfind(";"), said.rfind(". "))
    head, clause = said[:cut + 1], said[cut + 1:]
    words = list(re.finditer(r"[\w'#]+", clause))
    fix_words = re.findall(r"[\w'#]+", fix)
    if not words or not fix_words:
        return None
    # "Bob and Alice, no, just Alice": the whole clause is taken back.
    only = re.match(r"\s*(?:just|only)\s+(?=\S)", fix, re.IGNORECASE)
    if only:
        return head + (" " if head else "") + fix[only.end():]
    first, single = fix_words[0], len(fix_words) == 1

    def tail_from(i: int) -> str:
        """The clause from word i on is what was taken back."""
        new = fix
        # "a black cat, no, a grey one": the one is the cat (but "the red, no, the orange one" has no noun).
        noun = words[-1].group()
        if (fix_words[-1].lower() == "one" and len(words) - i >= len(fix_words)
                and noun.lower() not in _COLOURS | set(_FUNCTION) | {"one"}):
            at = fix.lower().rfind("one")
            new = fix[:at] + noun + fix[at + 3:]
        return head + clause[:words[i].start()] + new

    # 1. A value of the same sort: 2019 -> 2018, red -> blue, March -> April, #3 -> #4, Berlin -> Hamburg.
    kind = _token_kind(first)
    if kind and kind != "name":
        for i in range(len(words) - 1, -1, -1):
            if _token_kind(words[i].group()) == kind:
                if single:  # just the value: the rest of the clause stays ("in 2018 a birthday cake")
                    return head + clause[:words[i].start()] + fix + clause[words[i].end():]
                return tail_from(i)
    # 2. A date phrase for a date phrase: "the other day, no, yesterday".
    new_date, old_date = find_date_span(fix, now), find_date_span(clause, now)
    if new_date and old_date and not fix[:new_date[0]].strip():
        at, end = old_date
        lead = re.search(r"\b(?:in|during|on|from|at|around|over)\s+$", clause[:at], re.IGNORECASE)
        start = lead.start() if lead and not re.match(r"(?:in|on|at|during)\b", fix.strip(), re.I) else at
        return head + clause[:start] + fix + clause[end:]
    # 3. The same kind of function word starts both: "the red, no, the orange one", "with Anna, sorry, with Maria".
    low = first.lower()
    for group in (_DETERMINERS, _PREPOSITIONS, {"with"}):
        if low in group:
            for i in range(len(words) - 1, -1, -1):
                if words[i].group().lower() in group:
                    return tail_from(i)
    # 4. A name for a name: the last capitalised run ("New York, no, Boston").
    if kind == "name":
        runs = [i for i, w in enumerate(words) if _token_kind(w.group()) == "name"]
        if runs:
            end = runs[-1]
            start = end
            while start - 1 in runs:
                start -= 1
            if single or len(fix_words) <= end - start + 1:
                return head + clause[:words[start].start()] + fix + clause[words[end].end():]
            return tail_from(start)
    return None


def _apply_corrections(text: str, now: datetime) -> str:
    for _ in range(10):  # a person rarely corrects more than twice in a sentence
        match = next((m for m in _CORRECTION.finditer(text) if not _BARE_NO.match(text, m.start())), None)
        if match is None:
            return text
        said, rest = text[:match.start()], text[match.end():]
        stop = re.search(r"[,;.!?]", rest)
        fix, after = (rest[:stop.start()], rest[stop.start():]) if stop else (rest, "")
        fixed = _correct_once(said, fix, now) if said.strip() else None
        text = (fixed + after) if fixed is not None else (said + ", " + rest if said.strip() else rest)
    return text


def tidy_spoken(text: str, now: datetime | None = None) -> str:
    """The words of a spoken (or speech-to-text) sentence without what speech adds: hesitations,
    stutters, fillers, and the values a self-correction took back. Idempotent; never raises."""
    try:
        out = " ".join((text or "").replace("\u2019", "'").split())
        # A leading yes/no answers the question asked (agent.dialogue): it stays as said.
        answer = re.match(r"(?:yes|yeah|yep|yup|no+|nope)(?![\w'])\s*[,.!]?\s*", out, re.IGNORECASE)
        answer_text, out = (answer.group(0).strip() + " ", out[answer.end():]) if answer else ("", out)
        # Hesitations, keeping a comma that was beside them (it may mark a correction).
        out = re.sub(rf"(\s*,)?\s*(?<![\w']){_HESITATION}(?![\w'])\s*(,)?",
                     lambda m: ", " if m.group(1) or m.group(2) else " ", out, flags=re.IGNORECASE)
        # Stutters and hesitation commas: "the, the dogs" -> "the dogs", "in, Berlin" -> "in Berlin".
        function = "|".join(_FUNCTION)
        for _ in range(3):
            out = re.sub(rf"(?<![\w'])({function})(?:\s*,?\s+\1)+(?![\w'])", r"\1", out, flags=re.IGNORECASE)
        out = re.sub(rf"(?<![\w'])({function})\s*,{_NOT_A_MARK}\s*", r"\1 ", out, flags=re.IGNORECASE)
        out = _LEADING_MARK.sub("", out.strip(" ,;"))
        out = _apply_corrections(out, now or datetime.now())
        out = _DISCOURSE.sub(" ", out)
        out = _drop_kind_of(_drop_like(out))
        out = re.sub(r"^(?:\s*(?:so|well|okay|ok|alright|right)\b\s*,?)+", " ", out, flags=re.IGNORECASE)
        out = re.sub(r",\s*so\s*,", ",", out, flags=re.IGNORECASE)
        # Punctuation left alone by what went: ", ," -> ",", " ," -> ",", no leading comma.
        out = re.sub(r"\s+", " ", out)
        out = re.sub(r"\s+([,;.!?])", r"\1", out)
        out = re.sub(r"([,;])(?:\s*[,;])+", r"\1", out)
        out = re.sub(rf"(?<![\w'])({function})\s*,{_NOT_A_MARK}\s*", r"\1 ", out, flags=re.IGNORECASE)
        return (answer_text + out.strip(" ,;")).strip()
    except Exception:  # noqa: BLE001 - the person's words as they were are better than nothing
        return " ".join((text or "").split())
