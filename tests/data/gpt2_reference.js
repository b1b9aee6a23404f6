// tests/data/gpt2_reference.js
// Runs the reference GPT-2 encoder (npm gpt-3-encoder@1.1.4, unpacked by scripts/setup.sh at
// $KILN_CACHE/reference/gpt-3-encoder/) on files, for tests/data/test_bpe_reference.cpp and
// bench/prepare_vs_js.sh. Reads bytes and decodes them the way any JS caller must before encoding
// (Buffer.toString('utf8'): each invalid sequence becomes U+FFFD); prints one JSON line per file.
//
//   node gpt2_reference.js PACKAGE_DIR encode FILE...   ids of each whole file
//   node gpt2_reference.js PACKAGE_DIR chunked FILE...  the same ids, fed in slices (see below)
//   node gpt2_reference.js PACKAGE_DIR split FILE...    the regex pieces, as arrays of UTF-8 bytes
//   node gpt2_reference.js PACKAGE_DIR bench FILE...    {"files","bytes","tokens","seconds"}: each
//                                                       file encoded whole, +1 token per document
//                                                       for the separator kiln appends
//   node gpt2_reference.js PACKAGE_DIR bench-sliced FILE...  the same, fed in slices like `chunked`:
//                                                       the reference at its best
//
// `chunked` exists because the reference is quadratic in the length of one call (it grows its
// result with Array.concat per piece), so megabytes in one call take minutes. It cuts the text
// only before a space that follows an ASCII character other than white space: no alternative of the
// GPT-2 pattern can match across such a point, so the ids are the same as for the whole text (the
// test checks this on a sample against `encode`). `bench` never slices: it times the reference as
// users would call it; `bench-sliced` shows how fast it could be without its quadratic step.
'use strict';
const fs = require('fs');
const path = require('path');

const [pkg, mode, ...files] = process.argv.slice(2);
if (!pkg || !mode) {
  process.stderr.write('usage: node gpt2_reference.js PACKAGE_DIR encode|chunked|split|bench|bench-sliced FILE...\n');
  process.exit(2);
}
const enc = require(path.resolve(pkg, 'Encoder.js'));
const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
// `split` shows the reference's own pieces only if this is its pattern, character for character.
if (!fs.readFileSync(path.resolve(pkg, 'Encoder.js'), 'utf8').includes(pat.source)) {
  process.stderr.write('gpt2_reference.js: Encoder.js does not use the GPT-2 pattern this script expects\n');
  process.exit(2);
}

function chunkedEncode(text, target) {
  const out = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + target, text.length);
    while (end < text.length) {
      const prev = text.charCodeAt(end - 1);
      if (text[end] === ' ' && prev < 0x80 && !/\s/.test(text[end - 1])) break;
      ++end;
    }
    for (const id of enc.encode(text.slice(start, end))) out.push(id);
    start = end;
  }
  return out;
}

if (mode === 'bench' || mode === 'bench-sliced') {
  let bytes = 0, tokens = 0;
  const t0 = process.hrtime.bigint();
  for (const f of files) {
    const buf = fs.readFileSync(f);
    bytes += buf.length;
    const text = buf.toString('utf8');
    tokens += (mode === 'bench' ? enc.encode(text) : chunkedEncode(text, 2000)).length + 1;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({files: files.length, bytes, tokens, seconds}));
} else {
  for (const f of files) {
    const text = fs.readFileSync(f).toString('utf8');
    if (mode === 'encode') {
      console.log(JSON.stringify(enc.encode(text)));
    } else if (mode === 'chunked') {
      console.log(JSON.stringify(chunkedEncode(text, 2000)));
    } else if (mode === 'split') {
      console.log(JSON.stringify(Array.from(text.matchAll(pat), m => Array.from(Buffer.from(m[0], 'utf8')))));
    } else {
      process.stderr.write(`gpt2_reference.js: unknown mode ${mode}\n`);
      process.exit(2);
    }
  }
}
