// data/tokenizer_gpt2.cpp
// GPT-2 byte-level BPE (data/tokenizer_gpt2.h): loading the two files, encode with a per-thread
// piece cache, decode, save.
//
// How GPT-2 encodes, and where each step lives:
//   1. split the text into pieces with the GPT-2 pattern            (data/pretokenize.cpp)
//   2. each byte of a piece is one initial symbol: the token for the printable character that
//      bytes_to_unicode() assigns to it (so "Ġ" is the space byte)   (byte_ids_ below)
//   3. merge symbols by rank                                        (data/bpe_merge.cpp)
// `<|endoftext|>` (id 50256) is the document separator that prepare appends. The same characters
// inside a text are plain text: the reference JS encoder does not special-case them either, so
// "<|endoftext|>" in a document encodes as "<", "|", "end", "of", "text", "|", ">".
//
// Merges are looked up by id pairs. The JS reference keys its rank table by the string
// `left + "," + right`, which makes 11 GPT-2 pairs alias others (e.g. ('",', '"') reads the rank
// of ('"', ',"')); an exhaustive check of every string of up to 6 characters from `",'[](){}. `
// found no input where an aliased pair is ever adjacent when its rank would be consulted, and all
// the reference comparisons agree, so kiln implements the pair semantics of OpenAI's encoder.py.
#include "data/tokenizer_gpt2.h"
#include "data/utf8.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "data/bpe_merge.h"
#include "data/io.h"
#include "data/json_scan.h"
#include "data/pretokenize.h"
#include "kernels/check.h"
#include "kernels/yaml_strict.h"

namespace data {
namespace fs = std::filesystem;

namespace {

constexpr const char* kEot = kGpt2EotText;
// Pieces up to this many bytes are cached; longer ones are rare and would crowd the cache.
constexpr size_t kMaxCachedPiece = 48;
constexpr size_t kCacheSlots = size_t{1} << 15;  // per thread: ~3 MB when full

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order, so every byte has a visible, non-space character.
std::vector<uint32_t> bytes_to_unicode() {
  std::vector<uint32_t> cp(256);
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    cp[b] = printable ? b : 256 + n++;
  }
  return cp;
}

std::string utf8_of(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else {  // bytes_to_unicode never goes past U+0143
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// A token for a message: in double quotes, with bytes outside printable ASCII as \xHH.
std::string quote_token(std::string_view t) {
  std::string q = "\"";
  for (const unsigned char c : t) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      q += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      q += buf;
    }
  }
  return q + "\"";
}

// Regular files only, read with errors named (a FIFO named encoder.json would block forever).
std::string slurp(const std::string& path) { return kernels::read_user_text_file(path, "tokenizer file"); }

// Gives every tokenizer a never-reused id, so a thread's cache can tell whose entries it holds
// (an address could be reused by a later tokenizer with another vocabulary).
std::atomic<uint64_t> g_next_instance{1};

struct PieceCache {
  struct Slot {
    std::string key;
    std::vector<uint32_t> ids;
  };
  uint64_t owner = 0;
  std::vector<Slot> slots;
};
thread_local PieceCache t_cache;

class Gpt2Tokenizer final : public Tokenizer {
 public:
  Gpt2Tokenizer(const std::string& dir, std::string encoder_json, std::string vocab_bpe)
      : encoder_json_(std::move(encoder_json)), vocab_bpe_(std::move(vocab_bpe)) {
    const std::string enc_path = (fs::path(dir) / kGpt2EncoderFile).string();
    const std::string bpe_path = (fs::path(dir) / kGpt2MergesFile).string();
    // Token text -> id. Keys view the strings in `by_id`, which outlives the map: loading is on
    // the start-up path of every `kiln prepare`, so no per-token copies.
    std::vector<std::string> by_id;
    const Vocab vocab = parse_encoder(enc_path, &by_id);
    parse_merges(bpe_path, vocab);
    // Hash of the two files that define the ids (tokenizer.yaml is derived from them); computed
    // once, as every shard written asks for it.
    fingerprint_ = "gpt2:" + fingerprint_hash(encoder_json_ + '\0' + vocab_bpe_);
  }

  std::string name() const override { return "gpt2"; }
  int vocab_size() const override { return int(token_bytes_.size()); }
  int eot_token() const override { return eot_; }

  std::vector<uint32_t> encode(const std::string& bytes) const override {
    std::vector<uint32_t> out;
    out.reserve(bytes.size() / 3 + 4);
    PieceCache& cache = t_cache;
    if (cache.owner != instance_) {
      cache.slots.assign(kCacheSlots, {});
      cache.owner = instance_;
    }
    std::vector<uint32_t> sym;
    // Ill-formed UTF-8 is decoded the way the reference sees it (U+FFFD per maximal subpart), so
    // ids equal the reference's on any bytes. Valid text (the usual case) is not copied.
    std::string replaced;
    if (!utf8_valid(bytes)) replaced = utf8_replace_invalid(bytes);
    Pretokenizer pre(replaced.empty() ? bytes : replaced);
    for (std::string_view piece; pre.next(&piece);) {
      PieceCache::Slot* slot = nullptr;
      if (piece.size() <= kMaxCachedPiece) {
        slot = &cache.slots[std::hash<std::string_view>{}(piece) & (kCacheSlots - 1)];
        if (slot->key == piece) {
          out.insert(out.end(), slot->ids.begin(), slot->ids.end());
          continue;
        }
      }
      sym.resize(piece.size());
      for (size_t i = 0; i < piece.size(); ++i) sym[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
      merges_.apply(sym);
      out.insert(out.end(), sym.begin(), sym.end());
      if (slot != nullptr) {  // direct-mapped: the newest piece evicts, so memory stays bounded
        slot->key.assign(piece);
        slot->ids.assign(sym.begin(), sym.end());
      }
    }
    return out;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] >= token_bytes_.size()) {
        throw kernels::InputError("gpt2 tokenizer: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is past the vocabulary (expected < " +
                                  std::to_string(token_bytes_.size()) + ")");
      }
      out += token_bytes_[ids[i]];  // EOT decodes to the text "<|endoftext|>", as in the reference
    }
    return out;
  }

  int token_bytes(uint32_t id) const override {
    if (id >= token_bytes_.size() || int64_t(id) == eot_) return 0;
    return int(token_bytes_[id].size());
  }

  size_t split_point(std::string_view text) const override { return pretokenize_safe_cut(text); }

  void save(const std::string& dir) const override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string yaml = "# kiln tokenizer folder: GPT-2 byte-level BPE (encoder.json + vocab.bpe)\n"
                             "type: gpt2\nvocab_size: " + std::to_string(vocab_size()) +
                             "\neot_token: " + std::to_string(eot_) + "\n";
    const std::pair<const char*, const std::string*> files[] = {
        {"tokenizer.yaml", &yaml}, {kGpt2EncoderFile, &encoder_json_}, {kGpt2MergesFile, &vocab_bpe_}};
    for (const auto& [file, bytes] : files) {
      const std::string path = (fs::path(dir) / file).string();
      if (ec || !io::write_file_synced(path, *bytes)) {
        throw kernels::InputError("cannot write tokenizer file " + path + " (expected a writable folder)");
      }
    }
  }

  std::string fingerprint() const override { return fingerprint_; }

 private:
  // encoder.json: {"token": id, ...}. Ids must be exactly 0..n-1 so every id decodes.
  using Vocab = std::unordered_map<std::string_view, uint32_t>;

  Vocab parse_encoder(const std::string& path, std::vector<std::string>* by_id_out) {
    // JsonScanner, not nlohmann::json: this file is read on every `kiln prepare`, and a flat object
    // scanned in place loads several times faster than a tree is built.
    JsonScanner sc(encoder_json_, "tokenizer file " + path, "a JSON object {\"token\": id, ...}");
    std::vector<std::pair<std::string, uint64_t>> entries;
    entries.reserve(65536);
    sc.ws();
    sc.expect('{');
    sc.ws();
    while (sc.peek() != '}') {
      std::string tok;
      sc.string(&tok);
      sc.ws();
      sc.expect(':');
      sc.ws();
      entries.emplace_back(std::move(tok), sc.unsigned_integer());
      sc.ws();
      if (sc.peek() != ',') break;
      sc.expect(',');
      sc.ws();
    }
    sc.expect('}');
    sc.ws();
    if (!sc.at_end()) sc.fail("more after the object");
    if (entries.empty()) sc.fail("an empty object");
    std::vector<std::string>& by_id = *by_id_out;
    by_id.assign(entries.size(), std::string());
    std::vector<bool> seen(entries.size(), false);
    for (auto& [tok, id] : entries) {
      if (id >= entries.size() || seen[id]) {
        throw kernels::InputError("tokenizer file " + path + ": token " + quote_token(tok) +
                                  " has id " + std::to_string(id) + " (expected each token once, with each of 0.." +
                                  std::to_string(entries.size() - 1) + " exactly once)");
      }
      seen[id] = true;
      by_id[id] = std::move(tok);
    }
    Vocab vocab;
    vocab.reserve(by_id.size());
    for (size_t id = 0; id < by_id.size(); ++id) {
      if (!vocab.emplace(by_id[id], uint32_t(id)).second) {
        throw kernels::InputError("tokenizer file " + path + ": token " + quote_token(by_id[id]) +
                                  " has id " + std::to_string(id) + " (expected each token once, with each of 0.." +
                                  std::to_string(by_id.size() - 1) + " exactly once)");
      }
    }
    // Each token's text is characters of bytes_to_unicode(); map them back to the bytes.
    const std::vector<uint32_t> b2u = bytes_to_unicode();
    std::vector<int> u2b(512, -1);
    for (int b = 0; b < 256; ++b) u2b[b2u[size_t(b)]] = b;
    token_bytes_.resize(by_id.size());
    for (size_t id = 0; id < by_id.size(); ++id) {
      const std::string& t = by_id[id];
      for (size_t p = 0; p < t.size();) {
        const CodePoint c = decode_utf8(t, p);
        if (c.cp >= u2b.size() || u2b[c.cp] < 0) {
          throw kernels::InputError("tokenizer file " + path + ": token " + quote_token(t) +
                                    " is not byte-level BPE (a character maps to no byte)");
        }
        token_bytes_[id] += char(u2b[c.cp]);
        p += c.len;
      }
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = vocab.find(utf8_of(b2u[size_t(b)]));
      if (it == vocab.end()) {
        throw kernels::InputError("tokenizer file " + path + ": no token for byte " + std::to_string(b) +
                                  " (expected all 256 single-byte tokens)");
      }
      byte_ids_[b] = it->second;
    }
    const auto eot = vocab.find(kEot);
    eot_ = eot == vocab.end() ? -1 : int(eot->second);
    return vocab;
  }

  // vocab.bpe: a header line, then one merge "left right" per line, rank = line order. Like both
  // references, the first line and whatever follows the last newline are not merges.
  void parse_merges(const std::string& path, const Vocab& vocab) {
    std::vector<std::string_view> lines;
    for (size_t b = 0;;) {
      const size_t e = vocab_bpe_.find('\n', b);
      lines.push_back(std::string_view(vocab_bpe_).substr(b, e == std::string::npos ? std::string::npos : e - b));
      if (e == std::string::npos) break;
      b = e + 1;
    }
    const auto id_of = [&](std::string_view t, size_t line) {
      const auto it = vocab.find(t);
      if (it == vocab.end()) {
        throw kernels::InputError("tokenizer file " + path + " line " + std::to_string(line) + ": token " +
                                  quote_token(t) + " is not in " + kGpt2EncoderFile);
      }
      return it->second;
    };
    std::vector<std::string_view> parts;
    std::string joined;  // left + right, reused
    for (size_t k = 1; k + 1 < lines.size(); ++k) {
      parts.clear();
      const std::string_view l = lines[k];
      for (size_t i = 0; i < l.size();) {
        const size_t s = l.find_first_not_of(" \t\r\f\v", i);
        if (s == std::string_view::npos) break;
        const size_t e = std::min(l.find_first_of(" \t\r\f\v", s), l.size());
        parts.push_back(l.substr(s, e - s));
        i = e;
      }
      if (parts.empty()) continue;  // a blank line holds a rank but merges nothing
      if (parts.size() != 2) {
        throw kernels::InputError("tokenizer file " + path + " line " + std::to_string(k + 1) +
                                  ": expected two tokens separated by a space, found " +
                                  std::to_string(parts.size()));
      }
      // One at a time, so the message names the first missing token (argument order is unspecified).
      const uint32_t left = id_of(parts[0], k + 1), right = id_of(parts[1], k + 1);
      joined.assign(parts[0]).append(parts[1]);
      const uint32_t merged = id_of(joined, k + 1);
      merges_.add(left, right, merged, uint32_t(k - 1));
    }
    merges_.finish();
  }

  std::string encoder_json_, vocab_bpe_;   // the files as read, for save() and fingerprint()
  std::string fingerprint_;
  std::vector<std::string> token_bytes_;   // id -> the bytes it stands for
  uint32_t byte_ids_[256] = {};            // byte -> its single-byte token
  BpeMerges merges_;
  int eot_ = -1;
  const uint64_t instance_ = g_next_instance.fetch_add(1);
};

}  // namespace

std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::string& dir) {
  std::error_code ec;
  std::string files[2];
  const char* names[2] = {kGpt2EncoderFile, kGpt2MergesFile};
  for (int i = 0; i < 2; ++i) {
    const std::string path = (fs::path(dir) / names[i]).string();
    if (!fs::is_regular_file(path, ec)) {
      throw kernels::InputError("tokenizer folder " + dir + " has no " + names[i] + " (expected " +
                                kGpt2EncoderFile + " and " + kGpt2MergesFile + ", the GPT-2 BPE files)");
    }
    files[i] = slurp(path);
  }
  return std::make_unique<Gpt2Tokenizer>(dir, std::move(files[0]), std::move(files[1]));
}

std::vector<std::string> gpt2_byte_chars() {
  const std::vector<uint32_t> b2u = bytes_to_unicode();
  std::vector<std::string> chars;
  for (uint32_t cp : b2u) chars.push_back(utf8_of(cp));
  return chars;
}

std::string gpt2_cache_dir() {
  const char* cache = std::getenv("KILN_CACHE");
  if (cache != nullptr && *cache != '\0') return (fs::path(cache) / "tokenizers" / "gpt2").string();
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return (fs::path(home) / ".cache" / "kiln" / "tokenizers" / "gpt2").string();
  return "";
}

}  // namespace data
