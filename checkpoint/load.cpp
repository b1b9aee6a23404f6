// checkpoint/load.cpp
// verify() and load(): reading slices back, CRC-checked, and resharding them into any layout.
//
// Called by find_resume (verify), the trainer's resume path (load), inspect and tests. Each rank
// loads only what it asks for; there is no communication here.
//
// Resharding. A saved slice and a requested piece both describe local elements of some tp rank
// under some (split, tp); parallel::global_index / local_index translate either to global element
// indices. For a requested local element e:
//     g = global_index(shape, req.split, req.tp, req.tp_rank, e)
//     (r, e') = local_index(shape, saved.split, saved.tp, g)      -> the saved slice of rank r holding e'
// Done per element, that is two divisions and a search per value (minutes for 124M parameters);
// instead we walk in runs: contiguous_run() says how far both mappings stay shifts, so each run is
// one memcpy (or one dtype conversion loop). Each needed saved slice is read once per tensor (its
// CRC checked as it arrives) into a reused host buffer, or straight into the request when the
// request is exactly that slice.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

#include "checkpoint/internal.h"
#include "kernels/check.h"

namespace checkpoint {

namespace {

using kernels::DType;
using Entry = Manifest::Entry;

// Opens each shard file once per load/verify call.
class Readers {
 public:
  explicit Readers(const std::string& dir) : dir_(dir) {}
  detail::ShardReader& get(const std::string& file) {
    auto it = open_.find(file);
    if (it == open_.end()) it = open_.emplace(file, std::make_unique<detail::ShardReader>(dir_ + "/" + file)).first;
    return *it->second;
  }

 private:
  std::string dir_;
  std::map<std::string, std::unique_ptr<detail::ShardReader>> open_;
};

// Copies n elements, converting between the float dtypes with round-to-nearest-even (dtype.h).
template <class S, class D>
void convert_as(const void* src, void* dst, int64_t n) {
  const S* s = static_cast<const S*>(src);
  D* d = static_cast<D*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = D(float(s[i]));
}
template <class S>
void convert_from(const void* src, DType to, void* dst, int64_t n) {
  switch (to) {
    case DType::F32: return convert_as<S, float>(src, dst, n);
    case DType::BF16: return convert_as<S, kernels::bf16>(src, dst, n);
    case DType::F16: return convert_as<S, kernels::fp16>(src, dst, n);
    default: break;
  }
}
bool convertible(DType d) { return d == DType::F32 || d == DType::BF16 || d == DType::F16; }
void copy_elements(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == to) {
    std::memcpy(dst, src, size_t(n) * kernels::dtype_size(from));
    return;
  }
  switch (from) {
    case DType::F32: return convert_from<float>(src, to, dst, n);
    case DType::BF16: return convert_from<kernels::bf16>(src, to, dst, n);
    case DType::F16: return convert_from<kernels::fp16>(src, to, dst, n);
    default: break;
  }
}

// The saved slices of one tensor, organised for lookup: per domain (tp rank, or 0 when any rank's
// copy serves), disjoint segments [begin, end) each served by one slice. Overlapping slices
// (the same range saved by two dp replicas) are fine: the first one covering a range serves it.
struct SliceIndex {
  struct Segment {
    int64_t begin, end;
    size_t slice;
  };
  std::map<int, std::vector<Segment>> domains;

  explicit SliceIndex(const Entry& e) {
    const bool shared = e.split == parallel::Split::kReplicated || e.tp == 1;
    std::map<int, std::vector<size_t>> by_domain;
    for (size_t i = 0; i < e.slices.size(); ++i) by_domain[shared ? 0 : e.slices[i].tp_rank].push_back(i);
    for (auto& [d, idx] : by_domain) {
      std::stable_sort(idx.begin(), idx.end(),
                       [&](size_t a, size_t b) { return e.slices[a].local_begin < e.slices[b].local_begin; });
      int64_t covered = 0;
      for (size_t i : idx) {
        const int64_t b = e.slices[i].local_begin, end = b + e.slices[i].count;
        if (end > covered) domains[d].push_back({std::max(b, covered), end, i});
        covered = std::max(covered, end);
      }
    }
  }
  // The segment holding local element `e` of domain `d`, or nullptr.
  const Segment* find(int d, int64_t e) const {
    auto it = domains.find(d);
    if (it == domains.end()) return nullptr;
    const auto& v = it->second;
    auto s = std::upper_bound(v.begin(), v.end(), e, [](int64_t x, const Segment& seg) { return x < seg.begin; });
    if (s == v.begin()) return nullptr;
    --s;
    return e < s->end ? &*s : nullptr;
  }
};

void check_request(const Piece& p) {
  const std::string why = detail::check_layout(p.global_shape, p.split, p.tp);
  KILN_CHECK(why.empty(), "checkpoint::load request '" + p.tensor + "': " + why);
  KILN_CHECK(p.tp_rank >= 0 && p.tp_rank < p.tp, "checkpoint::load request '" + p.tensor + "': tp_rank out of range");
  const int64_t n = parallel::local_shape(p.global_shape, p.split, p.tp).numel();
  KILN_CHECK(p.local_begin >= 0 && p.count >= 0 && p.local_begin + p.count <= n,
             "checkpoint::load request '" + p.tensor + "': range outside the local shard");
  KILN_CHECK(p.count == 0 || p.data != nullptr, "checkpoint::load request '" + p.tensor + "': no destination");
}

// One run of a plan: n elements from saved slice `slice` (from its element src) into request
// `dst` (from its element dst_off).
struct CopyOp {
  size_t slice;
  int64_t src;
  Piece* dst;
  int64_t dst_off, n;
};

// Fills every request of one tensor from entry `e`, in three steps: plan the runs (no I/O), read
// each needed slice once (CRC-checked), copy/convert the runs. A request that is exactly one whole
// saved slice of the same dtype (the same-layout case) is read straight into its own memory; all
// other slices land back to back in `arena`, which is reused from tensor to tensor.
void load_tensor(const Manifest& m, const Entry& e, const std::vector<Piece*>& reqs, Readers& readers,
                 detail::HostBuffer& arena) {
  const std::string ckpt = m.dir;
  for (const Piece* p : reqs) {
    if (p->global_shape != e.global_shape)
      throw kernels::InputError(e.name + ": checkpoint has " + e.global_shape.str() + ", the model " +
                                p->global_shape.str() + " (" + ckpt + ")");
    if (p->split != e.split)
      throw kernels::InputError(e.name + ": checkpoint splits it as " + parallel::split_name(e.split) + ", the model as " +
                                parallel::split_name(p->split) + " (" + ckpt + ")");
    if (p->dtype != e.dtype && !(convertible(p->dtype) && convertible(e.dtype)))
      throw kernels::InputError(e.name + ": checkpoint stores " + kernels::dtype_name(e.dtype) + ", cannot load it as " +
                                kernels::dtype_name(p->dtype) + " (" + ckpt + ")");
  }
  const SliceIndex index(e);
  const bool shared = e.split == parallel::Split::kReplicated || e.tp == 1;
  const size_t esize = kernels::dtype_size(e.dtype);

  // 1. Plan.
  std::vector<CopyOp> ops;
  std::vector<std::pair<size_t, size_t>> op_range;  // per request: [first op, end op)
  for (Piece* p : reqs) {
    const size_t first = ops.size();
    const int64_t end = p->local_begin + p->count;
    for (int64_t le = p->local_begin; le < end;) {
      const int64_t g = parallel::global_index(e.global_shape, p->split, p->tp, p->tp_rank, le);
      int src_rank = 0;
      int64_t se = 0;
      parallel::local_index(e.global_shape, e.split, e.tp, g, &src_rank, &se);
      const SliceIndex::Segment* seg = index.find(shared ? 0 : src_rank, se);
      if (seg == nullptr)  // read_manifest checked coverage, so only a hand-built Manifest gets here
        throw kernels::InputError(e.name + ": " + ckpt + " holds no slice with global element " + std::to_string(g));
      const int64_t run = std::min({end - le, detail::contiguous_run(e.global_shape, p->split, p->tp, le),
                                    detail::contiguous_run(e.global_shape, e.split, e.tp, se), seg->end - se});
      ops.push_back({seg->slice, se - e.slices[seg->slice].local_begin, p, le - p->local_begin, run});
      le += run;
    }
    op_range.push_back({first, ops.size()});
  }

  // 2. Read each needed slice once: straight into a request when it is that request, whole.
  std::vector<int> uses(e.slices.size(), 0);
  for (const CopyOp& op : ops) ++uses[op.slice];
  std::vector<Piece*> direct(e.slices.size(), nullptr);
  std::vector<bool> skip(ops.size(), false);
  for (const auto& [b, end] : op_range) {
    if (end - b != 1) continue;
    const CopyOp& op = ops[b];
    const Entry::Slice& s = e.slices[op.slice];
    if (uses[op.slice] == 1 && op.src == 0 && op.n == s.count && op.dst->dtype == e.dtype) {
      direct[op.slice] = op.dst;
      skip[b] = true;
    }
  }
  std::vector<size_t> offset(e.slices.size(), SIZE_MAX);
  size_t total = 0;
  for (size_t i = 0; i < e.slices.size(); ++i)
    if (uses[i] > 0 && direct[i] == nullptr) {
      offset[i] = total;
      total += size_t(e.slices[i].count) * esize;
    }
  std::byte* const base = total > 0 ? arena.reserve(total) : nullptr;
  for (size_t i = 0; i < e.slices.size(); ++i) {
    if (uses[i] == 0) continue;
    const Entry::Slice& s = e.slices[i];
    void* into = direct[i] != nullptr ? direct[i]->data : static_cast<void*>(base + offset[i]);
    readers.get(s.file).read(s.dataset, e.dtype, s.count, s.crc32c, e.name, into);
  }

  // 3. Copy (or convert) the runs.
  for (size_t k = 0; k < ops.size(); ++k) {
    if (skip[k]) continue;
    const CopyOp& op = ops[k];
    copy_elements(base + offset[op.slice] + size_t(op.src) * esize, e.dtype,
                  static_cast<std::byte*>(op.dst->data) + size_t(op.dst_off) * kernels::dtype_size(op.dst->dtype),
                  op.dst->dtype, op.n);
  }
}

}  // namespace

void verify(const Manifest& m) {
  Readers readers(m.dir);
  // File by file, so each file is opened once and read front to back.
  std::map<std::string, std::vector<std::pair<const Entry*, const Entry::Slice*>>> by_file;
  size_t largest = 0;
  for (const Entry& e : m.tensors)
    for (const Entry::Slice& s : e.slices) {
      by_file[s.file].push_back({&e, &s});
      largest = std::max(largest, size_t(s.count) * kernels::dtype_size(e.dtype));
    }
  detail::HostBuffer scratch;
  std::byte* const buf = scratch.reserve(largest);
  for (const auto& [file, slices] : by_file) {
    detail::ShardReader* r = nullptr;
    try {
      r = &readers.get(file);
    } catch (const kernels::InputError& err) {  // name a tensor it holds, as the contract asks
      throw kernels::InputError(slices.front().first->name + " (and every slice in " + file + "): " + err.what());
    }
    for (const auto& [e, s] : slices) r->read(s->dataset, e->dtype, s->count, s->crc32c, e->name, buf);
  }
}

void load(const Manifest& m, std::vector<Piece>& requests) {
  // Group requests by tensor (first-appearance order), so each saved slice is read once.
  std::vector<std::string> order;
  std::map<std::string, std::vector<Piece*>> by_tensor;
  for (Piece& p : requests) {
    check_request(p);  // empty requests too: every rank must fail alike on a mismatch
    auto [it, fresh] = by_tensor.try_emplace(p.tensor);
    if (fresh) order.push_back(p.tensor);
    it->second.push_back(&p);
  }
  Readers readers(m.dir);
  detail::HostBuffer arena;
  for (const std::string& name : order) {
    const Entry* e = m.find(name);
    if (e == nullptr) {
      const Piece& p = *by_tensor[name].front();
      throw kernels::InputError(name + ": not in checkpoint " + m.dir + " (the model has " + p.global_shape.str() + ")");
    }
    try {
      load_tensor(m, *e, by_tensor[name], readers, arena);
    } catch (const kernels::InputError& err) {
      const std::string msg = err.what();
      if (msg.rfind(name, 0) == 0) throw;
      throw kernels::InputError(name + ": " + msg);  // e.g. a file that does not open
    }
  }
}

}  // namespace checkpoint
