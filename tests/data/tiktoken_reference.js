// tests/data/tiktoken_reference.js
// The reference for kiln's GPT-2 tokenizer: OpenAI's tiktoken (its Rust core compiled to WASM, the
// npm package `tiktoken`, pinned by scripts/setup.sh at $KILN_CACHE/reference/tiktoken/), encoding
// r50k_base, which is GPT-2's vocabulary, merges and split pattern. Used by
// tests/data/test_bpe_reference.cpp, bench/prepare_vs_js.sh and to generate
// data/pretokenize_tables.h. Reads files as bytes and decodes them as any JS caller must before
// encoding (Buffer.toString('utf8'): each maximal invalid subpart becomes U+FFFD).
//
//   node tiktoken_reference.js PKG encode FILE...   one JSON line per file: its ids, whole file in one call
//   node tiktoken_reference.js PKG split FILE...    the pieces of the split pattern, as arrays of UTF-8 bytes
//   node tiktoken_reference.js PKG check FILE...    {"files","bytes","tokens","sha256"} where sha256 is over
//                                                   every file's ids (uint32 LE) followed by 50256
//   node tiktoken_reference.js PKG bench FILE...    {"files","bytes","tokens","seconds"}: encode calls only
//   node tiktoken_reference.js PKG compare TOKENS.bin OFFSETS.bin FILE...
//                                                   kiln's ids (one shard's /tokens as raw uint16 LE and
//                                                   /doc_offsets as raw uint64 LE, from h5dump -b LE) against
//                                                   tiktoken's for FILE... in order, each followed by 50256:
//                                                   {"files","bytes","tokens","equal","first_difference"}
//   node tiktoken_reference.js PKG classes          {"S":[[lo,hi],...],"L":[...],"N":[...]}
//   node tiktoken_reference.js PKG tables           data/pretokenize_tables.h on stdout
//
// Where the character classes come from: tiktoken's regex engine (Rust `regex` with its own
// Unicode tables, 16.0 for tiktoken 1.0.22) is the authority, not Node's (which may know another
// Unicode version and, for \s, another definition). `classes` asks tiktoken itself: a Tiktoken
// built with one token per byte and the pattern \s (or \p{L}, \p{N}) encodes only the text that
// pattern matches, so encoding every code point once and decoding the ids lists exactly the code
// points in the class. `split` runs the GPT-2 pattern in Node with those classes spelled out as
// explicit ranges, so its pieces are the ones tiktoken's engine cuts (tiktoken does not expose
// its pieces).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const [pkg, mode, ...files] = process.argv.slice(2);
if (!pkg || !mode) {
  process.stderr.write('usage: node tiktoken_reference.js PKG encode|split|check|bench|classes|tables FILE...\n');
  process.exit(2);
}
const { Tiktoken } = require(path.resolve(pkg, 'lite', 'tiktoken.cjs'));
const r50k = require(path.resolve(pkg, 'encoders', 'r50k_base.json'));
const kPattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
if (r50k.pat_str !== kPattern) {
  process.stderr.write('tiktoken_reference.js: r50k_base does not use the GPT-2 pattern this script expects\n');
  process.exit(2);
}
const kEot = 50256;

function gpt2() {
  return new Tiktoken(r50k.bpe_ranks, r50k.special_tokens, r50k.pat_str);
}

// Code points (surrogates excluded: they are not scalar values) that tiktoken's `pattern` matches.
function members(pattern) {
  let ranks = '';
  for (let b = 0; b < 256; b++) ranks += Buffer.from([b]).toString('base64') + ' ' + b + '\n';
  const enc = new Tiktoken(ranks, {}, pattern);
  const all = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) all.push(String.fromCodePoint(cp));
  const ids = enc.encode_ordinary(all.join(''));
  enc.free();
  // Every id is one byte (id = byte value); together they are the UTF-8 of the matched text.
  return Array.from(Buffer.from(Uint8Array.from(ids)).toString('utf8'), c => c.codePointAt(0));
}

// Sorted code points -> inclusive [lo, hi] runs.
function runs(cps) {
  const out = [];
  for (const cp of cps) {
    if (out.length && out[out.length - 1][1] === cp - 1) out[out.length - 1][1] = cp;
    else out.push([cp, cp]);
  }
  return out;
}

// The three classes of the pattern, disjoint as kiln uses them: \s first, then \p{L}, then \p{N}.
function classes() {
  const S = members('\\s'), sset = new Set(S);
  const L = members('\\p{L}').filter(c => !sset.has(c)), lset = new Set(L);
  const N = members('\\p{N}').filter(c => !sset.has(c) && !lset.has(c));
  return { S: runs(S), L: runs(L), N: runs(N) };
}

function regexClass(rs) {
  const hex = cp => '\\u{' + cp.toString(16) + '}';
  return rs.map(([lo, hi]) => (lo === hi ? hex(lo) : hex(lo) + '-' + hex(hi))).join('');
}

// The GPT-2 pattern for Node's engine, with tiktoken's classes in place of \s, \p{L}, \p{N}.
function splitRegex(c) {
  const s = regexClass(c.S), l = regexClass(c.L), n = regexClass(c.N);
  return new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?[${l}]+| ?[${n}]+| ?[^${s}${l}${n}]+|[${s}]+(?![^${s}])|[${s}]+`, 'gu');
}

function tables(c) {
  const fmt = (name, rs, what) => {
    const cells = rs.map(([lo, hi]) => `{0x${lo.toString(16).toUpperCase()}, 0x${hi.toString(16).toUpperCase()}}`);
    const lines = [];
    for (let i = 0; i < cells.length; i += 7) lines.push('  ' + cells.slice(i, i + 7).join(', ') + ',');
    return `// ${what} (${rs.length} ranges)\ninline constexpr Range ${name}[] = {\n${lines.join('\n')}\n};\n`;
  };
  return `// data/pretokenize_tables.h  --  GENERATED, do not edit by hand.
// Unicode classes used by the GPT-2 split pattern (data/pretokenize.cpp): the code point ranges
// that tiktoken's regex engine matches with \\s, \\p{L} and \\p{N} (Rust regex, Unicode 16.0, in npm
// tiktoken@${require(path.resolve(pkg, 'package.json')).version}, the reference kiln's ids are tested against), asked of tiktoken itself:
//
//   node tests/data/tiktoken_reference.js $KILN_CACHE/reference/tiktoken tables > data/pretokenize_tables.h
//
// \\s is Unicode's White_Space property: it includes U+0085 (NEL) and excludes U+FEFF (BOM) and
// U+001C..U+001F, as OpenAI's regex, tiktoken and Hugging Face tokenizers do (JavaScript's \\s,
// which kiln followed before, does the opposite). The classes are disjoint: a code point in two
// of them counts as the first of space, letter, number.
#pragma once

#include <cstdint>

namespace data::unicode_tables {

struct Range {
  uint32_t lo, hi;  // inclusive
};

${fmt('kLetter', c.L, '\\p{L}: letters')}
${fmt('kNumber', c.N, '\\p{N}: numbers')}
${fmt('kSpace', c.S, '\\s: white space')}
}  // namespace data::unicode_tables
`;
}

function readText(f) {
  const buf = fs.readFileSync(f);
  return [buf.length, buf.toString('utf8')];
}

if (mode === 'classes') {
  console.log(JSON.stringify(classes()));
} else if (mode === 'tables') {
  process.stdout.write(tables(classes()));
} else if (mode === 'split') {
  const re = splitRegex(classes());
  for (const f of files) {
    const text = readText(f)[1];
    console.log(JSON.stringify(Array.from(text.matchAll(re), m => Array.from(Buffer.from(m[0], 'utf8')))));
  }
} else {
  const enc = gpt2();
  if (mode === 'encode') {
    for (const f of files) console.log(JSON.stringify(Array.from(enc.encode_ordinary(readText(f)[1]))));
  } else if (mode === 'compare') {
    const [tokFile, offFile, ...docs] = files;
    const kiln = new Uint16Array(new Uint8Array(fs.readFileSync(tokFile)).buffer);
    const offBuf = fs.readFileSync(offFile);
    const offsets = Array.from({ length: offBuf.length / 8 }, (_, i) => Number(offBuf.readBigUInt64LE(i * 8)));
    // Document d is kiln's ids [offsets[d], offsets[d+1]); each is compared on its own, so one
    // difference does not shift every later document.
    let bytes = 0, tokens = 0, equal = 0, first = null;
    if (offsets.length !== docs.length) first = { note: `kiln has ${offsets.length} documents, given ${docs.length} files` };
    docs.forEach((f, d) => {
      const [n, text] = readText(f);
      bytes += n;
      const ids = Array.from(enc.encode_ordinary(text));
      ids.push(kEot);
      tokens += ids.length;
      const begin = offsets[d], end = d + 1 < offsets.length ? offsets[d + 1] : kiln.length;
      let same = end - begin === ids.length;
      for (let i = 0; same && i < ids.length; i++) same = kiln[begin + i] === ids[i];
      if (!same && first === null) {
        let i = 0;
        while (i < ids.length && begin + i < end && kiln[begin + i] === ids[i]) i++;
        first = { file: f, index: i, kiln: begin + i < end ? kiln[begin + i] : null, tiktoken: i < ids.length ? ids[i] : null };
      }
      equal += same;
    });
    console.log(JSON.stringify({ files: docs.length, bytes, tokens, kiln_tokens: kiln.length, equal,
                                 first_difference: first }));
  } else if (mode === 'check' || mode === 'bench') {
    let bytes = 0, tokens = 0, seconds = 0;
    const hash = crypto.createHash('sha256');
    const eot = Buffer.alloc(4);
    eot.writeUInt32LE(kEot);
    for (const f of files) {
      const [n, text] = readText(f);
      bytes += n;
      const t0 = process.hrtime.bigint();
      const ids = enc.encode_ordinary(text);
      seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      tokens += ids.length + 1;  // + the separator kiln appends to every document
      if (mode === 'check') {
        hash.update(Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
        hash.update(eot);
      }
    }
    const out = { files: files.length, bytes, tokens };
    if (mode === 'check') out.sha256 = hash.digest('hex'); else out.seconds = seconds;
    console.log(JSON.stringify(out));
  } else {
    process.stderr.write(`tiktoken_reference.js: unknown mode ${mode}\n`);
    process.exit(2);
  }
  enc.free();
}
