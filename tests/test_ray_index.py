"""`recall index --ray`: the model work on a local Ray cluster (127.0.0.1, 2 workers) writing into a
Chroma server gives the index a local run gives; a second run finds nothing to do; a run
without --ray never imports Ray."""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXIF_PHOTOS, FACES, ROOT, TINY_CLIP_NAME
from tests.support.chroma_server import chroma_server  # noqa: F401 - a fixture

FACE_PHOTOS = ["couple.jpg", "img1.jpg", "img10.jpg", "img11.jpg"]  # one with two faces, and one person twice


def _library(folder: Path) -> Path:
    """14 camera photos (dates, GPS; the 15th is a copy of another) and 4 with faces."""
    folder.mkdir()
    for photo in EXIF_PHOTOS.iterdir():
        shutil.copy2(photo, folder / photo.name)
    for name in FACE_PHOTOS:
        shutil.copy2(FACES / "images" / name, folder / f"face-{name}")
    return folder


def _recall(env: dict, *args: str, watch_listeners: set | None = None) -> subprocess.CompletedProcess:
    """Runs `recall`; with ``watch_listeners``, adds to it what the run's processes listen on, as it runs."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    if watch_listeners is not None:
        while child.poll() is None:
            watch_listeners |= _listening(child.pid)
            time.sleep(1.0)
    out, err = child.communicate(timeout=600)
    print(f"recall {' '.join(args[:1] + args[2:])}: {time.perf_counter() - started:.1f} s")
    assert child.returncode == 0, err
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def _listening(root: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening in ``root`` or a process below it (Ray's own)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    family, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in family]
        family.update(frontier)
    inodes = set()
    for pid in family:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                address, port = cols[1].split(":")
                raw = bytes.fromhex(address)
                # /proc/net/tcp* hold each 32-bit word in host (little-endian) order
                ip = ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                    ip = ip.ipv4_mapped
                found.add((str(ip), int(port, 16)))
    return found


def _index(settings) -> tuple[dict, dict, list]:
    """Records, CLIP vectors and people of an index, as comparable values."""
    from tools.index.store import PhotoStore
    from tools.understand.people import PeopleBook

    store = PhotoStore(settings, mode="read", create=False)
    records = {r.id: r for r in store.iter_photos()}
    (clip_name,) = [name for name in store.vector_collections() if name.startswith("clip-")]
    vectors = store.get_vectors(store.client.get_collection(clip_name), sorted(records))
    people = sorted((p.count, len(p.photos)) for p in PeopleBook(store).list())
    return records, vectors, people


@pytest.fixture(scope="module")
def ray_env():
    return dict(os.environ, PYTHONPATH=str(ROOT), RECALL_RAY_WORKERS="2", RECALL_CLIP_MODEL=TINY_CLIP_NAME,
                RECALL_ANALYZE_OCR="false")  # OCR: ~0.4 s a photo here, and no different in kind


def test_ray_index_equals_a_local_index(chroma_server, tmp_path, tiny_clip_models_dir, ray_env):
    from tools.settings import load_settings

    library = _library(tmp_path / "library")
    env = dict(ray_env, RECALL_MODELS_DIR=str(tiny_clip_models_dir), RECALL_DB=str(tmp_path / "unused"))
    listeners: set = set()
    on_ray = json.loads(_recall(env, "index", str(library), "--chroma-url", chroma_server, "--ray", "--json",
                                watch_listeners=listeners).stdout)
    assert len(listeners) >= 4  # the GCS, the raylet, the workers: they were seen
    assert all(ipaddress.ip_address(ip).is_loopback for ip, _ in listeners), listeners
    local = json.loads(_recall(env, "index", str(library), "--db", str(tmp_path / "local"), "--json").stdout)
    assert on_ray["index"]["new"] == local["index"]["new"] == 18
    assert on_ray["analysis"]["photos"] == local["analysis"]["photos"] == 18
    assert on_ray["analysis"]["failed"] == [] and on_ray["analysis"]["off"] == local["analysis"]["off"]

    ray_records, ray_vectors, ray_people = _index(load_settings(chroma_url=chroma_server,
                                                                models_dir=tiny_clip_models_dir))
    local_records, local_vectors, local_people = _index(load_settings(db=tmp_path / "local",
                                                                      models_dir=tiny_clip_models_dir))
    assert ray_records.keys() == local_records.keys()
    for id_, here in local_records.items():
        there = ray_records[id_]
        fields = ("path", "taken_at", "date_source", "place", "camera", "faces", "analyzed", "event_id",
                  "user_text", "dhash", "burst_id")
        assert {f: getattr(there, f) for f in fields} == {f: getattr(here, f) for f in fields}, here.path
        assert len(there.people) == len(here.people), here.path
        # Tags with a score (CLIP zero-shot, scenes) may differ in the last digits: names must not.
        assert sorted(there.tags) == sorted(here.tags), here.path
        np.testing.assert_allclose(ray_vectors[id_], local_vectors[id_], atol=1e-5)
    assert sum(r.faces for r in ray_records.values()) >= 4
    assert ray_people == local_people and ray_people  # the same people, of the same sizes

    again = json.loads(_recall(env, "index", str(library), "--chroma-url", chroma_server, "--ray", "--json").stdout)
    assert again["index"]["new"] == 0 and again["index"]["unchanged"] == 18
    assert again["analysis"]["photos"] == 0


def test_without_ray_nothing_imports_it(tmp_path):
    probe = ("import sys, runpy; sys.argv = ['recall', 'index', sys.argv[1], '--quick', '--db', sys.argv[2]]\n"
             "try:\n    runpy.run_module('recall', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('ray' in sys.modules)")
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy2(sorted(EXIF_PHOTOS.iterdir())[0], library)
    done = subprocess.run([sys.executable, "-c", probe, str(library), str(tmp_path / "db")], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_missing_ray_is_a_one_line_error(tmp_path):
    probe = ("import sys, runpy; sys.modules['ray'] = None  # as where photo-recall[scale] is not installed\n"
             "sys.argv = ['recall', 'index', sys.argv[1], '--ray', '--db', sys.argv[2]]\n"
             "runpy.run_module('recall', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", probe, str(EXIF_PHOTOS), str(tmp_path / "db")], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "pip install photo-recall[scale]" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
