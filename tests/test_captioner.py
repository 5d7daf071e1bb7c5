"""The Florence-2 captioner adapter, on tiny Florence-2s built here (tests/support/tiny_florence.py).

Both tiny models are real ``Florence2ForConditionalGeneration`` + ``Florence2Processor`` folders
written by ``save_pretrained`` and loaded by the adapter like real weights; every describe runs
real ``generate`` on a real Flickr8k photo read in place. The "trained" one was fitted to answer
each task with known text, so the whole generate -> decode -> parse path is checked end to end;
the random one produces garbage, which must come back as CaptionFailed, not as a caption.
"""
from __future__ import annotations

import json
import sys
import threading

import pytest
from PIL import Image

from tests.conftest import FLICKR
from tests.support.tiny_florence import TINY_OUTPUTS, build_tiny_florence
from tools.models.captioner import (CaptionFailed, Captioner, CaptionResult, captioner_folder_problem,
                                    clean_caption, clean_label, clean_ocr, trim_to_sentence)
from tools.models.clip import ModelMissing

PHOTO = FLICKR / "images" / "1056338697_4f7d7ce270.jpg"  # a blond woman hailing a taxi
OTHER_PHOTO = FLICKR / "images" / "1084040636_97d9633581.jpg"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_tiny_florence(root / "captioner" / "tiny-florence", trained=True)
    build_tiny_florence(root / "captioner" / "random-florence", trained=False)
    return root


@pytest.fixture(scope="module")
def captioner(models_dir) -> Captioner:
    return Captioner(models_dir / "captioner" / "tiny-florence", threads=2)


@pytest.fixture(scope="module")
def random_captioner(models_dir) -> Captioner:
    return Captioner(models_dir / "captioner" / "random-florence", threads=2, max_new_tokens=12)


@pytest.fixture
def photo():
    with Image.open(PHOTO) as image:
        image.load()
        yield image


def test_tiny_folder_is_a_real_florence_folder(models_dir):
    folder = models_dir / "captioner" / "tiny-florence"
    assert captioner_folder_problem(folder) is None
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "florence2" and config["text_config"]["model_type"] == "bart"
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def test_describes_a_real_photo_through_generate(captioner, photo):
    calls, described = captioner.generate_calls, captioner.photos_described
    result = captioner.describe(photo)
    assert isinstance(result, CaptionResult)
    assert result.caption == TINY_OUTPUTS["<MORE_DETAILED_CAPTION>"]
    assert result.objects == ["dog"]  # parsed from "dog<loc_..>x4" by post_process_generation
    assert result.text_in_photo == TINY_OUTPUTS["<OCR>"]
    assert 0 < result.seconds < 30
    assert captioner.generate_calls == calls + 3 and captioner.photos_described == described + 1
    assert captioner.busy_seconds >= result.seconds


def test_runs_only_the_tasks_asked_for(captioner, photo):
    calls = captioner.generate_calls
    result = captioner.describe(photo, tasks=("objects",))
    assert (result.caption, result.objects, result.text_in_photo) == ("", ["dog"], "")
    assert captioner.generate_calls == calls + 1
    with pytest.raises(ValueError):
        captioner.describe(photo, tasks=("poetry",))


def test_loads_without_torchvision(captioner):
    assert type(captioner.processor.image_processor).__name__ == "CLIPImageProcessorPil"
    assert "torchvision" not in sys.modules


def test_random_weights_give_garbage_not_a_caption(random_captioner, photo):
    failures = random_captioner.failures
    with pytest.raises(CaptionFailed) as failed:
        random_captioner.describe(photo)
    assert failed.value.kind == "garbage" and "garbage caption" in failed.value.reason
    assert random_captioner.failures == failures + 1 and random_captioner.generate_calls >= 1
    # Objects and OCR alone never fail on garbage: they come back cleaned (possibly empty).
    result = random_captioner.describe(photo, tasks=("objects", "ocr"))
    assert all(clean_label(label) == label for label in result.objects)
    assert "<" not in result.text_in_photo


def test_timeout_fails_the_photo_not_the_run(models_dir, captioner, photo):
    slow = Captioner(models_dir / "captioner" / "tiny-florence", timeout_s=1e-6)
    seen = []
    generate = slow.model.generate

    def spy(**kwargs):
        seen.append(kwargs["max_time"])
        return generate(**kwargs)

    slow.model.generate = spy
    with pytest.raises(CaptionFailed) as failed:
        slow.describe(photo)
    assert failed.value.kind == "timeout" and "timed out" in str(failed.value)
    assert len(seen) <= 1 and all(0 < limit <= 1e-6 for limit in seen)  # generate got max_time
    assert failed.value.seconds < 30
    assert captioner.describe(photo).caption  # the next photo (another captioner) is unaffected


def test_a_model_error_becomes_caption_failed(models_dir, photo, monkeypatch):
    broken = Captioner(models_dir / "captioner" / "tiny-florence")

    def boom(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(broken.model, "generate", boom)
    with pytest.raises(CaptionFailed) as failed:
        broken.describe(photo)
    assert failed.value.kind == "error" and "out of memory" in failed.value.reason
    monkeypatch.undo()
    assert broken.describe(photo, tasks=("ocr",)).text_in_photo == "STOP"


def test_threads_share_one_captioner(captioner):
    results, errors = [], []

    def work(path):
        try:
            with Image.open(path) as image:
                results.append(captioner.describe(image, tasks=("caption",)))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(path,)) for path in (PHOTO, OTHER_PHOTO)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and [r.caption for r in results] == [TINY_OUTPUTS["<MORE_DETAILED_CAPTION>"]] * 2


def test_missing_or_wrong_folders(tmp_path):
    with pytest.raises(ModelMissing, match="no folder"):
        Captioner(tmp_path / "captioner" / "Florence-2-base-ft")
    empty = tmp_path / "empty"
    empty.mkdir()
    problem = captioner_folder_problem(empty)
    assert all(name in problem for name in ("config.json", "model.safetensors", "tokenizer.json"))
    with pytest.raises(ModelMissing):
        Captioner(empty)
    for name in ("model.safetensors", "tokenizer.json", "processor_config.json"):
        (empty / name).write_text("{}")
    (empty / "config.json").write_text(json.dumps({"model_type": "clip"}))
    assert "not Florence-2" in captioner_folder_problem(empty)
    (empty / "config.json").write_text(json.dumps({"model_type": "florence2", "auto_map": {}}))
    assert "remote-code" in captioner_folder_problem(empty)


@pytest.mark.parametrize("raw,expected", [
    ("</s><s>A woman stands on a street corner.</s>", "A woman stands on a street corner."),
    ("<MORE_DETAILED_CAPTION>The image shows a dog.", "The image shows a dog."),
    ("  a   dog\n running  <pad><pad>", "a dog running"),
    ("Café terrace at night", "Café terrace at night"),
    ("A 1960s car parked near 3 trees.", "A 1960s car parked near 3 trees."),
    ("", None),
    (None, None),
    ("</s><s></s><pad>", None),
    ("<loc_1><loc_2><loc_3><loc_4>", None),
    ("...,,,!!", None),
    ("the the the the", None),
    ("dog dog dog", None),
    ("the dog the dog the dog the dog the dog", None),
    ("12 34 56 78 9a", None),
    ("#$%^& a ()*&^%$", None),
    ("a", None),
    ("\ufffd\ufffd\ufffd ab", None),
    ("A dog. " * 400, None),
])
def test_clean_caption(raw, expected):
    assert clean_caption(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("dog", "dog"), (" Traffic light ", "traffic light"), ("<od>car", "car"),
    ("", None), ("<loc_3>", None), ("1234", None), ("x" * 60, None),
])
def test_clean_label(raw, expected):
    assert clean_label(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("</s><s>STOP</s>", "STOP"), ("EXIT 42", "EXIT 42"), ("2019", "2019"),
    ("<pad>", ""), ("ab ab ab ab ab", ""), ("A" * 2000, ""),
])
def test_clean_ocr(raw, expected):
    assert clean_ocr(raw) == expected


def test_trim_to_sentence():
    assert trim_to_sentence("A dog runs. It jumps over a") == "A dog runs."
    assert trim_to_sentence("A dog runs. It jumps.") == "A dog runs. It jumps."
    assert trim_to_sentence("A dog runs on the") == "A dog runs on the"
