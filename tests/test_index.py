"""Indexing: incremental, resumable, and unbroken by bad input."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import EXIF_PHOTOS, ROOT, copy_exif_photos
from tests.photos import write_photo
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.index.store import PhotoStore


def run_index(settings, paths, limit=None):
    store = PhotoStore(settings)
    models = Models(settings)
    report = Indexer(settings, store, models).run(paths, limit=limit)
    return report, store, models


def paths_in(store: PhotoStore) -> set[str]:
    return {Path(p).name for p in store.file_table()}


def test_camera_photos_get_dates_cameras_and_places(make_settings, tmp_path):
    report, store, _ = run_index(make_settings(), [EXIF_PHOTOS])
    assert report.new == 14 and report.skipped == 0
    records = {Path(r.path).name: r for r in store.iter_photos()}
    walk = records["DSCN0010.jpg"]
    assert walk.taken_at.isoformat() == "2008-10-22T16:28:39" and walk.date_source == "exif"
    assert walk.camera == "NIKON COOLPIX P6000"
    assert (walk.city, walk.region, walk.country_code) == ("Arezzo", "Tuscany", "IT")
    assert abs(walk.lat - 43.4674) < 1e-3 and abs(walk.lon - 11.8851) < 1e-3
    heic = records["IMG_5195.HEIC"]  # HEIC decodes, with its UTC offset kept
    assert heic.camera == "Apple iPhone 11 Pro Max" and heic.taken_at_iso.endswith("-05:00")
    assert heic.width > 0 and heic.height > 0
    assert records["87_OSError.jpg"].city == "Florence"


def test_second_run_over_unchanged_library_does_no_model_work(make_settings, tiny_clip_models_dir, library):
    for i, colour in enumerate(("red", "blue", "green")):
        write_photo(library / f"{colour}.jpg", colour=colour, seed=i)
    settings = make_settings(tiny_clip_models_dir)
    first, _, _ = run_index(settings, [library])
    assert first.new == 3 and first.clip_embedded == 3
    second, store, models = run_index(settings, [library])
    assert second.unchanged == 3 and second.new == 0 and second.model_work == 0
    assert models.loaded == []  # nothing to do: no model was even loaded
    assert store.count() == 3


def test_moved_and_renamed_photos_keep_their_index_entry(make_settings, tiny_clip_models_dir, library):
    write_photo(library / "a.jpg", colour="red", seed=1)
    write_photo(library / "b.jpg", colour="blue", seed=2)
    settings = make_settings(tiny_clip_models_dir)
    run_index(settings, [library])
    (library / "sub").mkdir()
    os.rename(library / "a.jpg", library / "sub" / "renamed.jpg")
    report, store, _ = run_index(settings, [library])
    assert report.moved == 1 and report.new == 0 and report.removed == 0 and report.model_work == 0
    assert paths_in(store) == {"renamed.jpg", "b.jpg"}


def test_deleted_photos_leave_the_index_and_other_roots_are_kept(make_settings, library, tmp_path):
    write_photo(library / "a.jpg", seed=1)
    write_photo(library / "b.jpg", seed=2)
    other = tmp_path / "other"
    write_photo(other / "c.jpg", seed=3)
    settings = make_settings()
    run_index(settings, [library, other])
    (library / "a.jpg").unlink()
    report, store, _ = run_index(settings, [library])  # indexing one root never prunes another
    assert report.removed == 1
    assert paths_in(store) == {"b.jpg", "c.jpg"}


def test_missing_root_deletes_nothing(make_settings, library):
    write_photo(library / "a.jpg", seed=1)
    settings = make_settings()
    run_index(settings, [library])
    shutil.rmtree(library)  # an unplugged drive looks like this
    report, store, _ = run_index(settings, [library])
    assert report.removed == 0 and store.count() == 1
    assert any(p.reason == "no such folder" for p in report.problems)


def test_duplicate_file_is_indexed_once(make_settings, library):
    write_photo(library / "a.jpg", seed=1)
    shutil.copy2(library / "a.jpg", library / "copy.jpg")
    report, store, _ = run_index(make_settings(), [library])
    assert store.count() == 1
    assert [p.reason.startswith("duplicate of") for p in report.problems] == [True]


def _bad_library(folder: Path) -> dict[str, str]:
    """Hostile files, and the start of the reason each must be skipped with."""
    good = write_photo(folder / "good.jpg", seed=1)
    data = good.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not a picture\n")
    (folder / "garbage.png").write_bytes(os.urandom(4096))
    # A real 20000x20000 PNG (1-bit, so it is small on disk): the decompression-bomb guard.
    Image.new("1", (20000, 20000)).save(folder / "huge.png")
    return {"truncated.jpg": "truncated image", "empty.jpg": "not an image", "notes.jpg": "not an image",
            "garbage.png": "not an image", "huge.png": "image too large"}


def test_bad_files_are_skipped_with_reasons_and_the_run_goes_on(make_settings, library):
    expected = _bad_library(library)
    write_photo(library / "no_exif.jpg", seed=5)
    write_photo(library / "nan_gps.jpg", seed=6, gps=(float("nan"), 11.0), taken="2099:01:01 00:00:00")
    write_photo(library / "lat999.jpg", seed=7, gps=(999.0, 11.0), taken="0000:00:00 00:00:00")
    write_photo(library / "old.jpg", seed=8, taken="1901:05:06 07:08:09", gps=(43.4633, 11.8797))
    shutil.copy2(EXIF_PHOTOS / "87_OSError.jpg", library / "87_OSError.jpg")
    shutil.copy2(EXIF_PHOTOS / "IMG_5195.HEIC", library / "IMG_5195.HEIC")
    report, store, _ = run_index(make_settings(), [library])

    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert set(reasons) == set(expected)
    for name, start in expected.items():
        assert reasons[name].startswith(start), (name, reasons[name])
    records = {Path(r.path).name: r for r in store.iter_photos()}
    assert set(records) == {"good.jpg", "no_exif.jpg", "nan_gps.jpg", "lat999.jpg", "old.jpg",
                            "87_OSError.jpg", "IMG_5195.HEIC"}
    assert records["no_exif.jpg"].date_source == "file" and records["no_exif.jpg"].lat is None
    assert records["nan_gps.jpg"].lat is None and records["nan_gps.jpg"].date_source == "file"
    assert "date out of range" in records["nan_gps.jpg"].notes
    assert records["lat999.jpg"].lat is None and "impossible GPS" in records["lat999.jpg"].notes
    assert records["old.jpg"].taken_at.year == 1901 and records["old.jpg"].city == "Arezzo"
    # The skipped files are remembered with their reasons, and not retried while unchanged.
    assert {Path(p): s.reason for p, s in store.skipped_table().items()}.keys() >= {library / n for n in expected}
    again, _, _ = run_index(make_settings(), [library])
    assert again.still_skipped == len(expected) and again.skipped == 0


def test_fixed_file_leaves_the_skipped_list(make_settings, library):
    broken = library / "photo.jpg"
    broken.write_bytes(b"")
    settings = make_settings()
    run_index(settings, [library])
    write_photo(broken, seed=3)
    report, store, _ = run_index(settings, [library])
    assert report.new == 1 and store.skipped_table() == {}


def test_symlink_loops_and_empty_libraries(make_settings, library):
    write_photo(library / "sub" / "a.jpg", seed=1)
    os.symlink(library, library / "sub" / "loop")
    report, store, _ = run_index(make_settings(), [library])
    assert report.new == 1 and store.count() == 1
    empty = library.parent / "empty"
    empty.mkdir()
    report, store, _ = run_index(make_settings(), [empty])
    assert report.files_seen == 0 and report.new == 0 and store.count() == 1


def test_unreadable_folder_is_reported_and_the_rest_indexed(tmp_path):
    library = tmp_path / "lib"
    write_photo(library / "ok.jpg", seed=1)
    write_photo(library / "locked" / "secret.jpg", seed=2)
    db = tmp_path / "db"
    (library / "locked").chmod(0o000)
    prefix = []
    if os.geteuid() == 0:  # root reads any folder; drop the capabilities that let it
        prefix = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search", "--"]
        assert prefix[0], "setpriv (util-linux) is needed to test permissions as root"
    env = dict(os.environ, RECALL_DB=str(db), RECALL_MODELS=str(tmp_path / "m"), RECALL_CLIP_MODEL="absent")
    try:
        result = subprocess.run(prefix + [sys.executable, "-m", "recall", "index", str(library), "--json"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        (library / "locked").chmod(0o755)
    assert result.returncode == 0, result.stderr
    status = subprocess.run([sys.executable, "-m", "recall", "status", "--json"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert '"photos": 1' in status.stdout
    assert "unreadable folder" in status.stdout and "locked" in status.stdout


def _index_command(library: Path, db: Path, models: Path) -> tuple[list[str], dict]:
    env = dict(os.environ, RECALL_DB=str(db), RECALL_MODELS=str(models), RECALL_CLIP_MODEL="tiny-shapes-clip",
               RECALL_WRITE_BATCH_SIZE="4", RECALL_CLIP_BATCH_SIZE="4", PYTHONUNBUFFERED="1")
    return [sys.executable, "-m", "recall", "index", str(library)], env


def _wait_for_photos(db_settings, at_least: int, process: subprocess.Popen, timeout: float = 240) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            count = PhotoStore(db_settings).count()
        except Exception:  # noqa: BLE001 - the writer may hold the database for a moment
            count = 0
        if count >= at_least:
            return count
        time.sleep(0.3)
    raise AssertionError("indexing did not make progress")


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_interrupted_run_loses_nothing_and_resumes(how, make_settings, tiny_clip_models_dir, library, tmp_path):
    total = 160
    for i in range(total):
        write_photo(library / f"p{i:03d}.jpg", colour=("red", "blue", "green", "yellow")[i % 4],
                    shape=("circle", "square", "triangle")[i % 3], seed=i, size=384)
    settings = make_settings(tiny_clip_models_dir)
    command, env = _index_command(library, settings.db, tiny_clip_models_dir)
    # A suite started in the background (`nohup ... &`) ignores SIGINT, and a child inherits that:
    # Python then never turns Ctrl-C into KeyboardInterrupt. A person's terminal does not.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_photos(settings, 8, process)
    process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    if how == "ctrl-c":
        assert process.returncode == 130 and "Interrupted" in stderr and "Traceback" not in stderr, (
            f"rc {process.returncode}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}")
    done_before = PhotoStore(settings).count()
    assert 0 < done_before < total, "the run should have been cut off part-way"

    report, store, _ = run_index(settings, [library])
    assert report.unchanged == done_before and report.new == total - done_before
    assert store.count() == total
    clip_ids = store.all_ids(store.vectors("clip", "tiny-shapes-clip", 32))
    assert clip_ids == store.all_ids()  # every photo has its vector, none twice


def test_clip_added_later_backfills_only_clip(make_settings, tiny_clip_models_dir, library):
    write_photo(library / "a.jpg", seed=1)
    write_photo(library / "b.jpg", seed=2, colour="blue")
    run_index(make_settings(), [library])  # no CLIP yet
    report, store, _ = run_index(make_settings(tiny_clip_models_dir), [library])
    assert report.new == 0 and report.clip_embedded == 2
    again, _, _ = run_index(make_settings(tiny_clip_models_dir), [library])
    assert again.model_work == 0


def test_limit_indexes_part_and_the_next_run_the_rest(make_settings, library):
    for i in range(5):
        write_photo(library / f"{i}.jpg", seed=i)
    first, _, _ = run_index(make_settings(), [library], limit=2)
    second, store, _ = run_index(make_settings(), [library])
    assert first.new == 2 and second.new == 3 and store.count() == 5


def test_user_captions_are_stored_and_embedded(make_settings, library):
    photo = write_photo(library / "beach.jpg", seed=1)
    (library / "beach.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>'
        '<rdf:li xml:lang="x-default">Grandma on the beach at sunset</rdf:li></rdf:Alt></dc:description>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>')
    report, store, _ = run_index(make_settings(), [library])
    record = next(store.iter_photos())
    assert record.path == str(photo) and "Grandma on the beach" in record.user_text
    assert report.text_embedded == 1
