"""What the CLI prints: tables and lines for people, JSON for scripts.

Every piece of user data (paths, names, captions, places, tags) goes through ``safe_text``:
table cells are ``Text`` objects (never parsed as markup), lines use ``markup()`` for the data
they embed, and JSON holds only encodable strings.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .safe_text import json_safe, markup, one_line, visible

# Piped output is for reading later or grepping: do not fold it to an imagined 80 columns.
def _out_options() -> dict:
    return {"soft_wrap": True, "width": None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200}


out = Console(**_out_options())
err = Console(stderr=True, soft_wrap=True)


def renew_consoles() -> None:
    """Fit both consoles to the present stdout, stderr and environment, in place (modules hold
    them by name): the resident service (recall/service) runs each command for another terminal."""
    out.__init__(**_out_options())
    err.__init__(stderr=True, soft_wrap=True)


def cell(value: object) -> Text:
    return Text(visible(value) if value is not None else "")


def table(*columns: str) -> Table:
    grid = Table(show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def say(text: str, **style) -> None:
    """A line of plain user-facing text (no markup read in it)."""
    out.print(visible(text, keep_newlines=True), markup=False, highlight=False, **style)


def note(text: str) -> None:
    err.print("[yellow]note:[/] " + markup(text), highlight=False)


def error_line(text: str) -> None:
    err.print("[red]error:[/] " + markup(one_line(text)), highlight=False)


def json_line(value: object) -> None:
    """One JSON object on one line (``--json`` output is a stream of these)."""
    print(json.dumps(json_safe(value), ensure_ascii=False, default=str), flush=True)  # a reader may stream them


def json_document(value: object) -> None:
    out.print_json(json.dumps(json_safe(value), ensure_ascii=False, default=str))


# ---- index ------------------------------------------------------------------------------------
def print_index_report(report) -> None:
    say(f"Indexed {report.new} new photos ({report.moved} moved, {report.unchanged} unchanged, "
        f"{report.removed} removed, {report.skipped} skipped) in {report.seconds:.1f} s.")
    if report.clip_embedded:
        say(f"CLIP embedded {report.clip_embedded} photos.")
    if report.clip != "on":
        out.print(f"[yellow]Visual search is off[/]: {markup(report.clip)}. `recall models` says how to turn it on.",
                  highlight=False)
    for problem in report.problems[:10]:
        say(f"  skipped {problem.path}: {problem.reason}")
    if len(report.problems) > 10:
        say(f"  ... and {len(report.problems) - 10} more (`recall status` lists them)")
    moments = report.moments
    if moments is not None and (moments.changed or moments.removed or moments.bursts):
        say(f"Events: {moments.events} ({moments.changed} new or changed, {moments.removed} gone); "
            f"{moments.bursts} bursts in them (`recall events` lists them).")


def print_analysis(analysis) -> None:
    if analysis.photos:
        say(f"Understood {analysis.photos} photos: {analysis.faces} faces, {analysis.objects} objects, "
            f"{analysis.labels} scene and colour tags, text in {analysis.texts}, "
            f"{analysis.captions} captions in {analysis.seconds:.1f} s.")
    for key, why in analysis.off.items():
        out.print(f"[yellow]{markup(key)} off[/]: {markup(why)}", highlight=False)
    for failure in analysis.failed[:10]:
        say(f"  {failure.path}: {failure.reason}")
    if analysis.repaired:
        say("Mended the people bookkeeping: " + ", ".join(f"{v} {k}" for k, v in analysis.repaired.items()) + ".")


# ---- search and ask -----------------------------------------------------------------------------
def taken_label(taken_at: str | None, date_source: str | None) -> str:
    taken = (taken_at or "")[:16].replace("T", " ")
    if taken and date_source == "file":
        taken += " (file time)"  # no camera date: what the file system says
    return taken


def print_results(response) -> None:
    if not response.results:
        say("No photos matched.")
        return
    grid = table("#", "score", "taken", "place", "path", "why")
    for number, result in enumerate(response.results, start=1):
        why = ", ".join(f"{name} {value.score:.2f} (#{value.rank})" for name, value in result.why.items())
        grid.add_row(str(number), f"{result.score:.3f}", cell(taken_label(result.taken_at, result.date_source)),
                     cell(result.place), cell(_with_burst(result)), cell(why))
    out.print(grid)


def _with_burst(result) -> str:
    return f"{result.path} (+{result.burst_count - 1} like it)" if result.burst_count > 1 else result.path


# ---- events -----------------------------------------------------------------------------------
def print_events(events: list[dict]) -> None:
    if not events:
        say("No events yet: photos with a camera date are grouped into events when they are indexed.")
        return
    grid = table("id", "event", "people", "tags")
    for event in events:
        grid.add_row(cell(event["id"]), cell(event["label"]), cell(", ".join(event["people"])),
                     cell(", ".join(event["tags"])))
    out.print(grid)
    say("Search one with `recall search --event ID`.")


def print_reply(reply) -> None:
    say(reply.message)
    for photo in reply.results:
        say(f"  #{photo.number} {photo.path}")
        say(f"      {photo.explanation}", style="dim")


# ---- people ------------------------------------------------------------------------------------
def print_people(people) -> None:
    if not people:
        say("No faces found yet: `recall index` finds them (`recall models` says if faces are on).")
        return
    grid = table("id", "name", "faces", "sample")
    for person in people:
        grid.add_row(cell(person.id), cell(person.name), str(person.count),
                     cell(person.photos[0] if person.photos else ""))
    out.print(grid)
    say("Name someone with `recall people name ID NAME`.")


# ---- status and models -------------------------------------------------------------------------
def print_status(facts: dict, skipped: list, statuses) -> None:
    say(f"Index: {facts['index']}")
    say(f"Photos: {facts['photos']}  (dates from: "
        + ", ".join(f"{k} {v}" for k, v in facts["dates"].items()) + f"; GPS {facts['with_gps']}; "
        f"place names {facts['with_place']}; own captions {facts['with_user_text']})")
    for name, count in facts["vectors"].items():
        say(f"Vectors: {name}: {count}")
    if facts["understood"]:
        say("Understood: " + ", ".join(f"{k} {v}" for k, v in sorted(facts["understood"].items()))
            + f"; people: {facts['people']}")
    elif facts["photos"]:
        say("Understood: none yet (faces, objects and captions come from `recall index` without --quick)")
    print_models(statuses)
    if skipped:
        say(f"Skipped files: {len(skipped)}")
        for reason, count in Counter(s.reason.split(" (")[0] for s in skipped).most_common():
            say(f"  {count} x {reason}")
        for item in skipped[:20]:
            say(f"  {item.path}: {item.reason}")
        if len(skipped) > 20:
            say(f"  ... and {len(skipped) - 20} more (--json lists all)")


def print_models(statuses) -> None:
    for model in statuses:
        state = "[green]found[/]" if model.found else "[yellow]missing[/]"
        out.print(f"Model {markup(model.key)} ({markup(model.name)}): {state} - {markup(model.enables)}",
                  highlight=False)
        if model.found:
            pulled = f" ({model.repo} at revision {model.revision[:12]})" if model.repo and model.revision else ""
            say(f"    from {model.location}{pulled}")
        else:
            say(f"    to turn on: {model.how_to_enable}")


def print_doctor(report) -> None:
    for finding in report.findings:
        mark = "[green]ok[/]" if not finding.count else ("[green]repaired[/]" if finding.repaired else "[yellow]found[/]")
        out.print(f"{mark} {markup(finding.check)}" + (f": {finding.count} {markup(finding.detail)}"
                                                      if finding.count else ""), highlight=False)
    if report.unrepaired:
        say(f"{report.unrepaired} problem(s) left: " + "; ".join(report.advice))
    else:
        say("The index is consistent." if not report.repaired else f"The index is consistent again ({report.repaired} repaired).")
