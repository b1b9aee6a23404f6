// formats/tensorboard.cpp
// Writing TensorBoard event files: protobuf encoding of the few messages kiln writes, TFRecord
// framing, and the file itself. Reading back is in tensorboard_read.cpp. Format: tensorboard.h.
#include "formats/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "kernels/check.h"

namespace formats {

namespace fs = std::filesystem;

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---- Protobuf encoding ----------------------------------------------------------------------

void protobuf_put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));  // low 7 bits, "more bytes follow"
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}

void protobuf_put_key(std::string& out, int field, WireType type) {
  protobuf_put_varint(out, (uint64_t(field) << 3) | uint64_t(type));
}

void protobuf_put_fixed32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
}

void protobuf_put_fixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
}

void protobuf_put_bytes(std::string& out, int field, const std::string& bytes) {
  protobuf_put_key(out, field, kWireLengthDelimited);
  protobuf_put_varint(out, bytes.size());
  out += bytes;
}

namespace {

using namespace event_proto;

// The fields every Event starts with. proto3 omits zero scalars; writing step 0 anyway is legal
// and keeps every record the same shape.
std::string event_header(double wall_time, int64_t step) {
  std::string e;
  uint64_t bits;
  std::memcpy(&bits, &wall_time, sizeof bits);
  protobuf_put_key(e, kEventWallTime, kWireFixed64);
  protobuf_put_fixed64(e, bits);
  protobuf_put_key(e, kEventStep, kWireVarint);
  protobuf_put_varint(e, uint64_t(step));  // int64: negatives would be 10-byte two's complement
  return e;
}

std::string summary_value(const ScalarValue& s) {
  std::string v;
  protobuf_put_bytes(v, kValueTag, s.tag);
  uint32_t bits;
  std::memcpy(&bits, &s.value, sizeof bits);
  protobuf_put_key(v, kValueSimpleValue, kWireFixed32);
  protobuf_put_fixed32(v, bits);
  return v;
}

// "events.out.tfevents.<seconds>.<host>": the prefix TensorBoard looks for ("tfevents" in the
// name), then the creation time so that names sort oldest first.
std::string event_file_name(double wall_time) {
  char host[256] = "localhost";
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  host[sizeof host - 1] = '\0';
  return "events.out.tfevents." + std::to_string(int64_t(wall_time)) + "." + host;
}

}  // namespace

// ---- TFRecord framing -----------------------------------------------------------------------

uint32_t tfrecord_masked_crc(const void* data, size_t bytes) {
  const uint32_t crc = checkpoint::crc32c(data, bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;  // uint32 arithmetic wraps, as TensorFlow's
}

std::string tfrecord_frame(const std::string& data) {
  std::string rec;
  rec.reserve(data.size() + 16);
  protobuf_put_fixed64(rec, data.size());  // the same little-endian layout as a fixed64
  protobuf_put_fixed32(rec, tfrecord_masked_crc(rec.data(), 8));
  rec += data;
  protobuf_put_fixed32(rec, tfrecord_masked_crc(data.data(), data.size()));
  return rec;
}

// ---- The writer -----------------------------------------------------------------------------

EventFileWriter::EventFileWriter(const std::string& run_dir) {
  const double now = unix_time_now();
  const std::string base = (fs::path(run_dir) / event_file_name(now)).string();
  // "x" (C11) opens exclusively: of two runs racing for a name, one gets EEXIST and moves on.
  for (int n = 0; n < 1000 && file_ == nullptr; ++n) {
    path_ = n == 0 ? base : base + "." + std::to_string(n);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && errno != EEXIST) break;
  }
  KILN_REQUIRE_INPUT(file_ != nullptr, "run folder '" + run_dir + "': cannot create TensorBoard event file '" +
                                           path_ + "': " + std::strerror(errno));
  std::string e = event_header(now, 0);
  protobuf_put_bytes(e, kEventFileVersion, "brain.Event:2");
  write_record(e);
}

EventFileWriter::~EventFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventFileWriter::write_scalars(int64_t step, const std::vector<ScalarValue>& scalars, double wall_time) {
  std::string summary;
  for (const ScalarValue& s : scalars) protobuf_put_bytes(summary, kSummaryValue, summary_value(s));
  std::string e = event_header(wall_time, step);
  protobuf_put_bytes(e, kEventSummary, summary);
  write_record(e);
}

void EventFileWriter::write_session_start(int64_t step, double wall_time) {
  std::string session_log;
  protobuf_put_key(session_log, kSessionLogStatus, kWireVarint);
  protobuf_put_varint(session_log, kSessionLogStart);
  std::string e = event_header(wall_time, step);
  protobuf_put_bytes(e, kEventSessionLog, session_log);
  write_record(e);
}

// One fwrite of the whole record, then fflush: the bytes reach the kernel at every log step, so
// TensorBoard (another process, polling the file) sees each point at once and a crash or kill of
// kiln loses nothing already logged. No fsync: only a machine crash could lose the page cache,
// and syncing at every log step would put disk latency into the training loop for little gain.
// A failed write (disk full) is reported once on stderr; the run itself is worth more than its
// plots, and metrics.jsonl and the checkpoints have their own error handling.
void EventFileWriter::write_record(const std::string& event) {
  const std::string rec = tfrecord_frame(event);
  const bool ok = std::fwrite(rec.data(), 1, rec.size(), file_) == rec.size() && std::fflush(file_) == 0;
  if (!ok && !warned_) {
    std::fprintf(stderr, "%swarning: writing TensorBoard events to '%s' failed: %s\n",
                 kernels::rank_prefix().c_str(), path_.c_str(), std::strerror(errno));
    warned_ = true;
  }
}

std::vector<std::string> list_event_files(const std::string& run_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& d : fs::directory_iterator(run_dir, ec))
    if (d.is_regular_file() && d.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(d.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace formats
