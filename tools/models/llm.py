"""The local chat model: a GGUF run by llama.cpp (through llama-cpp-python), on the CPU.

The agent's planner asks it for small JSON objects (which words describe the
picture, which phrase is a date, which is a place), so :meth:`LocalLLM.complete_json`
constrains the sampling with a grammar made from a JSON schema: the model cannot
produce anything that does not parse, only things that are wrong.

``llama_cpp`` is imported lazily: without it (or without a model file) the adapter
raises :class:`LLMUnavailable` and the agent falls back to its rule-based planner.
The model is loaded once per process per file (it takes a second or two and
half a gigabyte or more); all :class:`LocalLLM` objects for the same file share
it, and calls into it are serialised by a lock, since a llama.cpp context is not
thread-safe.

Prompt prefix reuse: llama-cpp-python keeps the evaluated tokens of the last call
in the context's KV cache, and ``Llama.generate`` only evaluates the part of a new
prompt after the longest prefix it shares with them.  Every planner call starts
with the same long system prompt, so after the first call only the user's turn
is evaluated.  ``last_timing["prompt_tokens_evaluated"]`` shows it.

Across processes (each ``recall ask`` is one) that cache starts empty, so with ``state_dir``
the context's state is kept in a file: the first call of a process restores it (the token ids
and llama.cpp's KV cache, not ``Llama.save_state``'s 300 MB of logits rows), and when there is
no file yet, or the one restored shared under half of the call's prompt (the system prompt
changed), the state after the call is written, once per process.  The file name carries a hash
of what makes a state unusable (model file, its size and mtime, n_ctx, n_batch, llama-cpp-python
version); a damaged file is ignored and replaced.  The file holds the call's user turn as tokens:
it is the user's words, so it is made readable by its owner only.  Measured with the planner's
prompt (system + examples, ~790 tokens), 34-39-token answers, threads=2 on an otherwise idle
2-core machine, page cache warm, two or three runs each (times are ranges)::

    model  state file  save         restore  first call in a new process:
                                             without the file            with it
    0.5B   10.1 MB     0.01-0.03 s  0.02 s   8.6-9.0 s (6.2-6.5 s        2.3-2.9 s (13-18 tokens
                                             evaluating 790 tokens)      evaluated, 0.15-0.2 s)
    1.5B   23.7 MB     0.08-0.15 s  0.05 s   15.6-16.4 s (12.3-12.8 s)   3.4-4.1 s (0.34-0.41 s)

The whole process (imports, model load, call) went from 9.5-9.9 s to 3.2-3.8 s (0.5B) and
from 17.1-17.8 s to 4.8-5.5 s (1.5B); the rest of the first call is generating the answer.

llama-cpp-python must be built without the AMX code path on these CPUs::

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \\
        pip install llama-cpp-python==0.3.36
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.models.llm_setup import LLMS, GGUFError, GGUFInfo, check_gguf

INSTALL_HINT = ('CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
                '-DGGML_BMI2=ON" pip install llama-cpp-python==0.3.36')
SETUP_HINT = "python -m tools.models.llm_setup --size 0.5b --models-dir <models dir>"
N_BATCH = 512

log = logging.getLogger(__name__)


class LLMUnavailable(RuntimeError):
    """No local LLM can run: the model file or llama-cpp-python is missing, or the file is broken."""


class LLMOutputError(ValueError):
    """The model's answer is not the JSON it was asked for (usually: it ran out of tokens)."""

    def __init__(self, text: str, reason: str = "not valid JSON"):
        super().__init__(f"LLM output is {reason}: {text[:200]!r}")
        self.text = text


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock
    state_tried: set[Path] = field(default_factory=set)  # state files this context restored (or tried to)


_LOADED: dict[tuple[str, int, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()
_GRAMMARS: dict[str, Any] = {}


_CHECKED: dict[tuple[str, int, int], GGUFInfo] = {}


@atexit.register
def _close_loaded() -> None:
    # Left to interpreter teardown, a Llama's __del__ can run after llama_cpp's own module globals
    # are gone and print "Exception ignored ... 'NoneType' object has no attribute
    # 'llama_model_free'". A model still busy in another thread is left alone: freeing it under a
    # running decode would crash instead.
    for loaded in list(_LOADED.values()):
        if loaded.lock.acquire(timeout=0.5):
            try:
                loaded.llama.close()
            except Exception:  # noqa: BLE001 - exiting anyway
                pass
            finally:
                loaded.lock.release()
    _LOADED.clear()


def _checked_gguf(path: Path) -> GGUFInfo:
    """:func:`check_gguf`, remembered while the file is unchanged (reading the metadata takes ~0.3 s)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    info = _CHECKED.get(key)
    if info is None:
        info = _CHECKED[key] = check_gguf(path)
    return info


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise LLMUnavailable(f"llama-cpp-python is not installed ({exc}); install it with: {INSTALL_HINT}") from None
    _quiet_without_swapping_streams(llama_cpp)
    return llama_cpp


class _NoSuppression:
    def __init__(self, disable: bool = True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


_SILENT_LOG = None


def _quiet_without_swapping_streams(llama_cpp) -> None:
    """llama-cpp-python silences a model load by pointing file descriptors 1 and 2 (and
    sys.stdout/stderr) at /dev/null for the whole process. Loading in a background thread, as
    `recall ask` and the chat app do, then threw away whatever the main thread printed meanwhile
    (seen: a `recall ask --json` whose JSON, flushed at exit, vanished; a chat screen not drawn).
    Instead llama.cpp's own log goes to a callback that drops it, and nothing swaps streams."""
    global _SILENT_LOG
    if _SILENT_LOG is not None:
        return
    import ctypes

    from llama_cpp import _internals, llama as llama_module

    @llama_cpp.llama_log_callback
    def silent(level, text, user_data):  # noqa: ARG001 - the C signature
        return None

    _SILENT_LOG = silent  # kept referenced: C holds only the pointer
    llama_cpp.llama_log_set(silent, ctypes.c_void_p(0))
    llama_module.suppress_stdout_stderr = _NoSuppression
    _internals.suppress_stdout_stderr = _NoSuppression


class LocalLLM:
    """A chat model in a GGUF file.

    Construction is cheap and checks the file (exists, complete GGUF); the weights
    load on the first call (or :meth:`load`).  Raises :class:`LLMUnavailable` when
    the file is missing or broken, or llama-cpp-python is not installed.
    """

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2, seed: int = 0,
                 state_dir: Path | None = None):
        self.path = Path(path).expanduser()
        self.n_ctx = int(n_ctx)
        self.threads = max(1, int(threads))
        self.seed = int(seed)
        self.state_dir = Path(state_dir).expanduser() if state_dir is not None else None
        self.last_timing: dict[str, Any] = {}
        if not self.path.is_file():
            raise LLMUnavailable(f"no LLM file at {self.path}; make one with: {SETUP_HINT}")
        try:
            self.info = _checked_gguf(self.path)
        except GGUFError as exc:
            raise LLMUnavailable(f"the LLM file {self.path} is unusable: {exc}; "
                                 f"rebuild it with: {SETUP_HINT}") from None
        _import_llama_cpp()

    @property
    def name(self) -> str:
        return self.info.name or self.path.stem

    @property
    def state_path(self) -> Path | None:
        """Where the evaluated prompt (KV cache) of this model is kept between processes, if anywhere."""
        return self._state_file()[0]

    def _state_file(self) -> tuple[Path | None, str]:
        if self.state_dir is None:
            return None, ""
        key = _state_key(self.path, self.n_ctx)
        return self.state_dir / f"{self.path.stem}-{key}.kvstate", key

    # ------------------------------------------------------------------ loading

    def load(self) -> _Loaded:
        key = (str(self.path.resolve()), self.n_ctx, self.threads)
        with _LOAD_LOCK:
            loaded = _LOADED.get(key)
            if loaded is None:
                llama_cpp = _import_llama_cpp()
                try:
                    llama = llama_cpp.Llama(
                        model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads,
                        n_threads_batch=self.threads, n_batch=N_BATCH, seed=self.seed, verbose=False,
                    )
                except Exception as exc:  # llama.cpp says little more than "failed to load"
                    raise LLMUnavailable(f"llama.cpp could not load {self.path}: {exc}") from None
                loaded = _LOADED[key] = _Loaded(llama, threading.Lock())
            return loaded

    # ------------------------------------------------------------------ calls

    def complete_json(self, system: str, messages: list[dict], schema: dict, max_tokens: int = 256,
                      temperature: float = 0.0) -> dict:
        """A chat answer constrained to JSON matching ``schema``, parsed.

        Raises :class:`LLMOutputError` when the text does not parse (the grammar only
        lets valid JSON through, so this means ``max_tokens`` cut it short), and
        ``ValueError`` for a schema llama.cpp's converter cannot turn into a grammar.
        """
        text = self._chat(system, messages, max_tokens, temperature, grammar=_grammar(schema))
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise LLMOutputError(text) from None
        if not isinstance(value, dict):
            raise LLMOutputError(text, "JSON but not an object")
        return value

    def complete_text(self, system: str, messages: list[dict], max_tokens: int = 128,
                      temperature: float = 0.0) -> str:
        return self._chat(system, messages, max_tokens, temperature, grammar=None).strip()

    def _chat(self, system: str, messages: list[dict], max_tokens: int, temperature: float, grammar) -> str:
        chat = [{"role": "system", "content": system}] if system else []
        chat += [{"role": m["role"], "content": m["content"]} for m in messages]
        loaded = self.load()
        llama_cpp = _import_llama_cpp()
        state_path, key = self._state_file()
        with loaded.lock:
            state_started = time.perf_counter()
            restored = _restore_once(loaded, state_path, key) if state_path else None
            restore_s = time.perf_counter() - state_started
            ctx = loaded.llama.ctx
            llama_cpp.llama_perf_context_reset(ctx)
            started = time.perf_counter()
            response = loaded.llama.create_chat_completion(
                messages=chat, max_tokens=max_tokens, temperature=temperature, seed=self.seed,
                grammar=grammar,
            )
            seconds = time.perf_counter() - started
            perf = llama_cpp.llama_perf_context(ctx)
            usage = response.get("usage") or {}
            prompt_tokens = usage.get("prompt_tokens", 0)
            evaluated = int(perf.n_p_eval)
            state_started = time.perf_counter()
            # A restored state that shared little with this prompt (a changed system prompt, a
            # broken file) would be restored uselessly by every later process: replace it.
            stale = restored is not None and prompt_tokens - evaluated < prompt_tokens / 2
            saved = bool(state_path) and _save_once(loaded.llama, state_path, key, stale)
            save_s = time.perf_counter() - state_started
        self.last_timing = {
            "prompt_tokens": prompt_tokens,
            "prompt_tokens_evaluated": evaluated,  # after the reused prefix
            "generated_tokens": usage.get("completion_tokens", 0),
            "prompt_eval_s": perf.t_p_eval_ms / 1000.0,
            "generation_s": perf.t_eval_ms / 1000.0,
            "seconds": seconds,
            "finish_reason": response["choices"][0].get("finish_reason"),
            "state_restored_tokens": restored or 0,  # None (nothing tried) and 0 (a bad file) alike
            "state_restore_s": restore_s,
            "state_saved": saved,
            "state_save_s": save_s,
        }
        return response["choices"][0]["message"].get("content") or ""


# --------------------------------------------------------------------------- the KV state on disk
#
# File layout: header (_STATE_HEADER), then the evaluated token ids (int32, little-endian), then
# llama.cpp's context state (KV cache, last logits).  The header carries the key, so a file renamed
# from another model or version is refused, and a CRC of the payload, so a truncated or damaged file
# is refused before llama.cpp, which trusts the sizes it reads, ever sees it.

_STATE_MAGIC = b"PRKVST\0\0"
_STATE_VERSION = 1
_STATE_HEADER = struct.Struct("<8sI16sIQI")  # magic, version, key, n_tokens, state bytes, crc32 of the rest
_SAVED: set[Path] = set()  # state files this process has written (or tried to): once each


def _state_key(model: Path, n_ctx: int) -> str:
    """A hash of everything that makes a saved state unusable when it changes."""
    llama_cpp = _import_llama_cpp()
    stat = model.stat()
    parts = {"model": str(model.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "n_ctx": n_ctx, "n_batch": N_BATCH, "llama_cpp": llama_cpp.__version__, "format": _STATE_VERSION}
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _restore_once(loaded: _Loaded, state_path: Path, key: str) -> int | None:
    """Restores the saved state into a context that has evaluated nothing yet.

    Returns the number of tokens restored, 0 when the file was unusable (it is deleted, and the
    context left empty), None when nothing was tried (no file, or the context is already in use:
    its own cache is at least as good).
    """
    llama = loaded.llama
    if state_path in loaded.state_tried or llama.n_tokens > 0:
        return None
    loaded.state_tried.add(state_path)
    try:
        data = bytearray(state_path.read_bytes())
    except OSError:  # usually: not saved yet
        return None
    try:
        return _set_state(llama, data, key)
    except Exception as exc:  # never fail a call over a cache
        log.debug("ignoring the LLM state file %s: %s", state_path, exc)
        _reset(llama)
        with contextlib.suppress(OSError):
            state_path.unlink()
        return 0


def _set_state(llama, data: bytearray, key: str) -> int:
    import numpy as np

    llama_cpp = _import_llama_cpp()
    if len(data) < _STATE_HEADER.size:
        raise ValueError("shorter than its header")
    magic, version, file_key, n_tokens, n_state, crc = _STATE_HEADER.unpack_from(data)
    if magic != _STATE_MAGIC or version != _STATE_VERSION or file_key != key.encode():
        raise ValueError("not a state file for this model, context size and llama.cpp")
    ids_end = _STATE_HEADER.size + 4 * n_tokens
    if not 0 < n_tokens <= llama.n_ctx() or len(data) != ids_end + n_state:
        raise ValueError(f"{len(data)} bytes do not match the header ({n_tokens} tokens, {n_state} state bytes)")
    if zlib.crc32(memoryview(data)[_STATE_HEADER.size:]) != crc:
        raise ValueError("checksum mismatch")
    ids = np.frombuffer(data, dtype="<i4", count=n_tokens, offset=_STATE_HEADER.size)
    state = (ctypes.c_uint8 * n_state).from_buffer(data, ids_end)  # no copy of the megabytes
    if llama_cpp.llama_state_set_data(llama.ctx, state, n_state) != n_state:
        raise ValueError("llama.cpp refused the state")
    # What Llama.load_state does, less the logits rows (``scores``, n_batch x vocab floats,
    # 300 MB that sampling does not read): _requires_eval makes generate() decode at least the
    # prompt's last token again, so the logits it samples from are fresh.
    llama.input_ids[:n_tokens] = ids
    llama.n_tokens = n_tokens
    llama._requires_eval = True
    return n_tokens


def _reset(llama) -> None:
    """Forgets whatever a failed restore left in the context."""
    llama.reset()  # n_tokens = 0: the next eval() clears the KV cache from position 0
    llama_cpp = _import_llama_cpp()
    with contextlib.suppress(Exception):
        memory = llama_cpp.llama_get_memory(llama.ctx)
        if memory is not None:
            llama_cpp.llama_memory_clear(memory, True)


def _save_once(llama, state_path: Path, key: str, replace: bool = False) -> bool:
    """Writes the context's state when no file holds it yet (or ``replace``), once per process.

    The state holds the call just made (prefix, user turn and answer); later prompts share the
    prefix and generate() evaluates the rest.  Failures (read-only or full disk) only cost speed.
    """
    if state_path in _SAVED or (state_path.exists() and not replace) or llama.n_tokens == 0:
        return False
    _SAVED.add(state_path)  # also on failure: do not pay for a failing write on every call
    try:
        _write_atomically(state_path, _get_state(llama, key))
    except Exception as exc:
        log.debug("could not save the LLM state to %s: %s", state_path, exc)
        return False
    return True


def _get_state(llama, key: str) -> list[bytes]:
    llama_cpp = _import_llama_cpp()
    size = llama_cpp.llama_state_get_size(llama.ctx)
    buffer = (ctypes.c_uint8 * size)()
    n_state = llama_cpp.llama_state_get_data(llama.ctx, buffer, size)
    if not 0 < n_state <= size:
        raise RuntimeError(f"llama.cpp wrote {n_state} state bytes into {size}")
    ids = llama.input_ids[:llama.n_tokens].astype("<i4").tobytes()
    state = memoryview(buffer)[:n_state].cast("B")
    crc = zlib.crc32(state, zlib.crc32(ids))
    header = _STATE_HEADER.pack(_STATE_MAGIC, _STATE_VERSION, key.encode(), llama.n_tokens, n_state, crc)
    return [header, ids, state]


def _write_atomically(path: Path, chunks: list) -> None:
    """Readers see the old file or the whole new one, never half of one.

    No fsync: a file cut short by a crash fails its checksum and is ignored.  mkstemp makes the
    file private (0600), which it should be: it holds the user's words.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _grammar(schema: dict):
    """A cached llama.cpp grammar for a JSON schema (the conversion is pure Python, a few ms)."""
    key = json.dumps(schema)  # not sorted: the grammar emits properties in the schema's order
    grammar = _GRAMMARS.get(key)
    if grammar is None:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(key, verbose=False)
        except Exception as exc:  # the converter raises bare Exceptions and assertions
            raise ValueError(f"cannot turn this JSON schema into a grammar: {exc}") from None
        _GRAMMARS[key] = grammar
    return grammar


def idle_threads(wanted: int | None = None) -> int:
    """``wanted`` if given, else the cores not busy right now (1-minute load average), at least 1.

    llama.cpp's threads spin at barriers, so a thread on a busy core slows every other one.
    """
    if wanted:
        return max(1, int(wanted))
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not on every platform
        return 1
    return max(1, min(cores, int(cores - busy + 0.5)))


def find_llm(models_dir: Path, preferred: str | None = None) -> Path | None:
    """The GGUF to use from ``<models_dir>/llm``: the ``preferred`` one when it is there
    (by file name, stem, or size key such as "1.5b"), else the largest Qwen, else the largest GGUF."""
    folder = Path(models_dir).expanduser() / "llm"
    with contextlib.suppress(OSError):
        files = [p for p in folder.glob("*.gguf") if p.is_file() and not p.name.startswith(".")]
        if not files:
            return None
        if preferred:
            wanted = preferred.lower()
            spec = LLMS.get(wanted)
            for p in files:
                if p.name.lower() in (wanted, f"{wanted}.gguf") or (spec and p.name == spec.filename):
                    return p
            candidates = [p for p in files if wanted in p.name.lower()]
            if candidates:
                return max(candidates, key=lambda p: p.stat().st_size)
        qwens = [p for p in files if "qwen" in p.name.lower()]
        return max(qwens or files, key=lambda p: p.stat().st_size)
    return None

