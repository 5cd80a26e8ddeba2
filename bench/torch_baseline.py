#!/usr/bin/env python3
"""The same job written with PyTorch, for issue #8's comparison (chorus >= 3x faster on the same GPU).

Usage (on the GPU machine, where PyTorch is installed):
    python3 bench/torch_baseline.py --n 1000000 --d 384 [--tile 16384] [--threshold 0.8]

Data like bench_gpu_fused's synthetic rows, made on the GPU: unit rows of width d, where in every
group of 1000 rows the first 8 are noisy copies of a prototype (noise 0.08, cosine ~0.99 among
them) and the rest are random. Then what a PyTorch user would write: row tiles of `--tile` rows
against column tiles j >= i via torch.mm in bf16 (fp32 accumulation inside, bf16 result), a
threshold, torch.nonzero for the pairs (i < j on diagonal tiles), and connected components by
union-find style label propagation (scatter_reduce amin plus pointer jumping) until nothing
changes. Timed from rows in GPU memory to component labels, with torch.cuda.synchronize.

This baseline is approximate (no margin, no exact re-check); chorus's results are exact, so the
comparison favours PyTorch. Prints one JSON line.
"""

import argparse
import json
import time

import torch


def synthetic(n, d, seed, device):
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.rand((n, d), generator=g, device=device, dtype=torch.float32) * 2 - 1
    idx = torch.arange(n, device=device)
    member = (idx % 1000) < 8
    protos = torch.rand(((n + 999) // 1000, d), generator=g, device=device) * 2 - 1
    noise = torch.rand((n, d), generator=g, device=device) * 2 - 1
    x = torch.where(member[:, None], protos[idx // 1000] + 0.08 * noise, x)
    del noise
    x = torch.nn.functional.normalize(x, dim=1)
    return x.to(torch.bfloat16)


def components(n, src, dst, device):
    label = torch.arange(n, device=device)
    if src.numel() == 0:
        return label
    while True:
        old = label.clone()
        m = torch.minimum(label[src], label[dst])
        label.scatter_reduce_(0, src, m, reduce="amin")
        label.scatter_reduce_(0, dst, m, reduce="amin")
        while True:  # pointer jumping
            nxt = label[label]
            if torch.equal(nxt, label):
                break
            label = nxt
        if torch.equal(label, old):
            return label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--tile", type=int, default=16384)
    ap.add_argument("--threshold", type=float, default=0.8)
    a = ap.parse_args()
    dev = torch.device("cuda")
    x = synthetic(a.n, a.d, 42, dev)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    srcs, dsts = [], []
    for i0 in range(0, a.n, a.tile):
        xi = x[i0:i0 + a.tile]
        for j0 in range(i0, a.n, a.tile):
            s = torch.mm(xi, x[j0:j0 + a.tile].T)
            hit = s >= a.threshold
            if j0 == i0:
                hit = torch.triu(hit, diagonal=1)
            nz = torch.nonzero(hit)
            if nz.numel():
                srcs.append(nz[:, 0] + i0)
                dsts.append(nz[:, 1] + j0)
    src = torch.cat(srcs) if srcs else torch.empty(0, dtype=torch.long, device=dev)
    dst = torch.cat(dsts) if dsts else torch.empty(0, dtype=torch.long, device=dev)
    t1 = time.perf_counter()
    label = components(a.n, src, dst, dev)
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    clustered = int((torch.bincount(label, minlength=a.n) > 1).sum().item())
    print(json.dumps({"n": a.n, "d": a.d, "tile": a.tile, "threshold": a.threshold,
                      "edges": int(src.numel()), "clusters": clustered,
                      "seconds_pairs": t1 - t0, "seconds_components": t2 - t1,
                      "seconds_total": t2 - t0, "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name(0)}))


if __name__ == "__main__":
    main()
