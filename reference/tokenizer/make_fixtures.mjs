// Writes the tokenizer fixtures into testdata/tokenizer: a corpus of more
// than 1 MB of varied real text, its token ids under tiktoken's o200k_base
// and gpt2 encodings (the `tiktoken` npm package, the Rust tokenizer built
// to WebAssembly), and both encodings' rank files in tiktoken's text
// format. Not run by `go test`; run once, byte-identical from run to run:
//
//   npm install --prefix /tmp/tok tiktoken@1.0.22 @huggingface/tokenizers@0.2.0
//   NODE_PATH=/tmp/tok/node_modules node reference/tokenizer/make_fixtures.mjs testdata/tokenizer
//
// The corpus: Go's language specification and memory model (English prose
// in HTML), Go standard library source, Python standard library source,
// reference/tokenizer/multilingual.txt, and generated runs of whitespace,
// digits and special tokens.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { get_encoding } = require("tiktoken");

const out = process.argv[2];
if (!out) throw new Error("usage: make_fixtures.mjs OUTDIR");
fs.mkdirSync(out, { recursive: true });
const here = path.dirname(new URL(import.meta.url).pathname);
const goroot = execSync("go env GOROOT").toString().trim();

// A small deterministic PRNG (mulberry32).
let seed = 12345;
function rand() {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];

const parts = [];
const add = (file) => parts.push(fs.readFileSync(file, "utf8"));
add(path.join(goroot, "doc/go_spec.html"));
add(path.join(goroot, "doc/go_mem.html"));
for (const f of ["src/strings/strings.go", "src/strings/builder.go", "src/bufio/bufio.go", "src/bufio/scan.go",
  "src/unicode/utf8/utf8.go", "src/unicode/utf8/utf8_test.go", "src/html/template/template_test.go",
  "src/regexp/regexp.go", "src/regexp/syntax/parse.go", "src/fmt/print.go", "src/fmt/scan.go",
  "src/encoding/json/decode.go", "src/net/http/server.go"]) {
  add(path.join(goroot, f));
}
const py = fs.readdirSync("/usr/lib").filter((d) => /^python3\.\d+$/.test(d)).sort()[0];
for (const f of ["textwrap.py", "string.py", "difflib.py", "argparse.py", "json/decoder.py", "json/encoder.py"]) {
  add(path.join("/usr/lib", py, f));
}
const multi = fs.readFileSync(path.join(here, "multilingual.txt"), "utf8");
parts.push(multi);
// Lines of the multilingual text shuffled together with runs of whitespace
// (ASCII and Unicode), digits and special tokens between them.
const lines = multi.split("\n").filter((l) => l.length > 0);
const spaces = [" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2003", "\u200b", "\u0085", "\r"];
let gen = "";
for (let i = 0; i < 3000; i++) {
  const words = pick(lines).split(" ");
  const from = Math.floor(rand() * words.length);
  gen += words.slice(from, from + 1 + Math.floor(rand() * 6)).join(" ");
  let ws = "";
  for (let k = Math.floor(rand() * 5); k >= 0; k--) ws += pick(spaces).repeat(1 + Math.floor(rand() * 8));
  gen += ws;
  if (rand() < 0.15) gen += String(Math.floor(rand() * 1e9)).repeat(1 + Math.floor(rand() * 4));
  if (rand() < 0.03) gen += pick(["<|endoftext|>", "<|endofprompt|>", "<|endoftext|><|endoftext|>"]);
}
parts.push(gen);
const corpus = parts.join("\n\n");
fs.writeFileSync(path.join(out, "corpus.txt.gz"), zlib.gzipSync(Buffer.from(corpus, "utf8"), { level: 9 }));
console.log(`corpus: ${Buffer.byteLength(corpus, "utf8")} bytes`);

function ranksFile(name) {
  const enc = JSON.parse(fs.readFileSync(require.resolve(`tiktoken/encoders/${name}.json`), "utf8"));
  // The package stores ranks as "! FIRST B64 B64 …" lines of consecutive ranks.
  let text = "";
  for (const line of enc.bpe_ranks.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    let rank = Number(f[1]);
    for (const tok of f.slice(2)) text += `${tok} ${rank++}\n`;
  }
  return { text, pat: enc.pat_str, special: enc.special_tokens };
}

for (const name of ["o200k_base", "gpt2"]) {
  const r = ranksFile(name);
  fs.writeFileSync(path.join(out, `${name}.tiktoken.gz`), zlib.gzipSync(Buffer.from(r.text), { level: 9 }));
  const enc = get_encoding(name);
  const ids = enc.encode(corpus, "all");
  const buf = Buffer.alloc(4 * ids.length);
  ids.forEach((id, i) => buf.writeUInt32LE(id, 4 * i));
  fs.writeFileSync(path.join(out, `corpus.${name}.ids.gz`), zlib.gzipSync(buf, { level: 9 }));
  fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify({ pat_str: r.pat, special_tokens: r.special }, null, 1) + "\n");
  console.log(`${name}: ${ids.length} tokens`);
  enc.free();
}

// Hugging Face tokenizer.json files built from the tiktoken ranks the way
// transformers' TikTokenConverter builds them (every split of a token into
// two tokens that are both ranked, ordered by the token's rank), encoded by
// @huggingface/tokenizers (tokenizers.js): GPT-2's (ByteLevel
// pre-tokenizer with its built-in pattern) and Phi-4-mini-flash's
// (o200k_base ranks, Split + ByteLevel, the release's added tokens).
const { Tokenizer } = require("@huggingface/tokenizers");
const byteEncoder = (() => {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const m = new Array(256);
  bs.forEach((b, i) => (m[b] = String.fromCodePoint(cs[i])));
  return m;
})();
const toStr = (buf) => Array.from(buf, (b) => byteEncoder[b]).join("");

function hfJSON(name, added, preTokenizer, ignoreMerges) {
  const r = ranksFile(name);
  const ranks = new Map();
  for (const line of r.text.split("\n")) {
    if (!line) continue;
    const [b64, rank] = line.split(" ");
    ranks.set(Buffer.from(b64, "base64").toString("latin1"), Number(rank));
  }
  const vocab = {};
  let merges = [];
  for (const [tok, rank] of ranks) {
    vocab[toStr(Buffer.from(tok, "latin1"))] = rank;
    if (tok.length === 1) continue;
    const local = [];
    for (let i = 1; i < tok.length; i++) {
      const l = tok.slice(0, i), rr = tok.slice(i);
      if (ranks.has(l) && ranks.has(rr)) local.push([l, rr, rank]);
    }
    local.sort((a, b) => ranks.get(a[0]) - ranks.get(b[0]) || ranks.get(a[1]) - ranks.get(b[1]));
    merges.push(...local);
  }
  merges.sort((a, b) => a[2] - b[2]);
  merges = merges.map(([l, rr]) => [toStr(Buffer.from(l, "latin1")), toStr(Buffer.from(rr, "latin1"))]);
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: Object.entries(added).map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))
      .sort((a, b) => a.id - b.id),
    normalizer: null, pre_tokenizer: preTokenizer, post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges },
  };
}

const release = path.join(here, "../../testdata/phi4flash-release");
const phiAdded = { "<|endoftext|>": 199999, "<|endofprompt|>": 200018, ...JSON.parse(fs.readFileSync(path.join(release, "added_tokens.json"), "utf8")) };
const o200k = ranksFile("o200k_base");
for (const [name, json] of [
  ["gpt2", hfJSON("gpt2", { "<|endoftext|>": 50256 }, { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }, false)],
  ["phi4flash", hfJSON("o200k_base", phiAdded, { type: "Sequence", pretokenizers: [
    { type: "Split", pattern: { Regex: o200k.pat }, behavior: "Isolated", invert: false },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] }, true)],
]) {
  // The tokenizer.json itself is not stored (4 MB for phi4flash): the Go
  // test builds its own from the ranks.
  const tok = new Tokenizer(json, { add_bos_token: false, add_eos_token: false });
  // tokenizers.js runs the patterns as JavaScript regular expressions, whose
  // \s leaves out U+0085 (NEL), which Rust's regex (tiktoken) and Oniguruma
  // (Rust tokenizers) count as a space; GPT-2's pattern then splits
  // differently around it, so GPT-2's corpus here has no NEL.
  const text = (name === "gpt2" ? corpus.replaceAll("\u0085", "") : corpus) + "\n<|user|>Hi<|end|><|assistant|>";
  const ids = tok.encode(text, { add_special_tokens: false }).ids;
  const buf = Buffer.alloc(4 * ids.length);
  ids.forEach((id, i) => buf.writeUInt32LE(id, 4 * i));
  fs.writeFileSync(path.join(out, `corpus.${name}.hf.ids.gz`), zlib.gzipSync(buf, { level: 9 }));
  console.log(`${name} (tokenizers.js): ${ids.length} tokens, ${json.model.merges.length} merges`);
}
