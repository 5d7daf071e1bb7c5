"""Captions, object names and text seen in a photo, from Florence-2, behind a small adapter.

A captioner is a folder under ``models_dir/captioner/<name>`` in the transformers-native
Florence-2 format (``Florence2ForConditionalGeneration`` + ``Florence2Processor``, no remote
code): ``config.json`` (a DaViT vision config and a BART text config), ``model.safetensors``,
the BART tokenizer (``tokenizer.json`` / ``tokenizer_config.json``) and the image processor's
settings (``processor_config.json`` or ``preprocessor_config.json``). That is the layout of the
``florence-community/Florence-2-*`` conversions and of the tests' tiny random Florence-2
(tests/support/tiny_florence.py), so both load through this one path. Microsoft's original
``microsoft/Florence-2-*`` repositories need ``trust_remote_code`` and a different weight layout;
:func:`captioner_folder_problem` says so instead of loading them.

Florence-2 is prompted per task: ``<MORE_DETAILED_CAPTION>`` for a paragraph about the photo,
``<OD>`` for object names with boxes, ``<OCR>`` for text in the photo. Each task is one greedy
``generate``. The image processor used is the PIL one (``CLIPImageProcessorPil``), which
transformers picks by itself when torchvision is absent, as it is here on purpose.

One photo must never stop a run: ``describe`` raises :class:`CaptionFailed` when the photo took
longer than ``timeout_s`` or the caption is garbage; the caller records that and moves on.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from tools.lazy import lazy_module

Image = lazy_module("PIL.Image")  # not needed to say whether the model is there
from pydantic import BaseModel

from tools.models.clip import ModelMissing

KIND = "captioner"  # models_dir/captioner/<name>
DEFAULT_CAPTIONER = "Florence-2-base"  # as in Settings.captioner_model
HUB_REPO = "florence-community/Florence-2-base"  # for a `models pull`; never used at run time
FILES = ["config.json", "generation_config.json", "model.safetensors", "processor_config.json",
         "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json"]

TASK_PROMPTS = {"caption": "<MORE_DETAILED_CAPTION>", "objects": "<OD>", "ocr": "<OCR>"}
ALL_TASKS = ("caption", "objects", "ocr")

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")

# The parsing rules the florence-community processors ship; used when a folder has none.
DEFAULT_POST_PROCESSOR_CONFIG = {
    "ocr": {"pattern": r"(.+?)<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>",
            "area_threshold": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
    "pure_text": {}, "description_with_bboxes": {}, "description_with_polygons": {}, "polygons": {},
    "bboxes": {}, "description_with_bboxes_or_polygons": {},
}

MAX_CAPTION_CHARS = 1500
MAX_OCR_CHARS = 1000
MAX_LABEL_CHARS = 40
_TOKEN = re.compile(r"</?[A-Za-z][A-Za-z0-9_]*>")  # <s>, </s>, <pad>, <loc_12>, <OD>, <od>, <poly>...
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # letters, with an inner apostrophe
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


class CaptionResult(BaseModel):
    caption: str  # "" when the caption task was not asked for
    objects: list[str]  # distinct object names, in the order the model gave them
    text_in_photo: str  # "" when there is none (or the OCR output was not text)
    seconds: float


class CaptionFailed(RuntimeError):
    """This photo could not be described; the run goes on without it.

    ``kind`` is "timeout", "garbage" or "error"; ``reason`` is a sentence for the user.
    """

    def __init__(self, reason: str, kind: str = "error", seconds: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.seconds = seconds


def captioner_folder_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable Florence-2 folder, or None when it is."""
    path = Path(path)
    if not path.is_dir():
        return f"no folder {path}"
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        missing.append("model.safetensors")
    if not ((path / "tokenizer.json").is_file()
            or ((path / "vocab.json").is_file() and (path / "merges.txt").is_file())):
        missing.append("tokenizer.json")
    if not any((path / name).is_file() for name in PROCESSOR_FILES):
        missing.append("processor_config.json")
    if missing:
        return f"{path} lacks {', '.join(missing)}"
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as error:
        return f"{path}/config.json is unreadable: {error}"
    if config.get("model_type") != "florence2":
        return f"{path} holds a {config.get('model_type') or 'unknown'} model, not Florence-2"
    if "auto_map" in config:
        return (f"{path} is the remote-code Florence-2 layout (microsoft/Florence-2-*); use the "
                f"transformers-native conversion instead, e.g. {HUB_REPO}")
    return None


def _strip_tokens(text: str) -> str:
    return " ".join(_TOKEN.sub(" ", text or "").split())


def clean_caption(text: str) -> str | None:
    """The caption without task/special tokens, or None when it is not usable text.

    Garbage is: nothing left once tokens are gone, no word of two letters or more, mostly
    symbols or digits, one word over and over ("the the the the"), a handful of words looping,
    or absurdly long output.
    """
    text = _strip_tokens(text)
    text = text.strip(" \t\n,;:-")
    if not text or len(text) > MAX_CAPTION_CHARS:
        return None
    visible = [ch for ch in text if not ch.isspace()]
    letters = sum(ch.isalpha() for ch in visible)
    if letters / len(visible) < 0.5:
        return None
    words = [word.lower() for word in _WORD.findall(text)]
    if not any(len(word) >= 2 for word in words):
        return None
    distinct = len(set(words))
    if len(words) >= 3 and distinct == 1:
        return None
    if len(words) >= 8 and distinct / len(words) < 0.34:
        return None
    return text


def clean_label(text: str) -> str | None:
    """An object name from ``<OD>`` ("dog", "traffic light"), or None when it is not one."""
    label = _strip_tokens(text).strip(" .,;:-").lower()
    words = _WORD.findall(label)
    if not words or len(label) > MAX_LABEL_CHARS or len(words) > 5:
        return None
    if sum(ch.isalpha() for ch in label) / max(1, len(label.replace(" ", ""))) < 0.6:
        return None
    return label


def clean_ocr(text: str) -> str:
    """Text read in the photo, or "" when the output is empty or degenerate."""
    text = _strip_tokens(text)
    if not text or len(text) > MAX_OCR_CHARS:
        return ""
    tokens = text.lower().split()
    if len(tokens) >= 4 and len(set(tokens)) == 1:
        return ""
    return text


def trim_to_sentence(text: str) -> str:
    """Drop a sentence cut off by the token limit, when a whole one comes before it."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] < len(text.rstrip()):
        return text[:ends[-1]]
    return text


class Captioner:
    """One loaded Florence-2; ``describe`` runs the requested tasks on one photo."""

    def __init__(self, path: Path, threads: int = 2, max_new_tokens: int = 40, timeout_s: float = 60.0):
        path = Path(path)
        problem = captioner_folder_problem(path)
        if problem:
            raise ModelMissing(problem)
        import torch
        from transformers import Florence2ForConditionalGeneration, Florence2Processor

        torch.set_num_threads(max(1, threads))
        self.path = path
        self.name = path.name
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.processor = Florence2Processor.from_pretrained(str(path), local_files_only=True)
        post = self.processor.post_processor
        if not post.parse_task_config:  # a folder without parsing rules: use the standard ones
            post.parse_task_config = dict(DEFAULT_POST_PROCESSOR_CONFIG)
        self.model = Florence2ForConditionalGeneration.from_pretrained(
            str(path), dtype=torch.float32, local_files_only=True).eval()
        self.eos_token_id = self.processor.tokenizer.eos_token_id
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads
        self.photos_described = 0
        self.failures = 0
        self.generate_calls = 0
        self.busy_seconds = 0.0  # time spent describing, for the speed benchmark

    def _generate(self, prompt: str, image: Image.Image, max_time: float) -> tuple[str, bool]:
        """(decoded output with its special tokens, whether the token limit cut it off)."""
        import torch

        inputs = self.processor(text=prompt, images=image, return_tensors="pt")
        with torch.inference_mode():
            ids = self.model.generate(
                input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"],
                attention_mask=inputs.get("attention_mask"), max_new_tokens=self.max_new_tokens,
                num_beams=1, do_sample=False, max_time=max_time)
        self.generate_calls += 1
        generated = ids[0].tolist()
        cut_off = self.eos_token_id not in generated[1:]
        return self.processor.batch_decode(ids, skip_special_tokens=False)[0], cut_off

    def describe(self, image: Image.Image, tasks=ALL_TASKS) -> CaptionResult:
        """Caption, object names and text of one (orientation-corrected) photo.

        Raises CaptionFailed when the photo takes longer than ``timeout_s`` in total, when the
        caption is garbage, or when the model fails on this photo.
        """
        tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
        unknown = [task for task in tasks if task not in TASK_PROMPTS]
        if unknown:
            raise ValueError(f"unknown captioner task(s) {unknown}; known: {list(TASK_PROMPTS)}")
        ordered = [task for task in ALL_TASKS if task in tasks]  # caption first: fail fast on garbage
        image = image.convert("RGB")
        caption, objects, text_in_photo = "", [], ""
        with self._lock:
            start = time.perf_counter()
            deadline = start + self.timeout_s

            def failed(reason: str, kind: str) -> CaptionFailed:
                elapsed = time.perf_counter() - start
                self.failures += 1
                self.busy_seconds += elapsed
                return CaptionFailed(reason, kind, elapsed)

            for task in ordered:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise failed(f"timed out after {self.timeout_s:g}s before {task}", "timeout")
                prompt = TASK_PROMPTS[task]
                try:
                    raw, cut_off = self._generate(prompt, image, remaining)
                    parsed = self.processor.post_process_generation(
                        raw, task=prompt, image_size=image.size)[prompt]
                except Exception as error:  # noqa: BLE001 - one photo must not stop a run
                    raise failed(f"{task} failed: {type(error).__name__}: {error}", "error") from error
                if time.perf_counter() > deadline:
                    raise failed(f"timed out after {self.timeout_s:g}s during {task}", "timeout")
                if task == "caption":
                    cleaned = clean_caption(parsed)
                    if cleaned is None:
                        shown = _strip_tokens(parsed)[:80]
                        raise failed(f"garbage caption: {shown!r}", "garbage")
                    caption = trim_to_sentence(cleaned) if cut_off else cleaned
                elif task == "objects":
                    labels = (clean_label(label) for label in parsed.get("labels", []))
                    objects = list(dict.fromkeys(label for label in labels if label))
                else:
                    text_in_photo = clean_ocr(parsed)
            seconds = time.perf_counter() - start
            self.photos_described += 1
            self.busy_seconds += seconds
        return CaptionResult(caption=caption, objects=objects, text_in_photo=text_in_photo,
                             seconds=seconds)
