"""A tiny Florence-2 made here, offline, saved exactly like a real one.

No Florence-2 weights exist on this machine and nothing may be downloaded, so the tests build one:
the real transformers classes (``Florence2ForConditionalGeneration`` with a DaViT vision tower and
a BART encoder-decoder, ``Florence2Processor`` with the PIL CLIP image processor and a byte-level
BPE BART tokenizer) at toy sizes, saved with ``save_pretrained`` so that the adapter loads it
through the same code as real weights.

The tokenizer is a byte-level BPE trained with the ``tokenizers`` library on a few sentences
(every byte is in its alphabet, so any text encodes), wrapped in ``BartTokenizer`` with BART's
special tokens (<s>=0, <pad>=1, </s>=2, <unk>=3), Florence's ``<image>`` placeholder and its added
tokens (``<loc_0>``..``<loc_999>``, ``<od>``, ``<ocr>``, ...). Images are 64x64, which the vision
tower (total stride 32) turns into 2x2 features, so each prompt carries 1 + 4 image tokens.

``trained=False`` leaves the random weights (its output is garbage, usually an immediate ``</s>``).
``trained=True`` then fits the decoder for a few seconds so that, whatever the image, the caption
prompt yields :data:`TINY_OUTPUTS` ["<MORE_DETAILED_CAPTION>"], ``<OD>`` yields a dog box and
``<OCR>`` yields "STOP": the real generate/decode/parse path then produces known, checkable text.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SIZE = 64
IMAGE_SEQ_LENGTH = 1 + (IMAGE_SIZE // 32) ** 2

TINY_OUTPUTS = {
    "<MORE_DETAILED_CAPTION>": "A brown dog runs on the green grass.",
    "<OD>": "dog<loc_120><loc_200><loc_700><loc_900>",
    "<OCR>": "STOP",
}

FLORENCE_ADDED_TOKENS = (
    ["<od>", "</od>", "<ocr>", "</ocr>"] + [f"<loc_{i}>" for i in range(1000)]
    + ["<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>", "</dcap>", "<grounding>", "</grounding>",
       "<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>", "<region_to_desciption>",
       "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>", "</poly>", "<and>"])

_CORPUS = [
    "What is the text in the image?",
    "Describe with a paragraph what is shown in the image.",
    "Locate the objects with category name in the image.",
    "What does the image describe?",
    "A brown dog runs on the green grass.",
    "A man rides a bicycle down the street next to a red car.",
    "Two children play in the water at the beach.",
    "A woman in a blue shirt waits for a taxi in the city.",
    "dog person bicycle car STOP OPEN EXIT",
]

POST_PROCESSOR_CONFIG = {
    "ocr": {"pattern": r"(.+?)<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>",
            "area_threshold": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
    "pure_text": {}, "description_with_bboxes": {}, "description_with_polygons": {}, "polygons": {},
    "bboxes": {}, "description_with_bboxes_or_polygons": {},
}


def _tokenizer():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_CORPUS * 3, vocab_size=400, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    merges = json.loads(bpe._tokenizer.to_str())["model"]["merges"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    tokenizer = BartTokenizer(vocab=bpe.get_vocab(), merges=merges,
                              extra_special_tokens={"image_token": "<image>"})
    tokenizer.add_tokens(FLORENCE_ADDED_TOKENS, special_tokens=True)
    return tokenizer


def _processor(tokenizer):
    from transformers import Florence2Processor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    image_processor = CLIPImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_center_crop=False,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], resample=3)
    image_processor.image_seq_length = IMAGE_SEQ_LENGTH
    return Florence2Processor(image_processor=image_processor, tokenizer=tokenizer,
                              post_processor_config=POST_PROCESSOR_CONFIG)


def _model(tokenizer):
    from transformers import BartConfig, Florence2Config, Florence2ForConditionalGeneration

    text = BartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=128, bos_token_id=0, pad_token_id=1, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=2)
    vision = dict(depths=[1, 1, 1, 1], embed_dim=[8, 16, 24, 32], num_heads=[1, 2, 3, 4],
                  num_groups=[1, 2, 3, 4], window_size=4, projection_dim=32,
                  max_position_embeddings=IMAGE_SIZE // 32 + 2, max_temporal_embeddings=4,
                  drop_path_rate=0.0)
    config = Florence2Config(text_config=text.to_dict(), vision_config=vision,
                             image_token_id=tokenizer.image_token_id)
    return Florence2ForConditionalGeneration(config).eval()


def _decodes_to_targets(model, processor) -> bool:
    """Whether greedy decoding gives back exactly TINY_OUTPUTS (else the tests would be flaky)."""
    import torch

    with torch.inference_mode():
        for prompt, expected in TINY_OUTPUTS.items():
            inputs = processor(text=prompt, images=Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE)),
                               return_tensors="pt")
            ids = model.generate(**inputs, max_new_tokens=40, num_beams=1, do_sample=False)
            got = processor.batch_decode(ids, skip_special_tokens=False)[0]
            if got.replace("</s>", "").replace("<s>", "").replace("<pad>", "") != expected:
                return False
    return True


def _fit(model, processor, seed: int, max_steps: int = 300) -> None:
    """Teach the text model TINY_OUTPUTS for any image, vision tower frozen (about 50 steps)."""
    import torch

    prompts = list(TINY_OUTPUTS)
    tokenizer = processor.tokenizer
    labels = tokenizer(list(TINY_OUTPUTS.values()), padding=True, return_tensors="pt").input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(4):
        noise = Image.fromarray(rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))
        batches.append(processor(text=prompts, images=[noise] * len(prompts), return_tensors="pt",
                                 padding=True))
    frozen = list(model.model.vision_tower.parameters())
    for parameter in frozen:  # no gradients through the vision tower: faster backward passes
        parameter.requires_grad_(False)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(1, max_steps + 1):
        model.train()
        loss = model(**batches[step % len(batches)], labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 10 == 0 and loss.item() < 0.1:
            model.eval()
            if _decodes_to_targets(model, processor):
                break
    else:
        raise RuntimeError(f"the tiny Florence-2 did not learn its outputs in {max_steps} steps")
    model.eval()
    for parameter in frozen:
        parameter.requires_grad_(True)


def build_tiny_florence(out_dir: Path, trained: bool = True, seed: int = 0) -> Path:
    """Write a tiny Florence-2 folder (config, safetensors, processor, tokenizer) to ``out_dir``."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    processor = _processor(tokenizer)
    model = _model(tokenizer)
    if trained:
        threads = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            _fit(model, processor, seed)
        finally:
            torch.set_num_threads(threads)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
