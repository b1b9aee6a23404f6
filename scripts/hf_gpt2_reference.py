#!/usr/bin/python3
"""Independent reference for `kiln export --format hf`: Hugging Face's GPT-2 forward in numpy.

    scripts/hf_gpt2_reference.py MODEL_DIR --data 'shards/val_*.h5' [--max-sequences N]

Reads MODEL_DIR/config.json and MODEL_DIR/model.safetensors (parsed here: 8-byte little-endian
header length, JSON header, raw little-endian tensors) and computes, in float64, what
transformers' GPT2LMHeadModel computes from them:

    x = wte[ids] + wpe[positions]
    per block (pre-LayerNorm):   x += c_proj(attention(c_attn(ln_1(x))))
                                 x += mlp.c_proj(act(mlp.c_fc(ln_2(x))))
    Conv1D(x) = x @ W + b        with W stored (in, out)
    attention: c_attn's 3C outputs split into q | k | v, each into n_head heads of C/n_head
               consecutive channels; scores q.k / sqrt(head_dim) (scale_attn_weights), causal
               mask, softmax, weighted sum of v, heads concatenated back in order
    act:       gelu_new = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    logits = ln_f(x) @ wte.T   (tie_word_embeddings; else lm_head.weight.T)

This file is written from Hugging Face's modeling_gpt2.py semantics and the safetensors format,
not from kiln's C++: it is the second opinion that the export means what kiln trained.

The loss is mean next-token cross-entropy (nats) over the windows `kiln eval` uses (CONTRACTS §6):
consecutive, non-overlapping windows of n_positions+1 tokens from the start of each shard (/tokens,
files in sorted order; a window never spans two files), up to --max-sequences windows. Prints one
JSON line {"loss": ..., "tokens": ..., "sequences": ...}. Needs numpy and h5py (Debian's
python3-numpy and python3-h5py, which scripts/setup.sh installs). The safetensors parser, the
windows and the loss are in hf_reference_common.py, shared with hf_llama_reference.py.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference_common import main, read_safetensors  # noqa: E402  (kiln's scripts/ folder)

class Gpt2:
    """GPT2LMHeadModel's forward (eval mode: no dropout) over float64 weights."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        raw = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        # save_pretrained of GPT2LMHeadModel prefixes "transformer."; GPT2Model's files do not.
        self.w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in raw.items()}
        c = self.cfg
        self.n_layer, self.n_head = c["n_layer"], c["n_head"]
        self.n_positions = c["n_positions"]
        self.eps = c.get("layer_norm_epsilon", 1e-5)
        self.scale = c.get("scale_attn_weights", True)
        self.inverse_layer_idx = c.get("scale_attn_by_inverse_layer_idx", False)
        act = c.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"activation_function {act}: only the tanh GELU (gelu_new) is implemented")
        tied = c.get("tie_word_embeddings", True)
        self.head = self.w["wte.weight"] if tied else self.w["lm_head.weight"]  # (V, C)
        self.vocab_size = c["vocab_size"]
        if self.head.shape[0] != self.vocab_size:
            raise ValueError(f"head has {self.head.shape[0]} rows, config.json vocab_size {self.vocab_size}")

    def layernorm(self, x, prefix):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as torch.nn.LayerNorm
        return (x - mean) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def conv1d(self, x, prefix):
        return x @ self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    @staticmethod
    def gelu_new(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    def attention(self, x, layer):
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        qkv = self.conv1d(x, f"h.{layer}.attn.c_attn")                # (B, T, 3C)
        q, k, v = np.split(qkv, 3, axis=2)                             # each (B, T, C)
        heads = lambda t: t.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        q, k, v = heads(q), heads(k), heads(v)
        scores = q @ k.transpose(0, 1, 3, 2)                           # (B, nh, T, T)
        if self.scale:
            scores = scores / math.sqrt(hs)
        if self.inverse_layer_idx:
            scores = scores / float(layer + 1)
        future = np.triu(np.ones((T, T), dtype=bool), k=1)
        scores = np.where(future, -np.inf, scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p = p / p.sum(axis=-1, keepdims=True)
        y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)            # heads back in order
        return self.conv1d(y, f"h.{layer}.attn.c_proj")

    def logits(self, ids):
        """ids (B, T) int -> logits (B, T, V) float64."""
        B, T = ids.shape
        if T > self.n_positions:
            raise ValueError(f"{T} tokens exceed n_positions {self.n_positions}")
        x = self.w["wte.weight"][ids] + self.w["wpe.weight"][np.arange(T)]
        for layer in range(self.n_layer):
            x = x + self.attention(self.layernorm(x, f"h.{layer}.ln_1"), layer)
            h = self.gelu_new(self.conv1d(self.layernorm(x, f"h.{layer}.ln_2"), f"h.{layer}.mlp.c_fc"))
            x = x + self.conv1d(h, f"h.{layer}.mlp.c_proj")
        return self.layernorm(x, "ln_f") @ self.head.T


if __name__ == "__main__":
    main(Gpt2, __doc__.split("\n\n")[0], "hf_gpt2_reference")
