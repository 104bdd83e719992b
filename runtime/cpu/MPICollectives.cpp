//===- MPICollectives.cpp - libsp_runtime_cpu.so: collectives over MPI ----===//
//
// Called by code that sp-lower-to-cpu produced. Every rank runs the same
// program; the collectives here combine the buffers of the ranks of a group
// over the group's communicator: MPI_COMM_WORLD for a group of every rank,
// else a sub-communicator that MPI_Comm_split makes at the group's first
// use (color: the rank's coordinates on the axes the group does not span;
// key: its index in the group) and that is kept for the group's layout.
// Every rank runs the same program, so every rank reaches that first use
// at the same point, as the collective split needs. Sums are done in group
// rank order in f32 (double for f64) from the gathered contributions, so
// all_reduce(x) and all_gather(reduce_scatter(x)) agree bit for bit on
// every rank.
//
// Errors (a group whose grid does not match the number of ranks, a
// malformed group descriptor, a non-contiguous buffer, an MPI failure) are
// reported with the rank and end the whole job with MPI_Abort: the other
// ranks would otherwise wait forever in the next collective.
//
//===----------------------------------------------------------------------===//

#include "sp/Runtime/ElementTypes.h"
#include "sp/Runtime/Numerics.h"
#include "sp/Runtime/RankState.h"
#include "sp/Runtime/RuntimeABI.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <mpi.h>

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

#define SP_RT_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mlir::sp::numerics;

namespace {

int worldRank() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    return 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// The source location of the op being run ("file:line:col"), set by
/// sp_rt_site just before the op's runtime call; empty when the compiled
/// code does not say (code lowered before sp_rt_site existed, unit tests).
char currentSite[400];

[[noreturn]] void fatal(const char *format, ...) {
  // One write: mpirun interleaves the ranks' output at write boundaries.
  char message[2048];
  int prefix = std::snprintf(message, sizeof(message),
                             "sp runtime error (rank %d): ", worldRank());
  va_list args;
  va_start(args, format);
  std::vsnprintf(message + prefix, sizeof(message) - prefix - 1, format, args);
  va_end(args);
  if (currentSite[0]) {
    std::strncat(message, " (at ", sizeof(message) - std::strlen(message) - 1);
    std::strncat(message, currentSite,
                 sizeof(message) - std::strlen(message) - 1);
    std::strncat(message, ")", sizeof(message) - std::strlen(message) - 1);
  }
  std::strncat(message, "\n", sizeof(message) - std::strlen(message) - 1);
  sp_runtime::recordError(worldRank(), message);
  std::fputs(message, stderr);
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized)
    MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

/// Initializes MPI on first use (a singleton run when not under mpirun) and
/// makes MPI errors return codes that check() turns into messages.
struct Comm {
  int rank = 0;
  int size = 1;
};

Comm comm() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS)
      fatal("MPI_Init failed");
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized)
        MPI_Finalize();
    });
  }
  static bool handlerSet = false;
  if (!handlerSet) {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    handlerSet = true;
  }
  Comm c;
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size);
  return c;
}

void check(int code, const char *op, const char *call) {
  if (code == MPI_SUCCESS)
    return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, message, &length);
  fatal("%s: %s failed: %.*s", op, call, length, message);
}

/// One runtime call of an op over the group: recorded in the rank's state
/// (sp/Runtime/RankState.h) while it runs, for the launcher's post-mortem
/// when the job fails, and where SP_FAULT injects test faults.
class OpScope {
public:
  explicit OpScope(const char *name) : name(name) {
    if (currentSite[0])
      std::snprintf(what, sizeof(what), "%s at %s", name, currentSite);
    else
      std::snprintf(what, sizeof(what), "%s", name);
    failAllocation = sp_runtime::enterOp(worldRank(), what);
    // SP_TRACE_COLLECTIVES=1: one line per collective call, to see which
    // version of a program ran (e.g. a token guard's branch).
    static const bool trace = [] {
      const char *value = std::getenv("SP_TRACE_COLLECTIVES");
      return value && *value && std::strcmp(value, "0") != 0;
    }();
    if (trace) {
      std::fprintf(stderr, "sp-trace: rank %d: %s\n", worldRank(), what);
      std::fflush(stderr);
    }
  }
  ~OpScope() {
    sp_runtime::leaveOp();
    currentSite[0] = 0;
  }
  /// A buffer of `count` elements; out of memory ends the job with a
  /// message naming the op (never std::bad_alloc through compiled code).
  template <typename T> std::vector<T> buffer(size_t count, const char *why) {
    try {
      if (failAllocation) // SP_FAULT=oom@rankR:opK
        throw std::bad_alloc();
      return std::vector<T>(count);
    } catch (const std::bad_alloc &) {
      fatal("%s: out of memory: cannot allocate %llu bytes for %s", name,
            static_cast<unsigned long long>(count * sizeof(T)), why);
    }
  }

private:
  const char *name;
  char what[480];
  bool failAllocation = false;

public:
  bool mustFail() const { return failAllocation; }
};

/// A group descriptor as compiled code passes it: memref<?xi64>.
using GroupDescriptor = StridedMemRefType<int64_t, 1>;

/// The ranks a collective runs over: the group's communicator, this rank's
/// index in it (its group rank) and the group's size.
struct Group {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0;
  int size = 1;
};

/// The group that `descriptor` (sp/Runtime/RuntimeABI.h) describes; its
/// communicator is made at the first use of its layout.
Group group(GroupDescriptor *descriptor, const char *op) {
  Comm c = comm();
  if (!descriptor)
    fatal("%s: the group descriptor is missing", op);
  sp_runtime::GroupLayout layout;
  std::string why =
      layout.decode(descriptor->data + descriptor->offset,
                    descriptor->sizes[0], descriptor->strides[0]);
  if (!why.empty())
    fatal("%s: %s", op, why.c_str());
  why = layout.checkJob(c.size);
  if (!why.empty())
    fatal("%s %s", op, why.c_str());
  Group g;
  if (layout.isWorld()) {
    g.rank = c.rank;
    g.size = c.size;
    return g;
  }
  static std::map<std::vector<int64_t>, MPI_Comm> communicators;
  std::vector<int64_t> key =
      sp_runtime::GroupLayout::encode(layout.grid, layout.axes);
  auto it = communicators.find(key);
  if (it == communicators.end()) {
    MPI_Comm split = MPI_COMM_NULL;
    check(MPI_Comm_split(MPI_COMM_WORLD, int(layout.colorOf(c.rank)),
                         int(layout.indexOf(c.rank)), &split),
          op, "MPI_Comm_split");
    MPI_Comm_set_errhandler(split, MPI_ERRORS_RETURN);
    it = communicators.emplace(key, split).first;
  }
  g.comm = it->second;
  MPI_Comm_rank(g.comm, &g.rank);
  MPI_Comm_size(g.comm, &g.size);
  return g;
}

int toCount(int64_t bytes, const char *op) {
  if (bytes > INT_MAX)
    fatal("%s: %lld bytes exceed what one MPI call can move", op,
          static_cast<long long>(bytes));
  return static_cast<int>(bytes);
}

/// A contiguous row-major view of a memref.
struct View {
  char *data = nullptr;
  std::vector<int64_t> sizes;
  int64_t elements = 1;
};

template <typename T>
View view(UnrankedMemRefType<T> *memref, const char *op, const char *which) {
  DynamicMemRefType<T> d(*memref);
  View v;
  v.data = reinterpret_cast<char *>(d.data + d.offset);
  int64_t expectedStride = 1;
  for (int64_t i = d.rank - 1; i >= 0; --i) {
    if (d.sizes[i] != 1 && d.strides[i] != expectedStride)
      fatal("%s: the %s buffer is not contiguous (dim %lld has stride %lld, "
            "expected %lld)",
            op, which, static_cast<long long>(i),
            static_cast<long long>(d.strides[i]),
            static_cast<long long>(expectedStride));
    expectedStride *= d.sizes[i];
  }
  v.sizes.assign(d.sizes, d.sizes + d.rank);
  for (int64_t s : v.sizes)
    v.elements *= s;
  return v;
}

/// outer x len x inner decomposition of a tensor around dimension `dim`.
struct Around {
  int64_t outer = 1, len = 1, inner = 1;
};

Around around(const View &v, int64_t dim, const char *op) {
  if (dim < 0 || dim >= static_cast<int64_t>(v.sizes.size()))
    fatal("%s: dim %lld out of range", op, static_cast<long long>(dim));
  Around a;
  for (int64_t i = 0; i < dim; ++i)
    a.outer *= v.sizes[i];
  a.len = v.sizes[dim];
  for (size_t i = dim + 1; i < v.sizes.size(); ++i)
    a.inner *= v.sizes[i];
  return a;
}

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

struct F32 {
  using Storage = float;
  using Acc = float;
  static Acc load(Storage s) { return s; }
  static Storage store(Acc a) { return a; }
};
struct F64 {
  using Storage = double;
  using Acc = double;
  static Acc load(Storage s) { return s; }
  static Storage store(Acc a) { return a; }
};
struct F16 {
  using Storage = uint16_t;
  using Acc = float;
  static Acc load(Storage s) { return f16ToFloat(s); }
  static Storage store(Acc a) { return floatToF16(a); }
};
struct BF16 {
  using Storage = uint16_t;
  using Acc = float;
  static Acc load(Storage s) { return bf16ToFloat(s); }
  static Storage store(Acc a) { return floatToBF16(a); }
};

Reduction toReduction(int32_t kind, const char *op) {
  if (kind < 0 || kind > 4)
    fatal("%s: unknown reduction kind %d", op, kind);
  return static_cast<Reduction>(kind);
}

/// Combines `ranks` contributions laid out [rank][count] element-wise into
/// `out`, in rank order.
template <typename E>
void combineInto(const typename E::Storage *contributions, int64_t count,
                 int ranks, Reduction reduction, typename E::Storage *out) {
  std::vector<typename E::Acc> values(ranks);
  for (int64_t i = 0; i < count; ++i) {
    for (int r = 0; r < ranks; ++r)
      values[r] = E::load(contributions[r * count + i]);
    out[i] = E::store(combine(values.data(), ranks, reduction));
  }
}

template <typename E>
void allReduce(UnrankedMemRefType<typename E::Storage> *in,
               UnrankedMemRefType<typename E::Storage> *out, int32_t kind,
               GroupDescriptor *groupDescriptor) {
  const char *op = "sp.all_reduce";
  OpScope scope(op);
  using S = typename E::Storage;
  Group c = group(groupDescriptor, op);
  Reduction reduction = toReduction(kind, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  if (a.sizes != b.sizes)
    fatal("%s: input and output shapes differ", op);
  int count = toCount(a.elements * sizeof(S), op);
  std::vector<S> all =
      scope.buffer<S>(a.elements * c.size, "the ranks' contributions");
  check(MPI_Allgather(a.data, count, MPI_BYTE, all.data(), count, MPI_BYTE,
                      c.comm),
        op, "MPI_Allgather");
  combineInto<E>(all.data(), a.elements, c.size, reduction,
                 reinterpret_cast<S *>(b.data));
}

template <typename E>
void reduceScatter(UnrankedMemRefType<typename E::Storage> *in,
                   UnrankedMemRefType<typename E::Storage> *out, int32_t kind,
                   GroupDescriptor *groupDescriptor, int64_t dim) {
  const char *op = "sp.reduce_scatter";
  OpScope scope(op);
  using S = typename E::Storage;
  Group c = group(groupDescriptor, op);
  Reduction reduction = toReduction(kind, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  Around shape = around(a, dim, op);
  if (shape.len % c.size != 0)
    fatal("%s: dimension %lld of size %lld is not divisible by %d ranks", op,
          static_cast<long long>(dim), static_cast<long long>(shape.len),
          c.size);
  int64_t chunk = shape.len / c.size;
  int64_t chunkElements = shape.outer * chunk * shape.inner;
  if (b.elements != chunkElements)
    fatal("%s: output has %lld elements, expected %lld", op,
          static_cast<long long>(b.elements),
          static_cast<long long>(chunkElements));
  // send[k] = chunk k of the input along `dim`, made contiguous.
  const S *src = reinterpret_cast<const S *>(a.data);
  std::vector<S> send = scope.buffer<S>(a.elements, "the chunks to send");
  for (int k = 0; k < c.size; ++k)
    for (int64_t o = 0; o < shape.outer; ++o)
      std::memcpy(&send[(k * shape.outer + o) * chunk * shape.inner],
                  &src[(o * shape.len + k * chunk) * shape.inner],
                  chunk * shape.inner * sizeof(S));
  std::vector<S> received =
      scope.buffer<S>(a.elements, "the ranks' contributions");
  int count = toCount(chunkElements * sizeof(S), op);
  check(MPI_Alltoall(send.data(), count, MPI_BYTE, received.data(), count,
                     MPI_BYTE, c.comm),
        op, "MPI_Alltoall");
  combineInto<E>(received.data(), chunkElements, c.size, reduction,
                 reinterpret_cast<S *>(b.data));
}

template <typename S>
void allGather(UnrankedMemRefType<S> *in, UnrankedMemRefType<S> *out,
               GroupDescriptor *groupDescriptor, int64_t dim) {
  const char *op = "sp.all_gather";
  OpScope scope(op);
  Group c = group(groupDescriptor, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  Around shape = around(a, dim, op);
  if (b.elements != a.elements * c.size)
    fatal("%s: output has %lld elements, expected %lld", op,
          static_cast<long long>(b.elements),
          static_cast<long long>(a.elements * c.size));
  int count = toCount(a.elements * sizeof(S), op);
  if (shape.outer == 1 && !scope.mustFail()) { // rank r's block lands at offset r: gather in place
    check(MPI_Allgather(a.data, count, MPI_BYTE, b.data, count, MPI_BYTE,
                        c.comm),
          op, "MPI_Allgather");
    return;
  }
  std::vector<S> all =
      scope.buffer<S>(a.elements * c.size, "the gathered blocks");
  check(MPI_Allgather(a.data, count, MPI_BYTE, all.data(), count, MPI_BYTE,
                      c.comm),
        op, "MPI_Allgather");
  S *dst = reinterpret_cast<S *>(b.data);
  int64_t block = shape.len * shape.inner;
  for (int r = 0; r < c.size; ++r)
    for (int64_t o = 0; o < shape.outer; ++o)
      std::memcpy(&dst[(o * c.size + r) * block], &all[(r * shape.outer + o) * block],
                  block * sizeof(S));
}

/// A started ring shift: the runtime's copy of the input (the caller may
/// reuse its buffer at once) and the two requests.
struct PendingShift {
  std::vector<char> sent;
  MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
};

/// Started shifts by handle (1, 2, ...); a handle is waited for once.
std::vector<PendingShift *> &pendingShifts() {
  static std::vector<PendingShift *> shifts;
  return shifts;
}

/// Rank r of the group sends `in` to its rank (r + offset) mod n and
/// receives into `out` the input of its rank (r - offset) mod n. Same tag
/// for every shift: MPI delivers messages between two ranks of a
/// communicator in order, and every rank starts its shifts in the same
/// order.
template <typename S>
int64_t ringShiftStart(UnrankedMemRefType<S> *in, UnrankedMemRefType<S> *out,
                       int64_t offset, GroupDescriptor *groupDescriptor) {
  const char *op = "sp.ring_shift";
  OpScope scope(op);
  Group c = group(groupDescriptor, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  if (a.sizes != b.sizes)
    fatal("%s: input and output shapes differ", op);
  int count = toCount(a.elements * int64_t(sizeof(S)), op);
  auto *shift = new PendingShift;
  int64_t n = c.size;
  int64_t step = ((offset % n) + n) % n;
  if (step == 0) {
    std::memcpy(b.data, a.data, count);
  } else {
    try {
      if (scope.mustFail())
        throw std::bad_alloc();
      shift->sent.assign(a.data, a.data + count);
    } catch (const std::bad_alloc &) {
      fatal("%s: out of memory: cannot allocate %d bytes for the copy to "
            "send",
            op, count);
    }
    int to = int((c.rank + step) % n), from = int((c.rank - step + n) % n);
    constexpr int kTag = 0x5350;
    check(MPI_Irecv(b.data, count, MPI_BYTE, from, kTag, c.comm,
                    &shift->requests[0]),
          op, "MPI_Irecv");
    check(MPI_Isend(shift->sent.data(), count, MPI_BYTE, to, kTag, c.comm,
                    &shift->requests[1]),
          op, "MPI_Isend");
  }
  pendingShifts().push_back(shift);
  return int64_t(pendingShifts().size());
}

void ringShiftWait(int64_t handle) {
  const char *op = "sp.ring_shift";
  OpScope scope("sp.ring_shift (wait)");
  std::vector<PendingShift *> &shifts = pendingShifts();
  if (handle < 1 || handle > int64_t(shifts.size()) || !shifts[handle - 1])
    fatal("%s: wait for unknown or finished shift %lld", op,
          static_cast<long long>(handle));
  PendingShift *shift = shifts[handle - 1];
  check(MPI_Waitall(2, shift->requests, MPI_STATUSES_IGNORE), op,
        "MPI_Waitall");
  delete shift;
  shifts[handle - 1] = nullptr;
  // Reuse the table once everything started has been waited for.
  while (!shifts.empty() && !shifts.back())
    shifts.pop_back();
}

} // namespace

//===----------------------------------------------------------------------===//
// Exported entry points (C interface of the functions that
// sp-prepare-cpu-runtime declares)
//===----------------------------------------------------------------------===//

SP_RT_EXPORT int64_t sp_rt_rank() { return comm().rank; }

/// The location of the op whose runtime call follows (compiled code calls
/// it just before each collective's call; see RankState.h).
SP_RT_EXPORT void _mlir_ciface_sp_rt_site(StridedMemRefType<char, 1> *site) {
  if (!site)
    return;
  size_t n = size_t(site->sizes[0]);
  if (n >= sizeof(currentSite))
    n = sizeof(currentSite) - 1;
  for (size_t i = 0; i < n; ++i)
    currentSite[i] = site->data[site->offset + int64_t(i) * site->strides[0]];
  currentSite[n] = 0;
}

SP_RT_EXPORT int64_t sp_rt_world_size() { return comm().size; }

#define SP_RT_REDUCING(NAME, STORAGE, E)                                       \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_all_reduce_##NAME(                      \
      UnrankedMemRefType<STORAGE> *in, UnrankedMemRefType<STORAGE> *out,       \
      int32_t kind, GroupDescriptor *group) {                                  \
    allReduce<E>(in, out, kind, group);                                        \
  }                                                                            \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_reduce_scatter_##NAME(                  \
      UnrankedMemRefType<STORAGE> *in, UnrankedMemRefType<STORAGE> *out,       \
      int32_t kind, GroupDescriptor *group, int64_t dim) {                     \
    reduceScatter<E>(in, out, kind, group, dim);                               \
  }
SP_FOR_EVERY_REDUCIBLE_TYPE(SP_RT_REDUCING)
#undef SP_RT_REDUCING

#define SP_RT_GATHER(NAME, STORAGE, CODE)                                      \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_all_gather_##NAME(                      \
      UnrankedMemRefType<STORAGE> *in, UnrankedMemRefType<STORAGE> *out,       \
      GroupDescriptor *group, int64_t dim) {                                   \
    allGather<STORAGE>(in, out, group, dim);                                   \
  }                                                                            \
  SP_RT_EXPORT int64_t _mlir_ciface_sp_rt_ring_shift_start_##NAME(             \
      UnrankedMemRefType<STORAGE> *in, UnrankedMemRefType<STORAGE> *out,       \
      int64_t offset, GroupDescriptor *group) {                                \
    return ringShiftStart<STORAGE>(in, out, offset, group);                    \
  }
SP_FOR_EVERY_GATHERED_TYPE(SP_RT_GATHER)
#undef SP_RT_GATHER

SP_RT_EXPORT void sp_rt_ring_shift_wait(int64_t handle) {
  ringShiftWait(handle);
}

SP_RT_EXPORT const SPRuntimeSymbol *sp_rt_symbols(size_t *count) {
#define SP_RT_ENTRY(NAME) {#NAME, reinterpret_cast<void *>(&NAME)},
#define SP_RT_REDUCING_ENTRIES(NAME, STORAGE, CODE)                            \
  SP_RT_ENTRY(_mlir_ciface_sp_rt_all_reduce_##NAME)                            \
  SP_RT_ENTRY(_mlir_ciface_sp_rt_reduce_scatter_##NAME)
#define SP_RT_GATHER_ENTRY(NAME, STORAGE, CODE)                                \
  SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_##NAME)                            \
  SP_RT_ENTRY(_mlir_ciface_sp_rt_ring_shift_start_##NAME)
  static const SPRuntimeSymbol table[] = {
      // Lowered memref.copy of strided buffers (from MLIR's runner utils).
      SP_RT_ENTRY(memrefCopy)
      SP_RT_ENTRY(sp_rt_rank)
      SP_RT_ENTRY(sp_rt_world_size)
      SP_RT_ENTRY(sp_rt_ring_shift_wait)
      SP_RT_ENTRY(_mlir_ciface_sp_rt_site)
      SP_FOR_EVERY_REDUCIBLE_TYPE(SP_RT_REDUCING_ENTRIES)
      SP_FOR_EVERY_GATHERED_TYPE(SP_RT_GATHER_ENTRY)
  };
#undef SP_RT_GATHER_ENTRY
#undef SP_RT_REDUCING_ENTRIES
#undef SP_RT_ENTRY
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}
