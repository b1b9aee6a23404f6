#!/usr/bin/python3
"""Independent reference for `kiln export --format hf` of a Llama model: LlamaForCausalLM's forward in numpy.

    scripts/hf_llama_reference.py MODEL_DIR --data 'shards/val_*.h5' [--max-sequences N]

Reads MODEL_DIR/config.json and MODEL_DIR/model.safetensors and computes, in float64, what
transformers' LlamaForCausalLM computes from them (eval mode):

    x = embed_tokens[ids]                                  (no position embedding)
    per layer (pre-RMSNorm):  x += o_proj(attention(input_layernorm(x)))
                              x += down_proj(silu(gate_proj(h)) * up_proj(h)),  h = post_attention_layernorm(x)
    RMSNorm(x) = weight * x / sqrt(mean(x^2) + rms_norm_eps)
    Linear(x) = x @ W.T          with W stored [out, in], no biases (attention_bias, mlp_bias false)
    attention: q = q_proj(x) as num_attention_heads heads of head_dim, k and v as
               num_key_value_heads heads; rotary embedding on q and k in the "rotate half" form
                   q' = q * cos + rotate_half(q) * sin,  rotate_half([x1, x2]) = [-x2, x1]
               (x1, x2 the halves of a head), cos/sin of position * inv_freq repeated over both
               halves, inv_freq_i = 1 / rope_theta^(2i / head_dim), computed in float32 as
               transformers does; key/value head g serves query heads g*G .. g*G+G-1 (repeat_kv,
               G = heads / kv heads); scores q.k / sqrt(head_dim), causal mask, softmax, weighted
               sum of v, heads concatenated in order
    logits = norm(x) @ embed_tokens.T  (tie_word_embeddings; else lm_head.weight.T)

This file is written from Hugging Face's modeling_llama.py semantics, not from kiln's C++: it is the
second opinion that the export means what kiln trained (tests/tools/test_export_llama.cpp). The
loss, the windows and the safetensors parser are hf_reference_common.py's (shared with
hf_gpt2_reference.py): mean next-token cross-entropy over the windows `kiln eval` uses, windows of
max_position_embeddings + 1 tokens. Prints {"loss": ..., "tokens": ..., "sequences": ...}. Needs
numpy and h5py (scripts/setup.sh installs both).
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference_common import main, read_safetensors  # noqa: E402  (kiln's scripts/ folder)


class Llama:
    """LlamaForCausalLM's forward over float64 weights."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        if c.get("model_type") != "llama":
            raise ValueError(f"{model_dir}/config.json: model_type {c.get('model_type')!r}, expected 'llama'")
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {c['hidden_act']}: only silu is implemented")
        if c.get("rope_scaling") is not None:
            raise ValueError("rope_scaling is not implemented (kiln writes null)")
        raw = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.w = raw
        self.n_layer = c["num_hidden_layers"]
        self.n_head = c["num_attention_heads"]
        self.n_kv_head = c.get("num_key_value_heads", self.n_head)
        self.hidden = c["hidden_size"]
        self.head_dim = c.get("head_dim") or self.hidden // self.n_head
        if self.n_head % self.n_kv_head:
            raise ValueError(f"num_attention_heads {self.n_head} is not a multiple of num_key_value_heads "
                             f"{self.n_kv_head}")
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.n_positions = c["max_position_embeddings"]
        self.vocab_size = c["vocab_size"]
        tied = c.get("tie_word_embeddings", False)
        self.head = raw["model.embed_tokens.weight"] if tied else raw["lm_head.weight"]  # (V, C)
        if self.head.shape[0] != self.vocab_size:
            raise ValueError(f"head has {self.head.shape[0]} rows, config.json vocab_size {self.vocab_size}")

    def rmsnorm(self, x, name):
        var = (x * x).mean(axis=-1, keepdims=True)
        return self.w[name] * (x / np.sqrt(var + self.eps))

    def linear(self, x, name):
        return x @ self.w[name].T

    def rotary(self, T):
        """cos, sin (T, head_dim) as LlamaRotaryEmbedding makes them: float32 inv_freq and angles."""
        hd = self.head_dim
        exponent = np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / np.float32(hd)
        inv_freq = (np.float32(1.0) / (np.float32(self.theta) ** exponent)).astype(np.float32)
        freqs = np.arange(T, dtype=np.float32)[:, None] * inv_freq[None, :]   # (T, hd/2) float32
        emb = np.concatenate([freqs, freqs], axis=-1)
        return np.cos(emb).astype(np.float64), np.sin(emb).astype(np.float64)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)

    def attention(self, x, layer, cos, sin):
        B, T, _ = x.shape
        nh, nkv, hd = self.n_head, self.n_kv_head, self.head_dim
        p = f"model.layers.{layer}.self_attn."
        q = self.linear(x, p + "q_proj.weight").reshape(B, T, nh, hd).transpose(0, 2, 1, 3)    # (B, nh, T, hd)
        k = self.linear(x, p + "k_proj.weight").reshape(B, T, nkv, hd).transpose(0, 2, 1, 3)   # (B, nkv, T, hd)
        v = self.linear(x, p + "v_proj.weight").reshape(B, T, nkv, hd).transpose(0, 2, 1, 3)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=1)                                                    # repeat_kv
        v = np.repeat(v, nh // nkv, axis=1)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)                                   # (B, nh, T, T)
        future = np.triu(np.ones((T, T), dtype=bool), k=1)
        scores = np.where(future, -np.inf, scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(axis=-1, keepdims=True)
        y = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, nh * hd)                           # heads in order
        return self.linear(y, p + "o_proj.weight")

    def mlp(self, x, layer):
        p = f"model.layers.{layer}.mlp."
        gate = self.linear(x, p + "gate_proj.weight")
        silu = gate / (1.0 + np.exp(-gate))
        return self.linear(silu * self.linear(x, p + "up_proj.weight"), p + "down_proj.weight")

    def logits(self, ids):
        """ids (B, T) int -> logits (B, T, V) float64."""
        _, T = ids.shape
        cos, sin = self.rotary(T)
        x = self.w["model.embed_tokens.weight"][ids]
        for layer in range(self.n_layer):
            p = f"model.layers.{layer}."
            x = x + self.attention(self.rmsnorm(x, p + "input_layernorm.weight"), layer, cos, sin)
            x = x + self.mlp(self.rmsnorm(x, p + "post_attention_layernorm.weight"), layer)
        return self.rmsnorm(x, "model.norm.weight") @ self.head.T


if __name__ == "__main__":
    main(Llama, __doc__.split("\n\n")[0], "hf_llama_reference")
