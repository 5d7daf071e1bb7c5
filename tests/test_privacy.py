"""Privacy is a feature: index, search and a chat turn, typed or spoken, work with every non-loopback
socket refused."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import EXIF_PHOTOS, ROOT, TINY_CLIP_NAME
from tests.photos import write_photo
from tests.test_voice import speak


def offline(*args: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tests.support.no_network", *args]
    if os.geteuid() == 0 and shutil.which("unshare"):
        # A fresh network namespace has only a loopback device: native code cannot get out either.
        command = ["unshare", "--net", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh", *command]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def models_with_llm(tmp_path, tiny_clip_models_dir):
    """The tiny CLIP and the real 0.5B chat model in one models folder (links, nothing copied)."""
    from tests.test_llm_planner import CACHE
    from tools.models.llm_setup import assemble_llm

    models = tmp_path / "models"
    (models / "llm").mkdir(parents=True)
    (models / "clip").symlink_to(tiny_clip_models_dir / "clip")
    gguf = assemble_llm(CACHE, "0.5b", log=lambda m: None)
    (models / "llm" / gguf.name).symlink_to(gguf)
    return models


def test_index_and_search_work_with_the_network_refused(tmp_path, tiny_clip_models_dir):
    library = tmp_path / "lib"
    write_photo(library / "red.jpg", "circle", "red", seed=1)
    write_photo(library / "blue.jpg", "square", "blue", seed=2)
    shutil.copy2(EXIF_PHOTOS / "DSCN0010.jpg", library / "DSCN0010.jpg")
    (library / "DSCN0010.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag><rdf:li>cathedral'
        '</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')
    log = tmp_path / "network.log"
    models = models_with_llm(tmp_path, tiny_clip_models_dir)
    env = dict(os.environ, RECALL_DB=str(tmp_path / "db"), RECALL_MODELS=str(models),
               RECALL_CLIP_MODEL=TINY_CLIP_NAME, RECALL_CACHE_DIR=str(tmp_path / "cache"), NO_NETWORK_LOG=str(log))
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(key, None)  # the product itself must keep offline, not the test's environment

    indexed = offline("index", str(library), env=env)
    assert indexed.returncode == 0, indexed.stderr
    visual = offline("search", "a red circle", "--json", "-k", "1", env=env)
    assert visual.returncode == 0, visual.stderr
    assert json.loads(visual.stdout.splitlines()[0])["path"].endswith("red.jpg")
    words = offline("search", "cathedral", "--near", "Arezzo", "--json", env=env)
    assert words.returncode == 0 and "DSCN0010.jpg" in words.stdout
    status = offline("status", env=env)
    assert status.returncode == 0
    chat = offline("ask", "the cathedral in Arezzo", "--session", "private", "--json", env=env)
    assert chat.returncode == 0 and chat.stdout.startswith("{"), (chat.stdout[-3000:], chat.stderr[-3000:])
    reply = json.loads(chat.stdout)
    assert reply["planner"] == "llm", reply["notices"]  # the local LLM planned this turn
    assert reply["results"][0]["path"].endswith("DSCN0010.jpg")
    spoken = offline("ask", "--audio", str(speak("a photo of the old cathedral", tmp_path / "memo.wav")),
                     "--session", "private-voice", "--json", env=env)
    assert spoken.returncode == 0, spoken.stderr
    heard = json.loads(spoken.stdout)
    assert "cathedral" in heard["transcript"]["text"].lower()
    assert heard["results"][0]["path"].endswith("DSCN0010.jpg")
    app = offline("chat-pilot", "the cathedral in Arezzo", "--audio", str(tmp_path / "memo.wav"), env=env)
    assert app.returncode == 0, app.stderr[-3000:]
    shown = json.loads(app.stdout.splitlines()[-1])
    assert shown["llm"] and shown["errors"] == [] and shown["typed"][0].endswith("DSCN0010.jpg")
    assert "cathedral" in shown["heard"].lower() and shown["spoken"][0].endswith("DSCN0010.jpg")
    assert not log.exists() or log.read_text() == "", f"network was attempted:\n{log.read_text()}"
