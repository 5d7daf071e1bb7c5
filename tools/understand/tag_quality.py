"""How far a pixel tag can be trusted: its measured precision at its confidence.

The pixel signals (scenes: EfficientNet-Lite3 ImageNet words; objects: SSD MobileNet COCO;
colour) are right most of the time, not always, and differently per label: "dog" from the
scene classifier is right 99% of the time on Flickr8k-test, "helmet" 16%, and SSD calls many
black dogs "bear". ``prompts/tag_precision.txt`` (written by ``evals/tags.py --write-floors``)
holds, per source, label and confidence band, how many of the tags a human caption confirmed.

A tag's precision is its label's own band count shrunk towards a prior (``PRIOR_WEIGHT``
imagined tags at the prior's rate): a label seen on three photos is mostly the prior, one seen
on a hundred is its own figure. The prior is the band's rate over the source's rarely tagged
labels (fewer than ``RARE_BELOW`` tags in all), not over the whole source, whose figure is
"person" and "dog" (SSD's 0.9-1.0 band is 0.94 overall, ~0.75 over its rarer labels): a label
the table barely knows is like the other rare ones. A label the table never saw gets the prior;
a source not in the table (EXIF, time, faces, keywords, CLIP, captions) is not judged here
(None), and callers treat it as before.

* Clarifying questions (agent/questions.py) use a tag only when that precision is at least
  ``ASK_PRECISION``: asking "Was there a bear in it?" about a black dog misleads the person.
* Re-ranking (agent/rerank.py) still counts a weaker tag the person asked for, at
  ``WEAK_WEIGHT`` of a sure one's boost.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tools.understand.tags import Tag, tags_from_json

TABLE = Path(__file__).resolve().parents[2] / "prompts" / "tag_precision.txt"
BANDS = ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01))  # as evals/tags.py
ASK_PRECISION = 0.8
WEAK_WEIGHT = 0.5
PRIOR_WEIGHT = 5.0
RARE_BELOW = 20  # tags of a label in all bands: below this, its band counts form the prior

Counts = tuple[tuple[int, int] | None, ...]  # per band: (confirmed, tagged), None when none tagged


def parse_table(text: str, source: str = "tag_precision.txt") -> dict[tuple[str, str], Counts]:
    """(source, label) -> per-band counts; raises ValueError naming the line of a bad row."""
    table: dict[tuple[str, str], Counts] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = raw.rstrip("\n").split("\t")
        if len(cells) != 2 + len(BANDS):
            raise ValueError(f"{source}:{number}: expected source, label and {len(BANDS)} bands, tab-separated")
        bands = []
        for cell in cells[2:]:
            if cell.strip() == "-":
                bands.append(None)
                continue
            try:
                right, tagged = (int(x) for x in cell.split("/"))
            except ValueError:
                raise ValueError(f"{source}:{number}: a band is 'confirmed/tagged' or '-', not {cell!r}") from None
            if not 0 <= right <= tagged or tagged == 0:
                raise ValueError(f"{source}:{number}: impossible count {cell!r}")
            bands.append((right, tagged))
        table[(cells[0].strip(), cells[1].strip().lower())] = tuple(bands)
    return table


@lru_cache(maxsize=4)
def _load(path: str, stamp: float) -> dict[tuple[str, str], Counts]:
    return parse_table(Path(path).read_text(encoding="utf-8"), Path(path).name)


def priors(table: dict[tuple[str, str], Counts]) -> dict[str, Counts]:
    """Per source, the band counts pooled over its rare labels; a band none of them has comes
    from the source's '*' row."""
    cached = _PRIORS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    pooled: dict[str, list[list[int]]] = {}
    for (source, label), counts in table.items():
        if label == "*" or sum(c[1] for c in counts if c) >= RARE_BELOW:
            continue
        bands = pooled.setdefault(source, [[0, 0] for _ in BANDS])
        for band, cell in enumerate(counts):
            if cell:
                bands[band][0] += cell[0]
                bands[band][1] += cell[1]
    out: dict[str, Counts] = {}
    for (source, label), counts in table.items():
        if label == "*":
            rare = pooled.get(source, [[0, 0] for _ in BANDS])
            out[source] = tuple((r[0], r[1]) if r[1] else counts[b] for b, r in enumerate(rare))
    _PRIORS[id(table)] = (table, out)
    return out


_PRIORS: dict[int, tuple[dict, dict[str, Counts]]] = {}


def load_table(path: Path = TABLE) -> dict[tuple[str, str], Counts]:
    """The table, or an empty one when the file is missing (nothing is judged then)."""
    try:
        return _load(str(path), path.stat().st_mtime)
    except OSError:
        return {}


def band_index(confidence: float) -> int:
    """The band a confidence falls in; below the lowest band counts as the lowest."""
    for index, (_, high) in enumerate(BANDS):
        if confidence < high:
            return index
    return len(BANDS) - 1


def precision(source: str, label: str, confidence: float, table: dict | None = None) -> float | None:
    """Measured precision of ``label`` from ``source`` at ``confidence``; None when the source is
    not measured (its tags are judged as before, not here)."""
    table = load_table() if table is None else table
    prior_counts = priors(table).get(source)
    if prior_counts is None:
        return None
    own_counts = table.get((source, label.lower()), (None,) * len(BANDS))
    # A surer tag is not less often right: a band measured below a lower one is noise, so each
    # band is at least the best band beneath it (few tags a band make that common).
    return max(_shrunk(own_counts, prior_counts, band) for band in range(band_index(confidence) + 1))


def _shrunk(own_counts: Counts, prior_counts: Counts, band: int) -> float:
    prior = _rate(prior_counts, band)
    if prior is None:  # the source never tagged anything at this confidence: nearest band measured
        prior = next((_rate(prior_counts, b) for b in sorted(range(len(BANDS)), key=lambda b: abs(b - band))
                      if _rate(prior_counts, b) is not None), 0.0)
    right, tagged = own_counts[band] or (0, 0)
    return (right + PRIOR_WEIGHT * prior) / (tagged + PRIOR_WEIGHT)


def _rate(counts: Counts, band: int) -> float | None:
    cell = counts[band]
    return cell[0] / cell[1] if cell else None


def trusted(tag: Tag, table: dict | None = None, at_least: float = ASK_PRECISION) -> bool:
    """Whether a tag is sure enough to ask the person about."""
    measured = precision(tag.source, tag.name, tag.confidence, table)
    return measured is None or measured >= at_least


def sure_tags(tags_detail: str, tag_names: list[str] | None = None, table: dict | None = None) -> set[str]:
    """The names of a photo's tags that are sure enough to ask about. A name in ``tag_names``
    without detail (an older index) is kept: it cannot be judged."""
    detail = tags_from_json(tags_detail)
    judged = {t.name for t in detail}
    sure = {t.name for t in detail if trusted(t, table)}
    return sure | {n for n in tag_names or [] if n not in judged}


def tag_weight(tags_detail: str, name: str, table: dict | None = None) -> float:
    """1 for a sure tag (or one that cannot be judged), WEAK_WEIGHT for a weak one, 0 when absent."""
    for tag in tags_from_json(tags_detail):
        if tag.name == name.lower():
            return 1.0 if trusted(tag, table) else WEAK_WEIGHT
    return 0.0


def floors(table: dict | None = None, at_least: float = ASK_PRECISION) -> dict[tuple[str, str], float | None]:
    """(source, label) -> the lowest band start from which a tag is sure enough to ask about
    (None: never), for the labels in the table and '*' (a label it never saw): the floors."""
    table = load_table() if table is None else table
    out: dict[tuple[str, str], float | None] = {}
    for (source, label) in table:
        out[(source, label)] = next((low for low, high in BANDS
                                     if precision(source, label if label != "*" else "\0unseen",
                                                  (low + high) / 2, table) >= at_least), None)
    return out
