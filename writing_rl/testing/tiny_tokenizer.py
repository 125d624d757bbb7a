"""Build a small byte-level BPE tokenizer (and a tiny Qwen2 on it) locally, for tests, dry runs and --cpu-smoke."""

from __future__ import annotations

import os

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = [
    "Write a short story about a lighthouse keeper who finds a letter.",
    "The quick brown fox jumps over the lazy dog. VERDICT: A B TIE",
    "请写一篇关于春天的散文，大约八百字。写作 风格 结构 语言",
    "<think>plan the essay</think><answer>The essay itself.</answer>",
] * 50


def build_tiny_tokenizer(out_dir: str, vocab_size: int = 600) -> str:
    """Train and save the tokenizer under ``out_dir``; returns the directory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    os.makedirs(out_dir, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|pad|>", "<|user|>", "<|system|>", "<|assistant|>", "<|end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", bos_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return out_dir


def build_tiny_model_dir(out_dir: str) -> str:
    """A model folder verl can validate against: the tiny tokenizer plus a tiny Qwen2 ``config.json``.

    No weights are written; config validation and tokenizer loading need none.
    """
    from transformers import Qwen2Config

    build_tiny_tokenizer(out_dir)
    Qwen2Config(
        vocab_size=640, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True,
        architectures=["Qwen2ForCausalLM"],
    ).save_pretrained(out_dir)
    return out_dir


def build_tiny_model(out_dir: str, *, seed: int = 0, dtype: str = "bfloat16", max_positions: int = 8192) -> str:
    """A tiny Qwen2 causal LM with real (random) weights that vLLM's CPU build can serve and verl can train.

    hidden 64, 2 attention heads and 1 KV head of head_dim 32 (vLLM's CPU attention needs >= 32),
    2 layers, vocab 640 (covers the tiny tokenizer's 600), tied embeddings: about 115k parameters.
    Writes ``config.json``, ``generation_config.json``, ``model.safetensors`` and the tiny tokenizer
    into ``out_dir``; the same ``seed`` gives the same weights. Returns ``out_dir``.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    build_tiny_tokenizer(out_dir)
    cfg = Qwen2Config(
        vocab_size=640, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=32, max_position_embeddings=max_positions, tie_word_embeddings=True,
        architectures=["Qwen2ForCausalLM"], eos_token_id=0, pad_token_id=1, bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = 0
    model.generation_config.pad_token_id = 1
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m writing_rl.testing.tiny_tokenizer OUT_DIR``: write the tiny model (weights + tokenizer)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m writing_rl.testing.tiny_tokenizer OUT_DIR", file=sys.stderr)
        return 2
    print(build_tiny_model(args[0], dtype="float32"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
