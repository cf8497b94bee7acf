// Prints tiktoken's encoding speed (MB/s, best of 3 after a warm-up) on a
// gzipped corpus: node bench.mjs CORPUS.gz ENCODING. Used by the Go
// benchmark BenchmarkEncode (tokenizer) to compare in the same run.
import fs from "node:fs";
import zlib from "node:zlib";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { get_encoding } = require("tiktoken");
const text = zlib.gunzipSync(fs.readFileSync(process.argv[2])).toString("utf8");
const enc = get_encoding(process.argv[3]);
let best = 0;
for (let i = 0; i < 4; i++) {
  const t = process.hrtime.bigint();
  enc.encode(text, "all");
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (i > 0) best = Math.max(best, Buffer.byteLength(text) / 1e6 / s);
}
console.log(best.toFixed(3));
enc.free();
