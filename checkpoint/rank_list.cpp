// checkpoint/rank_list.cpp
// rank_XXXXX.yaml: the list of slices one rank wrote, with their CRCs. Every rank writes one (an
// empty list when it owns nothing) after its HDF5 file is fsynced, so rank 0 can build the
// manifest from files alone, without gathering strings over the communicator, and knows that
// rank_00000..rank_{n-1} are all there once the commit's all-reduce said every rank finished.
//
// Called by save.cpp (emit, in the writer thread) and commit.cpp (parse + merge, rank 0). The
// lists stay in the checkpoint folder for debugging; nothing reads them after the commit.
// Errors here are std::runtime_error: these files are kiln's own, written moments earlier.
#include <yaml-cpp/yaml.h>

#include <map>
#include <stdexcept>

#include "checkpoint/internal.h"

namespace checkpoint::detail {

std::string emit_rank_list(int rank, const std::vector<SliceRecord>& slices) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "rank" << YAML::Value << rank;
  out << YAML::Key << "slices" << YAML::Value << YAML::BeginSeq;
  for (const SliceRecord& s : slices) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "tensor" << YAML::Value << s.tensor;
    out << YAML::Key << "dtype" << YAML::Value << kernels::dtype_name(s.dtype);
    out << YAML::Key << "shape" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (int i = 0; i < s.global_shape.ndim; ++i) out << s.global_shape[i];
    out << YAML::EndSeq;
    out << YAML::Key << "split" << YAML::Value << parallel::split_name(s.split);
    out << YAML::Key << "tp" << YAML::Value << s.tp << YAML::Key << "tp_rank" << YAML::Value << s.tp_rank;
    out << YAML::Key << "begin" << YAML::Value << s.local_begin << YAML::Key << "count" << YAML::Value << s.count;
    out << YAML::Key << "file" << YAML::Value << s.file << YAML::Key << "dataset" << YAML::Value << s.dataset;
    out << YAML::Key << "crc32c" << YAML::Value << crc_hex(s.crc32c);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<SliceRecord> parse_rank_list(const std::string& path) {
  std::string text;
  if (!read_text_file(path, &text)) throw std::runtime_error(path + ": missing (that rank never finished its files)");
  std::vector<SliceRecord> out;
  try {
    const YAML::Node root = YAML::Load(text);
    for (const YAML::Node& n : root["slices"]) {
      SliceRecord s;
      s.tensor = n["tensor"].as<std::string>();
      if (!parse_dtype(n["dtype"].as<std::string>(), &s.dtype)) throw std::runtime_error("bad dtype");
      const YAML::Node shape = n["shape"];
      s.global_shape.ndim = int(shape.size());
      if (s.global_shape.ndim < 1 || s.global_shape.ndim > kernels::kMaxDims) throw std::runtime_error("bad shape");
      for (size_t i = 0; i < shape.size(); ++i) s.global_shape.dims[i] = shape[i].as<int64_t>();
      if (!parallel::parse_split(n["split"].as<std::string>().c_str(), &s.split)) throw std::runtime_error("bad split");
      s.tp = n["tp"].as<int>();
      s.tp_rank = n["tp_rank"].as<int>();
      s.local_begin = n["begin"].as<int64_t>();
      s.count = n["count"].as<int64_t>();
      s.file = n["file"].as<std::string>();
      s.dataset = n["dataset"].as<std::string>();
      if (!parse_crc_hex(n["crc32c"].as<std::string>(), &s.crc32c)) throw std::runtime_error("bad crc32c");
      out.push_back(std::move(s));
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": unreadable slice list: " + e.what());
  }
  return out;
}

std::vector<Manifest::Entry> merge_slices(const std::vector<SliceRecord>& all) {
  std::vector<Manifest::Entry> entries;
  std::map<std::string, size_t> index;  // tensor name -> position in entries
  for (const SliceRecord& s : all) {
    auto [it, fresh] = index.try_emplace(s.tensor, entries.size());
    if (fresh) {
      Manifest::Entry e;
      e.name = s.tensor;
      e.dtype = s.dtype;
      e.global_shape = s.global_shape;
      e.split = s.split;
      e.tp = s.tp;
      entries.push_back(std::move(e));
    }
    Manifest::Entry& e = entries[it->second];
    // One tensor, one description: pieces from different ranks that disagree are a trainer bug,
    // and a manifest entry cannot say two things at once.
    if (e.dtype != s.dtype || e.global_shape != s.global_shape || e.split != s.split || e.tp != s.tp)
      throw std::runtime_error("pieces of tensor '" + s.tensor + "' disagree: " + kernels::dtype_name(e.dtype) + " " +
                               e.global_shape.str() + " " + parallel::split_name(e.split) + " tp " +
                               std::to_string(e.tp) + " vs " + kernels::dtype_name(s.dtype) + " " +
                               s.global_shape.str() + " " + parallel::split_name(s.split) + " tp " +
                               std::to_string(s.tp));
    Manifest::Entry::Slice sl;
    sl.file = s.file;
    sl.dataset = s.dataset;
    sl.tp_rank = s.tp_rank;
    sl.local_begin = s.local_begin;
    sl.count = s.count;
    sl.crc32c = s.crc32c;
    e.slices.push_back(std::move(sl));
  }
  return entries;
}

}  // namespace checkpoint::detail
