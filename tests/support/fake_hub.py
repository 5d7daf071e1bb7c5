"""A Hugging Face hub on 127.0.0.1 that serves model folders, for testing `recall models pull` offline.

It answers the requests the pull makes, in the shape the real hub gives them:

- ``GET /api/models/{repo}[/revision/{rev}]?blobs=true``: the model info, with ``sha`` (the commit)
  and ``siblings`` carrying each file's size, git blob id and, for weight files (LFS on the hub),
  ``lfs.sha256``;
- ``HEAD`` and ``GET /{repo}/resolve/{rev}/{file}``: ``X-Repo-Commit``, ``ETag`` (``X-Linked-Etag``
  and ``X-Linked-Size`` for LFS files), ``Content-Length``, ``Accept-Ranges``, and ``Range`` answered
  with ``206``/``Content-Range``. No ``X-Xet-*`` header is ever sent, so no client switches to Xet;
- unknown repos, revisions and files: ``404`` with the hub's ``X-Error-Code``.

Switches for the failures a download meets: :attr:`FakeHub.corrupt` (files served with one byte
changed while the listed checksum stays the original), :meth:`FakeHub.cut_once` (the next ``GET``
of a file stops part way and the connection closes), :meth:`FakeHub.stall_once` (the next ``GET``
sends part of the file, then hangs until :meth:`release`), :attr:`FakeHub.down` (every request is
answered 503). :attr:`FakeHub.requests` records what was asked, Range included.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".h5", ".msgpack", ".gguf")


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's content, which the hub lists as ``blobId``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class RepoFile:
    name: str
    data: bytes

    @property
    def lfs(self) -> bool:
        return self.name.endswith(LFS_SUFFIXES)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else git_blob_id(self.data)

    def sibling(self) -> dict:
        entry: dict = {"rfilename": self.name, "size": len(self.data)}
        if self.lfs:
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                       f"size {len(self.data)}\n").encode()
            entry["blobId"] = git_blob_id(pointer)
            entry["lfs"] = {"sha256": self.sha256, "size": len(self.data), "pointerSize": len(pointer)}
        else:
            entry["blobId"] = git_blob_id(self.data)
        return entry


@dataclass
class Repo:
    repo_id: str
    files: dict[str, RepoFile]
    sha: str = ""

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path) -> "Repo":
        files = {p.relative_to(folder).as_posix(): RepoFile(p.relative_to(folder).as_posix(), p.read_bytes())
                 for p in sorted(folder.rglob("*")) if p.is_file()}
        commit = hashlib.sha1(json.dumps({n: f.etag for n, f in files.items()}, sort_keys=True).encode())
        return cls(repo_id, files, commit.hexdigest())

    def info(self) -> dict:
        return {"_id": self.sha[:24], "id": self.repo_id, "modelId": self.repo_id, "sha": self.sha,
                "private": False, "gated": False, "disabled": False, "downloads": 0, "likes": 0,
                "tags": [], "lastModified": "2026-01-01T00:00:00.000Z",
                "siblings": [f.sibling() for f in self.files.values()]}


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    down: bool = False
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cuts: dict[str, int] = {}
        self._stalls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.stalled = threading.Event()  # set once a stalled GET has sent its part
        self._server: ThreadingHTTPServer | None = None

    # ---- set-up ---------------------------------------------------------------------------------
    def add_folder(self, repo_id: str, folder: Path) -> Repo:
        self.repos[repo_id] = Repo.from_folder(repo_id, folder)
        return self.repos[repo_id]

    def cut_once(self, name: str, after: int) -> None:
        """The next GET of ``name`` sends ``after`` bytes of what it promised, then closes."""
        with self._lock:
            self._cuts[name] = after

    def stall_once(self, name: str, after: int) -> None:
        """The next GET of ``name`` sends ``after`` bytes, then hangs until :meth:`release`."""
        with self._lock:
            self._stalls[name] = after
        self._released.clear()
        self.stalled.clear()

    def release(self) -> None:
        self._released.set()

    def gets(self, name: str) -> list[str | None]:
        """The Range header of each GET of a file so far (None: the whole file)."""
        return [rng for method, path, rng in list(self.requests) if method == "GET" and path.endswith("/" + name)]

    # ---- serving --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_HubHandler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _take(self, table: dict[str, int], name: str) -> int | None:
        with self._lock:
            return table.pop(name, None)


class _HubHandler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # the test's output stays the test's
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        hub = self.hub
        path = unquote(urlsplit(self.path).path)
        hub.requests.append((self.command, path, self.headers.get("Range")))
        if hub.down:
            return self._error(503, None, "the hub is down")
        if path.startswith("/api/models/"):
            return self._model_info(path[len("/api/models/"):], body)
        if "/resolve/" in path:
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            revision, _, name = rest.partition("/")
            return self._file(repo_id, revision, name, body)
        self._error(404, None, "not found")

    def _repo(self, repo_id: str, revision: str) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
        elif revision not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _model_info(self, rest: str, body: bool) -> None:
        repo_id, _, revision = rest.partition("/revision/")
        repo = self._repo(repo_id, revision or "main")
        if repo is not None:
            self._json(200, repo.info(), body)

    def _file(self, repo_id: str, revision: str, name: str, body: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        file = repo.files.get(name)
        if file is None:
            return self._error(404, "EntryNotFound", f"{name} does not exist at {revision}", commit=repo.sha)
        data = file.data
        if name in self.hub.corrupt:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        start, status = 0, 200
        asked = self.headers.get("Range")
        if asked:
            start = int(asked.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        part = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", repo.sha)
        self.send_header("ETag", f'"{file.etag}"')
        if file.lfs:
            self.send_header("X-Linked-Etag", f'"{file.etag}"')
            self.send_header("X-Linked-Size", str(len(file.data)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        cut = self.hub._take(self.hub._cuts, name)
        stall = self.hub._take(self.hub._stalls, name)
        if cut is not None:
            self.wfile.write(part[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        if stall is not None:
            self.wfile.write(part[:stall])
            self.wfile.flush()
            self.hub.stalled.set()
            self.hub._released.wait(timeout=120)
            self.close_connection = True
            return
        self.wfile.write(part)

    def _json(self, status: int, value: dict, body: bool) -> None:
        payload = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _error(self, status: int, code: str | None, message: str, commit: str | None = None) -> None:
        payload = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
