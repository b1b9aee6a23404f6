// tests/formats/test_tensorboard.cpp
// TensorBoard event files (trainer/tensorboard.h): the checksums and protobuf bytes against values
// known in advance (computed independently of kiln), write -> read round trips, the reader's
// refusal of corrupt or truncated files, and end-to-end runs whose event files hold exactly the
// numbers of metrics.jsonl / eval.jsonl, including across a resume.
//
// These tests stand in for TensorBoard itself, which is not installed here. By hand:
//   tensorboard --logdir <out_dir>            (e.g. runs/; each run folder is one TensorBoard run)
// shows train/* and val/* scalars. `--load_fast=false` uses the Python loader whose SessionLog
// START handling the resume test below simulates.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "tests/common/test_support.h"
#include "tests/trainer/trainer_test_util.h"
#include "formats/metrics.h"
#include "formats/tensorboard.h"
#include "trainer/trainer.h"
#include "tests/common/one_rank.h"

namespace {

namespace fs = std::filesystem;
using formats::EventRecord;
using formats::ScalarValue;

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string h;
  for (unsigned char c : bytes) h += std::string{digits[c >> 4], digits[c & 15]};
  return h;
}

std::string varint(uint64_t v) {
  std::string s;
  formats::protobuf_put_varint(s, v);
  return s;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The protobuf payload of the record at `offset` (framing as in tensorboard.h).
std::string payload_at(const std::string& file_bytes, int64_t offset) {
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= uint64_t(uint8_t(file_bytes[size_t(offset) + i])) << (8 * i);
  return file_bytes.substr(size_t(offset) + 12, length);
}

// ---- Checksums and encoding against known values ----------------------------------------------

TEST(TensorBoardWire, Crc32cOfTheStandardCheckString) {
  EXPECT_EQ(checkpoint::crc32c("123456789", 9), 0xE3069283u);
}

TEST(TensorBoardWire, MaskedCrcOfKnownValues) {
  // masked = rotr(crc, 15) + 0xa282ead8; expected values from an independent bitwise CRC-32C.
  EXPECT_EQ(formats::tfrecord_masked_crc("123456789", 9), 0xC78AB0E5u);
  EXPECT_EQ(formats::tfrecord_masked_crc("abc", 3), 0x21F1576Eu);
  EXPECT_EQ(formats::tfrecord_masked_crc("", 0), 0xA282EAD8u);  // crc 0: only the offset remains
}

TEST(TensorBoardWire, TfRecordFrameLayout) {
  // length 3 as uint64 LE | masked crc of those 8 bytes | "abc" | masked crc of "abc"
  EXPECT_EQ(hex(formats::tfrecord_frame("abc")), "0300000000000000" "b099490e" "616263" "6e57f121");
}

TEST(TensorBoardWire, VarintsOfKnownNumbers) {
  EXPECT_EQ(hex(varint(0)), "00");
  EXPECT_EQ(hex(varint(1)), "01");
  EXPECT_EQ(hex(varint(127)), "7f");
  EXPECT_EQ(hex(varint(128)), "8001");
  EXPECT_EQ(hex(varint(300)), "ac02");
  EXPECT_EQ(hex(varint(UINT64_MAX)), "ffffffffffffffffff01");
  std::string key;
  formats::protobuf_put_key(key, 5, formats::kWireLengthDelimited);  // Event.summary
  EXPECT_EQ(hex(key), "2a");
}

TEST(TensorBoardWire, EventBytesAreThoseOfEventProto) {
  // Hand-assembled from event.proto / summary.proto, independent of the reader:
  //   Event{wall_time: 2.0, step: 300, summary{value{tag: "a", simple_value: 1.0}}}
  //   Event{wall_time: 2.0, step: 8, session_log{status: START}}
  const std::string dir = kiln_test::scratch_dir("trainer");
  std::string path;
  {
    formats::EventFileWriter w(dir);
    w.write_scalars(300, {{"a", 1.0f}}, 2.0);
    w.write_session_start(8, 2.0);
    path = w.path();
  }
  const std::vector<EventRecord> ev = formats::read_event_file(path);
  ASSERT_EQ(ev.size(), 3u);
  const std::string bytes = read_bytes(path);
  EXPECT_EQ(hex(payload_at(bytes, ev[1].offset)),
            "09" "0000000000000040"  // 1: wall_time, fixed64 double 2.0
            "10" "ac02"              // 2: step 300, varint
            "2a" "0a"                // 5: summary, 10 bytes
            "0a" "08"                //   1: value, 8 bytes
            "0a" "01" "61"           //     1: tag "a"
            "15" "0000803f");        //     2: simple_value, fixed32 float 1.0
  EXPECT_EQ(hex(payload_at(bytes, ev[2].offset)),
            "09" "0000000000000040" "10" "08"
            "3a" "02" "08" "01");    // 7: session_log { 1: status START }
}

// ---- Round trip -------------------------------------------------------------------------------

TEST(TensorBoardFile, WriteThenReadGivesTheSameEvents) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  const double before = formats::unix_time_now();
  const std::vector<ScalarValue> a = {{"train/loss", 5.5451774f}, {"train/lr", 6e-4f}, {"train/tiny", 1e-38f},
                                      {"train/neg", -3.25f}, {"train/tokens", 123456789.0f}};
  const std::vector<ScalarValue> b = {{"val/loss", 0.1f}, {"val/perplexity", float(std::exp(0.1))}};
  std::string path;
  {
    formats::EventFileWriter w(dir);
    path = w.path();
    w.write_session_start(0, 1000.25);
    w.write_scalars(1, a, 1001.5);
    w.write_scalars(int64_t(1) << 40, b, 1002.75);  // steps are int64 on the wire
  }
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(dir));
  EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u) << path;
  EXPECT_EQ(formats::list_event_files(dir), std::vector<std::string>{path});

  const std::vector<EventRecord> ev = formats::read_event_file(path);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_GE(ev[0].wall_time, before);
  EXPECT_LE(ev[0].wall_time, formats::unix_time_now());
  EXPECT_TRUE(ev[0].scalars.empty());
  EXPECT_EQ(ev[1].session_status, formats::kSessionLogStart);
  EXPECT_EQ(ev[1].step, 0);
  EXPECT_EQ(ev[1].wall_time, 1000.25);
  const std::vector<std::pair<int64_t, std::vector<ScalarValue>>> want = {{1, a}, {int64_t(1) << 40, b}};
  for (size_t i = 0; i < want.size(); ++i) {
    const EventRecord& e = ev[i + 2];
    EXPECT_EQ(e.step, want[i].first);
    EXPECT_FALSE(e.session_status.has_value());
    EXPECT_TRUE(e.file_version.empty());
    ASSERT_EQ(e.scalars.size(), want[i].second.size());
    for (size_t k = 0; k < e.scalars.size(); ++k) {
      EXPECT_EQ(e.scalars[k].tag, want[i].second[k].tag);
      EXPECT_EQ(e.scalars[k].value, want[i].second[k].value) << e.scalars[k].tag;  // bit-exact floats
    }
  }
  EXPECT_EQ(ev[2].wall_time, 1001.5);
  EXPECT_EQ(ev[3].wall_time, 1002.75);
}

TEST(TensorBoardFile, TwoWritersInOneFolderNeverShareAFile) {
  // Two sessions within the same second would get the same name; the second must not overwrite.
  const std::string dir = kiln_test::scratch_dir("trainer");
  formats::EventFileWriter first(dir), second(dir);
  first.write_scalars(1, {{"x", 1.0f}}, 1.0);
  second.write_scalars(1, {{"x", 2.0f}}, 1.0);
  EXPECT_NE(first.path(), second.path());
  if (second.path().rfind(first.path(), 0) == 0) {
    EXPECT_EQ(second.path(), first.path() + ".1");  // same second: suffixed, still sorts after
  }
  EXPECT_EQ(formats::list_event_files(dir), (std::vector<std::string>{first.path(), second.path()}));
  EXPECT_EQ(formats::read_event_file(first.path()).at(1).scalars.at(0).value, 1.0f);
  EXPECT_EQ(formats::read_event_file(second.path()).at(1).scalars.at(0).value, 2.0f);
}

TEST(TensorBoardFile, UnknownFieldsAreSkippedByWireType) {
  // An Event as a newer writer might produce: source_metadata (10, bytes), a varint, a fixed64 and
  // a fixed32 field kiln does not know, and Value.metadata (9) before simple_value.
  using namespace formats;
  std::string value, summary, event;
  protobuf_put_bytes(value, 1, "train/loss");
  protobuf_put_bytes(value, 9, std::string("\x0a\x07scalars", 9));  // SummaryMetadata{plugin_data{...}}
  protobuf_put_key(value, 2, kWireFixed32);
  protobuf_put_fixed32(value, 0x40490fdbu);  // 3.14159274f
  protobuf_put_bytes(summary, 1, value);
  protobuf_put_key(event, 2, kWireVarint);
  protobuf_put_varint(event, 42);
  protobuf_put_bytes(event, 10, std::string("\x0a\x04kiln", 6));
  protobuf_put_key(event, 20, kWireVarint);
  protobuf_put_varint(event, 1u << 20);
  protobuf_put_key(event, 21, kWireFixed64);
  protobuf_put_fixed64(event, 7);
  protobuf_put_key(event, 22, kWireFixed32);
  protobuf_put_fixed32(event, 7);
  protobuf_put_bytes(event, 5, summary);
  const std::string path = kiln_test::scratch_dir("trainer") + "/events.out.tfevents.1.other";
  write_bytes(path, tfrecord_frame(event));
  const std::vector<EventRecord> ev = read_event_file(path);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].step, 42);
  ASSERT_EQ(ev[0].scalars.size(), 1u);
  EXPECT_EQ(ev[0].scalars[0].tag, "train/loss");
  EXPECT_EQ(ev[0].scalars[0].value, 3.14159274f);
}

// ---- Damaged files ----------------------------------------------------------------------------

// A small valid file: version, START, two scalar events. Returns its path.
std::string small_event_file(const std::string& dir) {
  formats::EventFileWriter w(dir);
  w.write_session_start(0, 1.0);
  w.write_scalars(1, {{"train/loss", 2.5f}, {"train/lr", 1e-3f}}, 2.0);
  w.write_scalars(2, {{"train/loss", 2.25f}, {"train/lr", 1e-3f}}, 3.0);
  return w.path();
}

TEST(TensorBoardFile, AFlippedDataByteIsACrcError) {
  const std::string path = small_event_file(kiln_test::scratch_dir("trainer"));
  const std::vector<EventRecord> ev = formats::read_event_file(path);
  std::string bytes = read_bytes(path);
  const size_t at = size_t(ev[2].offset) + 12 + 5;  // inside record 2's data
  bytes[at] = char(bytes[at] ^ 0x10);
  write_bytes(path, bytes);
  const std::string msg = kiln_test::input_error_of([&] { formats::read_event_file(path); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "byte " + std::to_string(ev[2].offset));
  EXPECT_HAS(msg, "data CRC");
}

TEST(TensorBoardFile, AFlippedLengthByteIsACrcError) {
  const std::string path = small_event_file(kiln_test::scratch_dir("trainer"));
  const std::vector<EventRecord> ev = formats::read_event_file(path);
  std::string bytes = read_bytes(path);
  bytes[size_t(ev[1].offset)] = char(bytes[size_t(ev[1].offset)] ^ 0x01);
  write_bytes(path, bytes);
  const std::string msg = kiln_test::input_error_of([&] { formats::read_event_file(path); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "length CRC");
}

TEST(TensorBoardFile, ATruncatedFileIsAnError) {
  const std::string path = small_event_file(kiln_test::scratch_dir("trainer"));
  const std::string bytes = read_bytes(path);
  const std::vector<EventRecord> ev = formats::read_event_file(path);
  // Cut inside the last record's footer, inside its data, and inside its header.
  for (size_t keep : {bytes.size() - 2, size_t(ev[3].offset) + 14, size_t(ev[3].offset) + 5}) {
    write_bytes(path, bytes.substr(0, keep));
    const std::string msg = kiln_test::input_error_of([&] { formats::read_event_file(path); });
    EXPECT_HAS(msg, path);
    EXPECT_HAS(msg, "truncated");
    EXPECT_HAS(msg, "byte " + std::to_string(ev[3].offset));
  }
}

TEST(TensorBoardFile, MalformedProtobufWithValidCrcsIsAnError) {
  std::string event;
  formats::protobuf_put_key(event, 5, formats::kWireLengthDelimited);
  formats::protobuf_put_varint(event, 100);  // claims 100 bytes, has 1
  event += "x";
  const std::string path = kiln_test::scratch_dir("trainer") + "/events.out.tfevents.1.bad";
  write_bytes(path, formats::tfrecord_frame(event));
  const std::string msg = kiln_test::input_error_of([&] { formats::read_event_file(path); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "malformed");
}

TEST(TensorBoardFile, MissingFileIsAnInputError) {
  const std::string path = kiln_test::scratch_dir("trainer") + "/events.out.tfevents.none";
  EXPECT_HAS(kiln_test::input_error_of([&] { formats::read_event_file(path); }), path);
}

// ---- Metrics: optional fields and the fresh / resumed file rules ------------------------------

TEST(TensorBoardMetrics, OptionalFieldsAreTagsOnlyWhenPresent) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  formats::TrainRecord r;
  r.step = 10;
  r.tokens = 5120;
  r.loss = 3.25;
  r.mfu = 0.41;
  r.loss_scale = 32768;
  r.peak_mem_gib = 12.34;
  testing::internal::CaptureStdout();
  {
    formats::Metrics m(dir, 100);
    m.log_train(r, 1.0);
    r.step = 11;
    r.mfu.reset();
    r.loss_scale.reset();
    r.peak_mem_gib.reset();
    m.log_train(r, 2.0);
  }
  const std::string console = testing::internal::GetCapturedStdout();
  EXPECT_HAS(console, " | mem 12.3 GiB");
  EXPECT_EQ(console.find("mem", console.find("step     11")), std::string::npos) << console;

  std::ifstream in(dir + "/metrics.jsonl");
  std::string line10, line11;
  std::getline(in, line10);
  std::getline(in, line11);
  EXPECT_EQ(nlohmann::json::parse(line10)["peak_mem_gib"], 12.34);
  EXPECT_FALSE(nlohmann::json::parse(line11).contains("peak_mem_gib"));
  const std::vector<EventRecord> ev = formats::read_event_file(formats::list_event_files(dir).at(0));
  ASSERT_EQ(ev.size(), 4u);  // version, START, steps 10 and 11
  std::map<std::string, float> at10, at11;
  for (const ScalarValue& v : ev[2].scalars) at10[v.tag] = v.value;
  for (const ScalarValue& v : ev[3].scalars) at11[v.tag] = v.value;
  EXPECT_EQ(at10.at("train/peak_mem_gib"), 12.34f);
  EXPECT_EQ(at10.at("train/mfu"), 0.41f);
  EXPECT_EQ(at10.at("train/loss_scale"), 32768.0f);
  EXPECT_EQ(at10.at("train/tokens"), 5120.0f);
  for (const char* tag : {"train/peak_mem_gib", "train/mfu", "train/loss_scale"}) EXPECT_EQ(at11.count(tag), 0u) << tag;
  EXPECT_EQ(at10.size(), at11.size() + 3);
}

TEST(TensorBoardMetrics, FreshRunRemovesOlderEventFilesResumedRunKeepsThem) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  kiln_test::write_file(dir + "/events.out.tfevents.1000000000.old", "from an earlier run");
  kiln_test::write_file(dir + "/notes.txt", "not an event file");
  testing::internal::CaptureStdout();
  { formats::Metrics fresh(dir, 10); }
  std::vector<std::string> files = formats::list_event_files(dir);
  ASSERT_EQ(files.size(), 1u);  // the earlier run's file went, as its .jsonl lines do
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));
  { formats::Metrics resumed(dir, 10, /*resumed_step=*/4); }
  testing::internal::GetCapturedStdout();
  files = formats::list_event_files(dir);
  ASSERT_EQ(files.size(), 2u);
  const std::vector<EventRecord> first = formats::read_event_file(files[0]);
  const std::vector<EventRecord> second = formats::read_event_file(files[1]);
  EXPECT_EQ(first.at(1).step, 0);
  EXPECT_EQ(second.at(1).session_status, formats::kSessionLogStart);
  EXPECT_EQ(second.at(1).step, 5);
}

// ---- End to end: a CPU training run ---------------------------------------------------------

// tag -> (step, value) points, in the order a reader meets them.
using Series = std::map<std::string, std::vector<std::pair<int64_t, float>>>;

// What TensorBoard's Python loader plots for a run folder (event_accumulator.py): files in name
// order; the first SessionLog START of the run is ignored, each later one drops the points at
// steps >= its step read so far (_CheckForRestartAndMaybePurge, _Purge). honour_start = false
// shows what a reader without that rule would plot.
Series tensorboard_view(const std::string& run_dir, bool honour_start = true) {
  Series s;
  bool seen_start = false;
  for (const std::string& f : formats::list_event_files(run_dir))
    for (const EventRecord& e : formats::read_event_file(f)) {
      if (e.session_status == formats::kSessionLogStart) {
        if (seen_start && honour_start)
          for (auto& [tag, points] : s)
            std::erase_if(points, [&](const auto& p) { return p.first >= e.step; });
        seen_start = true;
      }
      for (const ScalarValue& v : e.scalars) s[v.tag].push_back({e.step, v.value});
    }
  return s;
}

// The same points as CONTRACTS §6 derives them from the .jsonl files: train/<field> and
// val/<field without val_>, every numeric field but step, as float.
Series jsonl_view(const std::string& run_dir) {
  Series s;
  for (const auto& [file, prefix] : {std::pair{"metrics.jsonl", "train/"}, std::pair{"eval.jsonl", "val/"}}) {
    std::ifstream in(run_dir + "/" + file);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      for (const auto& [key, value] : j.items()) {
        if (key == "step" || value.is_null()) continue;
        const std::string field = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
        s[prefix + field].push_back({j["step"].get<int64_t>(), value.get<float>()});
      }
    }
  }
  return s;
}

configs::Config tb_run_config(const std::string& dir, const std::string& name) {
  if (!fs::exists(dir + "/shards"))
    trainer_test::prepare_phrase_corpus(dir, 5, 200, [](int i, int d) {
      return (i * 3 + d) % 4 ? "the quick brown fox. " : "jumps over the lazy dog! ";
    });
  configs::Config c = trainer_test::cpu_run_config(dir, name, /*n_head=*/2);
  c.train.global_batch = 2;
  c.train.max_steps = 6;
  c.train.log_every = 1;
  c.eval.every = 3;
  return c;
}

TEST(TensorBoardRun, EventFileHoldsTheNumbersOfTheJsonlFiles) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  trainer::Trainer(tb_run_config(dir, "tb"), kiln_test::one_rank_cpu()).run();
  const std::string run = dir + "/runs/tb";
  const std::vector<std::string> files = formats::list_event_files(run);
  ASSERT_EQ(files.size(), 1u);
  const std::vector<EventRecord> ev = formats::read_event_file(files[0]);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev[1].session_status, formats::kSessionLogStart);  // a fresh run starts at step 0
  EXPECT_EQ(ev[1].step, 0);

  // One Event per .jsonl line, at its step, holding exactly its fields (as float).
  std::map<std::pair<int64_t, std::string>, std::map<std::string, float>> events;  // (step, train|val)
  for (const EventRecord& e : ev)
    if (!e.scalars.empty()) {
      const std::string kind = e.scalars[0].tag.substr(0, e.scalars[0].tag.find('/'));
      auto& tags = events[{e.step, kind}];
      EXPECT_TRUE(tags.empty()) << "two " << kind << " events at step " << e.step;
      for (const ScalarValue& v : e.scalars) tags[v.tag] = v.value;
    }
  size_t lines = 0;
  for (const auto& [file, kind] : {std::pair{"metrics.jsonl", "train"}, std::pair{"eval.jsonl", "val"}}) {
    std::ifstream in(run + "/" + file);
    for (std::string line; std::getline(in, line); ++lines) {
      const nlohmann::json j = nlohmann::json::parse(line);
      std::map<std::string, float> want;
      for (const auto& [key, value] : j.items())
        if (key != "step" && !value.is_null())
          want[std::string(kind) + "/" + (key.rfind("val_", 0) == 0 ? key.substr(4) : key)] = value.get<float>();
      const std::pair<int64_t, std::string> key{j["step"].get<int64_t>(), kind};
      EXPECT_EQ(events[key], want) << file << ": " << line;
    }
  }
  EXPECT_EQ(lines, 6u + 2u);  // log_every 1: steps 1..6; evaluations at 3 and 6
  EXPECT_EQ(events.size(), lines);

  // The tag names of CONTRACTS §6 (CPU: no mfu, no loss_scale, no peak_mem_gib).
  std::vector<std::string> train_tags, val_tags;
  for (const auto& [tag, v] : events[{6, "train"}]) train_tags.push_back(tag);
  for (const auto& [tag, v] : events[{6, "val"}]) val_tags.push_back(tag);
  EXPECT_EQ(train_tags, (std::vector<std::string>{"train/grad_norm", "train/loss", "train/lr", "train/skipped_steps",
                                                  "train/step_time_s", "train/tokens", "train/tokens_per_s"}));
  EXPECT_EQ(val_tags, (std::vector<std::string>{"val/bits_per_byte", "val/loss", "val/perplexity", "val/tokens"}));
  EXPECT_EQ(tensorboard_view(run), jsonl_view(run));
}

TEST(TensorBoardRun, ResumeWritesANewFileWhoseStartHidesTheStalePoints) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  configs::Config c = tb_run_config(dir, "resume");
  c.train.max_steps = 8;
  c.checkpoint.every = 4;
  const std::string run = dir + "/runs/resume";
  // Steps 1..6 logged, evaluations at 3 and 6, checkpoints at 4 and 6. Removing step 6's
  // checkpoint makes it a run that died after logging step 6 but before saving it: the resumed
  // run starts from 4, so points 5 and 6 of the first file are stale.
  EXPECT_TRUE(trainer::Trainer(c, kiln_test::one_rank_cpu()).run(/*stop_at_step=*/6).stopped_by_signal);
  fs::remove_all(run + "/checkpoints/step_00000006");
  const std::vector<std::string> before = formats::list_event_files(run);
  ASSERT_EQ(before.size(), 1u);
  const std::string first_bytes = read_bytes(before[0]);

  EXPECT_EQ(trainer::Trainer(c, kiln_test::one_rank_cpu()).run().resumed_from_step, 4);
  const std::vector<std::string> files = formats::list_event_files(run);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], before[0]);  // the new file sorts after the old one, which is untouched
  EXPECT_EQ(read_bytes(files[0]), first_bytes);
  const std::vector<EventRecord> ev = formats::read_event_file(files[1]);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev[1].session_status, formats::kSessionLogStart);
  EXPECT_EQ(ev[1].step, 5);  // resumed_step + 1: the point at step 4 stays, as in metrics.jsonl
  EXPECT_EQ(ev[2].step, 5);

  // TensorBoard's view of both files is the .jsonl files' (each step once: 1..8, evals 3, 6, 8);
  // without the START rule, steps 5 and 6 would show twice.
  const Series view = tensorboard_view(run), from_jsonl = jsonl_view(run);
  EXPECT_EQ(view, from_jsonl);
  ASSERT_EQ(view.at("train/loss").size(), 8u);
  EXPECT_EQ(view.at("val/loss").size(), 3u);
  EXPECT_EQ(tensorboard_view(run, /*honour_start=*/false).at("train/loss").size(), 10u);
}

}  // namespace
