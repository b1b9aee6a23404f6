// tests/data/test_prepare_scale.cpp
// `kiln prepare` at scale (data/prepare.h): the same shards for 1, 2 and 4 tokenizer threads,
// every document ending with EOT under GPT-2, huge documents streamed in slices without changing a
// token, JSONL (field choice, escapes, invalid UTF-8 kept, empty documents skipped and counted,
// errors naming file and line with the output left untouched), standard input, the progress
// callback, and a tokenizer folder missing a file. GPT-2 cases skip without the setup.sh files.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "data/prepare.h"
#include "data/prepare_sink.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "tests/data/test_bpe_util.h"
#include "data/utf8.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

struct Stream {
  std::vector<uint32_t> ids;
  std::vector<uint64_t> doc_starts;
};

Stream read_stream(const std::string& pattern) {
  Stream s;
  std::vector<std::string> files;
  try {
    files = data::expand_glob(pattern);
  } catch (const kernels::InputError&) {
    return s;  // no such shards
  }
  for (const std::string& f : files) {
    const data::ShardInfo info = data::read_shard_info(f);
    const hid_t h = H5Fopen(f.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(h, "doc_offsets", H5P_DEFAULT);
    std::vector<uint64_t> off(size_t(info.num_docs));
    if (!off.empty()) H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off.data());
    H5Dclose(ds);
    H5Fclose(h);
    for (uint64_t o : off) s.doc_starts.push_back(s.ids.size() + o);
    for (int32_t id : data::read_tokens(info, 0, info.num_tokens)) s.ids.push_back(uint32_t(id));
  }
  return s;
}

// Documents of a stream, in order, as id lists.
std::vector<std::vector<uint32_t>> documents(const Stream& s) {
  std::vector<std::vector<uint32_t>> docs;
  for (size_t d = 0; d < s.doc_starts.size(); ++d) {
    const size_t end = d + 1 < s.doc_starts.size() ? s.doc_starts[d + 1] : s.ids.size();
    docs.emplace_back(s.ids.begin() + long(s.doc_starts[d]), s.ids.begin() + long(end));
  }
  return docs;
}

std::string tokenizer_or_byte() { return bpe_test::gpt2_dir().empty() ? "byte" : bpe_test::gpt2_dir(); }

data::PrepareOptions options(const std::vector<std::string>& in, const std::string& out) {
  data::PrepareOptions o;
  o.inputs = in;
  o.out_dir = out;
  return o;
}

// A mixed corpus: text files in folders, one with invalid UTF-8, and a JSONL file.
void make_corpus(const std::string& dir) {
  for (int i = 0; i < 30; ++i) {
    std::string t = "Document " + std::to_string(i) + ": it's a whale's tale,   told\n\tagain ";
    for (int k = 0; k < i * 20; ++k) t += "word" + std::to_string(k % 13) + (k % 7 ? " " : ".\n");
    if (i % 5 == 0) t += "caf\xE9 \xFF\xFE broken";
    write_bytes(dir + "/text/d" + std::to_string(i % 4) + "/doc_" + std::to_string(i) + ".txt", t);
  }
  std::string jl;
  for (int i = 0; i < 40; ++i) jl += "{\"id\": " + std::to_string(i) + ", \"text\": \"line " + std::to_string(i) + " caf\\u00e9 \\ud83c\\udf0d\\n\"}\n";
  write_bytes(dir + "/data.jsonl", jl);
}

TEST(PrepareScale, ThreadCountDoesNotChangeTheShards) {
  const std::string dir = scratch_dir();
  make_corpus(dir + "/in");
  std::vector<Stream> train, val;
  std::vector<data::PrepareSummary> sums;
  for (int threads : {1, 2, 4}) {
    const std::string out = dir + "/out" + std::to_string(threads);
    data::PrepareOptions o = options({dir + "/in/text", dir + "/in/data.jsonl"}, out);
    o.tokenizer = tokenizer_or_byte();
    o.threads = threads;
    o.val_fraction = 0.2;
    o.shard_tokens = 700;
    sums.push_back(data::prepare(o));
    train.push_back(read_stream(out + "/train_*.h5"));
    val.push_back(read_stream(out + "/val_*.h5"));
  }
  EXPECT_GT(sums[0].train_shards, 2);
  EXPECT_EQ(sums[0].train_docs + sums[0].val_docs, 70);
  for (size_t i = 1; i < train.size(); ++i) {
    EXPECT_EQ(train[i].ids, train[0].ids);
    EXPECT_EQ(train[i].doc_starts, train[0].doc_starts);
    EXPECT_EQ(val[i].ids, val[0].ids);
    EXPECT_EQ(val[i].doc_starts, val[0].doc_starts);
    EXPECT_EQ(sums[i].val_docs, sums[0].val_docs);
  }
}

TEST(PrepareScale, Gpt2DocumentsEndWithEotAndDecodeBack) {
  REQUIRE_GPT2_FILES();
  const std::string dir = scratch_dir();
  make_corpus(dir + "/in");
  data::PrepareOptions o = options({dir + "/in/text"}, dir + "/out");
  o.tokenizer = "gpt2";
  o.val_fraction = 0;
  o.threads = 2;
  const data::PrepareSummary s = data::prepare(o);
  const auto tok = data::load_tokenizer(dir + "/out/tokenizer");
  EXPECT_EQ(tok->name(), "gpt2");
  EXPECT_EQ(data::read_shard_info(dir + "/out/train_000000.h5").eot_token, 50256);
  const auto docs = documents(read_stream(dir + "/out/train_*.h5"));
  ASSERT_EQ(int64_t(docs.size()), s.train_docs);
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/in/text")) if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), docs.size());
  for (size_t d = 0; d < docs.size(); ++d) {
    ASSERT_FALSE(docs[d].empty());
    EXPECT_EQ(docs[d].back(), 50256u) << "document " << d;
    EXPECT_EQ(std::count(docs[d].begin(), docs[d].end(), 50256u), 1) << "document " << d;
    const std::vector<uint32_t> body(docs[d].begin(), docs[d].end() - 1);
    // Ill-formed UTF-8 reads back as the reference sees it (U+FFFD), everything else byte for byte.
    EXPECT_EQ(tok->decode(body), data::utf8_replace_invalid(read_bytes(files[d]))) << files[d];
  }
}

TEST(PrepareScale, HugeDocumentsStreamInSlicesWithTheSameIds) {
  const std::string dir = scratch_dir();
  std::string text;
  for (int i = 0; text.size() < 300'000; ++i) {
    text += "Call me Ishmael.  Some years ago\n\n\tnever mind " + std::to_string(i * 7919) + " \xC3\xA9t\xC3\xA9 ";
  }
  write_bytes(dir + "/big.txt", text);
  const auto tok = data::resolve_tokenizer(tokenizer_or_byte());
  data::PrepareOptions o = options({dir + "/big.txt"}, dir + "/out");
  o.tokenizer = tokenizer_or_byte();
  o.slice_bytes = 1000;  // ~300 slices
  o.val_fraction = 0;
  const data::PrepareSummary s = data::prepare(o);
  EXPECT_EQ(s.train_docs, 1);
  std::vector<uint32_t> expect = tok->encode(text);
  if (tok->eot_token() >= 0) expect.push_back(uint32_t(tok->eot_token()));
  const Stream st = read_stream(dir + "/out/train_*.h5");
  EXPECT_EQ(st.ids, expect);
  EXPECT_EQ(st.doc_starts, std::vector<uint64_t>{0});
}

data::PrepareOptions jsonl_options(const std::string& dir, const std::string& jsonl) {
  write_bytes(dir + "/in.jsonl", jsonl);
  data::PrepareOptions o = options({dir + "/in.jsonl"}, dir + "/out");
  o.val_fraction = 0;
  return o;  // byte tokenizer: the shards hold the text itself
}

TEST(PrepareScale, JsonlDocumentsEscapesAndEmptyOnes) {
  const std::string dir = scratch_dir();
  data::PrepareOptions o = jsonl_options(
      dir, "{\"body\": \"first\\n\\t\\\"q\\\" \\u00e9 \\ud83c\\udf0d \\udc80\", \"text\": 1}\n"
           "\n"
           "  {\"meta\": {\"a\": [1, 2.5e3, null, true]}, \"body\": \"raw \xC3\xA9 and bad \xFF bytes\"}\r\n"
           "{\"body\": \"\"}\n"
           "{\"body\": \"x\", \"body\": \"last wins\"}");  // no newline at the end
  o.jsonl_key = "body";
  const data::PrepareSummary s = data::prepare(o);
  EXPECT_EQ(s.train_docs, 3);
  EXPECT_EQ(s.empty_docs, 2);  // the blank line and ""
  const auto docs = documents(read_stream(dir + "/out/train_*.h5"));
  ASSERT_EQ(docs.size(), 3u);
  const auto text = [](const std::vector<uint32_t>& ids) { return std::string(ids.begin(), ids.end()); };
  EXPECT_EQ(text(docs[0]), "first\n\t\"q\" \xC3\xA9 \xF0\x9F\x8C\x8D \xEF\xBF\xBD");  // lone surrogate -> U+FFFD
  EXPECT_EQ(text(docs[1]), "raw \xC3\xA9 and bad \xFF bytes");
  EXPECT_EQ(text(docs[2]), "last wins");
}

TEST(PrepareScale, BadJsonlNamesFileAndLineAndWritesNothing) {
  const std::string dir = scratch_dir();
  const std::string ok = "{\"text\": \"fine\"}\n";
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases = {
      {"not json", "line 3: not a JSON object"},
      {"{\"text\": \"unterminated}", "line 3: not valid JSON: unterminated string"},
      {"{\"other\": \"x\"}", "line 3: no field \"text\""},
      {"{\"text\": 42}", "line 3: field \"text\" is a number, expected a string"},
      {"{\"text\": \"a\"} {}", "line 3: not valid JSON: more after the object"},
      {"[\"text\"]", "line 3: not a JSON object"},
      {"{\"text\": \"a\",}", "line 3: not valid JSON: trailing comma"},
  };
  for (const Case& c : cases) {
    data::PrepareOptions o = jsonl_options(dir, ok + ok + c.line + "\n" + ok);
    o.shard_tokens = 4;  // shards are written (to staging) before the bad line is reached
    const std::string msg = input_error([&] { data::prepare(o); });
    EXPECT_NE(msg.find(dir + "/in.jsonl " + c.expect), std::string::npos) << "got: " << msg << "\nexpected: " << c.expect;
    EXPECT_FALSE(fs::exists(dir + "/out")) << msg;
  }
  // An existing output folder keeps its previous shards when a later run fails mid-stream.
  data::prepare(jsonl_options(dir, ok));
  const std::string before = read_bytes(dir + "/out/train_000000.h5");
  data::PrepareOptions o = jsonl_options(dir, ok + ok + ok + "oops\n");
  o.shard_tokens = 2;
  EXPECT_NE(input_error([&] { data::prepare(o); }).find("in.jsonl line 4"), std::string::npos);
  EXPECT_EQ(read_bytes(dir + "/out/train_000000.h5"), before);
  EXPECT_FALSE(fs::exists(dir + "/out/train_000001.h5"));
  EXPECT_FALSE(fs::exists(dir + "/out/.kiln-prepare.tmp"));
  // Only empty documents: no text at all.
  EXPECT_NE(input_error([&] { data::prepare(jsonl_options(dir, "{\"text\": \"\"}\n\n")); }).find("no text in the inputs"),
            std::string::npos);
}

// Runs prepare with `bytes` as standard input (fd 0 redirected for the call, then restored).
data::PrepareSummary prepare_with_stdin(const std::string& dir, const std::string& bytes, const data::PrepareOptions& o) {
  write_bytes(dir + "/stdin.bin", bytes);
  const int saved = dup(0), fd = open((dir + "/stdin.bin").c_str(), O_RDONLY);
  dup2(fd, 0);
  close(fd);
  clearerr(stdin);
  data::PrepareSummary s;
  try {
    s = data::prepare(o);
  } catch (...) {
    dup2(saved, 0);
    close(saved);
    throw;
  }
  dup2(saved, 0);
  close(saved);
  clearerr(stdin);
  return s;
}

TEST(PrepareScale, StandardInputAsTextAndAsJsonl) {
  const std::string dir = scratch_dir();
  data::PrepareOptions o = options({"-"}, dir + "/out");
  o.val_fraction = 0;
  data::PrepareSummary s = prepare_with_stdin(dir, "one document\nfrom stdin\n", o);
  EXPECT_EQ(s.train_docs, 1);
  EXPECT_EQ(s.train_tokens, 24);
  o.stdin_jsonl = true;
  s = prepare_with_stdin(dir, "{\"text\": \"a\"}\n{\"text\": \"bc\"}\n", o);
  EXPECT_EQ(s.train_docs, 2);
  EXPECT_EQ(s.train_tokens, 3);
  o.stdin_jsonl = false;
  const std::string msg = input_error([&] { prepare_with_stdin(dir, "", o); });
  EXPECT_NE(msg.find("input - (standard input) is empty"), std::string::npos) << msg;
}

TEST(PrepareScale, ProgressAndSplitRules) {
  const std::string dir = scratch_dir();
  make_corpus(dir + "/in");
  data::PrepareOptions o = options({dir + "/in/text"}, dir + "/out");
  o.val_fraction = 0.3;
  std::vector<data::PrepareStatus> seen;
  o.progress = [&](const data::PrepareStatus& st) { seen.push_back(st); };
  o.progress_interval_s = 0;
  const data::PrepareSummary s = data::prepare(o);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().final);
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(), [](const auto& st) { return st.final; }), 1);
  EXPECT_EQ(seen.back().docs, 30);
  EXPECT_EQ(seen.back().tokens, s.train_tokens + s.val_tokens);
  EXPECT_EQ(seen.back().bytes, s.bytes);
  EXPECT_NE(seen.back().line().find("30 docs"), std::string::npos) << seen.back().line();
  // Two documents that both draw train: the last one moves to val (and the first one stays).
  write_bytes(dir + "/two/a.txt", "first");
  write_bytes(dir + "/two/b.txt", "second");
  for (uint64_t seed = 0; seed < 6; ++seed) {
    data::PrepareOptions t = options({dir + "/two"}, dir + "/out2");
    t.val_fraction = 0.001;
    t.seed = seed;
    data::prepare(t);
    const Stream v = read_stream(dir + "/out2/val_*.h5");
    EXPECT_EQ(std::string(v.ids.begin(), v.ids.end()), "second") << "seed " << seed;
  }
}

TEST(PrepareScale, HeldDocumentsSpillToDiskAndComeBackWhole) {
  // Two documents that both draw train (val_fraction 0.001): the router holds each while val is
  // empty; with spill_tokens 64, held tokens go through the spill file. The first is released to
  // train when the second begins, the second moves to val at the end.
  const std::string dir = scratch_dir();
  const auto tok = data::make_byte_tokenizer();
  const data::PrepareProgress quiet;
  std::vector<uint32_t> doc0, doc1;
  for (uint32_t i = 0; i < 1000; ++i) doc0.push_back(i % 251);
  for (uint32_t i = 0; i < 5000; ++i) doc1.push_back((i * 7) % 256);
  {
    data::ShardWriterThread writer;
    data::ShardSink train(dir, dir, "train", 1 << 20, *tok, quiet, writer), val(dir, dir, "val", 1 << 20, *tok, quiet, writer);
    data::SplitRouter router(0.001, 3, train, val, dir + "/held.bin", 64);
    for (const auto* doc : {&doc0, &doc1}) {
      router.begin_document();
      for (size_t i = 0; i < doc->size(); i += 100) router.add(doc->data() + i, std::min<size_t>(100, doc->size() - i));
    }
    router.finish();
    train.finish();
    val.finish();
    EXPECT_EQ(train.documents, 1);
    EXPECT_EQ(val.documents, 1);
  }
  EXPECT_FALSE(fs::exists(dir + "/held.bin"));
  EXPECT_EQ(read_stream(dir + "/train_*.h5").ids, doc0);
  EXPECT_EQ(read_stream(dir + "/val_*.h5").ids, doc1);
  EXPECT_EQ(read_stream(dir + "/val_*.h5").doc_starts, std::vector<uint64_t>{0});
}

TEST(PrepareScale, TokenizerFolderMissingAFile) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/in.txt", "text");
  write_bytes(dir + "/tok/encoder.json", "{}");
  data::PrepareOptions o = options({dir + "/in.txt"}, dir + "/out");
  o.tokenizer = dir + "/tok";
  const std::string msg = input_error([&] { data::prepare(o); });
  EXPECT_NE(msg.find("tokenizer folder " + dir + "/tok has no vocab.bpe"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

}  // namespace
