"""Voice input on Flickr8k-test: word error rate, speed, and whether spoken requests still find the photo.

Each of the sentences below is said the way a person says a half-remembered photo (fillers,
self-corrections, vague time) and targets one Flickr8k-test photo; it paraphrases that photo's
non-sidecar captions. The library is evals/library.py's (caption 0 of every photo in an XMP
sidecar), indexed without CLIP, faces or objects. Every sentence is spoken by espeak-ng in
several voices (``VOICES``: voice and rate), transcribed by the product's SpeechToText
(tools/models/speech.py) and handed to the agent's rules turn (agent.dialogue.Agent, a fresh
dialogue each time) exactly as ``recall ask --audio`` would; the typed sentence goes through the
same turn for comparison.

Reported: WER (word-level Levenshtein over lower-cased words with punctuation stripped, against
the sentence as written; plain, and again with the fillers in ``FILLERS`` removed from both
sides), the real-time factor (transcription wall seconds per second of audio, decoding included;
median), model load time, and how many targets are among the 10 photos shown, spoken vs typed.

The Flickr photos carry no camera dates, only their file time, so "now" is put four months
after the targets' file dates: "last winter", "a few months ago" are then true of them, as they
would be of a person's own photos. A benchmark, not a test: it prints a table and writes
evals/reports/voice.json.

    .venv/bin/python -m evals.voice                  # 1,000 photos, every sentence in every voice
    .venv/bin/python -m evals.voice --count 200 --beam 5
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python evals/voice.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, median,
                          percentile, Phase, rounded, table, temp_dir, TextProgress)
from evals.library import DEFAULT_FLICKR, build_library

# (target photo, what the person says). Written from captions 1-4 of each photo, never caption 0
# (the sidecar), the way one would say them aloud.
SENTENCES: list[tuple[str, str]] = [
    ("1056338697_4f7d7ce270.jpg", "a blonde woman, um, waving at the traffic on the side of the street"),
    ("1348304997_afe60a61df.jpg", "um, a little girl with red hair jumping on a trampoline, under a tree I think"),
    ("154871781_ae77696b77.jpg", "two boys kicking a ball around in the park, no wait, it was more like a meadow"),
    ("2054869561_ff723e9eab.jpg", "uh, a black and white dog chasing a pink frisbee, sometime last winter"),
    ("2192131110_8a40e7c028.jpg", "the girl on the swing, she was having so much fun, um, a few months ago"),
    ("2289068031_fe26990183.jpg", "a guy jumping a motorcycle over a pole, and there were camera men filming him"),
    ("241345811_46b5f157d4.jpg", "so, a football player in red talking to his coach, I think during a timeout"),
    ("2479652566_8f9fac8af5.jpg", "the little girl in red sunglasses, uh, putting her feet in the kitchen sink"),
    ("256085101_2c2617c5d0.jpg", "our brown and white dog yawning, with its mouth wide open"),
    ("2657484284_daa07a3a1b.jpg", "people in canoes going down a river, hmm, with a footbridge behind them"),
    ("2774430374_fee1d793e7.jpg", "a little boy in a red shirt swinging a baseball bat, he had flip flops on"),
    ("2884420269_225d27f242.jpg", "two guys standing on one leg with their arms out, uh, on the street, a while back"),
    ("2944362789_aebbc22db4.jpg", "a skateboarder going down a really steep ramp at the skate park"),
    ("3030566410_393c36a6c5.jpg", "a woman with a little boy on her lap, um, coming down a water slide into the pool"),
    ("3109704348_c6416244ce.jpg", "men playing football, or was it rugby, one guy getting hit by another"),
    ("3179336562_c3d0c0a3bd.jpg", "someone on a bike doing a jump off a ramp covered in graffiti"),
    ("3223055565_68973f5d20.jpg", "a man playing in the snow with two black dogs, last winter"),
    ("3275704430_a75828048f.jpg", "a woman covering her eyes with her hands, er, in a park at the end of the day"),
    ("3359530430_249f51972c.jpg", "people watching a snowboarder do a trick in the air, hmm, in the winter I think"),
    ("3430607596_7e4f74e3ff.jpg", "the boy in red shorts jumping into the river while the other children swim"),
    ("3494394662_3edfd4a34c.jpg", "an older man with a gray beard, um, smiling for a picture in a fleece jacket"),
    ("3545652636_0746537307.jpg", "a little boy in a red uniform about to kick the soccer ball, I think last year"),
    ("3602838407_bf13e49243.jpg", "a small black dog, uh, standing in the water on a rocky beach"),
    ("3694093650_547259731e.jpg", "a bunch of people dressed as pirates, uh, in a wooden building"),
    ("421730441_6b2267fd31.jpg", "a man in a knit cap, no, a black hat, standing by a red brick wall"),
    ("493621130_152bdd4e91.jpg", "um, a brown dog jumping off a dock into a lake, a few months ago"),
    ("561417861_8e25d0c0e8.jpg", "three men on a city street with skyscrapers behind them, I think it was last year"),
    ("997722733_0cb5439472.jpg", "a rock climber in a red shirt, uh, climbing up the rock face"),
]
# espeak-ng voices: (label, arguments). Two accents, three rates, a male and a female variant.
VOICES: list[tuple[str, list[str]]] = [
    ("en-us 175 wpm", ["-v", "en-us"]),
    ("en-gb-x-rp 140 wpm", ["-v", "en-gb-x-rp", "-s", "140"]),
    ("en-us female 155 wpm", ["-v", "en-us+f3", "-s", "155"]),
]
FILLERS = {"uh", "um", "er", "erm", "hmm", "ah", "uhm", "mm"}
SHOWN = 10
DAYS_AFTER = 120  # "now" this long after the targets' file dates (see the docstring)


# ---- word error rate --------------------------------------------------------------------------
def words(text: str, drop: set[str] = frozenset()) -> list[str]:
    """Lower-cased words, punctuation stripped (an apostrophe inside a word stays)."""
    found = (w.strip("'") for w in re.sub(r"[^a-z0-9']+", " ", text.lower()).split())
    return [w for w in found if w and w not in drop]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row[0] = row[:], i
        for j, hyp in enumerate(hypothesis, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref != hyp))
    return row[-1]


def wer(pairs: list[tuple[str, str]], drop: set[str] = frozenset()) -> float | None:
    """Corpus WER: total edits over total reference words."""
    edits = total = 0
    for reference, hypothesis in pairs:
        ref = words(reference, drop)
        edits += edit_distance(ref, words(hypothesis, drop))
        total += len(ref)
    return edits / total if total else None


# ---- the run ----------------------------------------------------------------------------------
def speak(text: str, voice: list[str], path: Path) -> None:
    subprocess.run(["espeak-ng", *voice, "-w", str(path), text], check=True, capture_output=True, timeout=60)


def found_at(reply, name: str) -> int | None:
    for photo in reply.results:
        if Path(photo.path).name == name:
            return photo.number
    return None


def main(argv: list[str] | None = None) -> dict:
    from tools.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="photos in the library (default: all 1,000)")
    parser.add_argument("--beam", type=int, default=None, help="beam size (default: the product's)")
    parser.add_argument("--threads", type=int, default=None, help="CTranslate2 threads (default: the setting)")
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--report", type=Path, default=default_report("voice"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: `scripts/dev.sh setup` installs it (apt-get install espeak-ng)")

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.voice", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "voice", "command": command, "machine": machine_facts(),
                 "data": str(args.images.resolve()), "sentences": len(SENTENCES),
                 "voices": {label: voice for label, voice in VOICES}, "fillers": sorted(FILLERS), "phases": {}}
    started = time.perf_counter()
    with temp_dir("recall-voice-", keep=args.keep) as tmp:
        overrides = {"speech_threads": args.threads} if args.threads else {}
        settings = load_settings(db=tmp / "db", models_dir=tmp / "models", clip_model="no-clip-on-purpose",
                                 analyze_faces=False, analyze_objects=False, analyze_captions=False, **overrides)
        run(settings, tmp, args, out)
    return finish_report(out, started, args.report, print_summary)


def run(settings, tmp: Path, args, out: dict) -> None:
    from agent.dialogue import Agent
    from agent.state import DialogueState
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.models.speech import BEAM_SIZE, SpeechToText
    from tools.query.search import Searcher
    from tools.index.store import PhotoStore

    library = build_library(tmp / "library", args.images, args.count)
    names = {Path(path).name for path in library}
    missing = [name for name, _ in SENTENCES if name not in names]
    if missing:
        raise SystemExit(f"--count {args.count} leaves out target photos: {', '.join(missing)}")
    store, models = PhotoStore(settings), Models(settings)
    log(f"indexing {len(library)} photos (captions in sidecars; no CLIP, faces or objects)")
    with Phase("index", out["phases"]):
        report = Indexer(settings, store, models, TextProgress("index", 15)).run([tmp / "library"])
    out["library_size"] = report.new

    taken = [p.taken_at for p in store.iter_photos() if p.taken_at and Path(p.path).name in dict(SENTENCES)]
    now = max(taken) + timedelta(days=DAYS_AFTER)
    out["now"] = now.isoformat(timespec="seconds")
    out["target_dates"] = {"first": min(taken).isoformat(), "last": max(taken).isoformat()}
    agent = Agent(store, Searcher(store, models), now=now, shown=SHOWN)
    agent.turn(DialogueState(), "warm up the models")  # loads MiniLM; not timed

    beam = args.beam or BEAM_SIZE
    speech = SpeechToText(settings, beam_size=beam)
    out["beam_size"], out["threads"] = beam, settings.speech_threads
    with Phase("model load", out["phases"]) as load:
        speech.load()
    out["model_load_seconds"] = round(load.seconds, 3)
    out["model"] = str(speech.path)

    typed = {}
    for name, sentence in SENTENCES:
        reply = agent.turn(DialogueState(), sentence)
        typed[name] = found_at(reply, name)
    spoken: dict[str, list[dict]] = {label: [] for label, _ in VOICES}
    progress = TextProgress("voice", 15)
    progress.start("speak, transcribe, search", len(SENTENCES) * len(VOICES))
    with Phase("spoken", out["phases"]):
        for label, voice in VOICES:
            for index, (name, sentence) in enumerate(SENTENCES):
                wav = tmp / f"say-{index}.wav"
                speak(sentence, voice, wav)
                transcript = speech.transcribe(wav)
                reply = agent.turn(DialogueState(), transcript.text)
                spoken[label].append({"target": name, "said": sentence, "heard": transcript.text,
                                      "audio_seconds": transcript.audio_seconds, "seconds": transcript.seconds,
                                      "rtf": round(transcript.seconds / transcript.audio_seconds, 4),
                                      "rank_spoken": found_at(reply, name), "rank_typed": typed[name]})
                progress.advance()

    everything = [row for rows in spoken.values() for row in rows]
    out["per_voice"] = {label: summarise(rows) for label, rows in spoken.items()}
    out["all_voices"] = summarise(everything)
    out["typed_top10"] = sum(rank is not None for rank in typed.values())
    out["typed_missed"] = sorted(name for name, rank in typed.items() if rank is None)
    out["transcripts"] = spoken


def summarise(rows: list[dict]) -> dict:
    pairs = [(row["said"], row["heard"]) for row in rows]
    rtf = [row["rtf"] for row in rows]
    return {
        "utterances": len(rows),
        "wer": rounded(wer(pairs)),
        "wer_without_fillers": rounded(wer(pairs, FILLERS)),
        "exact_without_fillers": sum(words(s, FILLERS) == words(h, FILLERS) for s, h in pairs),
        "rtf_median": rounded(median(rtf)),
        "rtf_p95": rounded(percentile(rtf, 95)),
        "audio_seconds_median": rounded(median([row["audio_seconds"] for row in rows]), 2),
        "seconds_median": rounded(median([row["seconds"] for row in rows]), 3),
        "spoken_top10": sum(row["rank_spoken"] is not None for row in rows),
        "typed_top10": sum(row["rank_typed"] is not None for row in rows),
        "lost_by_speech": sum(row["rank_typed"] is not None and row["rank_spoken"] is None for row in rows),
        "found_only_spoken": sum(row["rank_typed"] is None and row["rank_spoken"] is not None for row in rows),
    }


def print_summary(out: dict) -> None:
    print(f"\nVoice input: {out['sentences']} sentences x {len(out['voices'])} voices, library of "
          f"{out.get('library_size')} photos; Whisper tiny.en int8, beam {out.get('beam_size')}, "
          f"{out.get('threads')} threads; model load {out.get('model_load_seconds')} s")
    rows = [[label, s["wer"] * 100, s["wer_without_fillers"] * 100, s["rtf_median"], s["rtf_p95"],
             f"{s['spoken_top10']}/{s['utterances']}", f"{s['typed_top10']}/{s['utterances']}", s["lost_by_speech"]]
            for label, s in [*out.get("per_voice", {}).items(), ("all voices", out.get("all_voices"))] if s]
    print(table(["voice", "WER %", "WER % no fillers", "RTF median", "RTF p95", "top-10 spoken", "top-10 typed",
                 "lost by speech"], rows))
    worst = sorted((row for rows in out.get("transcripts", {}).values() for row in rows),
                   key=lambda row: -edit_distance(words(row["said"]), words(row["heard"])))[:5]
    if worst:
        print("\nmost words wrong:")
        for row in worst:
            print(f"  said:  {row['said']}\n  heard: {row['heard']}")


if __name__ == "__main__":
    main()
