"""Shared by kiln's independent Hugging Face references (hf_gpt2_reference.py, hf_llama_reference.py):
reading a safetensors file, the validation windows `kiln eval` uses, next-token cross-entropy and
the command line both scripts have. Written from the safetensors format and CONTRACTS §6, not from
kiln's C++. Needs numpy; eval_windows needs h5py.

A model class given to main() has: __init__(model_dir), vocab_size, n_positions (the window length
to evaluate) and logits(ids (B, T)) -> (B, T, vocab_size) float64.
"""
import argparse
import glob
import json
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


def token_losses(model, windows):
    """windows (B, T+1) -> cross-entropy of each next token (B, T), nats."""
    logits = model.logits(windows[:, :-1])
    targets = windows[:, 1:]
    m = logits.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return lse - picked


def main(model_class, description, prog):
    """MODEL_DIR --data GLOB [--max-sequences N] [--batch B]: prints {"loss", "tokens", "sequences"};
    exits 2 with the problem on stderr for a bad folder or bad data."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("model_dir", help="a folder written by `kiln export --format hf`")
    ap.add_argument("--data", required=True, help="glob of token shards (HDF5 with /tokens), e.g. 'shards/val_*.h5'")
    ap.add_argument("--max-sequences", type=int, default=-1, help="windows to evaluate (default: all)")
    ap.add_argument("--batch", type=int, default=0,
                    help="windows per forward (memory only, the result is the same); default: logits of ~4M floats")
    a = ap.parse_args()
    try:
        model = model_class(a.model_dir)
        windows = eval_windows(a.data, model.n_positions, a.max_sequences)
        if windows.max() >= model.vocab_size:
            raise ValueError(f"token id {windows.max()} >= vocab_size {model.vocab_size}")
        batch = a.batch if a.batch > 0 else max(1, (4 << 20) // (model.n_positions * model.vocab_size))
        total, count = 0.0, 0
        for b in range(0, len(windows), batch):
            losses = token_losses(model, windows[b:b + batch])
            total += float(losses.sum())
            count += losses.size
    except (ValueError, KeyError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({"loss": total / count, "tokens": count, "sequences": len(windows)}))
