"""The synthetic CLIP checkpoints the other tests and the benchmarks stand on.

Every check loads the *saved folder* (CLIPModel / AutoTokenizer .from_pretrained), because
that folder, not the in-memory model, is what the product will read.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, CLIPConfig, CLIPModel

from tests.support.synthetic_clip import (
    build_random_clip,
    draw_shape,
    embed_images,
    embed_texts,
    features,
    load_folder,
    preprocess,
    zero_shot_accuracy,
)


@pytest.fixture(scope="module")
def tiny_clip_dir(tiny_clip_models_dir: Path) -> Path:
    # The session's tiny CLIP (conftest), so the suite trains it once.
    from tests.conftest import TINY_CLIP_NAME

    return tiny_clip_models_dir / "clip" / TINY_CLIP_NAME


def test_zero_shot_accuracy_on_fresh_drawings(tiny_clip_dir: Path) -> None:
    # A seed the training pool never used, so this measures generalisation, not memory.
    acc = zero_shot_accuracy(tiny_clip_dir, n=100, seed=2024)
    assert acc.joint >= 0.9, acc
    assert acc.colour >= 0.97, acc


def test_caption_prefers_matching_picture(tiny_clip_dir: Path) -> None:
    model, tokenizer, pre = load_folder(tiny_clip_dir)
    rng = random.Random(7)
    images = embed_images(model, pre, [draw_shape("circle", "red", rng=rng), draw_shape("square", "blue", rng=rng)])
    texts = embed_texts(model, tokenizer, ["a red circle", "a blue square"])
    scores = texts @ images.T  # rows: texts, columns: pictures
    assert scores[0, 0] > scores[0, 1], scores
    assert scores[1, 1] > scores[1, 0], scores


def test_folder_has_loadable_clip_files(tiny_clip_dir: Path) -> None:
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
                 "tokenizer_config.json"):
        assert (tiny_clip_dir / name).is_file(), name
    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    assert tok.is_fast
    ids = tok("a photo of a red circle")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    # Truncation must keep the closing <eos>: the text tower pools there.
    max_len = CLIPConfig.from_pretrained(tiny_clip_dir).text_config.max_position_embeddings
    long = tok("a " * 50 + "red circle", truncation=True, max_length=max_len)["input_ids"]
    assert len(long) == max_len and long[-1] == tok.eos_token_id


def test_text_tower_pools_at_eos(tiny_clip_dir: Path) -> None:
    model, tok, _ = load_folder(tiny_clip_dir)
    text_config = model.config.text_config
    assert text_config.eos_token_id == tok.eos_token_id
    assert text_config.eos_token_id != 2  # 2 switches transformers to legacy argmax(input_ids) pooling
    enc = tok(["a red circle", "a photo of a blue star"], padding="max_length", truncation=True,
              max_length=text_config.max_position_embeddings, return_tensors="pt")
    with torch.inference_mode():
        out = model.text_model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        eos_pos = (enc["input_ids"] == tok.eos_token_id).int().argmax(dim=-1)
        torch.testing.assert_close(out.pooler_output, out.last_hidden_state[torch.arange(2), eos_pos])
        # The product may pad to max_length or to the longest text: both must embed alike.
        short = tok(["a red circle"], padding=True, return_tensors="pt")
        padded = {k: v[:1] for k, v in enc.items()}
        torch.testing.assert_close(features(model.get_text_features(**short)),
                                   features(model.get_text_features(**padded)))


def test_preprocess_matches_clip_image_processor(tiny_clip_dir: Path) -> None:
    # Training used preprocess(); the standard processor reading the saved config must agree.
    processor = AutoImageProcessor.from_pretrained(tiny_clip_dir)
    size = processor.crop_size["height"]
    base = draw_shape("star", "green", rng=random.Random(1))
    for wh in ((96, 96), (150, 80), (77, 131)):
        img: Image.Image = base.resize(wh)
        expected = processor(images=img, return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(preprocess(img, size, processor.image_mean, processor.image_std),
                                   expected, atol=1e-5)


def test_random_clip_has_vit_b32_shape(tmp_path: Path) -> None:
    folder = build_random_clip(tmp_path / "random_clip", CLIPConfig())
    model = CLIPModel.from_pretrained(folder).eval()
    vision = model.config.vision_config
    assert (vision.image_size, vision.patch_size) == (224, 32)
    tok = AutoTokenizer.from_pretrained(folder)
    assert model.config.text_config.eos_token_id == tok.eos_token_id
    with torch.inference_mode():
        image = features(model.get_image_features(pixel_values=torch.zeros(1, 3, 224, 224)))
        enc = tok(["a red circle"], padding="max_length", truncation=True,
                  max_length=model.config.text_config.max_position_embeddings, return_tensors="pt")
        text = features(model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]))
    assert image.shape == (1, 512)
    assert text.shape == (1, 512)
