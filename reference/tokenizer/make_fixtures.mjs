// Writes the tokenizer fixtures into testdata/tokenizer: a corpus of more
// than 1 MB of varied real text, its token ids under tiktoken's o200k_base
// and gpt2 encodings (the `tiktoken` npm package, the Rust tokenizer built
// to WebAssembly), and both encodings' rank files in tiktoken's text
// format. Not run by `go test`; run once, byte-identical from run to run:
//
//   npm install --prefix /tmp/tok tiktoken@1.0.22
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
