// checkpoint/checkpoint.h
// Sharded checkpoints (CONTRACTS §5): every rank writes the tensor pieces it owns into HDF5 files;
// rank 0 writes a manifest that records each piece's GLOBAL coordinates and CRC32C, so a
// checkpoint written under one (dp, tp, zero) layout loads under any other.
//
// The trainer describes its state as Pieces (it knows which rank owns what); this library moves
// bytes, commits atomically, verifies and reshards. It does not know about models or optimizers.
//
//   checkpoints/step_00001000/   manifest.yaml + rank_00000.h5 ... (written as step_00001000.tmp/)
//   checkpoints/latest           text file: "step_00001000" (replaced by write-temp-and-rename)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/tensor.h"
#include "parallel/comm.h"
#include "parallel/tp_split.h"

namespace checkpoint {

// One contiguous flat range [local_begin, local_begin+count) of one tp rank's local shard of a
// tensor. The local shard of tp rank r under tp is parallel::local_shape(global_shape, split, tp);
// its element e is global element parallel::global_index(global_shape, split, tp, r, e).
struct Piece {
  std::string tensor;            // e.g. "master/h.0.attn.c_attn.weight", "adam_m/wte"
  kernels::DType dtype = kernels::DType::F32;
  kernels::Shape global_shape;
  parallel::Split split = parallel::Split::kReplicated;
  int tp = 1, tp_rank = 0;
  int64_t local_begin = 0, count = 0;
  void* data = nullptr;          // host memory of count elements: read by save, filled by load
};

// Everything that is not a tensor. Written into the manifest as plain YAML fields.
struct RunState {
  int64_t step = 0, tokens = 0;
  double loss_scale = 1.0;
  int64_t skipped_steps = 0;
  uint64_t loader_epoch = 0, loader_position = 0;
  int64_t seed = 0;              // randomness is counter-based: the seed is the whole RNG state
  int dp = 1, tp = 1, zero = 0;  // the layout that wrote it
  std::string config_yaml;       // the resolved config
  // A folder copied into the checkpoint as tokenizer/ by rank 0 before the commit (CONTRACTS §4),
  // so eval, sample and export need nothing but the checkpoint. Empty: none.
  std::string tokenizer_dir;
};

struct Manifest {
  std::string dir;               // the checkpoint folder it was read from
  RunState state;
  struct Entry {
    std::string name;
    kernels::DType dtype;
    kernels::Shape global_shape;
    parallel::Split split;
    int tp = 1;
    struct Slice {
      std::string file;          // relative to dir
      std::string dataset;
      int tp_rank = 0;
      int64_t local_begin = 0, count = 0;
      uint32_t crc32c = 0;       // of the stored bytes
    };
    std::vector<Slice> slices;
  };
  std::vector<Entry> tensors;
  const Entry* find(const std::string& name) const;
};

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// Saving. Collective over `world` (all ranks call every method in the same order). Only the main
// thread talks to the communicator; the background thread only writes this rank's file.
class Saver {
 public:
  Saver(std::string checkpoints_dir, int keep_last, parallel::Comm& world);
  ~Saver();  // waits for a background write; does not commit it
  // Copies the pieces' bytes now (so training may change them right after), then writes this
  // rank's file in a background thread. Waits for (and commits) a previous save first.
  void begin(const RunState& state, const std::vector<Piece>& my_pieces);
  // Commits a save whose files every rank has finished: rank 0 writes the manifest, fsyncs,
  // renames step_X.tmp -> step_X, replaces `latest`, then applies keep_last. With wait=false it
  // returns at once when some rank is still writing (one small all-reduce to agree). Returns the
  // committed step, or -1 when nothing was committed by this call.
  int64_t commit(bool wait);
  bool pending() const;

  // Added to the interface: timings of the last save, for the trainer's log and the benchmark.
  // copy_s is the stall begin() adds to a step; write_s runs in the background thread; commit_s
  // is the manifest, fsyncs, renames and retention (rank 0) plus the closing broadcast.
  struct Stats {
    int64_t step = -1;
    uint64_t bytes = 0;  // this rank's piece bytes
    double copy_s = 0, write_s = 0, commit_s = 0;
  };
  const Stats& stats() const;

  Saver(const Saver&) = delete;
  Saver& operator=(const Saver&) = delete;

 private:
  struct Impl;  // save.cpp: staging buffer, background writer, the save in flight
  std::unique_ptr<Impl> impl_;
};

// Removes stale step_*.tmp folders (a save that never committed). Rank 0 only; call at start-up.
void clean_stale(const std::string& checkpoints_dir);

// Reads and parses dir/manifest.yaml; throws kernels::InputError naming the file on anything bad.
Manifest read_manifest(const std::string& checkpoint_dir);
// Re-reads every slice and checks its CRC32C; throws InputError naming the tensor and file.
void verify(const Manifest& m);
// The newest checkpoint under checkpoints_dir that verifies, renaming any corrupt one it meets
// to step_X.corrupt (rank 0 only renames; all ranks get the same answer) and saying so on stderr.
// std::nullopt when there is none.
std::optional<std::string> find_resume(const std::string& checkpoints_dir, parallel::Comm& world);

// Fills every requested piece (any layout) from the checkpoint, reading the overlapping slices.
// Throws InputError naming the tensor when it is missing or its global shape/split differs
// ("h.0.mlp.c_fc.weight: checkpoint has (3072, 768), the model (4096, 768)").
void load(const Manifest& m, std::vector<Piece>& requests);

}  // namespace checkpoint
