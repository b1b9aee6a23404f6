// formats/tensorboard.h
// TensorBoard event files written natively: no TensorFlow, no protobuf library (CONTRACTS §3, §6).
// Metrics (rank 0) owns one EventFileWriter per run session; read_event_file() is for tests and
// tools (`kiln` may use it to show a run without Python). Only scalars are written: the subset of
// event.proto / summary.proto below is all that kiln needs, encoded by hand.
//
// File format, outside in:
//   TFRecord framing, one record per Event:
//     uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//   Event      { double wall_time = 1; int64 step = 2; string file_version = 3;
//                Summary summary = 5; SessionLog session_log = 7; }      (a oneof over 3, 5, 7)
//   Summary    { repeated Value value = 1; }
//   Value      { string tag = 1; float simple_value = 2; }
//   SessionLog { SessionStatus status = 1; }                             (START = 1)
// Field numbers are those of tensorboard/compat/proto/{event,summary}.proto.
//
// Check a run by eye:  tensorboard --logdir runs/   (one run per folder; tags train/*, val/*)
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace formats {

struct ScalarValue {
  std::string tag;  // e.g. "train/loss"
  float value = 0;  // simple_value is a float in summary.proto: doubles are rounded to float
};

// One Event as read back. Exactly one of file_version / scalars / session_status is normally set.
struct EventRecord {
  int64_t offset = 0;  // byte offset of the record in its file (for messages)
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;           // "brain.Event:2" in the first record; "" otherwise
  std::vector<ScalarValue> scalars;   // the Summary's simple values, in file order
  std::optional<int> session_status;  // SessionLog.status when the Event holds a SessionLog
};

constexpr int kSessionLogStart = 1;  // SessionLog.SessionStatus.START

// Seconds since the Unix epoch, with sub-second resolution (the unit of Event.wall_time).
double unix_time_now();

// Writes events.out.tfevents.<unix seconds>.<hostname> in a run folder. Not thread-safe; rank 0's
// Metrics is the only writer. Every write call ends with a flush (see write_record).
class EventFileWriter {
 public:
  // Creates a new file in run_dir (never overwrites: a name taken by another run started in the
  // same second gets ".1", ".2", ... appended, which still sorts after it) and writes the
  // file_version record. Throws kernels::InputError naming the folder when it cannot be created.
  explicit EventFileWriter(const std::string& run_dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // One Event holding a Summary of all `scalars` at `step`.
  void write_scalars(int64_t step, const std::vector<ScalarValue>& scalars, double wall_time);
  // One Event holding SessionLog{status: START}. TensorBoard's Python loader treats every START
  // after the first one it sees in a run as a restart and drops the points at steps >= `step`
  // from the files it read before (event_accumulator._CheckForRestartAndMaybePurge).
  void write_session_start(int64_t step, double wall_time);
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
  bool warned_ = false;  // a failed write is reported once, then training goes on
};

// Reads every record of an event file, checking the framing and both CRCs of each record and
// decoding the subset above (other fields are skipped by wire type). Throws kernels::InputError
// naming the file and the record's byte offset on a bad CRC, a truncated record or malformed
// protobuf.
std::vector<EventRecord> read_event_file(const std::string& path);

// The events.out.tfevents.* files directly in run_dir, sorted by name (= the order TensorBoard
// reads them in, oldest first since names start with the creation time).
std::vector<std::string> list_event_files(const std::string& run_dir);

// ---- Wire format helpers, exposed for tests -------------------------------------------------

// Protobuf (protobuf.dev/programming-guides/encoding): a field is a varint key
// (field_number << 3 | wire_type) followed by its payload.
enum WireType : int { kWireVarint = 0, kWireFixed64 = 1, kWireLengthDelimited = 2, kWireFixed32 = 5 };
void protobuf_put_varint(std::string& out, uint64_t v);  // 7 bits per byte, low first, MSB = more
void protobuf_put_key(std::string& out, int field, WireType type);
void protobuf_put_fixed32(std::string& out, uint32_t v);  // little-endian
void protobuf_put_fixed64(std::string& out, uint64_t v);  // little-endian
void protobuf_put_bytes(std::string& out, int field, const std::string& bytes);  // key, length, bytes

// Field numbers of tensorboard/compat/proto/{event,summary}.proto, shared by writer and reader.
namespace event_proto {
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5, kEventSessionLog = 7;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimpleValue = 2;
constexpr int kSessionLogStatus = 1;
}  // namespace event_proto

// TFRecord's checksum: CRC32C rotated and offset, because a CRC of data that itself contains CRCs
// is weak (tensorflow/core/lib/hash/crc32c.h, Mask).
uint32_t tfrecord_masked_crc(const void* data, size_t bytes);
// The framed record for `data`: header, data, footer.
std::string tfrecord_frame(const std::string& data);

}  // namespace formats
