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
python3-numpy and python3-h5py, which scripts/setup.sh installs).
"""
import argparse
import glob
import json
import math
import os
import struct
import sys

import numpy as np

SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": None}


def read_safetensors(path):
    """{name: float64 array} from a safetensors file; ValueError naming the file on a bad one."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: {name} data_offsets {begin},{end} outside the data")
        dtype = info["dtype"]
        if dtype not in SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: {name} has dtype {dtype}, expected one of {list(SAFETENSORS_DTYPES)}")
        if dtype == "BF16":
            # bfloat16 is the top half of a float32: widen the bits and reinterpret.
            bits = np.frombuffer(data[begin:end], dtype="<u2", count=count).astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[dtype], count=count)
        tensors[name] = values.astype(np.float64).reshape(shape)
    return tensors


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

    def token_losses(self, windows):
        """windows (B, T+1) -> cross-entropy of each next token (B, T), nats."""
        logits = self.logits(windows[:, :-1])
        targets = windows[:, 1:]
        m = logits.max(axis=-1, keepdims=True)
        lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[..., 0]
        picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
        return lse - picked


def eval_windows(pattern, seq_len, max_sequences):
    """Consecutive non-overlapping windows of seq_len+1 ids from the start of each shard, files in
    sorted order, never spanning two files; at most max_sequences (< 0: all)."""
    import h5py  # only the data side needs it

    files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
    if not files:
        raise ValueError(f"--data {pattern} matches no files")
    row = seq_len + 1
    out = []
    for path in files:
        with h5py.File(path, "r") as f:
            tokens = np.asarray(f["tokens"][:], dtype=np.int64)
        for i in range(len(tokens) // row):
            if 0 <= max_sequences <= len(out):
                break
            out.append(tokens[i * row:(i + 1) * row])
        if 0 <= max_sequences <= len(out):
            break
    if not out:
        raise ValueError(f"--data {pattern}: no shard holds {row} tokens")
    return np.stack(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", help="a folder written by `kiln export --format hf`")
    ap.add_argument("--data", required=True, help="glob of token shards (HDF5 with /tokens), e.g. 'shards/val_*.h5'")
    ap.add_argument("--max-sequences", type=int, default=-1, help="windows to evaluate (default: all)")
    ap.add_argument("--batch", type=int, default=0,
                    help="windows per forward (memory only, the result is the same); default: logits of ~4M floats")
    a = ap.parse_args()
    model = Gpt2(a.model_dir)
    windows = eval_windows(a.data, model.n_positions, a.max_sequences)
    if windows.max() >= model.vocab_size:
        raise ValueError(f"token id {windows.max()} >= vocab_size {model.vocab_size}")
    batch = a.batch if a.batch > 0 else max(1, (4 << 20) // (model.n_positions * model.vocab_size))
    total, count = 0.0, 0
    for b in range(0, len(windows), batch):
        losses = model.token_losses(windows[b:b + batch])
        total += float(losses.sum())
        count += losses.size
    print(json.dumps({"loss": total / count, "tokens": count, "sequences": len(windows)}))


if __name__ == "__main__":
    try:
        main()
    except (ValueError, KeyError, OSError) as e:
        print(f"hf_gpt2_reference: error: {e}", file=sys.stderr)
        sys.exit(2)
