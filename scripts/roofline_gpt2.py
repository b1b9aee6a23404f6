#!/usr/bin/env python3
"""scripts/roofline_gpt2.py: the roofline bar for one GPT-2 training step on an H100 SXM.

Lists every kernel one step of `kiln_bench_gpt2` / `kiln train` (one rank, tp = 1, one micro-step
per optimizer step) launches, in the order model/gpt2.cpp, trainer/optimizer.cpp and
kernels/cuda/*.cu issue them, with its FLOPs and the bytes it moves, and the time each would
take at the H100's peaks. Prints a Markdown table (bench/README.md holds its output) or, with
--json, the same numbers for tests (tests/model/test_roofline_script.cpp checks the FLOPs against
model/flops.h).

Assumptions (also printed under the table):
  - each kernel reads its inputs and writes its outputs exactly once from HBM (no L2 reuse, no
    re-reads: the optimistic bound); a GEMM with beta = 1 reads its fp32 output too;
  - a GEMM (cuBLASLt) costs 2*M*N*K FLOPs on bf16 tensor cores; everything else runs on fp32
    CUDA cores; exp/tanh go to the special-function units (SFU);
  - time of a kernel = max(tensor or fp32 FLOPs / peak, SFU ops / SFU peak, bytes / HBM bandwidth);
    the step = the sum over launches (kernels run one after another on one stream);
  - attention two ways: (A) the current fp32 CUDA-core kernels of kernels/cuda/attention.cu with
    their real tiling (64-row blocks, 32-row tiles, causal tiles skipped, backward split into
    dK/dV and dQ kernels that both rebuild P), and (B) a flash-attention kernel on tensor cores:
    causal, so T^2/2 (query, key) pairs, 4*hs FLOPs per pair forward and 10*hs backward;
  - host transfers (tokens in, per-token losses and the gradient norm out) and launch gaps are
    not in the roofline; the launch count is printed so their cost can be judged.

Usage: roofline_gpt2.py [--batch 16] [--seq 1024] [--layers 12] [--heads 12] [--d-model 768]
                        [--d-ff 3072] [--vocab 50304] [--vocab-real 50257] [--json]
Python 3 standard library only.
"""
import argparse
import json
import math
import sys

# Peaks of an H100 SXM (the figures the issue holds kiln to).
PEAK_TENSOR_BF16 = 989.4e12  # dense bf16, FLOP/s (model/flops.h kH100PeakFlops)
PEAK_FP32 = 67e12            # fp32 FMA on CUDA cores, FLOP/s
PEAK_SFU = 3.9e12            # exp/tanh per second: 132 SMs x 16 SFU lanes x 1.83 GHz
PEAK_FP64 = 33.5e12          # fp64 on CUDA cores (sum_squares accumulates in double)
HBM_BW = 3.35e12             # bytes/s
LLMC_TOKENS_PER_S = 520_000  # llm.c, GPT-2 124M, B=16 T=1024, one H100, with cuDNN attention
AIM_TOKENS_PER_S = 600_000
# Not a peak but an assumption, used only for the second total: the least time one launch takes on
# an H100 (launch, ramp-up and tail of a small kernel), so tiny kernels are not counted as free.
LAUNCH_FLOOR_S = 2e-6

ACT = 2     # bf16 activations and compute weights
F32 = 4     # master weights, gradients, moments, statistics
I32 = 4     # token ids


class Kernel:
    """One kernel (or a fixed group of launches), totalled over a step."""

    def __init__(self, phase, name, launches, shape, unit, flops=0.0, sfu=0.0, read=0.0, write=0.0,
                 variant=None, model_flops=0.0):
        self.phase, self.name, self.launches, self.shape, self.unit = phase, name, launches, shape, unit
        self.flops, self.sfu, self.read, self.write = flops, sfu, read, write
        self.variant = variant          # None: always; "current" / "flash": one attention variant
        self.model_flops = model_flops  # what 6N + 12LCT counts for this kernel (see model_flops_per_token)

    @property
    def bytes(self):
        return self.read + self.write

    def seconds(self):
        peak = {"tensor": PEAK_TENSOR_BF16, "fp32": PEAK_FP32, "fp64": PEAK_FP64, "none": math.inf}[self.unit]
        compute = self.flops / peak
        sfu = self.sfu / PEAK_SFU
        memory = self.bytes / HBM_BW
        bound = max(compute, sfu, memory)
        by = "memory" if bound == memory else ("SFU" if bound == sfu else self.unit)
        return compute, sfu, memory, bound, by


def current_attention_pairs(T, block=64, tile=32):
    """(query, key) pairs the fp32 kernels evaluate per (batch, head), tile padding included.

    forward and dQ: a block of `block` query rows walks key tiles of `tile` up to its last row;
    dK/dV: a block of `block` keys walks query tiles of `tile` from its diagonal tile to T-1.
    """
    fwd = 0
    for q0 in range(0, T, block):
        q_last = min(q0 + block, T) - 1
        fwd += block * (q_last // tile + 1) * tile
    dkdv = 0
    for k0 in range(0, T, block):
        t0 = k0 // tile * tile
        dkdv += block * math.ceil((T - t0) / tile) * tile
    return fwd, dkdv


def build(a):
    B, T, L, NH, C, F, V, Vr = a.batch, a.seq, a.layers, a.heads, a.d_model, a.d_ff, a.vocab, a.vocab_real
    hs = C // NH
    D = 32 if hs <= 32 else (64 if hs <= 64 else 128)  # the fp32 kernels pad the head to 32/64/128
    N = B * T                                          # rows of every activation
    chunks = math.ceil(N / 256)                        # colsum.cuh: rows per partial-sum chunk
    ks = []

    def add(*args, **kw):
        ks.append(Kernel(*args, **kw))

    # Parameters: the arena of model/params.cpp (every shape here is a multiple of 64: no padding).
    per_layer = [("ln_1.weight", C), ("ln_1.bias", C), ("attn.c_attn.weight", 3 * C * C), ("attn.c_attn.bias", 3 * C),
                 ("attn.c_proj.weight", C * C), ("attn.c_proj.bias", C), ("ln_2.weight", C), ("ln_2.bias", C),
                 ("mlp.c_fc.weight", F * C), ("mlp.c_fc.bias", F), ("mlp.c_proj.weight", C * F),
                 ("mlp.c_proj.bias", C)]
    sizes = [V * C, T * C] + [n for _ in range(L) for _, n in per_layer] + [C, C]
    P = sum(sizes)
    n_params = len(sizes)

    def matmul_forward(phase, name, count, M, OC, IC, bias):
        add(phase, f"matmul_forward {name}", count, f"({M},{IC})x({OC},{IC})^T{' +bias' if bias else ''}", "tensor",
            flops=count * 2 * M * OC * IC, read=count * (M * IC + OC * IC + (OC if bias else 0)) * ACT,
            write=count * M * OC * ACT, model_flops=count * 2 * M * OC * IC)

    def matmul_backward(phase, name, count, M, OC, IC, bias):
        # dinp = dout @ W (bf16 out); dW (fp32) += dout^T @ inp (beta = 1: read and written).
        add(phase, f"matmul_backward {name}: dinp", count, f"({M},{OC})x({OC},{IC})", "tensor",
            flops=count * 2 * M * OC * IC, read=count * (M * OC + OC * IC) * ACT, write=count * M * IC * ACT,
            model_flops=count * 2 * M * OC * IC)
        add(phase, f"matmul_backward {name}: dweight", count, f"({OC},{M})x({M},{IC}) += fp32", "tensor",
            flops=count * 2 * M * OC * IC, read=count * ((M * OC + M * IC) * ACT + OC * IC * F32),
            write=count * OC * IC * F32, model_flops=count * 2 * M * OC * IC)
        if bias:
            colsum(phase, f"matmul_backward {name}: dbias", count, OC, inputs=M * OC * ACT, outputs=1)

    def colsum(phase, name, count, cols, inputs, outputs, flops_per=1):
        # colsum.cuh: pass 1 reads the (N, cols) terms and writes float2 partials per chunk; pass 2
        # sums the chunks into 1 or 2 fp32 gradient vectors (read and written).
        add(phase, f"{name} (colsum pass 1)", count, f"({N},{cols}) -> ({chunks},{cols}) float2", "fp32",
            flops=count * flops_per * N * cols, read=count * inputs, write=count * chunks * cols * 8)
        add(phase, f"{name} (colsum pass 2)", count, f"({chunks},{cols}) -> {outputs}x({cols}) fp32", "fp32",
            flops=count * 2 * chunks * cols, read=count * (chunks * cols * 8 + outputs * cols * F32),
            write=count * outputs * cols * F32)

    def layernorm_forward(phase, name, count):
        add(phase, f"layernorm_forward {name}", count, f"({N},{C})", "fp32", flops=count * 8 * N * C,
            read=count * (N * C + 2 * C) * ACT, write=count * (N * C * ACT + 2 * N * F32))

    def layernorm_backward(phase, name, count):
        add(phase, f"layernorm_backward {name}: dx +=", count, f"({N},{C})", "fp32", flops=count * 10 * N * C,
            read=count * (3 * N * C * ACT + C * ACT + 2 * N * F32), write=count * N * C * ACT)
        colsum(phase, f"layernorm_backward {name}: dweight, dbias", count, C,
               inputs=2 * N * C * ACT + 2 * N * F32, outputs=2, flops_per=4)

    def residual_layernorm_forward(phase, name, count):
        # layernorm.cu: one warp per row writes sum = a + b and normalises it (a re-read of the row it
        # just wrote, from L1): reads a, b and the parameters, writes sum, out, mean and rstd.
        add(phase, f"residual_layernorm_forward {name}", count, f"({N},{C})", "fp32", flops=count * 9 * N * C,
            read=count * (2 * N * C + 2 * C) * ACT, write=count * (2 * N * C * ACT + 2 * N * F32))

    # ---- start of the step: ParamArena::zero_grads (one memset over the fp32 gradient arena)
    add("step", "zero grads (cudaMemsetAsync)", 1, f"({P}) fp32", "none", write=P * F32)

    # ---- forward (model/gpt2.cpp Gpt2Model::forward)
    fw = "forward"
    add(fw, "embedding_forward", 1, f"({N},{C}) from wte, wpe", "fp32", flops=N * C,
        read=N * I32 + N * C * ACT + T * C * ACT, write=N * C * ACT)
    layernorm_forward(fw, "ln_1 (layer 0; the others fused below)", 1)
    matmul_forward(fw, "c_attn", L, N, 3 * C, C, True)
    fwd_pairs, dkdv_pairs = current_attention_pairs(T)
    flash_pairs = T * T / 2
    att_read = N * 3 * C * ACT
    att_write = N * C * ACT + B * NH * T * F32  # out and lse
    # model FLOPs of attention (PaLM, as in 12LCT): QK^T and AV over all T^2 pairs, backward 2x forward.
    att_model_fwd = 4 * hs * T * T * B * NH
    add(fw, "attention_forward [A: fp32 CUDA cores]", L, f"B{B} NH{NH} T{T} hs{hs}", "fp32",
        flops=L * 4 * D * fwd_pairs * B * NH, sfu=L * fwd_pairs * B * NH, read=L * att_read, write=L * att_write,
        variant="current", model_flops=L * att_model_fwd)
    add(fw, "attention_forward [B: flash, tensor cores]", L, f"B{B} NH{NH} T{T} hs{hs}, causal", "tensor",
        flops=L * 4 * hs * flash_pairs * B * NH, sfu=L * flash_pairs * B * NH, read=L * att_read,
        write=L * att_write, variant="flash", model_flops=L * att_model_fwd)
    matmul_forward(fw, "attn.c_proj", L, N, C, C, True)
    residual_layernorm_forward(fw, "attention residual + ln_2", L)
    matmul_forward(fw, "c_fc", L, N, F, C, True)
    add(fw, "gelu_forward", L, f"({N},{F})", "fp32", flops=L * 8 * N * F, sfu=L * N * F, read=L * N * F * ACT,
        write=L * N * F * ACT)
    matmul_forward(fw, "mlp.c_proj", L, N, C, F, True)
    residual_layernorm_forward(fw, "MLP residual + next ln_1", L - 1)
    residual_layernorm_forward(fw, "MLP residual + ln_f", 1)
    matmul_forward(fw, "lm_head (tied wte)", 1, N, V, C, False)
    add(fw, "softmax_xent (losses only)", 1, f"({N},{V}), {Vr} real", "fp32", flops=3 * N * Vr, sfu=N * Vr,
        read=N * Vr * ACT + N * I32, write=N * F32)

    # ---- backward (Gpt2Model::backward)
    bw = "backward"
    add(bw, "softmax_xent (dlogits in place)", 1, f"({N},{V}), {Vr} real", "fp32", flops=6 * N * Vr, sfu=2 * N * Vr,
        read=N * Vr * ACT + N * I32, write=N * V * ACT + N * F32)
    matmul_backward(bw, "lm_head", 1, N, V, C, False)
    add(bw, "zero dresidual (cudaMemsetAsync)", 1, f"({N},{C})", "none", write=N * C * ACT)
    layernorm_backward(bw, "ln_f", 1)
    matmul_backward(bw, "mlp.c_proj", L, N, C, F, True)
    add(bw, "gelu_backward", L, f"({N},{F})", "fp32", flops=L * 12 * N * F, sfu=L * N * F,
        read=L * 2 * N * F * ACT, write=L * N * F * ACT)
    matmul_backward(bw, "c_fc", L, N, F, C, True)
    layernorm_backward(bw, "ln_2", L)
    matmul_backward(bw, "attn.c_proj", L, N, C, C, True)
    add(bw, "attention_backward: D = rowsum(dout*out)", L, f"({B},{NH},{T})", "fp32", flops=L * 2 * N * C,
        read=L * 2 * N * C * ACT, write=L * B * NH * T * F32)
    stats = 2 * B * NH * T * F32  # lse and D
    add(bw, "attention_backward dK,dV [A: fp32 CUDA cores]", L, f"B{B} NH{NH} T{T} hs{hs}", "fp32",
        flops=L * 8 * D * dkdv_pairs * B * NH, sfu=L * dkdv_pairs * B * NH,
        read=L * (N * 3 * C * ACT + N * C * ACT + stats), write=L * 2 * N * C * ACT, variant="current",
        model_flops=L * 2 * att_model_fwd * 2 / 3)
    add(bw, "attention_backward dQ [A: fp32 CUDA cores]", L, f"B{B} NH{NH} T{T} hs{hs}", "fp32",
        flops=L * 6 * D * fwd_pairs * B * NH, sfu=L * fwd_pairs * B * NH,
        read=L * (N * 3 * C * ACT + N * C * ACT + stats), write=L * N * C * ACT, variant="current",
        model_flops=L * 2 * att_model_fwd / 3)
    add(bw, "attention_backward [B: flash, tensor cores]", L, f"B{B} NH{NH} T{T} hs{hs}, causal", "tensor",
        flops=L * 10 * hs * flash_pairs * B * NH, sfu=L * flash_pairs * B * NH,
        read=L * (N * 3 * C * ACT + N * C * ACT + stats), write=L * N * 3 * C * ACT, variant="flash",
        model_flops=L * 2 * att_model_fwd)
    matmul_backward(bw, "c_attn", L, N, 3 * C, C, True)
    layernorm_backward(bw, "ln_1", L)
    # embedding_backward: keys, a cub radix sort of N (key, position) pairs (16-bit keys: about 3
    # passes over 8-byte pairs, counted as 3 launches), dwte rows summed per run of equal tokens
    # (U distinct tokens: the expected count for uniformly random ids, as in kiln_bench_gpt2), dwpe.
    U = round(Vr * (1 - (1 - 1 / Vr) ** N))
    add(bw, "embedding_backward: keys", 1, f"({N})", "fp32", flops=N, read=N * I32, write=2 * N * I32)
    add(bw, "embedding_backward: radix sort (cub, ~3 passes)", 3, f"({N}) pairs", "fp32",
        read=3 * N * 8, write=3 * N * 8)
    add(bw, "embedding_backward: dwte rows", 1, f"{U} distinct of ({V},{C})", "fp32", flops=N * C,
        read=2 * N * I32 + N * C * ACT + U * C * F32, write=U * C * F32)
    add(bw, "embedding_backward: dwpe", 1, f"({T},{C}) over B={B}", "fp32", flops=N * C,
        read=N * C * ACT + T * C * F32, write=T * C * F32)

    # ---- optimizer (trainer/optimizer.cpp adamw_step_one_rank: norm, then AdamW), each one
    # multi-tensor op over the whole arena with a segment table of its n_params pieces (16 bytes a
    # row, uploaded once; read by every block's binary search, counted once here).
    op = "optimizer"
    add(op, "zero norm accumulator (cudaMemsetAsync)", 1, "(2) fp32", "none", write=8)
    # reduce.cu: pass 1 writes two doubles per block (min(1024, ceil(P / 4096)) blocks: a slot for the
    # tp-sharded and one for the replicated pieces), pass 2 adds each slot's partials.
    table = n_params * 16
    partials = min(1024, max(1, math.ceil(P / 4096)))
    add(op, "sum_squares_multi pass 1", 1, f"{n_params} pieces, {P} fp32", "fp64", flops=2 * P,
        read=P * F32 + table, write=partials * 2 * 8)
    add(op, "sum_squares_multi pass 2", 1, "2 slots", "fp64", flops=2 * partials,
        read=partials * 2 * 8 + 2 * F32, write=2 * F32)
    add(op, "adamw_update_multi", 1, f"{n_params} pieces, {P} fp32 + bf16 copy", "fp32",
        flops=15 * P, read=4 * P * F32 + table, write=3 * P * F32 + P * ACT)
    return ks, dict(B=B, T=T, L=L, NH=NH, C=C, F=F, V=V, Vr=Vr, hs=hs, P=P, n_params=n_params, U=U,
                    current_pairs_fwd=fwd_pairs, current_pairs_dkdv=dkdv_pairs)


def totals(ks, variant, tokens):
    """Sums over the kernels of one attention variant."""
    sel = [k for k in ks if k.variant in (None, variant)]
    t = dict(seconds=0.0, seconds_with_launch_floor=0.0, flops=0.0, tensor_flops=0.0, bytes=0.0, launches=0,
             model_flops=0.0, phases={})
    for k in sel:
        s = k.seconds()[3]
        t["seconds"] += s
        # k totals `launches` launches of equal size: each takes at least the floor.
        t["seconds_with_launch_floor"] += k.launches * max(s / k.launches, LAUNCH_FLOOR_S)
        t["flops"] += k.flops
        t["tensor_flops"] += k.flops if k.unit == "tensor" else 0.0
        t["bytes"] += k.bytes
        t["launches"] += k.launches
        t["model_flops"] += k.model_flops
        t["phases"][k.phase] = t["phases"].get(k.phase, 0.0) + s
    t["ms_per_step"] = t["seconds"] * 1e3
    t["tokens_per_s"] = tokens / t["seconds"]
    t["executed_flops_per_token"] = t["flops"] / tokens
    t["model_flops_per_token"] = t["model_flops"] / tokens
    t["mfu_at_prediction"] = t["tokens_per_s"] * t["model_flops_per_token"] / PEAK_TENSOR_BF16
    return t


def fmt_num(x, digits=1):
    return f"{x:,.{digits}f}"


def print_markdown(ks, info, tot, tokens):
    print(f"GPT-2 training step, one H100 SXM: L{info['L']} NH{info['NH']} C{info['C']} F{info['F']} "
          f"V{info['V']} ({info['Vr']} real) T{info['T']} B{info['B']} = {tokens:,} tokens; "
          f"{info['P']:,} parameters in {info['n_params']} tensors")
    print(f"peaks: bf16 tensor {PEAK_TENSOR_BF16 / 1e12:.1f} TFLOP/s, fp32 {PEAK_FP32 / 1e12:.0f} TFLOP/s, "
          f"SFU {PEAK_SFU / 1e12:.1f} T/s, fp64 {PEAK_FP64 / 1e12:.1f} TFLOP/s, HBM {HBM_BW / 1e12:.2f} TB/s\n")
    print("| phase | kernel | launches | shape (one launch) | unit | GFLOP | MB moved | compute µs | memory µs "
          "| bound µs | bound by |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---|")
    for k in ks:
        compute, sfu, memory, bound, by = k.seconds()
        print(f"| {k.phase} | {k.name} | {k.launches} | {k.shape} | {k.unit} | {fmt_num(k.flops / 1e9)} | "
              f"{fmt_num(k.bytes / 1e6)} | {fmt_num(max(compute, sfu) * 1e6)} | {fmt_num(memory * 1e6)} | "
              f"{fmt_num(bound * 1e6)} | {by} |")
    print()
    print("| attention | ms/step | forward ms | backward ms | optimizer ms | launches | executed GFLOP | GB moved "
          "| tokens/s | vs llm.c 520k | vs aim 600k | MFU (6N+12LCT) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"current": "A: fp32 CUDA-core kernels (now)", "flash": "B: flash attention, bf16 tensor cores"}
    for v in ("current", "flash"):
        t = tot[v]
        ph = t["phases"]
        print(f"| {names[v]} | {t['ms_per_step']:.2f} | {ph.get('forward', 0) * 1e3:.2f} | "
              f"{ph.get('backward', 0) * 1e3:.2f} | {(ph.get('optimizer', 0) + ph.get('step', 0)) * 1e3:.2f} | "
              f"{t['launches']} | {t['flops'] / 1e9:,.0f} | {t['bytes'] / 1e9:.1f} | {t['tokens_per_s']:,.0f} | "
              f"{t['tokens_per_s'] / LLMC_TOKENS_PER_S:.2f}x | {t['tokens_per_s'] / AIM_TOKENS_PER_S:.2f}x | "
              f"{100 * t['mfu_at_prediction']:.1f}% |")
    llmc_ms = tokens / LLMC_TOKENS_PER_S * 1e3
    aim_ms = tokens / AIM_TOKENS_PER_S * 1e3
    floor = ", ".join(f"{v} {tot[k]['seconds_with_launch_floor'] * 1e3:.2f} ms "
                      f"({tokens / tot[k]['seconds_with_launch_floor']:,.0f} tokens/s)"
                      for k, v in (("current", "A"), ("flash", "B")))
    print(f"\nWith at least {LAUNCH_FLOOR_S * 1e6:.0f} µs per launch (an assumption: a small kernel's launch and "
          f"tail): {floor}.")
    print("Not in the table: host transfers and the syncs they cause (tokens and targets in, 128 KiB; per-token "
          "losses out, 64 KiB; the gradient norm out, 8 B), gaps between launches, the dp all-reduce.")
    print(f"\nllm.c's 520,000 tokens/s is {llmc_ms:.2f} ms for these {tokens:,} tokens; the 600,000 aim is "
          f"{aim_ms:.2f} ms. The optimizer column includes the step's gradient zeroing.")
    print(f"Model FLOPs per token (6N + 12LCT, as model/flops.h): {tot['flash']['model_flops_per_token'] / 1e6:.2f} M "
          f"(the GEMMs' 2MNK plus attention's dense forward x 3). Executed: A {tot['current']['executed_flops_per_token'] / 1e6:.2f} M, "
          f"B {tot['flash']['executed_flops_per_token'] / 1e6:.2f} M (causal skipping, recomputed P, elementwise work).")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--d-model", type=int, default=768)
    p.add_argument("--d-ff", type=int, default=3072)
    p.add_argument("--vocab", type=int, default=50304)
    p.add_argument("--vocab-real", type=int, default=50257)
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    a = p.parse_args(argv)
    for name in ("batch", "seq", "layers", "heads", "d_model", "d_ff", "vocab", "vocab_real"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(a, name)}")
    if a.d_model % a.heads:
        p.error(f"--d-model {a.d_model} is not a multiple of --heads {a.heads}")
    if a.vocab_real > a.vocab:
        p.error(f"--vocab-real {a.vocab_real} exceeds --vocab {a.vocab}")
    ks, info = build(a)
    tokens = a.batch * a.seq
    tot = {v: totals(ks, v, tokens) for v in ("current", "flash")}
    if a.json:
        out = dict(config=info, tokens_per_step=tokens,
                   peaks=dict(tensor_bf16=PEAK_TENSOR_BF16, fp32=PEAK_FP32, sfu=PEAK_SFU, fp64=PEAK_FP64, hbm=HBM_BW),
                   # The same for both variants: the attention rows carry the same model FLOPs.
                   model_flops_per_token=tot["flash"]["model_flops_per_token"],
                   totals=tot,
                   kernels=[dict(phase=k.phase, name=k.name, launches=k.launches, unit=k.unit, flops=k.flops,
                                 sfu=k.sfu, bytes=k.bytes, seconds=k.seconds()[3], variant=k.variant)
                            for k in ks])
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        print_markdown(ks, info, tot, tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
