#!/usr/bin/env python3
# bench/torch_gpt2_step.py: the PyTorch half of bench/cpu_vs_torch.sh. A nanoGPT-style fp32 training
# loop of the same GPT-2 model kiln_bench_cpu times, on the CPU, printing the same lines:
# "step i: X ms, cpu Y ms" per timed step and a last line "ms/step median M mean A min m cpu-median
# c" (wall-clock milliseconds; cpu = process CPU time, all threads, which time-slicing by other
# processes on a shared machine does not inflate).
#
#   torch_gpt2_step.py --shape demo|gpt2-124m [--threads N] [--warmup N] [--steps N]
#
# Model (as kiln's trainer/model.cpp): token + position embedding; per layer LayerNorm, fused qkv
# linear with bias, causal softmax attention, output projection, LayerNorm, 4x MLP with tanh-GELU,
# residual adds; final LayerNorm; LM head tied to the token embedding; mean cross-entropy. Step:
# zero_grad, forward, backward, clip_grad_norm_(1.0), AdamW (betas 0.9/0.95, eps 1e-8, weight decay
# 0.1 on matrices), as kiln's AdamW. Random tokens. PyTorch 1.13 (Debian) has no
# scaled_dot_product_attention: attention is nanoGPT's explicit masked softmax, as nanoGPT runs it
# on such versions. Threads: torch.set_num_threads(N); the BLAS threads follow OPENBLAS_NUM_THREADS
# (the calling script sets it).
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    # name: (n_layer, n_head, d_model, d_ff, vocab, vocab_real, batch, seq)
    "demo": (4, 4, 128, 512, 256, 256, 16, 128),
    "gpt2-124m": (12, 12, 768, 3072, 50304, 50257, 4, 256),
}


class Block(nn.Module):
    def __init__(self, C, NH, Fd, T):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, Fd)
        self.mlp_proj = nn.Linear(Fd, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T))

    def attention(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        k = k.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        v = v.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, NH, C, Fd, V, T):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, NH, Fd, T) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        for name, p in self.named_parameters():  # GPT-2 init, as kiln's ParamArena::init
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied LM head, no bias
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="demo")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    L, NH, C, Fd, V, Vr, B, T = SHAPES[a.shape]
    model = GPT(L, NH, C, Fd, V, T)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(42)
    idx = torch.randint(0, Vr, (B, T), generator=g)
    targets = torch.randint(0, Vr, (B, T), generator=g)
    print(f"torch_gpt2_step: {a.shape} L{L} NH{NH} C{C} F{Fd} V{V}, B{B} T{T}, fp32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    times, cpu_times = [], []
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ms, cpu_ms = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
        if i >= a.warmup:
            times.append(ms)
            cpu_times.append(cpu_ms)
            print(f"step {i - a.warmup + 1}: {ms:.1f} ms, cpu {cpu_ms:.1f} ms (loss {loss.item():.4f})", flush=True)
    print(f"ms/step median {statistics.median(times):.2f} mean {statistics.mean(times):.2f} min {min(times):.2f} "
          f"cpu-median {statistics.median(cpu_times):.2f}")


if __name__ == "__main__":
    main()
