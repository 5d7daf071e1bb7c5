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

Threads: llama.cpp's threads meet at a barrier after every operation and spin
while they wait, so they must not share cores with other busy processes.  On a
2-core machine running two other jobs, two threads generated at 1.1 token/s and
one thread at 7 token/s (0.5B model); pass ``threads=1`` while the machine is busy
(indexing in the background, say).

llama-cpp-python must be built without the AMX code path on these CPUs::

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \\
        pip install llama-cpp-python==0.3.36
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .llm_setup import LLMS, GGUFError, GGUFInfo, check_gguf

INSTALL_HINT = ('CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
                '-DGGML_BMI2=ON" pip install llama-cpp-python==0.3.36')
SETUP_HINT = "python -m tools.models.llm_setup --size 0.5b --models-dir <models dir>"


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


_LOADED: dict[tuple[str, int, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()
_GRAMMARS: dict[str, Any] = {}


_CHECKED: dict[tuple[str, int, int], GGUFInfo] = {}


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
    return llama_cpp


class LocalLLM:
    """A chat model in a GGUF file.

    Construction is cheap and checks the file (exists, complete GGUF); the weights
    load on the first call (or :meth:`load`).  Raises :class:`LLMUnavailable` when
    the file is missing or broken, or llama-cpp-python is not installed.
    """

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2, seed: int = 0):
        self.path = Path(path).expanduser()
        self.n_ctx = int(n_ctx)
        self.threads = max(1, int(threads))
        self.seed = int(seed)
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
                        n_threads_batch=self.threads, n_batch=512, seed=self.seed, verbose=False,
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
        with loaded.lock:
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
        self.last_timing = {
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "prompt_tokens_evaluated": int(perf.n_p_eval),  # after the reused prefix
            "generated_tokens": usage.get("completion_tokens", 0),
            "prompt_eval_s": perf.t_p_eval_ms / 1000.0,
            "generation_s": perf.t_eval_ms / 1000.0,
            "seconds": seconds,
            "finish_reason": response["choices"][0].get("finish_reason"),
        }
        return response["choices"][0]["message"].get("content") or ""


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

