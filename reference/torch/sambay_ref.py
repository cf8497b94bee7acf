#!/usr/bin/env python3
"""Independent PyTorch reference of the SambaY forward pass.

Written from the specification (docs/MODEL.md §4: module math and cast
points), not from the Go code it checks. Reads a canonical model folder
(Hugging Face Phi4Flash layout: config.json, optionally with the sambay_*
extension keys, and safetensors shards) and token ids, and writes a golden
file: safetensors with
    input_ids  I64 [T]
    logits     F32 [T, V]
    hidden.<i> F32 [T, E]   the residual stream after block i
Modes: fp32 (no rounding anywhere) and bf16 (rounds to bfloat16 at the
points the CUDA implementation does, emulated in fp32 so CPU and GPU runs
compare like with like). Runs on CPU (Debian's PyTorch 1.13) or CUDA.
Ref.forward takes ids of shape [T] or [B, T] and is differentiable:
train_example.py trains the example model through it.

  python3 sambay_ref.py MODEL_DIR --tokens 1,2,3 --mode fp32 -o golden.safetensors [--device cuda]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

ST_NP = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    # Mapped, not read: a full-size shard read whole beside its float32
    # copies did not fit in memory.
    data = np.memmap(path, dtype=np.uint8, mode="r")
    (n,) = struct.unpack("<Q", data[:8].tobytes())
    header = json.loads(data[8:8 + n].tobytes())
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b: base + end]
        if e["dtype"] == "BF16":
            u = raw.view("<u2").astype(np.uint32)
            u <<= 16
            arr = u.view(np.float32)
        else:
            arr = raw.view(np.dtype(ST_NP[e["dtype"]]).newbyteorder("<")).astype(np.float32)
        out[name] = (torch.from_numpy(arr).reshape(e["shape"]), e["dtype"])
    return out


def blas_in_use():
    """The BLAS library this process mapped (Debian's python3-torch calls
    libblas.so.3, whichever implementation the alternatives system points
    it at: netlib's reference BLAS, or OpenBLAS once libopenblas0-pthread is
    installed)."""
    try:
        libs = {l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(l) for l in libs)) or "none found"


def read_model(folder):
    idx = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(folder, f)))
    return w


def write_golden(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors, key=lambda n: (0 if tensors[n].dtype == np.int64 else 1, n)):
        a = np.ascontiguousarray(tensors[name])
        dt = "I64" if a.dtype == np.int64 else "F32"
        b = a.astype("<i8" if dt == "I64" else "<f4").tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header = {"__metadata__": {"format": "sambay-golden"}, **header}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Cfg:
    """Canonical config from config.json (docs/MODEL.md §1.1, §1.4): class
    defaults for omitted keys, sambay_* keys for non-Phi4Flash models."""

    def __init__(self, d):
        g = lambda k, v: d[k] if d.get(k) is not None else v
        self.L = g("num_hidden_layers", 32)
        self.E = g("hidden_size", 2560)
        self.H = g("num_attention_heads", 40)
        self.G = d["num_key_value_heads"] if "num_key_value_heads" in d else 4
        if self.G is None:
            self.G = self.H
        self.hd = g("head_dim", self.E // self.H)
        self.I = g("intermediate_size", 9216)
        self.V = g("vocab_size", 51200)
        w = g("sliding_window", 2047)
        self.W = w if isinstance(w, int) else [x for x in w if x is not None][0]
        self.N = g("mamba_d_state", 16)
        self.K = g("mamba_d_conv", 4)
        self.Di = g("mamba_expand", 2) * self.E
        self.R = math.ceil(self.E / 16)
        self.eps = g("layer_norm_eps", 1e-5)
        self.tied = g("tie_word_embeddings", True)
        self.norm = g("sambay_norm_type", "layernorm")
        self.da = g("sambay_diff_attn", True)
        self.da_const = g("sambay_diff_attn_const_lambda", False)
        self.gmu = g("sambay_gmu", True)
        self.scale = g("sambay_attn_scale", 1 / math.sqrt(self.hd))
        self.res_scale = g("sambay_residual_scale", 1.0)
        self.logit_scale = g("sambay_logit_scale", 1.0)

    def role(self, i):
        h = self.L // 2
        if i < h:
            return "mamba" if i % 2 == 0 else "swa"
        if i == h:
            return "mamba_memory" if self.gmu else "mamba"
        if i == h + 1:
            return "full_kv"
        return "gmu" if (self.gmu and i % 2 == 0) else "cross"


class Ref:
    def __init__(self, cfg, w, bf16, device):
        self.c, self.bf16, self.dev = cfg, bf16, device
        self.w = {k: v.to(device) for k, (v, dt) in w.items()}

    def R(self, x):
        return x.to(torch.bfloat16).to(torch.float32) if self.bf16 else x

    def p(self, name):
        return self.w.get(name)

    def linear(self, x, wname, bname=None):
        y = x @ self.w[wname].t()
        if bname and bname in self.w:
            y = y + self.w[bname]
        return self.R(y)

    def norm(self, x, prefix):
        # Input already rounded by the caller (docs/MODEL.md §4.2: every norm sees R(x)).
        c = self.c
        w = self.w[prefix + ".weight"]
        if c.norm == "layernorm":
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            y = (x - mu) * torch.rsqrt(var + c.eps) * w + self.w[prefix + ".bias"]
        else:
            y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + c.eps) * w
        return self.R(y)

    def mamba(self, u, a, memory):
        c = self.c
        lead, T = u.shape[:-2], u.shape[-2]
        xz = self.linear(u, a + "in_proj.weight")
        x, z = xz[..., :c.Di], xz[..., c.Di:]
        cw = self.w[a + "conv1d.weight"][:, 0, :]  # (Di, K); tap K-1 is the current token
        xp = torch.cat([torch.zeros(*lead, c.K - 1, c.Di, device=self.dev), x], -2)
        conv = self.w[a + "conv1d.bias"].expand(*lead, T, c.Di)
        for k in range(c.K):
            conv = conv + cw[:, k] * xp[..., k:k + T, :]
        cc = self.R(conv / (1 + torch.exp(-conv)))
        xdbl = self.linear(cc, a + "x_proj.weight")
        dtr, B, C = xdbl[..., :c.R], xdbl[..., c.R:c.R + c.N], xdbl[..., c.R + c.N:]
        dpre = self.linear(dtr, a + "dt_proj.weight") + self.w[a + "dt_proj.bias"]
        delta = torch.where(dpre > 20, dpre, torch.log1p(torch.exp(dpre)))
        A = -torch.exp(self.w[a + "A_log"])
        h = torch.zeros(*lead, c.Di, c.N, device=self.dev)
        ys = []
        for t in range(T):
            dt, ct = delta[..., t, :], cc[..., t, :]
            h = torch.exp(dt[..., None] * A) * h + (dt * ct)[..., None] * B[..., t, None, :]
            ys.append(self.w[a + "D"] * ct + (h * C[..., t, None, :]).sum(-1))
        y = torch.stack(ys, -2)
        if memory:
            m = self.R(y)
            o = self.R(z * m / (1 + torch.exp(-z)))
        else:
            m = None
            o = self.R(y * (z / (1 + torch.exp(-z))))
        return self.linear(o, a + "out_proj.weight"), m

    def gmu(self, u, a, m):
        g = self.linear(u, a + "in_proj.weight", a + "in_proj.bias")
        o = self.R(g * m / (1 + torch.exp(-g)))
        return self.linear(o, a + "out_proj.weight", a + "out_proj.bias")

    def attend(self, q, k, v, mask):
        # q (..., T, h, d); k, v (..., S, h, d) with one kv head per query head already chosen
        s = torch.einsum("...thd,...shd->...hts", q, k) * self.c.scale
        s = s.masked_fill(~mask, float("-inf"))
        p = torch.softmax(s, -1)
        return self.R(torch.einsum("...hts,...shd->...thd", p, v))

    def attention(self, u, a, i, role, kv):
        c = self.c
        lead, T = u.shape[:-2], u.shape[-2]
        Q, C = c.H * c.hd, c.G * c.hd
        if role == "cross":
            q = self.linear(u, a + "Wqkv.weight", a + "Wqkv.bias")
            k, v = kv
        else:
            qkv = self.linear(u, a + "Wqkv.weight", a + "Wqkv.bias")
            q, k, v = qkv[..., :Q], qkv[..., Q:Q + C], qkv[..., Q + C:]
        S = k.shape[-2]
        pos_q = torch.arange(S - T, S, device=self.dev)[:, None]
        pos_k = torch.arange(S, device=self.dev)[None, :]
        mask = pos_k <= pos_q
        if role == "swa":
            mask = mask & (pos_k >= pos_q - (c.W - 1))
        q = q.reshape(*lead, T, c.H, c.hd)
        k = k.reshape(*lead, S, c.G, c.hd)
        v = v.reshape(*lead, S, c.G, c.hd)
        P = c.H // c.G
        if not c.da:
            idx = torch.arange(c.H, device=self.dev) // P
            o = self.attend(q, k[..., idx, :], v[..., idx, :], mask)
            o = o.reshape(*lead, T, Q)
        else:
            q1, q2 = q[..., 0::2, :], q[..., 1::2, :]
            k1, k2 = k[..., 0::2, :], k[..., 1::2, :]
            v1, v2 = v[..., 0::2, :], v[..., 1::2, :]
            idx = torch.arange(c.H // 2, device=self.dev) // P
            A11 = self.attend(q1, k1[..., idx, :], v1[..., idx, :], mask)
            A12 = self.attend(q1, k1[..., idx, :], v2[..., idx, :], mask)
            A21 = self.attend(q2, k2[..., idx, :], v1[..., idx, :], mask)
            A22 = self.attend(q2, k2[..., idx, :], v2[..., idx, :], mask)
            attn1 = torch.cat([A11, A12], -1)
            attn2 = torch.cat([A21, A22], -1)
            d = a + "inner_cross_attn."
            lam_init = 0.8 - 0.6 * math.exp(-0.3 * (10000 if c.da_const else i))
            S1 = (self.w[d + "lambda_q1"] * self.w[d + "lambda_k1"]).sum()
            S2 = (self.w[d + "lambda_q2"] * self.w[d + "lambda_k2"]).sum()
            l1, l2 = self.R(torch.exp(S1)), self.R(torch.exp(S2))
            lf = self.R(self.R(l1 - l2) + torch.tensor(lam_init, dtype=torch.float32, device=self.dev))
            x = self.R(attn1 - self.R(lf * attn2))
            n = self.R(x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5))
            n = self.R(self.w[d + "subln.weight"] * n)
            o = self.R(n * torch.tensor(1 - lam_init, dtype=torch.float32, device=self.dev))
            o = o.reshape(*lead, T, Q)
        out = self.linear(o, a + "out_proj.weight", a + "out_proj.bias")
        return out, (k.reshape(*lead, S, C), v.reshape(*lead, S, C))

    def mlp(self, u, p):
        I = self.c.I
        a = self.linear(u, p + "mlp.fc1.weight", p + "mlp.fc1.bias")
        gate, up = a[..., :I], a[..., I:]
        o = self.R(gate * up / (1 + torch.exp(-gate)))
        return self.linear(o, p + "mlp.fc2.weight", p + "mlp.fc2.bias")

    def forward(self, ids):
        c = self.c
        x = self.w["model.embed_tokens.weight"][ids]
        inv = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(math.sqrt(2 * c.L), dtype=torch.float32)
        inv = inv.to(self.dev)
        m, kv, hidden = None, None, []
        for i in range(c.L):
            p = "model.layers.%d." % i
            a = p + "attn."
            role = c.role(i)
            u = self.norm(self.R(x), p + "input_layernorm")
            if role in ("mamba", "mamba_memory"):
                h, mem = self.mamba(u, a, role == "mamba_memory")
                if mem is not None:
                    m = mem
            elif role == "gmu":
                h = self.gmu(u, a, m)
            else:
                h, kvi = self.attention(u, a, i, role, kv)
                if role == "full_kv":
                    kv = kvi
            if c.res_scale != 1:
                h = self.R(h * inv)
            x = x + h
            u = self.norm(self.R(x), p + "post_attention_layernorm")
            h = self.mlp(u, p)
            if c.res_scale != 1:
                h = self.R(h * inv)
            x = x + h
            hidden.append(x)
        y = self.norm(self.R(x), "model.final_layernorm")
        if c.logit_scale != 1:
            y = self.R(y * torch.tensor(c.logit_scale, dtype=torch.float32, device=self.dev))
        head = self.w["model.embed_tokens.weight"] if c.tied else self.w["lm_head.weight"]
        logits = self.R(y @ head.t())
        return logits, hidden


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--tokens-file", help="file of whitespace- or comma-separated token ids")
    ap.add_argument("--mode", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output")
    ap.add_argument("--time", type=int, default=0, help="time N forward passes (after one warm-up) and print tokens/s")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--generate", type=int, default=0,
                    help="greedy-decode N tokens after the given ones (the whole sequence run again for every "
                         "token, no cache; ties to the lowest id) and print them, comma-separated")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    text = args.tokens if args.tokens else open(args.tokens_file).read()
    ids = [int(t) for t in text.replace(",", " ").split()]
    cfg = Cfg(json.load(open(os.path.join(args.model, "config.json"))))
    torch.manual_seed(0)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    ref = Ref(cfg, read_model(args.model), args.mode == "bf16", args.device)
    with torch.no_grad():
        if args.generate:
            seq = list(ids)
            for _ in range(args.generate):
                logits, _ = ref.forward(torch.tensor(seq, device=args.device))
                last = logits[-1]
                seq.append(int(torch.nonzero(last == last.max())[0].item()))
            print(",".join(str(t) for t in seq[len(ids):]))
            return
        logits, hidden = ref.forward(torch.tensor(ids, device=args.device))
        if args.time:
            import time
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            best = float("inf")
            for _ in range(args.time):
                start = time.time()
                ref.forward(torch.tensor(ids, device=args.device))
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                best = min(best, time.time() - start)
            print("prefill %d tokens: %.3f s, %.2f tokens/s (fastest of %d; %d threads, %s, BLAS %s)" % (
                len(ids), best, len(ids) / best, args.time, torch.get_num_threads(), args.mode, blas_in_use()))
    if not args.output:
        return
    out = {"input_ids": np.array(ids, dtype=np.int64), "logits": logits.cpu().numpy()}
    for i, h in enumerate(hidden):
        out["hidden.%d" % i] = h.cpu().numpy()
    write_golden(args.output, out)
    print("%s: %d tokens, logits %s, max |logit| %.4f" % (args.output, len(ids), tuple(logits.shape),
                                                        logits.abs().max().item()), file=sys.stderr)


if __name__ == "__main__":
    main()
