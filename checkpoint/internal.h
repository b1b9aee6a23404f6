// checkpoint/internal.h
// What the checkpoint .cpp files share and nobody else needs: names on disk, the dtype and split
// vocabulary of the YAML files, the per-rank slice list that rank 0 merges into the manifest,
// the HDF5 shard writer/reader, the resharding run arithmetic and the CRC32C variants.
//
// Included only by checkpoint/*.cpp and the checkpoint tests (which check the CRC variants against
// each other). Not an API: the trainer uses checkpoint.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace checkpoint::detail {

constexpr int kFormatVersion = 1;

// ---- names on disk ------------------------------------------------------------------------------
std::string step_name(int64_t step);                              // "step_00001000"
bool parse_step_name(const std::string& name, int64_t* step);     // exactly "step_<digits>"
std::string rank_file(int rank);                                  // "rank_00003.h5"
std::string rank_list_file(int rank);                             // "rank_00003.yaml"
bool is_rank_file(const std::string& name);                       // "rank_<digits>.h5"
// "master/h.0.attn.c_attn.weight", tp_rank 1, begin 4096 -> "master%2Fh.0.attn.c_attn.weight.tp1.4096".
// '%' and '/' are escaped (HDF5 names are paths), so distinct pieces never share a name.
std::string dataset_name(const std::string& tensor, int tp_rank, int64_t local_begin);

// ---- vocabulary ---------------------------------------------------------------------------------
bool parse_dtype(const std::string& s, kernels::DType* out);      // kernels::dtype_name spellings
std::string crc_hex(uint32_t crc);                                // 8 lowercase hex digits
bool parse_crc_hex(const std::string& s, uint32_t* out);
// "" when (shape, split, tp) describes a tensor tp_split.h can shard, else why not.
std::string check_layout(const kernels::Shape& shape, parallel::Split split, int tp);
// How many local elements from e on map to consecutive global elements (at least 1, at most
// local numel - e). Mirrors parallel::global_index: within a local row (cols), a q/k/v block's
// rows (qkv_rows) or the whole shard (rows, replicated, tp = 1) the mapping is a shift.
int64_t contiguous_run(const kernels::Shape& shape, parallel::Split split, int tp, int64_t e);

// ---- the per-rank slice list (rank_XXXXX.yaml) ----------------------------------------------------
// One line per dataset a rank wrote; rank 0 merges all of them into manifest.yaml at commit.
struct SliceRecord {
  std::string tensor;
  kernels::DType dtype = kernels::DType::F32;
  kernels::Shape global_shape;
  parallel::Split split = parallel::Split::kReplicated;
  int tp = 1, tp_rank = 0;
  int64_t local_begin = 0, count = 0;
  std::string file, dataset;
  uint32_t crc32c = 0;
};
std::string emit_rank_list(int rank, const std::vector<SliceRecord>& slices);
// Throws std::runtime_error naming the file: these files are ours, written moments ago.
std::vector<SliceRecord> parse_rank_list(const std::string& path);

// ---- manifest text (manifest.cpp) -----------------------------------------------------------------
// The manifest as YAML, ending in "manifest_crc32c: xxxxxxxx\n", the CRC of every byte before
// that line: a flipped digit in `tokens` would otherwise resume a run silently wrong.
std::string emit_manifest(const RunState& state, const std::vector<Manifest::Entry>& tensors);
// Parses and validates manifest text; `path` is only used to name the file in InputErrors.
Manifest parse_manifest(const std::string& text, const std::string& path);
// Groups rank slice lists into manifest entries, in order of first appearance. Throws
// std::runtime_error when two pieces of one tensor disagree on dtype, shape, split or tp.
std::vector<Manifest::Entry> merge_slices(const std::vector<SliceRecord>& all);

// ---- HDF5 shard files (shard_io.cpp) --------------------------------------------------------------
// One piece's bytes to be written: `data` points into the saver's staging buffer.
struct WriteItem {
  SliceRecord rec;  // crc32c is filled in by write_shard_file
  const std::byte* data = nullptr;
};
// Creates `path` (HDF5, one 1-D dataset per item), writes, closes and fsyncs it. Fills each
// item's crc32c from the bytes written. Throws std::runtime_error naming the file.
void write_shard_file(const std::string& path, int rank, std::vector<WriteItem>& items);

// A shard opened for reading; every failure is an InputError naming the file (and the tensor).
class ShardReader {
 public:
  explicit ShardReader(const std::string& path);  // throws InputError when it is not HDF5
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  // Reads one dataset of `count` elements of `dtype` into dst (count * dtype_size bytes) and
  // checks its CRC32C against `crc`. `tensor` names the culprit in errors.
  void read(const std::string& dataset, kernels::DType dtype, int64_t count, uint32_t crc,
            const std::string& tensor, void* dst);

 private:
  std::string path_;
  int64_t file_ = -1;  // hid_t; kept as int64 so this header needs no hdf5.h
};

// ---- CRC32C variants (crc32c.cpp) -----------------------------------------------------------------
uint32_t crc32c_bytewise(const void* data, size_t bytes, uint32_t crc);   // one table, 1 byte/step
uint32_t crc32c_slicing8(const void* data, size_t bytes, uint32_t crc);   // 8 tables, 8 bytes/step
bool crc32c_hw_available();                                              // SSE4.2 crc32 instruction
uint32_t crc32c_hw(const void* data, size_t bytes, uint32_t crc);         // only if available

// ---- commit steps (commit.cpp), rank 0 only --------------------------------------------------------
// Merges the rank lists of `tmp`, writes + fsyncs manifest.yaml and the folder, renames tmp to
// step_X, replaces `latest`, then applies keep_last. Throws std::runtime_error on any failure
// before the rename (the save is then simply not committed); retention problems only warn.
void publish(const std::string& dir, const std::string& tmp, const RunState& state, int world_size, int keep_last);
// `latest` <- name, by write-temp, fsync, rename, fsync of the folder.
void write_latest(const std::string& dir, const std::string& name);
// "step_X" from `latest`, or "" when it is missing or unreadable. A hint only (see find_resume).
std::string read_latest(const std::string& dir);

// ---- host memory (format.cpp) ---------------------------------------------------------------------
// A growable host buffer for the saver's staging copy and load's slice reads. Reused across calls
// (grows, never shrinks; contents are not kept when it grows): first-touch page faults are most
// of the cost of copying into fresh memory (bench: ~1.2-2 s vs 0.3 s for 1.7 GB). Transparent huge
// pages were tried and dropped: with defrag=madvise their first touch ranged 0.5-4 s (compaction
// stalls), worse for a save's stall than plain pages.
class HostBuffer {
 public:
  HostBuffer() = default;
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  std::byte* reserve(size_t bytes);  // at least `bytes` long; throws std::bad_alloc
  std::byte* data() const { return p_; }

 private:
  std::byte* p_ = nullptr;
  size_t cap_ = 0;
};

// ---- small file helpers ---------------------------------------------------------------------------
// Whole file as a string; false when it cannot be read.
bool read_text_file(const std::string& path, std::string* out);

}  // namespace checkpoint::detail
