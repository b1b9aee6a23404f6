// tests/tools/test_hardening_cli.cpp
// Issue 15's bad inputs, each run through the real `kiln` binary as a user would: the exit code
// and the FIRST LINE of stderr (what a user reads first) are asserted, and nothing may crash, hang
// or exit 0 with a wrong result. Cases that hung before the fix run under `timeout` so a
// regression fails the test instead of stalling CI.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checkpoint/checkpoint.h"
#include "tests/common/test_support.h"
#include "tests/tools/cli_test_util.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int code = -1;       // exit status; -1 when killed by a signal
  int signal = 0;      // the signal, when killed
  std::string err;     // stderr only
  std::string first;   // its first line
};

// Runs `kiln ARGS` with stdout dropped, under `timeout 60` (exit 124 means it hung).
Outcome kiln(const std::string& args, const std::string& prefix = "") {
  const std::string cmd = prefix + "timeout 60 " + std::string(KILN_BIN) + " " + args + " 2>&1 >/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  Outcome o;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) o.err.append(buf.data(), n);
  const int status = pclose(p);
  if (WIFEXITED(status)) o.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  // `timeout` reports a child killed by a signal as 128 + signal.
  if (o.code > 128 && o.code < 160) o.signal = o.code - 128;
  // The message's first line: the first line kiln itself starts with "kiln"; lines before it are
  // progress notes ("checkpoint: ... starting fresh").
  size_t at = o.err.rfind("kiln", 0) == 0 ? 0 : o.err.find("\nkiln");
  at = at == std::string::npos ? 0 : (at == 0 ? 0 : at + 1);
  o.first = o.err.substr(at, o.err.find('\n', at) - at);
  return o;
}

#define EXPECT_FIRST_LINE_STARTS(o, text) \
  EXPECT_EQ((o).first.rfind(text, 0), 0u) << "first line: " << (o).first << "\nall of stderr:\n" << (o).err

// A checkpoint copy whose manifest's embedded config has `from` replaced by `to`, with the manifest
// checksum recomputed (the CRC only guards against damage; anyone can edit and re-sum a file).
std::string edited_checkpoint(const std::string& dir, const std::string& ckpt, const std::string& name,
                              const std::string& from, const std::string& to) {
  const std::string copy = dir + "/" + name;
  fs::copy(ckpt, copy, fs::copy_options::recursive);
  std::ifstream in(copy + "/manifest.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  text = text.substr(0, text.rfind("manifest_crc32c: "));
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", checkpoint::crc32c(text.data(), text.size()));
  kiln_test::write_file(copy + "/manifest.yaml", text + "manifest_crc32c: " + crc + "\n");
  return copy;
}

// ---- silently wrong config -------------------------------------------------------------------------

TEST(Hardening, UnterminatedQuoteInConfigExitsTwoWithFileAndLine) {
  const std::string dir = kiln_test::scratch_dir("harden");
  prepared(dir);
  // Before: yaml-cpp read `"typo-run\nmodel:\n  n_layer: 2\n` as the run name and trained another model.
  kiln_test::write_file(dir + "/q.yaml", "base: run.yaml\nrun:\n  name: \"typo-run\nmodel:\n  n_layer: 2\n");
  const Outcome o = kiln("train " + dir + "/q.yaml");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: " + dir + "/q.yaml: YAML syntax error at line 6, column 1: "
                              "found unexpected end of stream while scanning a quoted scalar that starts at "
                              "line 3, column 9 (a quote that is never closed?)");
  EXPECT_FALSE(fs::exists(dir + "/runs")) << "nothing may be trained";
}

TEST(Hardening, SecondYamlDocumentAndDeepNestingAreRefused) {
  const std::string dir = kiln_test::scratch_dir("harden");
  prepared(dir);
  // yaml-cpp keeps only the first document: the second one's keys would be ignored silently.
  kiln_test::write_file(dir + "/two.yaml", "base: run.yaml\n---\nmodel: {n_layer: 2}\n");
  Outcome o = kiln("train " + dir + "/two.yaml");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: " + dir + "/two.yaml: YAML syntax error at line 2, column 1: "
                              "a second YAML document starts here");
  // yaml-cpp recurses once per level: 100000 of them overflowed its stack.
  kiln_test::write_file(dir + "/deep.yaml", "run: " + std::string(100000, '[') + "\n");
  o = kiln("train " + dir + "/deep.yaml");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: " + dir + "/deep.yaml: YAML syntax error at line 1, column ");
  EXPECT_NE(o.first.find("nested deeper than 64 levels"), std::string::npos) << o.first;
}

TEST(Hardening, CheckpointEveryZeroWritesTheFinalCheckpoint) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  const Outcome o = kiln("train " + cfg + " checkpoint.every=0");
  EXPECT_EQ(o.code, 0) << o.err;
  std::string latest;
  std::ifstream(dir + "/runs/r/checkpoints/latest") >> latest;
  EXPECT_EQ(latest, "step_00000002");  // max_steps 2: the end of the run, and nothing before it
  EXPECT_EQ(std::distance(fs::directory_iterator(dir + "/runs/r/checkpoints"), fs::directory_iterator{}), 2);
  const Result v = run("inspect " + dir + "/runs/r/checkpoints --verify");
  EXPECT_EQ(v.code, 0) << v.out;
}

// ---- crashes -------------------------------------------------------------------------------------

TEST(Hardening, ThreadsBeyondTheBoundExitTwoNamingTheFlag) {
  const std::string dir = kiln_test::scratch_dir("harden");
  kiln_test::write_file(dir + "/a.txt", "some text");
  const Outcome o = kiln("prepare --input " + dir + "/a.txt --out " + dir + "/out --threads 100000");
  EXPECT_EQ(o.code, 2) << o.err;  // before: std::terminate, "terminate called without an active exception"
  EXPECT_EQ(o.first, "kiln: error: prepare: --threads 100000 must be in [0, 256] (0 = every core)");
}

// AddressSanitizer reserves terabytes of address space: a virtual-memory limit stops it first.
#if defined(__SANITIZE_ADDRESS__)
#define KILN_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_UNDER_ASAN 1
#endif
#endif

TEST(Hardening, ThreadsTheSystemCannotStartAreAnErrorNotAnAbort) {
#ifdef KILN_UNDER_ASAN
  GTEST_SKIP() << "a virtual-memory limit stops AddressSanitizer itself";
#endif
  const std::string dir = kiln_test::scratch_dir("harden");
  kiln_test::write_file(dir + "/a.txt", std::string(100000, 'x'));
  // 600 MB of address space holds ~20 of the 200 threads' 8 MiB stacks: pthread_create fails.
  const Outcome o = kiln("prepare --input " + dir + "/a.txt --out " + dir + "/out --threads 200", "ulimit -v 600000; ");
  EXPECT_EQ(o.code, 1) << o.err;  // before: std::terminate from a joinable std::thread
  EXPECT_EQ(o.signal, 0) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: prepare: cannot start the tokenizer thread (");
}

TEST(Hardening, DeeplyNestedMetricsLineExitsTwoInPlot) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  kiln_test::write_file(dir + "/run/metrics.jsonl", "{\"step\":1,\"tokens\":1,\"loss\":" + deep + "}\n");
  const Outcome o = kiln("plot " + dir + "/run --out " + dir + "/p.svg");
  EXPECT_EQ(o.code, 2) << o.err;  // before: SIGSEGV (stack overflow in dump())
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: plot: " + dir + "/run/metrics.jsonl:1: not a JSON object (nested deeper than 64 levels");
  EXPECT_LT(o.first.size(), 300u) << "the message must not quote the whole line";
  // A value of the wrong type is described, never dumped.
  kiln_test::write_file(dir + "/run/metrics.jsonl", "{\"step\":1,\"tokens\":1,\"loss\":[[[1]]]}\n");
  const Outcome t = kiln("plot " + dir + "/run --out " + dir + "/p.svg");
  EXPECT_EQ(t.code, 2) << t.err;
  EXPECT_EQ(t.first, "kiln: error: plot: " + dir + "/run/metrics.jsonl:1: field \"loss\" is an array of 1 values, "
                     "expected a number");
}

// Disk full while a checkpoint is written: the message, exit 1, and no crash at exit (before:
// SIGSEGV inside HDF5's exit-time cleanup). RLIMIT_FSIZE makes every write past N bytes fail with
// EFBIG, which needs no privileges; the ENOSPC variant below needs a mount.
TEST(Hardening, CheckpointWriteFailureExitsOneWithoutCrashing) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  // 400 KiB per file: config.yaml and the logs fit, a rank file of this model (about 1.3 MB) does not.
  const Outcome o = kiln("train " + cfg + " model.d_model=128 checkpoint.every=1",
                         "trap '' XFSZ; ulimit -f 400; ");
  EXPECT_EQ(o.signal, 0) << o.err;
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: checkpoint step 1 not saved: " + dir +
                              "/runs/r/checkpoints/step_00000001.tmp/rank_00000.h5: ");
  EXPECT_NE(o.first.find("File too large"), std::string::npos) << o.first;
  EXPECT_FALSE(fs::exists(dir + "/runs/r/checkpoints/latest"));
}

TEST(Hardening, DiskFullDuringACheckpointExitsOneAndKeepsTheEarlierOne) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  const std::string mnt = dir + "/small";
  fs::create_directories(mnt);
  // A 3 MiB tmpfs holds three checkpoints of this model (about 780 KB each) and the logs, not a fourth.
  if (shell("mount -t tmpfs -o size=3m kiln_test_tmpfs " + mnt).code != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE test covers the error path";
  const Outcome o = kiln("train " + cfg + " run.out_dir=" + mnt + " model.d_model=64 model.n_layer=2 "
                         "checkpoint.every=1 checkpoint.keep_last=5 train.max_steps=6");
  const std::string latest = [&] {
    std::string s;
    std::ifstream(mnt + "/r/checkpoints/latest") >> s;
    return s;
  }();
  const bool verified = run("inspect " + mnt + "/r/checkpoints/" + latest + " --verify").code == 0;
  shell("umount " + mnt);
  EXPECT_EQ(o.signal, 0) << o.err;
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: checkpoint step ");
  EXPECT_NE(o.first.find("No space left on device"), std::string::npos) << o.first;
  EXPECT_NE(latest, "") << "an earlier checkpoint must survive";
  EXPECT_TRUE(verified) << latest;
}

// Shards the fuzzer crafted that once crashed, leaked or asked libhdf5 for petabytes: each is now
// an exit 2 naming the file (tests/fuzz/regressions/shard).
TEST(Hardening, CraftedShardFilesExitTwoNamingTheFile) {
  int seen = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(std::string(KILN_SOURCE_DIR) + "/tests/fuzz/regressions/shard"))
    files.push_back(e.path());
  for (const fs::path& p : files) {
    const std::string path = p.string();
    const Outcome o = kiln("inspect " + path + " --verify");
    EXPECT_EQ(o.signal, 0) << path << "\n" << o.err;
    EXPECT_EQ(o.code, 2) << path << "\n" << o.err;
    EXPECT_FIRST_LINE_STARTS(o, "kiln: error: shard " + path + ": ");
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

// ---- hangs ---------------------------------------------------------------------------------------

TEST(Hardening, TwoBillionLayersExitTwoNamingTheKeysAndBytes) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  const Outcome o = kiln("train " + cfg + " model.n_layer=2000000000");
  EXPECT_EQ(o.code, 2) << o.err;  // before: hung building 24e9 parameter specs
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: model does not fit in memory (model.n_layer=2000000000 model.d_model=16 "
                              "model.d_ff=32 model.n_head=2 model.seq_len=16 model.vocab_size=256 "
                              "train.micro_batch=2): needs ");
  EXPECT_NE(o.first.find(") available on the cpu ("), std::string::npos) << o.first;
  EXPECT_FALSE(fs::exists(dir + "/runs/r/config.yaml")) << "refused before anything was written";
}

TEST(Hardening, FifoMatchedByTheDataGlobExitsTwo) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  fs::create_directories(dir + "/fifo");
  ASSERT_EQ(::mkfifo((dir + "/fifo/train_000000.h5").c_str(), 0600), 0);
  const Outcome o = kiln("train " + cfg + " 'data.train=" + dir + "/fifo/train_*.h5'");
  EXPECT_EQ(o.code, 2) << o.err;  // before: blocked forever in open()
  EXPECT_EQ(o.first, "kiln: error: shard " + dir + "/fifo/train_000000.h5: is a FIFO (named pipe), expected a "
                     "regular HDF5 token shard file");
}

// A trained checkpoint for the manifest cases (one per test: tests run in parallel).
std::string trained(const std::string& dir) {
  const std::string cfg = prepared(dir);
  EXPECT_EQ(run("train " + cfg).code, 0);
  return dir + "/runs/r/checkpoints/step_00000002";
}

TEST(Hardening, ManifestConfigWithABillionLayersExitsTwo) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string ck = edited_checkpoint(dir, trained(dir), "huge", "n_layer: 1\n", "n_layer: 1000000000\n");
  const Outcome o = kiln("sample --checkpoint " + ck + " --prompt hi --max-new-tokens 2");
  EXPECT_EQ(o.code, 2) << o.err;  // before: hung
  EXPECT_FIRST_LINE_STARTS(o, "kiln: error: checkpoint " + ck + ": model does not fit in memory "
                              "(model.n_layer=1000000000 ");
}

// ---- unclear -------------------------------------------------------------------------------------

TEST(Hardening, TwoBillionWideModelNamesTheOverflowingProduct) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  const Outcome o = kiln("train " + cfg + " model.d_model=2000000000");
  EXPECT_EQ(o.code, 2) << o.err;  // before: exit 1, "host allocation of 8659770298871345664 bytes failed"
  EXPECT_EQ(o.first, "kiln: error: model too large (model.n_layer=1 model.d_model=2000000000 model.d_ff=32 "
                     "model.n_head=2 model.seq_len=16 model.vocab_size=256 train.micro_batch=2): 3 x model.d_model x "
                     "model.d_model = 12000000000000000000 elements (attn.c_attn.weight), more than a 64-bit size "
                     "can hold");
}

TEST(Hardening, ManifestConfigWithZeroHeadsOrZeroSeqLenExitsTwo) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string ck = trained(dir);
  const std::string heads = edited_checkpoint(dir, ck, "heads", "n_head: 2\n", "n_head: 0\n");
  Outcome o = kiln("sample --checkpoint " + heads + " --prompt hi --max-new-tokens 2");
  EXPECT_EQ(o.code, 2) << o.err;  // before: exit 1 from an internal check in attention
  EXPECT_EQ(o.first, "kiln: error: " + heads + "/manifest.yaml (config): invalid config: model.n_head: expected an "
                     "integer >= 1, got 0");
  const std::string seq = edited_checkpoint(dir, ck, "seq", "seq_len: 16\n", "seq_len: 0\n");
  o = kiln("eval --checkpoint " + seq + " --data '" + dir + "/shards/val_*.h5'");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: " + seq + "/manifest.yaml (config): invalid config: model.seq_len: expected an "
                     "integer >= 1, got 0");
}

TEST(Hardening, MaximalSeqLenIsRefusedWithoutWrapping) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  const Outcome o = kiln("train " + cfg + " model.seq_len=2147483647");
  EXPECT_EQ(o.code, 2) << o.err;  // before: "seq_len+1 = -2147483648"
  EXPECT_EQ(o.first, "kiln: error: " + cfg + " (with overrides): invalid config: model.seq_len: expected an integer "
                     "<= 2147483646 (a window of seq_len + 1 tokens), got 2147483647");
}

TEST(Hardening, UnreadableConfigNamesTheFileAndTheReason) {
  const Outcome o = kiln("train /proc/self/mem");  // a regular file whose read fails with EIO
  EXPECT_EQ(o.code, 2) << o.err;  // before: "internal error: basic_filebuf::underflow"
  EXPECT_EQ(o.first, "kiln: error: /proc/self/mem: cannot read the config file (Input/output error)");
  const std::string dir = kiln_test::scratch_dir("harden");
  ASSERT_EQ(::mkfifo((dir + "/fifo.yaml").c_str(), 0600), 0);
  const Outcome f = kiln("train " + dir + "/fifo.yaml");
  EXPECT_EQ(f.code, 2) << f.err;
  EXPECT_EQ(f.first, "kiln: error: " + dir + "/fifo.yaml: config file not found (it is not a regular file)");
}

TEST(Hardening, SampleFromASeqLenOneModelKeepsGoing) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  ASSERT_EQ(run("train " + cfg + " model.seq_len=1").code, 0);
  const Result r = run("sample --checkpoint " + dir + "/runs/r --prompt hi --max-new-tokens 5 --temperature 0",
                       "/dev/null");
  EXPECT_EQ(r.code, 0) << r.out;  // before: exit 1, "Generator::feed: 0 tokens at position 0"
  EXPECT_EQ(r.out.size(), 2u + 5u) << r.out;  // the prompt and five bytes
  const Outcome o = kiln("sample --checkpoint " + dir + "/runs/r --prompt hi --max-new-tokens 3 --temperature 0");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.err.find("continuing from the last 1"), std::string::npos) << o.err;
}

TEST(Hardening, MessagesNameTheFlagOrKeyAsTyped) {
  const std::string dir = kiln_test::scratch_dir("harden");
  const std::string cfg = prepared(dir);
  Outcome o = kiln("bogus");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: unknown command 'bogus' (commands: train, prepare, inspect, eval, sample, plot, "
                     "export; see kiln --help)");
  o = kiln("train " + cfg + " data.train=");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: " + cfg + " (with overrides): invalid config: data.train: expected a glob of "
                     "shard files such as data/x/train_*.h5, got ''");
  kiln_test::write_file(dir + "/a.txt", "some text");
  o = kiln("prepare --input " + dir + "/a.txt --out " + dir + "/o --val-fraction 1.5");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: prepare: --val-fraction 1.5 is outside [0, 1)");
  o = kiln("prepare --input " + dir + "/a.txt --out " + dir + "/o --shard-tokens 0");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: prepare: --shard-tokens 0 must be > 0");
  // A run name with a newline is what an unterminated quote used to produce.
  o = kiln("train " + cfg + " 'run.name=a\nb'");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_EQ(o.first, "kiln: error: " + cfg + " (with overrides): invalid config: run.name: expected a name without "
                     "control characters (newline, tab, ...), got 'a");
}

}  // namespace
