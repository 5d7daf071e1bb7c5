"""Synthetic CLIP checkpoints for tests and benchmarks.

No pretrained CLIP weights can be had on an offline machine, yet the product's search path
(load a Hugging Face CLIP folder, embed photos and queries, rank by cosine similarity) deserves
tests that would fail if the ranking were wrong. So this module *trains* a tiny CLIP, in about
a minute on two CPU cores, on drawings of coloured shapes paired with captions such as
"a red circle", and saves it in exactly the folder layout real weights come in
(``CLIPModel.save_pretrained`` + a fast tokenizer + ``preprocessor_config.json``). The product
then loads it through the same code path as ``openai/clip-vit-base-patch32``.

``build_random_clip`` writes the same layout with random weights (by default the real ViT-B/32
architecture): speed does not depend on weight values, so it serves throughput benchmarks.

Test/benchmark support only: nothing in the product imports this.
"""
from __future__ import annotations

import copy
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import AutoTokenizer, CLIPConfig, CLIPModel, PreTrainedTokenizerFast

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (235, 200, 25),
}
TEMPLATES: tuple[str, ...] = ("a {c} {s}", "a photo of a {c} {s}", "{c} {s}")
ZERO_SHOT_TEMPLATE = "a {c} {s}"

# OpenAI CLIP's normalisation, as in every released CLIP preprocessor_config.json.
CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)

# <eos> deliberately gets id 3, not 2: CLIPTextTransformer treats eos_token_id == 2 as a legacy
# config and then pools at argmax(input_ids) instead of at the first <eos>.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
EXTRA_WORDS: tuple[str, ...] = ("a", "an", "the", "photo", "picture", "image", "of")

# Small enough to train in ~a minute on 2 cores, big enough to tell 16 classes apart.
TINY_IMAGE_SIZE = 32
TINY_MAX_POSITIONS = 12


# --------------------------------------------------------------------------- drawing


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a regular shape of circumradius r, rotated by angle (radians)."""
    if shape == "square":
        radii, start, n = [r], math.pi / 4, 4
    elif shape == "triangle":
        radii, start, n = [r], -math.pi / 2, 3
    elif shape == "star":
        radii, start, n = [r, 0.45 * r], -math.pi / 2, 10
    else:
        raise ValueError(f"unknown shape {shape!r}")
    points = []
    for k in range(n):
        theta = start + angle + 2 * math.pi * k / n
        rk = radii[k % len(radii)]
        points.append((cx + rk * math.cos(theta), cy + rk * math.sin(theta)))
    return points


def _background(rng: random.Random) -> tuple[int, int, int]:
    """A light grey or off-white paper tone, so colour is carried by the shape alone."""
    level = rng.randint(200, 245)
    if rng.random() < 0.5:
        return (level, level, level)
    return (min(255, level + rng.randint(0, 10)), min(255, level + rng.randint(0, 8)), level - rng.randint(0, 12))


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 15) -> tuple[int, int, int]:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)  # type: ignore[return-value]


def draw_shape(shape: str, colour: str, size: int = 96, rng: random.Random | None = None) -> Image.Image:
    """A filled `colour` `shape` at a random place, scale and slight rotation on a noisy light
    background: an ordinary RGB image, so the product's preprocessing handles it unchanged."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    rng = rng or random.Random()
    img = Image.new("RGB", (size, size), _background(rng))
    draw = ImageDraw.Draw(img)
    r = rng.uniform(0.2, 0.4) * size
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    fill = _jitter(COLOURS[colour], rng)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, math.radians(rng.uniform(-20, 20))), fill=fill)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    # Sensor-like noise; seeded from rng so a drawing is a pure function of the rng state.
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(2, 8), (size, size, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


# --------------------------------------------------------------------------- preprocessing


def preprocess(img: Image.Image, size: int, mean: Sequence[float] = CLIP_MEAN,
               std: Sequence[float] = CLIP_STD) -> np.ndarray:
    """CLIPImageProcessor's recipe (shortest side to `size` bicubic, centre crop, /255,
    normalise) as CHW float32; training uses this too, so train and inference agree."""
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    # Same rounding as transformers' get_resize_output_image_size (int() of the long side).
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)


def preprocessor_config(size: int) -> dict:
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": size},
        "do_center_crop": True,
        "crop_size": {"height": size, "width": size},
        "resample": 3,  # PIL bicubic
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
    }


# --------------------------------------------------------------------------- tokenizer


def caption_words() -> list[str]:
    return list(EXTRA_WORDS) + list(COLOURS) + list(SHAPES)


def build_tokenizer(words: Sequence[str], model_max_length: int) -> PreTrainedTokenizerFast:
    """A word-level fast tokenizer that frames every text as <bos> ... <eos>, as CLIP's BPE does."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for word in words:
        vocab.setdefault(word.lower(), len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>",
        pair="<bos> $A <eos> $B:1 <eos>:1",
        special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        model_max_length=model_max_length,
    )


def _align_token_ids(config: CLIPConfig, tokenizer: PreTrainedTokenizerFast) -> None:
    """Point the text tower at our tokenizer's ids: it pools the hidden state at eos_token_id."""
    text = config.text_config
    if len(tokenizer) > text.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but text vocab_size is {text.vocab_size}")
    text.bos_token_id = tokenizer.bos_token_id
    text.eos_token_id = tokenizer.eos_token_id
    text.pad_token_id = tokenizer.pad_token_id


def _save_folder(out_dir: Path, model: CLIPModel, tokenizer: PreTrainedTokenizerFast) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    size = model.config.vision_config.image_size
    (out_dir / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(size), indent=2) + "\n")
    return out_dir


# --------------------------------------------------------------------------- training


def tiny_config(tokenizer: PreTrainedTokenizerFast) -> CLIPConfig:
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 2,
            "max_position_embeddings": TINY_MAX_POSITIONS,
            # Given here as well as by _align_token_ids: CLIPConfig validates them on construction.
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "image_size": TINY_IMAGE_SIZE, "patch_size": 8, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 2,
        },
        projection_dim=32,
        logit_scale_init_value=2.6592,  # CLIP's log(1/0.07)
    )
    _align_token_ids(config, tokenizer)
    return config


@dataclass
class _Pool:
    """Pre-drawn, pre-processed training images: drawing every step would dominate the budget."""
    pixels: torch.Tensor  # (N, 3, S, S)
    labels: torch.Tensor  # (N,) index into _classes()


def _classes() -> list[tuple[str, str]]:
    return [(c, s) for c in COLOURS for s in SHAPES]


def _draw_pool(n: int, size: int, rng: random.Random) -> _Pool:
    classes = _classes()
    labels = [k % len(classes) for k in range(n)]  # balanced, order irrelevant: batches sample
    pixels = np.stack([preprocess(draw_shape(s, c, rng=rng), size) for c, s in (classes[k] for k in labels)])
    return _Pool(torch.from_numpy(pixels), torch.tensor(labels))


def _caption_table(tokenizer: PreTrainedTokenizerFast, max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids for every (class, template): row = class * len(TEMPLATES) + template."""
    texts = [t.format(c=c, s=s) for c, s in _classes() for t in TEMPLATES]
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def features(output: object) -> torch.Tensor:
    """get_*_features returns a tensor in transformers 4 and a model output in 5."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _contrastive_loss(model: CLIPModel, pixels: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    img = F.normalize(features(model.get_image_features(pixel_values=pixels)), dim=-1)
    txt = F.normalize(features(model.get_text_features(input_ids=ids, attention_mask=mask)), dim=-1)
    logits = model.logit_scale.exp() * img @ txt.T
    target = torch.arange(len(img))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _train(model: CLIPModel, pool: _Pool, captions: tuple[torch.Tensor, torch.Tensor], steps: int,
           batch: int, lr: float, gen: torch.Generator) -> None:
    ids_table, mask_table = captions
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    # Warm up then cosine decay: a short run needs the high rate early and a settled model at the end.
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(pool.labels), (batch,), generator=gen)
        pixels = pool.pixels[idx]
        flip = torch.rand(batch, generator=gen) < 0.5  # mirror images: free, label-preserving variety
        pixels = torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)
        rows = pool.labels[idx] * len(TEMPLATES) + torch.randint(len(TEMPLATES), (batch,), generator=gen)
        loss = _contrastive_loss(model, pixels, ids_table[rows], mask_table[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():  # CLIP clamps the temperature at 100
            model.logit_scale.clamp_(0, math.log(100))
    model.eval()


def build_tiny_clip(out_dir: Path, steps: int = 1200, seed: int = 0, *, pool_size: int = 4000,
                    batch: int = 128, lr: float = 2e-3) -> Path:
    """Train a tiny CLIP on coloured-shape drawings and save it as a CLIP model folder."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the budget is set for 2 cores; also keeps runs comparable
    try:
        tokenizer = build_tokenizer(caption_words(), TINY_MAX_POSITIONS)
        model = CLIPModel(tiny_config(tokenizer))
        pool = _draw_pool(pool_size, TINY_IMAGE_SIZE, rng)
        _train(model, pool, _caption_table(tokenizer, TINY_MAX_POSITIONS), steps, batch, lr, gen)
        return _save_folder(Path(out_dir), model, tokenizer)
    finally:
        torch.set_num_threads(threads)


def build_random_clip(out_dir: Path, config: CLIPConfig | None = None, seed: int = 0) -> Path:
    """A randomly initialised CLIP (default: ViT-B/32's architecture) in the same folder format."""
    config = copy.deepcopy(config) if config is not None else CLIPConfig()
    tokenizer = build_tokenizer(caption_words(), config.text_config.max_position_embeddings)
    _align_token_ids(config, tokenizer)
    torch.manual_seed(seed)
    return _save_folder(Path(out_dir), CLIPModel(config).eval(), tokenizer)


# --------------------------------------------------------------------------- evaluation


def load_folder(model_dir: Path) -> tuple[CLIPModel, PreTrainedTokenizerFast, dict]:
    """Load a saved folder the way the product does, so checks cover the checkpoint itself."""
    model = CLIPModel.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pre = json.loads((Path(model_dir) / "preprocessor_config.json").read_text())
    return model, tokenizer, pre


@torch.inference_mode()
def embed_images(model: CLIPModel, pre: dict, images: Sequence[Image.Image]) -> torch.Tensor:
    size = pre["crop_size"]["height"]
    pixels = torch.from_numpy(np.stack([preprocess(im, size, pre["image_mean"], pre["image_std"]) for im in images]))
    return F.normalize(features(model.get_image_features(pixel_values=pixels)), dim=-1)


@torch.inference_mode()
def embed_texts(model: CLIPModel, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> torch.Tensor:
    enc = tokenizer(list(texts), padding=True, truncation=True,
                    max_length=model.config.text_config.max_position_embeddings, return_tensors="pt")
    out = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    return F.normalize(features(out), dim=-1)


@dataclass
class ZeroShot:
    joint: float  # colour and shape both right
    colour: float
    shape: float


def zero_shot_accuracy(model_dir: Path, n: int = 100, seed: int = 12345) -> ZeroShot:
    """Classify n fresh drawings against prompts for every colour x shape from the saved folder."""
    model, tokenizer, pre = load_folder(model_dir)
    classes = _classes()
    rng = random.Random(seed)
    truth = [classes[rng.randrange(len(classes))] for _ in range(n)]
    images = [draw_shape(s, c, rng=rng) for c, s in truth]
    prompts = [ZERO_SHOT_TEMPLATE.format(c=c, s=s) for c, s in classes]
    best = (embed_images(model, pre, images) @ embed_texts(model, tokenizer, prompts).T).argmax(dim=1)
    guesses = [classes[int(k)] for k in best]
    return ZeroShot(
        joint=sum(g == t for g, t in zip(guesses, truth)) / n,
        colour=sum(g[0] == t[0] for g, t in zip(guesses, truth)) / n,
        shape=sum(g[1] == t[1] for g, t in zip(guesses, truth)) / n,
    )


if __name__ == "__main__":  # manual tuning aid: python -m tests.support.synthetic_clip OUT_DIR
    import sys
    import tempfile

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    start = time.perf_counter()
    build_tiny_clip(target)
    print(f"built in {time.perf_counter() - start:.1f}s -> {target}")
    print(zero_shot_accuracy(target, n=1000))
