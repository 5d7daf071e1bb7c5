"""Text in the photo ("OPEN", "BROADWAY", a jersey's "28") with PP-OCR, shipped in a PyPI package.

``rapidocr-onnxruntime`` 1.4.4 (Apache-2.0) bundles PP-OCRv4's text detector and recogniser
(and a small 0/180-degree direction classifier) as ONNX files and runs them with ONNX Runtime.
Install it with ``--no-deps``: it asks for ``opencv-python``, whose GUI build would overwrite the
``opencv-python-headless`` this project uses (same ``cv2`` module, and it needs libGL); its real
needs (pyclipper, shapely, pyyaml, six, onnxruntime, headless cv2) are in pyproject.toml.

Detection runs first on the whole photo; recognition only on the boxes found, so a photo with no
text costs one detector pass (~0.2 s here) and a photo with text ~0.1 s more per few lines.
Lines the recogniser is unsure of (below ``MIN_LINE_SCORE``) are dropped: on Flickr photos
those were misreadings ("AUYTHNG" 0.74 for "ANYTHING") far more often than text.
"""
from __future__ import annotations

import importlib.util
import re
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from tools.lazy import lazy_module

# numpy and PIL on first use: `recall status` asks this module only whether its models are there
np = lazy_module("numpy")
Image = lazy_module("PIL.Image")

PACKAGE = "rapidocr-onnxruntime"
PACKAGE_MODULE = "rapidocr_onnxruntime"
DETECTOR = "ch_PP-OCRv4_det_infer.onnx"
RECOGNISER = "ch_PP-OCRv4_rec_infer.onnx"
DIRECTION = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
HOW_TO_ENABLE = f"pip install pyclipper shapely pyyaml six && pip install --no-deps {PACKAGE}==1.4.4"
MIN_LINE_SCORE = 0.8
_WORDISH = re.compile(r"[^\W_]{2,}|\d")  # a line worth keeping has a word or a digit in it


class TextLine(BaseModel):
    text: str
    confidence: float
    box: tuple[float, float, float, float]  # relative x0, y0, x1, y1


class TextFound(BaseModel):
    lines: list[TextLine] = []
    boxes: int = 0  # what the detector found, before unsure lines were dropped
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        return round(sum(line.confidence for line in self.lines) / len(self.lines), 4) if self.lines else 0.0


def model_folder(override: Path | None = None) -> Path | None:
    """The folder holding the three ONNX files: ``override`` or the package's own, else None."""
    folders = [override] if override is not None else []
    if override is None:
        try:
            spec = importlib.util.find_spec(PACKAGE_MODULE)  # finds the folder, runs no package code
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            folders = [Path(location) / "models" for location in spec.submodule_search_locations]
    for folder in folders:
        if all((folder / name).is_file() for name in (DETECTOR, RECOGNISER, DIRECTION)):
            return folder
    return None


def text_reader_status(override: Path | None = None) -> tuple[bool, str]:
    """(usable, where the models are or why not), without loading anything."""
    if importlib.util.find_spec(PACKAGE_MODULE) is None:
        return False, f"PP-OCR is not installed: {HOW_TO_ENABLE}"
    missing = [m for m in ("cv2", "pyclipper", "shapely", "yaml", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"PP-OCR needs {', '.join(missing)}: {HOW_TO_ENABLE}"
    folder = model_folder(override)
    if folder is None:
        where = f"in {override}" if override is not None else "in the rapidocr-onnxruntime package"
        return False, f"the PP-OCR models ({DETECTOR}, {RECOGNISER}, {DIRECTION}) are not {where}"
    return True, str(folder)


class TextReader:
    """PP-OCRv4 detection + recognition; one instance may be shared by several threads."""

    def __init__(self, threads: int = 2, override: Path | None = None, min_line_score: float = MIN_LINE_SCORE):
        from tools.models.clip import ModelMissing

        usable, where = text_reader_status(override)
        if not usable:
            raise ModelMissing(where)
        import logging

        from rapidocr_onnxruntime import RapidOCR

        folder = Path(where)
        self.name = "PP-OCRv4"
        self.location = folder
        self.min_line_score = min_line_score
        self._engine = RapidOCR(
            intra_op_num_threads=max(1, threads), inter_op_num_threads=1,
            det_model_path=str(folder / DETECTOR), rec_model_path=str(folder / RECOGNISER),
            cls_model_path=str(folder / DIRECTION))
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # it warns on photos without text
        self._lock = threading.Lock()  # the engine keeps per-call thresholds on itself
        self.busy_seconds = 0.0
        self.photos_analyzed = 0

    def read(self, image: Image.Image) -> TextFound:
        """The text lines in an (orientation-corrected) image, top to bottom."""
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # the engine wants BGR
        height, width = pixels.shape[:2]
        start = time.perf_counter()
        with self._lock:
            found, _ = self._engine(pixels)
        seconds = time.perf_counter() - start
        self.busy_seconds += seconds
        self.photos_analyzed += 1
        lines = []
        for points, text, score in found or []:
            text = " ".join(str(text).split())
            if float(score) < self.min_line_score or not _WORDISH.search(text):
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            box = (max(0.0, min(xs) / width), max(0.0, min(ys) / height),
                   min(1.0, max(xs) / width), min(1.0, max(ys) / height))
            lines.append(TextLine(text=text, confidence=round(float(score), 4), box=box))
        lines.sort(key=lambda line: (round(line.box[1], 2), line.box[0]))
        return TextFound(lines=lines, boxes=len(found or []), seconds=round(seconds, 4))
