#!/usr/bin/env python3
"""Writes the tiny SambaY test models of testdata/ in every input layout.

Written from the specification (docs/MODEL.md §2, §5, §6; the layouts of the
Hugging Face Phi-4-mini-flash release and of ArchScale checkpoints), not from
the Go code it tests. Needs PyTorch (Debian: python3-torch, 1.13) and numpy.

Two configurations, each saved as:
  hf/                   HF layout, one model.safetensors (+ config.json)
  hf-sharded/           HF layout, two shards + model.safetensors.index.json
  archscale-head.pth    ArchScale HEAD checkpoint: torch.save of
                        {model, optimizer, hparams, iter_num, step_count},
                        separate q/k/v projections
  archscale-fused.pth   the same weights with the fused, per-group attn.attn
                        projection (paper-era layout; HEAD separate_qkv=False)
  pytorch_model.bin     a bare state dict (ArchScale names, "module." prefix)
  litgpt-config.json    the lit_gpt Config of the run (for --config)

Both .pth layouts and the HF layout hold the same weights. The separate
layout has no slot for a k bias (docs/MODEL.md §5.4), so its k bias is
absent; the others carry it (zero in sambay-tiny, whose separate layout is
the source of truth, and non-zero in phi4flash-tiny).

Run: python3 reference/torch/make_fixtures.py [OUT_DIR]   (default testdata)
The output is byte-identical from run to run (fixed seeds, fixed order).
"""
import collections
import json
import math
import os
import struct
import sys

import numpy as np
import torch

CONFIGS = {
    # Phi-4-mini-flash style: LayerNorm with bias, differential attention,
    # Wqkv and out_proj biases, tied embeddings, window 4 (< sequence).
    "phi4flash-tiny": dict(
        L=8, E=32, H=4, G=2, hd=8, I=64, V=128, vocab=128, W=4, N=16, K=4, expand=2,
        norm="layernorm", da=True, qkv_bias=True, out_bias=True, mlp_bias=False, tied=True,
        mup=False, kbias_nonzero=True, seed=1234, tokenizer=True, bos=120, eos=120, pad=120, eot=122,
        litgpt=dict(name="phi4miniflash_d32", n_layer=8, n_embd=32, n_head=4, n_query_groups=2,
                    head_dim=8, intermediate_size=64, vocab_size=128, padding_multiple=64,
                    local_window=4, block_size=64),
        train_config="phi4miniflash_tiny_tie",
        model_name="phi4miniflash_d8",
    ),
    # ArchScale SambaY style: RMSNorm without bias, head_dim != E/H, untied
    # head, padded vocabulary (100 -> 128), "_bias" run (q/v, proj, MLP and
    # GMU biases), muP++ (depth_scale, d0 = 8).
    "sambay-tiny": dict(
        L=8, E=32, H=4, G=2, hd=16, I=64, V=128, vocab=100, W=8, N=16, K=4, expand=2,
        norm="rmsnorm", da=False, qkv_bias=True, out_bias=True, mlp_bias=True, tied=False,
        mup=True, kbias_nonzero=False, seed=4321, tokenizer=False, bos=1, eos=2, pad=0, eot=None,
        litgpt=dict(name="sambay_d8", n_layer=8, n_embd=32, n_head=4, n_query_groups=2,
                    head_dim=16, intermediate_size=64, vocab_size=100, padding_multiple=64,
                    local_window=8, block_size=64, bias=True, attn_bias=True,
                    attn_out_bias=True),
        train_config="sambay_d8_mup_bias_tiny",
        model_name="sambay_d8",
    ),
}


def role(i, L):
    if i < L // 2:
        return "mamba" if i % 2 == 0 else "swa"
    if i == L // 2:
        return "mamba_memory"
    if i == L // 2 + 1:
        return "full_kv"
    return "gmu" if i % 2 == 0 else "cross"


def make_weights(c):
    """Canonical (HF-named) fp32 weights, docs/MODEL.md §5.1."""
    g = torch.Generator().manual_seed(c["seed"])
    E, H, G, hd, I, V, N, K = c["E"], c["H"], c["G"], c["hd"], c["I"], c["V"], c["N"], c["K"]
    Di = c["expand"] * E
    R = math.ceil(E / 16)
    w = collections.OrderedDict()

    def rnd(*shape, std=0.1, mean=0.0):
        return (torch.randn(*shape, generator=g) * std + mean).float()

    def norm(prefix):
        w[prefix + ".weight"] = rnd(E, std=0.1, mean=1.0)
        if c["norm"] == "layernorm":
            w[prefix + ".bias"] = rnd(E, std=0.05)

    w["model.embed_tokens.weight"] = rnd(V, E, std=0.5)
    for i in range(c["L"]):
        p = "model.layers.%d." % i
        r = role(i, c["L"])
        norm(p + "input_layernorm")
        a = p + "attn."
        if r in ("mamba", "mamba_memory"):
            w[a + "in_proj.weight"] = rnd(2 * Di, E, std=E ** -0.5)
            w[a + "conv1d.weight"] = rnd(Di, 1, K, std=0.3)
            w[a + "conv1d.bias"] = rnd(Di, std=0.1)
            w[a + "x_proj.weight"] = rnd(R + 2 * N, Di, std=Di ** -0.5)
            w[a + "dt_proj.weight"] = rnd(Di, R, std=R ** -0.5)
            w[a + "dt_proj.bias"] = rnd(Di, std=0.5, mean=-3.0)
            w[a + "A_log"] = torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(Di, 1) + rnd(Di, N, std=0.05)
            w[a + "D"] = rnd(Di, std=0.1, mean=1.0)
            w[a + "out_proj.weight"] = rnd(E, Di, std=Di ** -0.5)
        elif r == "gmu":
            w[a + "in_proj.weight"] = rnd(Di, E, std=E ** -0.5)
            if c["mlp_bias"]:
                w[a + "in_proj.bias"] = rnd(Di, std=0.05)
            w[a + "out_proj.weight"] = rnd(E, Di, std=Di ** -0.5)
            if c["mlp_bias"]:
                w[a + "out_proj.bias"] = rnd(E, std=0.05)
        else:
            rows = (H + 2 * G) * hd if r in ("swa", "full_kv") else H * hd
            w[a + "Wqkv.weight"] = rnd(rows, E, std=E ** -0.5)
            if c["qkv_bias"]:
                b = rnd(rows, std=0.05)
                if r != "cross" and not c["kbias_nonzero"]:
                    b[H * hd:(H + G) * hd] = 0
                w[a + "Wqkv.bias"] = b
            if c["da"]:
                for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
                    w[a + "inner_cross_attn." + n] = rnd(hd, std=0.1)
                w[a + "inner_cross_attn.subln.weight"] = rnd(2 * hd, std=0.1, mean=1.0)
            w[a + "out_proj.weight"] = rnd(E, H * hd, std=(H * hd) ** -0.5)
            if c["out_bias"]:
                w[a + "out_proj.bias"] = rnd(E, std=0.05)
        norm(p + "post_attention_layernorm")
        w[p + "mlp.fc1.weight"] = rnd(2 * I, E, std=E ** -0.5)
        if c["mlp_bias"]:
            w[p + "mlp.fc1.bias"] = rnd(2 * I, std=0.05)
        w[p + "mlp.fc2.weight"] = rnd(E, I, std=I ** -0.5)
        if c["mlp_bias"]:
            w[p + "mlp.fc2.bias"] = rnd(E, std=0.05)
    norm("model.final_layernorm")
    if not c["tied"]:
        w["lm_head.weight"] = rnd(V, E, std=E ** -0.5)
    return w


def hf_dtype(name):
    """HF release dtypes: A_log and lambda_* F32, everything else BF16 (docs/MODEL.md §6.1)."""
    leaf = name.rsplit(".", 1)[-1]
    return torch.float32 if leaf == "A_log" or leaf.startswith("lambda_") else torch.bfloat16


def fused_rows(c):
    """HF Wqkv row index for each row of the ArchScale fused projection (docs/MODEL.md §5.4)."""
    H, G, hd = c["H"], c["G"], c["hd"]
    P = H // G
    Q, C = H * hd, G * hd
    rows = []
    for grp in range(G):
        for s in range(P + 2):
            for d in range(hd):
                if s < P:
                    rows.append((grp * P + s) * hd + d)
                elif s == P:
                    rows.append(Q + grp * hd + d)
                else:
                    rows.append(Q + C + grp * hd + d)
    return torch.tensor(rows)


def archscale_state(c, w, fused):
    """ArchScale names (docs/MODEL.md §5.2 / §5.3) for canonical weights w."""
    H, G, hd = c["H"], c["G"], c["hd"]
    Q, C = H * hd, G * hd
    out = collections.OrderedDict()
    out["transformer.wte.weight"] = w["model.embed_tokens.weight"]
    for i in range(c["L"]):
        r = role(i, c["L"])
        hp, ap = "model.layers.%d." % i, "transformer.h.%d." % i
        for hn, an in (("input_layernorm", "norm_1"), ("post_attention_layernorm", "norm_2")):
            for s in ("weight", "bias"):
                if hp + hn + "." + s in w:
                    out[ap + an + "." + s] = w[hp + hn + "." + s]
        a = hp + "attn."
        if r in ("mamba", "mamba_memory"):
            for n in ("in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
                      "dt_proj.bias", "A_log", "D", "out_proj.weight"):
                out[ap + "attn." + n] = w[a + n]
        elif r == "gmu":
            for n in ("in_proj.weight", "in_proj.bias", "out_proj.weight", "out_proj.bias"):
                if a + n in w:
                    out[ap + "attn.gmu." + n] = w[a + n]
        else:
            W = w[a + "Wqkv.weight"]
            b = w.get(a + "Wqkv.bias")
            if r == "cross":
                key = "attn.attn" if fused else "attn.q_proj"
                out[ap + key + ".weight"] = W
                if b is not None:
                    out[ap + key + ".bias"] = b
            elif fused:
                idx = fused_rows(c)
                out[ap + "attn.attn.weight"] = W[idx].clone()
                if b is not None:
                    out[ap + "attn.attn.bias"] = b[idx].clone()
            else:
                out[ap + "attn.q_proj.weight"] = W[:Q].clone()
                if b is not None:
                    out[ap + "attn.q_proj.bias"] = b[:Q].clone()
                out[ap + "attn.k_proj.weight"] = W[Q:Q + C].clone()
                out[ap + "attn.v_proj.weight"] = W[Q + C:].clone()
                if b is not None:
                    out[ap + "attn.v_proj.bias"] = b[Q + C:].clone()
            if c["da"]:
                for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2", "subln.weight"):
                    out[ap + "attn.da." + n] = w[a + "inner_cross_attn." + n]
            out[ap + "attn.proj.weight"] = w[a + "out_proj.weight"]
            if a + "out_proj.bias" in w:
                out[ap + "attn.proj.bias"] = w[a + "out_proj.bias"]
        out[ap + "mlp.w1.weight"] = w[hp + "mlp.fc1.weight"]
        if hp + "mlp.fc1.bias" in w:
            out[ap + "mlp.w1.bias"] = w[hp + "mlp.fc1.bias"]
        out[ap + "mlp.w3.weight"] = w[hp + "mlp.fc2.weight"]
        if hp + "mlp.fc2.bias" in w:
            out[ap + "mlp.w3.bias"] = w[hp + "mlp.fc2.bias"]
    for s in ("weight", "bias"):
        if "model.final_layernorm." + s in w:
            out["transformer.ln_f." + s] = w["model.final_layernorm." + s]
    # ArchScale always stores lm_head.weight; tied runs share wte's storage.
    out["lm_head.weight"] = out["transformer.wte.weight"] if c["tied"] else w["lm_head.weight"]
    return out


ST_DTYPE = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
ST_ORDER = {"F32": 4, "BF16": 2, "F16": 2}
ST_RANK = {"F16": 13, "BF16": 14, "F32": 17}  # safetensors dtype enum order


def tensor_bytes(t):
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    return t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata):
    """A safetensors writer following the format spec (header padded to 8,
    tensors by descending dtype then name)."""
    names = sorted(tensors, key=lambda n: (-ST_RANK[ST_DTYPE[tensors[n].dtype]], n))
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    off = 0
    blobs = []
    for n in names:
        t = tensors[n]
        b = tensor_bytes(t)
        header[n] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_config(c):
    """config.json of docs/MODEL.md §1.4 (Phi4Flash keys, plus sambay_* keys when the
    model is not expressible in Phi4Flash terms)."""
    E, H, hd = c["E"], c["H"], c["hd"]
    cfg = collections.OrderedDict(
        architectures=["Phi4FlashForCausalLM"], model_type="phi4flash",
        hidden_size=E, intermediate_size=c["I"], num_hidden_layers=c["L"],
        num_attention_heads=H, num_key_value_heads=c["G"], vocab_size=c["V"],
        sliding_window=c["W"], max_position_embeddings=64, layer_norm_eps=1e-5,
        tie_word_embeddings=c["tied"], hidden_act="silu", mb_per_layer=2, torch_dtype="bfloat16",
        bos_token_id=c["bos"], eos_token_id=c["eos"], pad_token_id=c["pad"], mlp_bias=False, lm_head_bias=False,
        mamba_d_state=c["N"], mamba_d_conv=c["K"], mamba_expand=c["expand"],
        mamba_dt_rank=math.ceil(E / 16), mamba_conv_bias=True, mamba_proj_bias=False,
    )
    compatible = c["norm"] == "layernorm" and c["da"] and c["qkv_bias"] and c["out_bias"] and \
        not c["mlp_bias"] and H * hd == E and not c["mup"]
    if not compatible:
        if H * hd != E:
            cfg["head_dim"] = hd
        L = c["L"]
        cfg["sambay_norm_type"] = c["norm"]
        cfg["sambay_diff_attn"] = c["da"]
        cfg["sambay_qkv_bias"] = c["qkv_bias"]
        cfg["sambay_attn_out_bias"] = c["out_bias"]
        cfg["sambay_mlp_bias"] = c["mlp_bias"]
        scale = 1 / math.sqrt(hd) * (math.sqrt(128 / hd) if c["mup"] else 1)
        cfg["sambay_attn_scale"] = scale
        cfg["sambay_residual_scale"] = 1 / math.sqrt(2 * L) if c["mup"] else 1.0
        cfg["sambay_logit_scale"] = 8 / L if c["mup"] else 1.0
        cfg["sambay_hf_compatible"] = False
    return cfg


def tokenizer_files(c):
    """A tiny byte-level BPE tokenizer in the Hugging Face tokenizer.json
    layout (like the release's o200k one, scaled down): 120 vocabulary
    entries, a few merges, special added tokens, and ids left without a
    token (the padded vocabulary)."""
    base = [chr(ord("a") + i) for i in range(26)] + [chr(ord("A") + i) for i in range(26)] + \
        [str(i) for i in range(10)] + ["\u0120", "\u010a", ".", ",", "!", "?"]
    merges = [("t", "h"), ("th", "e"), ("\u0120", "the"), ("a", "n"), ("an", "d"), ("i", "n"), ("in", "g")]
    vocab = {t: i for i, t in enumerate(base)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    while len(vocab) < 120:
        vocab["x%d" % len(vocab)] = len(vocab)
    added = [{"id": 120, "content": "<|endoftext|>", "special": True}, {"id": 121, "content": "<|user|>", "special": True},
             {"id": 122, "content": "<|end|>", "special": True}, {"id": 123, "content": "hello_world", "special": False}]
    tok = collections.OrderedDict(version="1.0", added_tokens=[dict(a, single_word=False, lstrip=False, rstrip=False, normalized=False) for a in added],
                                  model=collections.OrderedDict(type="BPE", vocab=vocab, merges=[a + " " + b for a, b in merges]))
    tcfg = collections.OrderedDict(add_bos_token=False, add_eos_token=False, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   chat_template="{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}",
                                   tokenizer_class="GPT2Tokenizer")
    gen = collections.OrderedDict(bos_token_id=c["bos"], eos_token_id=[c["eot"], c["eos"]], pad_token_id=c["pad"])
    return {"tokenizer.json": tok, "tokenizer_config.json": tcfg, "generation_config.json": gen}


def hparams(c, head):
    hp = collections.OrderedDict(
        model_name=c["model_name"], train_config=c["train_config"], seq_len=64,
        swa_len=c["W"], mup=c["mup"], lr=np.float64(4e-4), micro_batch_size=np.int64(8),
    )
    hp["base_hps.d0"] = 8
    hp["base_hps.hd0"] = 128
    if head:
        hp["depth_scale"] = c["mup"]  # HEAD always records it (docs/MODEL.md §1.3)
        hp["original_mup"] = False
    else:
        hp["original_mup"] = False
    return hp


def optimizer_state(model):
    g = torch.Generator().manual_seed(7)
    state = {}
    for i, (n, t) in enumerate(model.items()):
        state[i] = {"step": torch.tensor(10.0),
                    "exp_avg": (torch.randn(t.shape, generator=g) * 1e-3).bfloat16(),
                    "exp_avg_sq": (torch.rand(t.shape, generator=g) * 1e-6).bfloat16()}
    return {"state": state, "param_groups": [{"lr": 4e-4, "betas": (0.9, 0.95), "weight_decay": 0.1,
                                              "params": list(range(len(model)))}]}


def save_pth(path, c, state_dict, head):
    torch.save({"model": state_dict, "optimizer": optimizer_state(state_dict),
                "hparams": dict(hparams(c, head)), "iter_num": 1000, "step_count": 250}, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata"
    torch.use_deterministic_algorithms(True)
    for name, c in CONFIGS.items():
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "hf"), exist_ok=True)
        os.makedirs(os.path.join(d, "hf-sharded"), exist_ok=True)
        w = make_weights(c)
        hfw = collections.OrderedDict((n, t.to(hf_dtype(n))) for n, t in w.items())
        cfg = json.dumps(hf_config(c), indent=2) + "\n"
        for sub in ("hf", "hf-sharded"):
            with open(os.path.join(d, sub, "config.json"), "w") as f:
                f.write(cfg)
            if c["tokenizer"]:
                for fn, doc in tokenizer_files(c).items():
                    with open(os.path.join(d, sub, fn), "w") as f:
                        f.write(json.dumps(doc, indent=2) + "\n")
        write_safetensors(os.path.join(d, "hf", "model.safetensors"), hfw, {"format": "pt"})
        names = sorted(hfw)
        half = [n for n in names if n < "model.layers.4"], [n for n in names if n >= "model.layers.4"]
        wm = {}
        for k, part in enumerate(half):
            fn = "model-%05d-of-00002.safetensors" % (k + 1)
            write_safetensors(os.path.join(d, "hf-sharded", fn), {n: hfw[n] for n in part}, {"format": "pt"})
            wm.update({n: fn for n in part})
        total = sum(t.numel() * t.element_size() for t in hfw.values())
        with open(os.path.join(d, "hf-sharded", "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)
            f.write("\n")
        save_pth(os.path.join(d, "archscale-head.pth"), c, archscale_state(c, w, fused=False), head=True)
        save_pth(os.path.join(d, "archscale-fused.pth"), c, archscale_state(c, w, fused=True), head=False)
        bare = collections.OrderedDict(("module." + k, v) for k, v in archscale_state(c, w, fused=False).items())
        torch.save(bare, os.path.join(d, "pytorch_model.bin"))
        with open(os.path.join(d, "litgpt-config.json"), "w") as f:
            f.write(json.dumps(c["litgpt"], indent=2) + "\n")


if __name__ == "__main__":
    main()
