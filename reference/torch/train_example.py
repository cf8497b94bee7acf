#!/usr/bin/env python3
"""Trains the example SambaY model: a small Phi-4-mini-flash-shaped model
that writes Go, trained on the Go standard library's source.

Everything here is independent of the Go code it serves as a fixture for:
the forward pass is sambay_ref.py's (the same functions that write the
goldens, run with autograd), the tokenizer is a byte-level BPE trained by
this script, and the output layouts are make_fixtures.py's.

Steps (fixed seeds; one run on 2 CPU cores takes about 30 minutes):
  1. Corpus: every non-test, non-generated .go file under $GOROOT/src of at
     most 64 KB (vendor/ and testdata/ excluded), sorted by path. The
     files of HELDOUT are held out for evaluation; of the rest, a seeded
     shuffle takes files up to TRAIN_BYTES.
  2. Tokenizer: byte-level BPE on the training files, pre-tokenized with
     tiktoken's o200k_base split pattern (as the release's tokenizer),
     VOCAB ids in all: 256 bytes, merges, and the release's chat special
     tokens. Saved as tokenizer.json + tokenizer_config.json (the release's
     chat template).
  3. Model: CFG below, trained with AdamW on random windows of SEQ tokens
     (files joined by <|endoftext|>), STEPS steps.
  4. Output, in OUT_DIR:
       archscale-head.pth       ArchScale HEAD checkpoint {model, optimizer,
                                hparams, iter_num, step_count}, fp32 master
                                weights, bf16 Adam moments
       litgpt-config.json       the lit_gpt Config of the run
       tokenizer.json, tokenizer_config.json
       heldout.go.txt           the held-out files, joined
       heldout.ids              its token ids (little-endian uint16), by this
                                script's BPE encoder
       golden-fp32.safetensors  sambay_ref fp32 forward (bf16 weights, as
                                the import stores them) on GOLDEN_TOKENS
                                held-out tokens
       greedy-fp32.txt          greedy decoding of GREEDY tokens after the
                                prompt "func main() {" (ids, comma-separated)
       heldout-ppl.json         perplexity of the bf16 weights on the
                                held-out text, llama-perplexity semantics
                                (chunks of SEQ, second half scored)
       train-log.tsv            step, tokens, seconds, train loss (mean of
                                the last LOG_EVERY steps), held-out loss

Run: /usr/bin/python3 reference/torch/train_example.py OUT_DIR [--goroot DIR] [--steps N]
Needs Debian's python3-torch (1.13), python3-numpy and python3-regex.
"""
import argparse
import collections
import heapq
import json
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import regex
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import sambay_ref as ref  # noqa: E402

# tiktoken's o200k_base split pattern, as the release's tokenizer declares it.
O200K = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|tool|>", "<|/tool|>"]
VOCAB = 2048
HELDOUT = ["bufio/bufio.go", "bufio/scan.go"]
TRAIN_BYTES = 16 << 20
SEQ = 256
BATCH = 32
STEPS = 400
WARMUP = 40
LR, LR_MIN, WD = 3e-3, 3e-4, 0.1
LOG_EVERY = 20
GOLDEN_TOKENS = 64
GREEDY = 32
PROMPT = "func main() {"
SEED = 2026

EOT = VOCAB - len(SPECIALS)  # <|endoftext|>
END = EOT + SPECIALS.index("<|end|>")

CFG = dict(
    L=8, E=64, H=4, G=2, hd=16, I=160, V=VOCAB, vocab=VOCAB, W=64, N=16, K=4, expand=2,
    norm="layernorm", da=True, qkv_bias=True, out_bias=True, mlp_bias=False, tied=True,
    mup=False, kbias_nonzero=False, seed=SEED, tokenizer=True, bos=EOT, eos=EOT, pad=EOT, eot=END,
    litgpt=dict(name="phi4miniflash_d32", n_layer=8, n_embd=64, n_head=4, n_query_groups=2,
                head_dim=16, intermediate_size=160, vocab_size=VOCAB, padding_multiple=64,
                local_window=64, block_size=SEQ),
    train_config="phi4miniflash_go_example",
    model_name="phi4miniflash_go_d8",
)


# ---- corpus ---------------------------------------------------------------

def go_files(goroot):
    src = os.path.join(goroot, "src")
    out = []
    for d, dirs, files in os.walk(src):
        dirs[:] = sorted(x for x in dirs if x not in ("vendor", "testdata"))
        for f in sorted(files):
            if not f.endswith(".go") or f.endswith("_test.go"):
                continue
            p = os.path.join(d, f)
            if os.path.getsize(p) > 64 << 10:
                continue
            text = open(p, encoding="utf-8", errors="strict").read()
            if regex.search(r"(?m)^// Code generated .* DO NOT EDIT\.$", text):
                continue
            out.append((os.path.relpath(p, src), text))
    out.sort()
    return out


# ---- tokenizer ------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's byte-level alphabet: printable bytes stand for themselves,
    the others for code points from 256 up, in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
SPLIT = regex.compile(O200K)


def pieces(text):
    return [p.encode("utf-8") for p in SPLIT.findall(text)]


def train_bpe(texts, n_merges):
    """Classic BPE: repeatedly merge the most frequent adjacent pair of
    symbols within pre-tokenized pieces (ties: the smallest pair in byte
    order). Returns the merges as (left bytes, right bytes)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(pieces(t))
    words = [[bytes([b]) for b in w] for w in counts]
    freq = list(counts.values())
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[a, b] += freq[i]
            where[a, b].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        c, p = heapq.heappop(heap)
        if pair_count.get(p, 0) != -c or c == 0:
            continue  # stale entry
        merges.append(p)
        a, b = p
        changed = set()
        for i in where.pop(p):
            w, f = words[i], freq[i]
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            for x, y in zip(w, w[1:]):
                pair_count[x, y] -= f
                changed.add((x, y))
            for x, y in zip(out, out[1:]):
                pair_count[x, y] += f
                where[x, y].add(i)
                changed.add((x, y))
            words[i] = out
        for q in changed:
            n = pair_count.get(q, 0)
            if n > 0 and q != p:
                heapq.heappush(heap, (-n, q))
            elif n <= 0:
                pair_count.pop(q, None)
        pair_count.pop(p, None)
    return merges


class BPE:
    def __init__(self, merges):
        self.rank = {p: i for i, p in enumerate(merges)}
        self.ids = {bytes([b]): b for b in range(256)}
        for a, b in merges:
            self.ids[a + b] = len(self.ids)
        self.cache = {}

    def word(self, w):
        got = self.cache.get(w)
        if got is not None:
            return got
        parts = [bytes([b]) for b in w]
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda j: self.rank.get((parts[j], parts[j + 1]), 1 << 30))
            if (parts[best], parts[best + 1]) not in self.rank:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        got = [self.ids[x] for x in parts]
        self.cache[w] = got
        return got

    def encode(self, text):
        out = []
        for p in pieces(text):
            out.extend(self.word(p))
        return out

    def decode(self, ids):
        inv = {v: k for k, v in self.ids.items()}
        return b"".join(inv.get(i, SPECIALS[i - EOT].encode() if i >= EOT else b"") for i in ids).decode("utf-8", "replace")


def tokenizer_files(merges):
    u = lambda b: "".join(B2U[x] for x in b)
    vocab = collections.OrderedDict((u(bytes([b])), b) for b in range(256))
    for a, b in merges:
        vocab[u(a + b)] = len(vocab)
    added = [collections.OrderedDict(id=EOT + i, content=s, single_word=False, lstrip=False, rstrip=False,
                                     normalized=False, special=True) for i, s in enumerate(SPECIALS)]
    tok = collections.OrderedDict(
        version="1.0", truncation=None, padding=None, added_tokens=added, normalizer=None,
        pre_tokenizer=collections.OrderedDict(type="Sequence", pretokenizers=[
            collections.OrderedDict(type="Split", pattern={"Regex": O200K}, behavior="Isolated", invert=False),
            collections.OrderedDict(type="ByteLevel", add_prefix_space=False, trim_offsets=True, use_regex=False)]),
        post_processor=None,
        decoder=collections.OrderedDict(type="ByteLevel", add_prefix_space=True, trim_offsets=True, use_regex=True),
        model=collections.OrderedDict(type="BPE", dropout=None, unk_token=None, continuing_subword_prefix=None,
                                      end_of_word_suffix=None, fuse_unk=False, byte_fallback=False, ignore_merges=False,
                                      vocab=vocab, merges=[u(a) + " " + u(b) for a, b in merges]))
    template = ("{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and "
                "message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + "
                "message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + "
                "message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
                "{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}")
    cfg = collections.OrderedDict(add_bos_token=False, add_eos_token=False, bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>",
                                  chat_template=template, clean_up_tokenization_spaces=False,
                                  model_max_length=SEQ, tokenizer_class="GPT2Tokenizer")
    return tok, cfg


# ---- model ----------------------------------------------------------------

def init_weights(c):
    """HF-named fp32 weights: GPT-style normal(0, 0.02) matrices, output
    projections scaled by 1/sqrt(2L), Mamba's dt/A/D initialisation."""
    g = torch.Generator().manual_seed(c["seed"])
    w = mf.make_weights(c)  # names, shapes and order
    L = c["L"]
    for n, t in w.items():
        leaf = n.rsplit(".", 1)[-1]
        if n.endswith("layernorm.weight") or n.endswith("subln.weight"):
            t.fill_(1.0)
        elif n.endswith("layernorm.bias") or n.endswith(".bias") and "dt_proj" not in n and "conv1d" not in n:
            t.zero_()
        elif leaf == "A_log":
            t.copy_(torch.log(torch.arange(1, c["N"] + 1, dtype=torch.float32)).repeat(t.shape[0], 1))
        elif leaf == "D":
            t.fill_(1.0)
        elif "dt_proj.bias" in n:
            dt = torch.exp(torch.rand(t.shape, generator=g) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            t.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        elif "conv1d" in n:
            k = 1 / math.sqrt(c["K"])
            t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * k)
        elif leaf.startswith("lambda_"):
            t.copy_(torch.randn(t.shape, generator=g) * 0.1)
        else:
            std = 0.02 / math.sqrt(2 * L) if "out_proj" in n or "fc2" in n else 0.02
            t.copy_(torch.randn(t.shape, generator=g) * std)
    return w


def kbias_slice(c, name):
    """The k part of a self-attention Wqkv bias: ArchScale HEAD's k_proj has
    no bias, so it stays zero (docs/MODEL.md §5.4)."""
    if not name.endswith("Wqkv.bias") or mf.role(int(name.split(".")[2]), c["L"]) == "cross":
        return None
    q = c["H"] * c["hd"]
    return slice(q, q + c["G"] * c["hd"])


def bf16_weights(c, w):
    return collections.OrderedDict((n, t.detach().to(mf.hf_dtype(n)).float()) for n, t in w.items())


def eval_ppl(c, w, ids, ctx):
    """llama-perplexity semantics: chunks of ctx tokens, each from an empty
    state, positions ctx/2 … ctx−2 predicting the next token."""
    model = ref.Ref(ref.Cfg(mf.hf_config(c)), {n: (t, "") for n, t in w.items()}, False, "cpu")
    n = len(ids) // ctx
    chunks = torch.tensor(ids[:n * ctx]).reshape(n, ctx)
    nll = []
    with torch.no_grad():
        for i in range(0, n, 8):
            logits, _ = model.forward(chunks[i:i + 8])
            lp = torch.log_softmax(logits[:, ctx // 2:ctx - 1].double(), -1)
            tgt = chunks[i:i + 8, ctx // 2 + 1:]
            nll.append(-lp.gather(-1, tgt[..., None])[..., 0].reshape(-1))
    nll = torch.cat(nll)
    mean = nll.mean().item()
    ppl = math.exp(mean)
    var = (nll * nll).mean().item() - mean * mean
    return dict(ppl=ppl, ppl_stderr=ppl * math.sqrt(var / (len(nll) - 1)), tokens=len(ids), ctx=ctx,
                chunks=n, scored=len(nll), nll_mean=mean)


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    p = (step - WARMUP) / max(1, STEPS - WARMUP)
    return LR_MIN + 0.5 * (LR - LR_MIN) * (1 + math.cos(math.pi * p))


def main():
    global STEPS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--goroot", default=None)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-mb", type=float, default=TRAIN_BYTES / (1 << 20), help="training text, MiB (a smoke test takes less)")
    args = ap.parse_args()
    STEPS = args.steps
    train_bytes = int(args.train_mb * (1 << 20))
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    goroot = args.goroot or subprocess.check_output(["go", "env", "GOROOT"], text=True).strip()
    goversion = open(os.path.join(goroot, "VERSION")).readline().strip()
    t0 = time.time()

    files = go_files(goroot)
    held = [t for p, t in files if p in HELDOUT]
    assert len(held) == len(HELDOUT), "held-out files missing under %s" % goroot
    rest = [(p, t) for p, t in files if p not in HELDOUT]
    random.Random(SEED).shuffle(rest)
    train, size = [], 0
    for p, t in rest:
        if size + len(t) > train_bytes:
            continue
        train.append(t)
        size += len(t)
    heldout = "".join(held)
    print("corpus: %s, %d files, %d training files (%.1f MB), held-out %d bytes" % (
        goversion, len(files), len(train), size / 1e6, len(heldout)), file=sys.stderr)

    merges = train_bpe(train[:len(train) // 3], VOCAB - 256 - len(SPECIALS))
    bpe = BPE(merges)
    tok, tcfg = tokenizer_files(merges)
    print("tokenizer: %d merges (%.0f s)" % (len(merges), time.time() - t0), file=sys.stderr)
    data = []
    for t in train:
        data.extend(bpe.encode(t))
        data.append(EOT)
    data = torch.tensor(data, dtype=torch.int64)
    held_ids = bpe.encode(heldout)
    assert bpe.decode(held_ids) == heldout
    print("tokens: %d training (%.2f bytes/token), %d held-out (%.0f s)" % (
        len(data), size / len(data), len(held_ids), time.time() - t0), file=sys.stderr)

    c = CFG
    w = init_weights(c)
    params = collections.OrderedDict((n, t.clone().requires_grad_(True)) for n, t in w.items())
    print("model: %d parameters" % sum(t.numel() for t in params.values()), file=sys.stderr)
    decay = [t for n, t in params.items() if t.dim() == 2]
    other = [t for n, t in params.items() if t.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": other, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95), eps=1e-8)
    model = ref.Ref(ref.Cfg(mf.hf_config(c)), {n: (t, "") for n, t in params.items()}, False, "cpu")
    gen = torch.Generator().manual_seed(SEED)
    log = ["step\ttokens\tseconds\ttrain_loss\theldout_loss"]
    losses = []
    start = time.time()
    for step in range(STEPS):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step)
        off = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=gen)
        x = torch.stack([data[o:o + SEQ + 1] for o in off.tolist()])
        logits, _ = model.forward(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, c["V"]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for n, t in params.items():
            s = kbias_slice(c, n)
            if s is not None:
                t.grad[s] = 0
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % LOG_EVERY == 0 or step + 1 == STEPS:
            hl = ""
            if (step + 1) % (LOG_EVERY * 5) == 0 or step + 1 == STEPS:
                hl = "%.4f" % eval_ppl(c, params, held_ids[:8 * SEQ], SEQ)["nll_mean"]
            el = time.time() - start
            tl = sum(losses[-LOG_EVERY:]) / len(losses[-LOG_EVERY:])
            log.append("%d\t%d\t%.0f\t%.4f\t%s" % (step + 1, (step + 1) * BATCH * SEQ, el, tl, hl))
            print("step %d/%d  loss %.4f  held-out %s  %.0f s (%.2f s/step)" % (
                step + 1, STEPS, tl, hl or "-", el, el / (step + 1)), file=sys.stderr)
    train_s = time.time() - start

    final = collections.OrderedDict((n, t.detach().clone()) for n, t in params.items())
    for n, t in final.items():
        s = kbias_slice(c, n)
        if s is not None:
            assert t[s].abs().max() == 0
    wb = bf16_weights(c, final)
    ppl = eval_ppl(c, wb, held_ids, SEQ)
    ppl.update(text="heldout.go.txt", weights="bf16 (as imported)", go_version=goversion,
               train_seconds=round(train_s), steps=STEPS, train_tokens=STEPS * BATCH * SEQ)
    print("held-out perplexity: %.3f ± %.3f over %d predictions" % (ppl["ppl"], ppl["ppl_stderr"], ppl["scored"]),
          file=sys.stderr)

    # Outputs.
    def write(name, text):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            f.write(text)

    write("tokenizer.json", json.dumps(tok, ensure_ascii=False) + "\n")
    write("tokenizer_config.json", json.dumps(tcfg, indent=2) + "\n")
    write("heldout.go.txt", heldout)
    np.array(held_ids, dtype="<u2").tofile(os.path.join(args.out, "heldout.ids"))
    write("heldout-ppl.json", json.dumps(ppl, indent=2) + "\n")
    write("train-log.tsv", "\n".join(log) + "\n")
    write("litgpt-config.json", json.dumps(c["litgpt"], indent=2) + "\n")
    state = mf.archscale_state(c, final, fused=False)
    moments = [mf.archscale_state(c, collections.OrderedDict(
        (n, opt.state[params[n]][k]) for n in params), fused=False) for k in ("exp_avg", "exp_avg_sq")]
    optim = {"state": {i: {"step": torch.tensor(float(STEPS)), "exp_avg": moments[0][n].bfloat16(),
                           "exp_avg_sq": moments[1][n].bfloat16()} for i, n in enumerate(state)},
             "param_groups": [{"lr": LR_MIN, "betas": (0.9, 0.95), "weight_decay": WD, "params": list(range(len(state)))}]}
    hp = mf.hparams(c, head=True)
    hp.update(seq_len=SEQ, lr=np.float64(LR), micro_batch_size=np.int64(BATCH))
    torch.save({"model": state, "optimizer": optim, "hparams": dict(hp), "iter_num": STEPS, "step_count": STEPS},
               os.path.join(args.out, "archscale-head.pth"))
    gm = ref.Ref(ref.Cfg(mf.hf_config(c)), {n: (t, "") for n, t in wb.items()}, False, "cpu")
    with torch.no_grad():
        gids = held_ids[:GOLDEN_TOKENS]
        logits, hidden = gm.forward(torch.tensor(gids))
        out = {"input_ids": np.array(gids, dtype=np.int64), "logits": logits.numpy()}
        for i, h in enumerate(hidden):
            out["hidden.%d" % i] = h.numpy()
        ref.write_golden(os.path.join(args.out, "golden-fp32.safetensors"), out)
        seq = bpe.encode(PROMPT)
        for _ in range(GREEDY):
            last = gm.forward(torch.tensor(seq))[0][-1]
            seq.append(int(torch.nonzero(last == last.max())[0].item()))
        greedy = seq[len(bpe.encode(PROMPT)):]
    write("greedy-fp32.txt", ",".join(str(t) for t in greedy) + "\n")
    print("greedy after %r: %r" % (PROMPT, bpe.decode(greedy)), file=sys.stderr)
    print("done in %.0f s" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
