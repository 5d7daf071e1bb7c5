"""The one settings object: flags over RECALL_ variables over defaults, converted and checked."""
from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.settings import load_settings


def test_variables_set_fields_converted_and_flags_win(monkeypatch, tmp_path):
    for name in ("RECALL_DB", "RECALL_MODELS", "RECALL_MODELS_DIR", "RECALL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RECALL_ANALYZE_OCR", "false")
    monkeypatch.setenv("recall_clip_batch_size", "8")  # any case, as pydantic-settings read it
    monkeypatch.setenv("RECALL_RAY_WORKERS", "3")
    monkeypatch.setenv("RECALL_CLIP_RUNTIME", "torch")
    monkeypatch.setenv("RECALL_SERVICE", "off")  # not a field: ignored here
    settings = load_settings()
    assert settings.analyze_ocr is False and settings.clip_batch_size == 8 and settings.ray_workers == 3
    assert settings.clip_runtime == "torch"
    assert settings.db == tmp_path / "data" / "db"  # the default follows the data folder
    assert load_settings(db=tmp_path / "elsewhere", clip_batch_size=4).db == tmp_path / "elsewhere"
    assert load_settings(clip_batch_size=None).clip_batch_size == 8  # None: not given
    monkeypatch.setenv("RECALL_MODELS_DIR", str(tmp_path / "long"))
    assert load_settings().models_dir == tmp_path / "long"
    monkeypatch.setenv("RECALL_MODELS", str(tmp_path / "short"))
    assert load_settings().models_dir == tmp_path / "short"
    assert load_settings(models_dir=tmp_path / "flag").models_dir == tmp_path / "flag"
    assert isinstance(load_settings().cache_dir, Path)


def test_a_bad_value_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("RECALL_CLIP_RUNTIME", "gpu-please")
    with pytest.raises(ValidationError, match="clip_runtime"):
        load_settings()
    monkeypatch.setenv("RECALL_CLIP_RUNTIME", "auto")
    monkeypatch.setenv("RECALL_RAY_WORKERS", "0")
    with pytest.raises(ValidationError, match="ray_workers"):
        load_settings()
