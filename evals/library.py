"""Build an evaluation library from Flickr8k-test without touching ../shared.

Each photo is linked (symlink) into a temporary folder with ONE of its five human captions
written into an XMP sidecar beside it, the way a person's own caption would sit; the other
captions are the queries. ``python -m evals.library --count 200 --out DIR`` builds one.
"""
from __future__ import annotations

import argparse
import csv
import os
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

DEFAULT_FLICKR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-test"

XMP_TEMPLATE = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{caption}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def load_captions(flickr_dir: Path = DEFAULT_FLICKR) -> dict[str, list[str]]:
    """image file name -> its captions, in file order."""
    captions: dict[str, list[str]] = defaultdict(list)
    with open(flickr_dir / "captions.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            captions[row["image"]].append(row["caption"].strip())
    return dict(sorted(captions.items()))


def build_library(out_dir: Path, flickr_dir: Path = DEFAULT_FLICKR, count: int | None = None,
                  sidecar_caption: int | None = 0) -> dict[str, list[str]]:
    """Link ``count`` photos into ``out_dir``; returns path -> the captions NOT written (queries).

    ``sidecar_caption`` picks which caption goes into the sidecar; None writes no sidecar.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    queries: dict[str, list[str]] = {}
    for name, captions in list(load_captions(flickr_dir).items())[:count]:
        source = (flickr_dir / "images" / name).resolve()
        target = out_dir / name
        if not target.exists():
            os.symlink(source, target)
        rest = list(captions)
        if sidecar_caption is not None:
            caption = rest.pop(sidecar_caption % len(rest))
            (out_dir / f"{name}.xmp").write_text(XMP_TEMPLATE.format(caption=escape(caption)), encoding="utf-8")
        queries[str(target)] = rest
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    queries = build_library(args.out, args.images, args.count)
    print(f"linked {len(queries)} photos into {args.out}, one caption each in an XMP sidecar")


if __name__ == "__main__":
    main()
