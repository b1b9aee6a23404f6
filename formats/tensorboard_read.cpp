// formats/tensorboard_read.cpp
// Reading TensorBoard event files back: TFRecord framing with both CRCs checked, then a decoder
// for the subset of Event that kiln writes. Fields outside that subset (graphs, histograms,
// summary metadata, anything a newer writer adds) are skipped by wire type, so files written by
// other tools read too, minus what kiln does not model. For tests and tools, not for training.
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "kernels/check.h"
#include "formats/tensorboard.h"

namespace formats {

namespace {

using namespace event_proto;

// Thrown by the decoder; read_event_file adds the file name and record offset.
struct Malformed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint64_t load_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

// A cursor over one protobuf message [p, end). Every read checks the bounds first.
struct WireReader {
  const uint8_t* p;
  const uint8_t* end;

  bool done() const { return p == end; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) throw Malformed("varint runs past the end of its message");
      const uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw Malformed("varint longer than 10 bytes");
  }
  uint64_t fixed(int bytes) {
    if (end - p < bytes) throw Malformed("fixed-width field runs past the end of its message");
    const uint64_t v = load_le(p, bytes);
    p += bytes;
    return v;
  }
  WireReader sub_message() {  // the payload of a length-delimited field
    const uint64_t n = varint();
    if (n > uint64_t(end - p)) throw Malformed("length-delimited field runs past the end of its message");
    WireReader sub{p, p + n};
    p += n;
    return sub;
  }
  std::string bytes() {
    const WireReader s = sub_message();
    return std::string(reinterpret_cast<const char*>(s.p), size_t(s.end - s.p));
  }
  // Reads a key; returns the field number and sets `type`.
  int key(int& type) {
    const uint64_t k = varint();
    type = int(k & 7);
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff) throw Malformed("field number out of range");
    return int(k >> 3);
  }
  // Skips a field we do not decode. Groups (types 3, 4) were deprecated before event.proto existed.
  void skip(int type) {
    switch (type) {
      case kWireVarint: varint(); return;
      case kWireFixed64: fixed(8); return;
      case kWireLengthDelimited: sub_message(); return;
      case kWireFixed32: fixed(4); return;
      default: throw Malformed("unsupported wire type " + std::to_string(type));
    }
  }
};

// A field we decode must arrive with the wire type its .proto declares.
void expect_type(int got, WireType want, const char* field) {
  if (got != want) throw Malformed(std::string("field ") + field + " has wire type " + std::to_string(got));
}

ScalarValue decode_value(WireReader r) {
  ScalarValue s;
  int type;
  while (!r.done()) {
    const int field = r.key(type);
    if (field == kValueTag) {
      expect_type(type, kWireLengthDelimited, "Value.tag");
      s.tag = r.bytes();
    } else if (field == kValueSimpleValue) {
      expect_type(type, kWireFixed32, "Value.simple_value");
      const auto bits = uint32_t(r.fixed(4));
      std::memcpy(&s.value, &bits, sizeof bits);
    } else {
      r.skip(type);  // metadata, tensor, histo, ...
    }
  }
  return s;
}

int decode_session_status(WireReader r) {
  int status = 0, type;
  while (!r.done()) {
    if (r.key(type) == kSessionLogStatus) {
      expect_type(type, kWireVarint, "SessionLog.status");
      status = int(r.varint());
    } else {
      r.skip(type);  // checkpoint_path, msg
    }
  }
  return status;
}

void decode_event(WireReader r, EventRecord& e) {
  int type;
  while (!r.done()) {
    const int field = r.key(type);
    if (field == kEventWallTime) {
      expect_type(type, kWireFixed64, "Event.wall_time");
      const uint64_t bits = r.fixed(8);
      std::memcpy(&e.wall_time, &bits, sizeof bits);
    } else if (field == kEventStep) {
      expect_type(type, kWireVarint, "Event.step");
      e.step = int64_t(r.varint());
    } else if (field == kEventFileVersion) {
      expect_type(type, kWireLengthDelimited, "Event.file_version");
      e.file_version = r.bytes();
    } else if (field == kEventSummary) {
      expect_type(type, kWireLengthDelimited, "Event.summary");
      WireReader summary = r.sub_message();
      while (!summary.done()) {
        if (summary.key(type) == kSummaryValue) {
          expect_type(type, kWireLengthDelimited, "Summary.value");
          e.scalars.push_back(decode_value(summary.sub_message()));
        } else {
          summary.skip(type);
        }
      }
    } else if (field == kEventSessionLog) {
      expect_type(type, kWireLengthDelimited, "Event.session_log");
      e.session_status = decode_session_status(r.sub_message());
    } else {
      r.skip(type);  // graph_def, tagged_run_metadata, source_metadata, ...
    }
  }
}

}  // namespace

std::vector<EventRecord> read_event_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KILN_REQUIRE_INPUT(f, "event file '" + path + "': cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t size = bytes.size();

  std::vector<EventRecord> events;
  size_t at = 0;
  while (at < size) {
    const std::string where = "event file '" + path + "', record at byte " + std::to_string(at) + ": ";
    // Header: 8 bytes of length, 4 bytes of masked CRC of those 8 bytes.
    KILN_REQUIRE_INPUT(size - at >= 12, where + "truncated header (" + std::to_string(size - at) + " bytes left)");
    const uint64_t length = load_le(data + at, 8);
    KILN_REQUIRE_INPUT(uint32_t(load_le(data + at + 8, 4)) == tfrecord_masked_crc(data + at, 8),
                       where + "length CRC mismatch");
    // The length is trusted only after its CRC passed, and only up to what the file holds.
    KILN_REQUIRE_INPUT(length <= size - at - 12 && size - at - 12 - length >= 4,
                       where + "truncated (length " + std::to_string(length) + ", " +
                           std::to_string(size - at - 12) + " bytes left)");
    const uint8_t* payload = data + at + 12;
    KILN_REQUIRE_INPUT(uint32_t(load_le(payload + length, 4)) == tfrecord_masked_crc(payload, length),
                       where + "data CRC mismatch");
    EventRecord e;
    e.offset = int64_t(at);
    try {
      decode_event(WireReader{payload, payload + length}, e);
    } catch (const Malformed& m) {
      throw kernels::InputError(where + "malformed Event: " + m.what());
    }
    events.push_back(std::move(e));
    at += 12 + length + 4;
  }
  return events;
}

}  // namespace formats
