"""Files to facts: walk folders, fingerprint files, read one photo (pixels, EXIF, user text).

Each function here is safe on hostile input: a file that cannot be read becomes a one-line
reason, never an exception that stops the run.
"""
from __future__ import annotations

import hashlib
import os
import stat
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tools.ingest.exif import CameraInfo, read_camera_info
from tools.index.records import PhotoRecord, SkippedFile
from tools.ingest.user_text import UserText, read_user_text

try:  # HEIC/HEIF, as iPhones write them
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - a declared dependency; HEIC files are then skipped
    pillow_heif = None

SUPPORTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif",
                                ".tif", ".tiff"})
# Thumbnail caches of NAS boxes and desktop tools, which duplicate every photo.
SKIPPED_DIR_NAMES = frozenset({"@eaDir", "#recycle", ".thumbnails", "__MACOSX"})


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


@dataclass
class WalkResult:
    files: list[FileEntry] = field(default_factory=list)
    problems: list[SkippedFile] = field(default_factory=list)  # folders that could not be read
    roots: list[str] = field(default_factory=list)


def walk(roots: list[Path]) -> WalkResult:
    """Every supported image under ``roots``, following symlinks but never around a loop."""
    result = WalkResult()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root = Path(os.path.abspath(os.path.expanduser(root)))
        result.roots.append(str(root))
        if root.is_file():
            _add_file(root, result, seen_files)
            continue
        if not root.is_dir():
            result.problems.append(SkippedFile(path=str(root), reason="no such folder"))
            continue

        def on_error(error: OSError) -> None:
            result.problems.append(SkippedFile(path=error.filename or str(root),
                                               reason=f"unreadable folder: {error.strerror or error}"))

        for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=True):
            try:
                st = os.stat(folder)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink back up the tree
                dirs[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIR_NAMES)
            for name in sorted(files):
                if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                    _add_file(Path(folder) / name, result, seen_files)
    return result


def _add_file(path: Path, result: WalkResult, seen: set[str]) -> None:
    key = str(path)
    if key in seen:
        return
    seen.add(key)
    try:
        st = path.stat()
    except OSError as error:
        result.problems.append(SkippedFile(path=key, reason=f"unreadable file: {error.strerror or error}"))
        return
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device named .jpg would block or never end
        result.problems.append(SkippedFile(path=key, reason="not a regular file (a pipe, device or socket)",
                                           size=0, mtime_ns=st.st_mtime_ns))
        return
    result.files.append(FileEntry(key, st.st_size, st.st_mtime_ns))


def content_hash(path: str) -> str:
    """Fingerprint of the bytes: a moved or renamed photo keeps its identity."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class PhotoRead:
    entry: FileEntry
    record: PhotoRecord | None = None
    pixels: np.ndarray | None = None  # preprocessed for CLIP, when asked for
    problem: str | None = None
    vector: np.ndarray | None = None  # its CLIP vector, when a Ray worker embedded it (recall index --ray)


class ImageTooLarge(Exception):
    pass


# PIL warns above MAX_IMAGE_PIXELS and refuses above twice that; read_photo's own check, with the
# configured limit, is the one that counts. (catch_warnings is not thread-safe: no per-call filter.)
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _decode_problem(error: Exception, max_pixels: int) -> str:
    if isinstance(error, ImageTooLarge):
        return f"image too large ({error})"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large (over the {max_pixels // 1_000_000} MP limit; RECALL_MAX_IMAGE_PIXELS raises it)"
    if isinstance(error, UnidentifiedImageError):
        return "not an image, or a format that cannot be read"
    text = str(error) or type(error).__name__
    if "truncated" in text.lower():
        return "truncated image"
    return f"corrupt image ({text})"


def read_photo(entry: FileEntry, photo_id: str, preprocess=None, *, max_pixels: int,
               with_metadata: bool = True) -> PhotoRead:
    """Decode one photo once: verify it, read its metadata and (optionally) CLIP pixels."""
    out = PhotoRead(entry)
    try:
        with Image.open(entry.path) as image:
            pixels_count = image.width * image.height
            if pixels_count > max_pixels:
                raise ImageTooLarge(f"{image.width}x{image.height}, over the {max_pixels // 1_000_000} MP limit; "
                                    "RECALL_MAX_IMAGE_PIXELS raises it")
            camera = read_camera_info(image) if with_metadata else CameraInfo()
            user = read_user_text(Path(entry.path), image) if with_metadata else UserText()
            width, height = image.size
            # Decoding at a fraction of full size is what keeps indexing of large photos fast.
            image.draft("RGB", (preprocess.size, preprocess.size) if preprocess else (256, 256))
            image = ImageOps.exif_transpose(image)
            image.load()
            if preprocess is not None:
                out.pixels = preprocess(image)
            if camera.orientation in (5, 6, 7, 8):
                width, height = height, width
    except Exception as error:  # noqa: BLE001 - every decoder failure is a reason, not a crash
        out.problem = _decode_problem(error, max_pixels)
        return out
    if with_metadata:
        out.record = _build_record(entry, photo_id, camera, user, width, height)
    return out


def _build_record(entry: FileEntry, photo_id: str, camera: CameraInfo, user: UserText,
                  width: int, height: int) -> PhotoRecord:
    notes = [n for n in (camera.date_problem, camera.gps_problem) if n]
    if camera.taken_at:
        taken_at, offset, source = camera.taken_at, camera.utc_offset_minutes, "exif"
    elif user.taken_at:
        taken_at, offset, source = user.taken_at.replace(tzinfo=None), 0, "sidecar"
    else:
        taken_at, offset, source = datetime.fromtimestamp(entry.mtime_ns / 1e9), None, "file"
    lat, lon = camera.lat, camera.lon
    if lat is None and user.lat is not None:
        lat, lon = user.lat, user.lon
    return PhotoRecord(
        id=photo_id, path=entry.path, size=entry.size, mtime_ns=entry.mtime_ns,
        width=width, height=height, taken_at=taken_at, utc_offset_minutes=offset, date_source=source,
        camera=camera.camera, camera_make=camera.make, camera_model=camera.model,
        lat=lat, lon=lon, alt=camera.alt, exposure_time=camera.exposure_time, iso=camera.iso,
        f_number=camera.f_number, flash_fired=camera.flash_fired,
        user_text=user.text, user_text_sources=",".join(user.sources), keywords=list(user.keywords),
        notes="; ".join(notes),
    )
