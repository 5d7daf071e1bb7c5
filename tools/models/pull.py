"""`recall models pull`: fetch a default model from the Hugging Face hub into the models folder.

The one place that uses the network, and only on the user's explicit request. ``HF_ENDPOINT``
points it at a mirror (or, in the tests, a hub on 127.0.0.1); ``HF_TOKEN`` is sent to the hub
as huggingface_hub always does.

What a pull promises:

- **Checked.** The file list, sizes and hashes come from the hub's model info at one commit, and
  every file is fetched at that commit: a weight file (LFS) must match its SHA-256, any other its
  git blob id, so no byte goes unchecked. The folder must then pass the same check that loading
  it does. The hashes and the commit go to ``MANIFEST.json`` beside the files.
- **All or nothing.** Files are downloaded into a staging folder in the cache directory, never
  into the models folder. The finished model is assembled in a hidden folder beside its target
  and renamed into place; a model already there is swapped out only then, so a failed pull leaves
  the previous model exactly as it was and the models folder without temporary files.
- **Resumable.** A connection that breaks off is resumed with an HTTP Range request (a few times
  in one run); an interrupted run (Ctrl-C, a lost network) keeps its staging folder, and the next
  `recall models pull` continues from the bytes it has. A file that fails its checksum is
  discarded, never resumed.
- **One clear line** for what a user can fix: hub unreachable, repository not found, checksum
  mismatch, not enough disk space, models folder not writable.

Files are fetched one after another in the calling thread (the weights dominate anyway), so
Ctrl-C stops a pull at once.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Iterator

from tools.settings import Settings

PULLABLE = ("clip", "caption")
CLIP_FILES = ["config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
              "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json"]
CAPTIONER_FILES = ["*.json", "*.safetensors", "*.txt"]
MANIFEST = "MANIFEST.json"

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0  # a hub that sends nothing for this long has stalled: retry from where it stopped
RETRIES = 5  # tries in a row that brought no new byte before a run gives up (its bytes are kept)

Progress = Callable[[str, int, int], None]  # file name, bytes so far, bytes in all


class PullError(Exception):
    """A pull failed for a reason the user can act on; the message is one line.

    ``resumable``: the bytes downloaded so far are good and the next pull continues from them.
    """

    def __init__(self, message: str, resumable: bool = False):
        super().__init__(message)
        self.resumable = resumable


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None  # weight files (LFS on the hub)
    blob_id: str | None  # git's id of any other file

    def check(self, path: Path) -> str | None:
        """Why the downloaded ``path`` is not this file, or None when it is."""
        size = path.stat().st_size
        if size != self.size:
            return f"{size} bytes where the hub lists {self.size}"
        if self.sha256:
            got = _digest(path, hashlib.sha256())
            return None if got == self.sha256 else f"sha256 {got[:12]}... where the hub lists {self.sha256[:12]}..."
        if self.blob_id:
            got = _digest(path, hashlib.sha1(b"blob %d\0" % size))
            return None if got == self.blob_id else f"git id {got[:12]}... where the hub lists {self.blob_id[:12]}..."
        return None


@dataclass(frozen=True)
class PullResult:
    kind: str
    repo: str
    revision: str
    path: Path
    downloaded_bytes: int
    up_to_date: bool = False


def pull_target(settings: Settings, kind: str) -> tuple[str, Path, list[str]]:
    """The hub repository, the folder it installs into and the file patterns it takes."""
    if kind == "clip":
        return settings.clip_hub_repo, settings.model_path("clip", settings.clip_model), CLIP_FILES
    if kind == "caption":
        return (settings.captioner_hub_repo, settings.model_path("captioner", settings.captioner_model),
                CAPTIONER_FILES)
    raise PullError(f"nothing to pull for {kind!r}: one of {', '.join(PULLABLE)}")


def installed_manifest(folder: Path) -> dict | None:
    """What a pull recorded about the model in ``folder`` (repo, revision, hashes), if it made it."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def pull_model(settings: Settings, kind: str, progress: Progress | None = None) -> PullResult:
    """Download the default model of ``kind`` (clip or caption), checked, into the models folder."""
    repo, target, patterns = pull_target(settings, kind)
    created = _writable_folder(target.parent)
    try:
        endpoint = _allow_network()
        files, revision = _listing(repo, patterns, endpoint)
        staging = settings.cache_dir / "downloads" / kind / target.name
        with _locked(staging):
            _restore_interrupted_swap(target)
            if _installed_at(target, revision, files):
                return PullResult(kind, repo, revision, target, 0, up_to_date=True)
            with _staging(staging, repo, revision) as folder:
                _check_space(files, folder, target.parent, settings.min_free_mb)
                downloaded = sum(_fetch(repo, revision, endpoint, file, folder, progress) for file in files)
                _install(kind, folder, target, files, repo, revision)
                shutil.rmtree(folder, ignore_errors=True)
        return PullResult(kind, repo, revision, target, downloaded)
    except OSError as error:  # one not worded where it happened
        _remove_made(created)
        where = Path(error.filename) if error.filename else target.parent
        raise _write_problem(error, where, staging=settings.cache_dir in where.parents) from None
    except BaseException:
        _remove_made(created)
        raise


def _remove_made(folders: list[Path]) -> None:
    """A failed pull leaves the models folder as it found it: the folders it made go again."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


# ---- the hub ----------------------------------------------------------------------------------
def _allow_network() -> str:
    """This process may reach the hub (everything else runs with HF_HUB_OFFLINE=1)."""
    os.environ["HF_HUB_OFFLINE"] = "0"
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = False
    return constants.ENDPOINT


def _listing(repo: str, patterns: list[str], endpoint: str) -> tuple[list[RemoteFile], str]:
    """The files of ``repo`` the model needs, with sizes and hashes, and the commit they are at."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint).model_info(repo, files_metadata=True,
                                                   timeout=CONNECT_TIMEOUT_S + READ_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - worded for the user below
        raise PullError(_hub_problem(error, repo, endpoint)) from None
    wanted = [s for s in info.siblings or [] if any(fnmatch(s.rfilename, p) for p in patterns)]
    if not wanted or not info.sha:
        raise PullError(f"{repo} on {endpoint} has none of the model's files ({', '.join(patterns[:3])}, ...)")
    if any((s.lfs.size if s.lfs else s.size) is None for s in wanted):
        raise PullError(f"{endpoint} lists no file sizes for {repo}: it does not answer like a Hugging Face hub")
    files = [RemoteFile(s.rfilename, s.lfs.size if s.lfs else s.size, s.lfs.sha256 if s.lfs else None,
                        None if s.lfs else s.blob_id) for s in wanted]
    unsafe = [f.name for f in files if f.name.startswith(("/", "\\")) or ".." in Path(f.name).parts]
    if unsafe:
        raise PullError(f"{repo} lists a file outside its folder ({unsafe[0]}): nothing was downloaded")
    return files, info.sha


def _hub_problem(error: Exception, repo: str, endpoint: str) -> str:
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(error, GatedRepoError):
        return f"{repo} on {endpoint} is gated: accept its terms on the hub and set HF_TOKEN"
    if isinstance(error, RepositoryNotFoundError):
        return f"{repo} was not found on {endpoint} (check the repository name, or HF_ENDPOINT for a mirror)"
    if isinstance(error, RevisionNotFoundError):
        return f"{repo} on {endpoint} has no such revision"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return f"the hub at {endpoint} answered HTTP {error.response.status_code} for {repo}"
    if _is_transport_error(error):
        return f"cannot reach the model hub at {endpoint} (is this machine online? HF_ENDPOINT sets a mirror)"
    return f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"


def _is_transport_error(error: BaseException) -> bool:
    """A connection that failed or broke off (huggingface_hub speaks HTTP through httpx2)."""
    try:
        import httpx2

        if isinstance(error, httpx2.TransportError):
            return True
    except ImportError:  # pragma: no cover - another huggingface_hub; OSError still covers sockets
        pass
    return isinstance(error, (ConnectionError, TimeoutError))


def _transient(error: Exception) -> bool:
    """A hub error that says "later", not "never" (busy, down for a moment)."""
    response = getattr(error, "response", None)
    return response is not None and (response.status_code in (408, 429) or response.status_code >= 500)


def _fetch(repo: str, revision: str, endpoint: str, file: RemoteFile, folder: Path,
           progress: Progress | None) -> int:
    """Put ``file`` into ``folder``, checked; returns the bytes downloaded for it.

    A ``.part`` file left by an earlier try or run is continued with a Range request; a file that
    fails its check is downloaded once more from scratch (the part it was resumed from may have
    been the bad one), and a second failure is the user's error.
    """
    done = folder / file.name
    if done.is_file() and done.stat().st_size == file.size:
        return 0  # checked when it was finished
    part = folder / f"{file.name}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    received = 0
    for fresh in (False, True):
        if fresh:
            part.unlink(missing_ok=True)
        resumed = part.is_file() and part.stat().st_size > 0
        received += _download(repo, revision, endpoint, file, part, progress)
        problem = file.check(part)
        if problem is None:
            os.replace(part, done)
            return received
        part.unlink(missing_ok=True)
        if not resumed:
            break
    raise PullError(f"{file.name} from {repo} failed its checksum ({problem}): the download was discarded "
                    "and nothing was installed")


def _download(repo: str, revision: str, endpoint: str, file: RemoteFile, part: Path,
              progress: Progress | None) -> int:
    """Append the missing bytes of ``file`` to ``part`` over HTTP, retrying a broken connection."""
    import httpx2
    from huggingface_hub import get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    url = hf_hub_url(repo, file.name, revision=revision, endpoint=endpoint)
    headers = {**build_hf_headers(), "Accept-Encoding": "identity"}
    timeout = httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    received, idle_tries = 0, 0
    part.touch()  # an empty file is complete as it is
    while (have := part.stat().st_size if part.exists() else 0) < file.size:
        asked = {**headers, "Range": f"bytes={have}-"} if have else headers
        try:
            with get_session().stream("GET", url, headers=asked, timeout=timeout) as response:
                if response.status_code == 416:  # more on disk than the hub has: start again
                    part.unlink()
                    continue
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                mode = "ab" if have and response.status_code == 206 else "wb"  # 200: the whole file again
                with open(part, mode) as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        received += len(chunk)
                        idle_tries = 0
                        if progress:
                            progress(file.name, out.tell(), file.size)
                        if out.tell() > file.size:
                            break  # the check below rejects it; no reason to fill the disk
        except OSError as error:
            raise _write_problem(error, part.parent, staging=True) from None
        except Exception as error:  # noqa: BLE001 - worded for the user below
            if not _is_transport_error(error):
                raise PullError(_hub_problem(error, repo, endpoint), resumable=_transient(error)) from None
            idle_tries += 1
            if idle_tries > RETRIES:
                raise PullError(f"the download of {file.name} from {repo} broke off ({type(error).__name__}) "
                                f"{RETRIES + 1} times: run `recall models pull` again to resume",
                                resumable=True) from None
            time.sleep(min(2.0 ** (idle_tries - 1), 8.0))
            continue
        if part.stat().st_size > file.size:
            break
        if part.stat().st_size < file.size:  # the body ended early without an error: resume
            idle_tries += 1
            if idle_tries > RETRIES:
                raise PullError(f"the hub keeps sending {file.name} short: run `recall models pull` again to resume",
                                resumable=True)
    return received


# ---- disk -------------------------------------------------------------------------------------
def _writable_folder(folder: Path) -> list[Path]:
    """Fail before any download if the model cannot be installed into ``folder``.

    Returns the folders this made (outermost first), which a failed pull removes again.
    """
    created = [parent for parent in (folder, *folder.parents) if not parent.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        _remove_made(created)
        raise _write_problem(error, folder) from None
    return created


def _write_problem(error: OSError, folder: Path, staging: bool = False) -> PullError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return PullError(f"the disk is full ({folder}): nothing was installed; free some space and run "
                         "`recall models pull` again")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        if staging:
            return PullError(f"cannot write to the download folder {folder}: {error.strerror.lower()} "
                             "(RECALL_CACHE_DIR chooses another)")
        return PullError(f"cannot write to the models folder {folder}: {error.strerror.lower()} "
                         "(RECALL_MODELS chooses another)")
    return PullError(f"cannot write {error.filename or folder}: {error.strerror or error}")


def _check_space(files: list[RemoteFile], staging: Path, models: Path, reserve_mb: int) -> None:
    """Enough free space for what is still to come, plus the reserve indexing keeps (min_free_mb)."""
    have = {f.name: max([p.stat().st_size for p in (staging / f.name, staging / f"{f.name}.part") if p.is_file()],
                        default=0) for f in files}
    needs = {staging: sum(max(f.size - have[f.name], 0) for f in files)}
    if os.stat(staging).st_dev != os.stat(models).st_dev:
        needs[models] = sum(f.size for f in files)  # the install copies the files across
    for folder, size in needs.items():
        free = shutil.disk_usage(folder).free
        if free < size + reserve_mb * 1_000_000:
            raise PullError(f"not enough disk space in {folder}: the model needs {_mb(size)} more and "
                            f"{reserve_mb} MB kept free (RECALL_MIN_FREE_MB), {_mb(free)} is free")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def _digest(path: Path, digest) -> str:
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(staging: Path) -> Iterator[None]:
    """One pull of a model at a time (two would fetch into, and install from, the same folders)."""
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        lock = open(staging.parent / f".{staging.name}.lock", "w")
    except OSError as error:
        raise _write_problem(error, staging.parent, staging=True) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"another `recall models pull` is fetching this model into {staging}: "
                            "wait for it to finish") from None
        yield


@contextlib.contextmanager
def _staging(folder: Path, repo: str, revision: str) -> Iterator[Path]:
    """The download folder of one model, kept for the next pull if this one is interrupted.

    Files from another repo or commit are dropped first. A failure the next run cannot build on (a
    checksum, a full disk, a repo gone) removes the folder; an interruption keeps it.
    """
    state_path = folder / ".pull.json"
    state = {"repo": repo, "revision": revision}
    try:
        previous = json.loads(state_path.read_text())
    except (OSError, ValueError):
        previous = None
    if previous != state:
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.mkdir(parents=True)
            state_path.write_text(json.dumps(state))
        except OSError as error:
            raise _write_problem(error, folder, staging=True) from None
    try:
        yield folder
    except PullError as error:
        if not error.resumable:
            shutil.rmtree(folder, ignore_errors=True)
        raise


# ---- install ----------------------------------------------------------------------------------
def _installed_at(target: Path, revision: str, files: list[RemoteFile]) -> bool:
    manifest = installed_manifest(target)
    return bool(manifest and manifest.get("revision") == revision
                and all((target / f.name).is_file() and (target / f.name).stat().st_size == f.size for f in files))


def _folder_problem(kind: str, folder: Path) -> str | None:
    if kind == "clip":
        from tools.models.clip import clip_folder_problem

        return clip_folder_problem(folder)
    from tools.models.captioner import captioner_folder_problem

    return captioner_folder_problem(folder)


def _install(kind: str, staging: Path, target: Path, files: list[RemoteFile], repo: str, revision: str) -> None:
    """Move the checked files into ``target`` in one rename; the old model goes only once the new is whole."""
    incoming = old = None
    try:
        incoming = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.incoming-"))
        hashes = {}
        for file in files:
            destination = incoming / file.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / file.name, destination)  # a rename on one disk, a copy across two
            hashes[file.name] = _digest(destination, hashlib.sha256())
        problem = _folder_problem(kind, incoming)
        if problem is not None:
            raise PullError(f"{repo} is not a usable {kind} model: {problem.replace(str(incoming), 'the download')}")
        manifest = {"repo": repo, "revision": revision,
                    "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sha256": hashes}
        (incoming / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _sync_tree(incoming)
        os.chmod(incoming, 0o755 & ~_umask())
        if target.exists() or target.is_symlink():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.rename(target, old / "model")
        os.rename(incoming, target)
        incoming = None
        _sync_folder(target.parent)
    except OSError as error:
        raise _write_problem(error, target.parent) from None
    finally:
        if old is not None and not target.exists():
            os.rename(old / "model", target)  # stopped between the renames: the previous model goes back
        for leftover in (incoming, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


def _restore_interrupted_swap(target: Path) -> None:
    """A pull killed between its two renames left the old model hidden: show it again, drop the rest."""
    for leftover in sorted(target.parent.glob(f".{target.name}.old-*")):
        if not target.exists() and (leftover / "model").is_dir():
            os.rename(leftover / "model", target)
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in target.parent.glob(f".{target.name}.incoming-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_tree(folder: Path) -> None:
    """Data on disk before the rename that publishes it (a crash must not publish empty files)."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
