//===- CPURuntime.cpp - sp collectives over MPI ---------------------------===//
//
// Called by code that sp-lower-to-cpu produced. Every rank runs the same
// program; the collectives here combine the ranks' buffers over
// MPI_COMM_WORLD. Sums are done in rank order in f32 (double for f64) from
// the gathered contributions, so all_reduce(x) and
// all_gather(reduce_scatter(x)) agree bit for bit on every rank.
//
// Errors (a group size that does not match the number of ranks, a
// non-contiguous buffer, an MPI failure) are reported with the rank and end
// the whole job with MPI_Abort: the other ranks would otherwise wait forever
// in the next collective.
//
//===----------------------------------------------------------------------===//

#include "sp/Runtime/CPURuntime.h"
#include "sp/Runtime/Numerics.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <mpi.h>

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

[[noreturn]] void fatal(const char *format, ...) {
  // One write: mpirun interleaves the ranks' output at write boundaries.
  char message[2048];
  int prefix = std::snprintf(message, sizeof(message),
                             "sp runtime error (rank %d): ", worldRank());
  va_list args;
  va_start(args, format);
  std::vsnprintf(message + prefix, sizeof(message) - prefix - 1, format, args);
  va_end(args);
  std::strncat(message, "\n", sizeof(message) - std::strlen(message) - 1);
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

void checkGroup(const Comm &c, int64_t groupSize, const char *op) {
  if (groupSize != c.size)
    fatal("%s runs over a group of %lld ranks, but the job has %d ranks "
          "(start it with --ranks=%lld)",
          op, static_cast<long long>(groupSize), c.size,
          static_cast<long long>(groupSize));
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
               int64_t groupSize) {
  const char *op = "sp.all_reduce";
  using S = typename E::Storage;
  Comm c = comm();
  checkGroup(c, groupSize, op);
  Reduction reduction = toReduction(kind, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  if (a.sizes != b.sizes)
    fatal("%s: input and output shapes differ", op);
  int count = toCount(a.elements * sizeof(S), op);
  std::vector<S> all(a.elements * c.size);
  check(MPI_Allgather(a.data, count, MPI_BYTE, all.data(), count, MPI_BYTE,
                      MPI_COMM_WORLD),
        op, "MPI_Allgather");
  combineInto<E>(all.data(), a.elements, c.size, reduction,
                 reinterpret_cast<S *>(b.data));
}

template <typename E>
void reduceScatter(UnrankedMemRefType<typename E::Storage> *in,
                   UnrankedMemRefType<typename E::Storage> *out, int32_t kind,
                   int64_t groupSize, int64_t dim) {
  const char *op = "sp.reduce_scatter";
  using S = typename E::Storage;
  Comm c = comm();
  checkGroup(c, groupSize, op);
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
  std::vector<S> send(a.elements);
  for (int k = 0; k < c.size; ++k)
    for (int64_t o = 0; o < shape.outer; ++o)
      std::memcpy(&send[(k * shape.outer + o) * chunk * shape.inner],
                  &src[(o * shape.len + k * chunk) * shape.inner],
                  chunk * shape.inner * sizeof(S));
  std::vector<S> received(a.elements);
  int count = toCount(chunkElements * sizeof(S), op);
  check(MPI_Alltoall(send.data(), count, MPI_BYTE, received.data(), count,
                     MPI_BYTE, MPI_COMM_WORLD),
        op, "MPI_Alltoall");
  combineInto<E>(received.data(), chunkElements, c.size, reduction,
                 reinterpret_cast<S *>(b.data));
}

template <typename S>
void allGather(UnrankedMemRefType<S> *in, UnrankedMemRefType<S> *out,
               int64_t groupSize, int64_t dim) {
  const char *op = "sp.all_gather";
  Comm c = comm();
  checkGroup(c, groupSize, op);
  View a = view(in, op, "input"), b = view(out, op, "output");
  Around shape = around(a, dim, op);
  if (b.elements != a.elements * c.size)
    fatal("%s: output has %lld elements, expected %lld", op,
          static_cast<long long>(b.elements),
          static_cast<long long>(a.elements * c.size));
  int count = toCount(a.elements * sizeof(S), op);
  if (shape.outer == 1) { // rank r's block lands at offset r: gather in place
    check(MPI_Allgather(a.data, count, MPI_BYTE, b.data, count, MPI_BYTE,
                        MPI_COMM_WORLD),
          op, "MPI_Allgather");
    return;
  }
  std::vector<S> all(a.elements * c.size);
  check(MPI_Allgather(a.data, count, MPI_BYTE, all.data(), count, MPI_BYTE,
                      MPI_COMM_WORLD),
        op, "MPI_Allgather");
  S *dst = reinterpret_cast<S *>(b.data);
  int64_t block = shape.len * shape.inner;
  for (int r = 0; r < c.size; ++r)
    for (int64_t o = 0; o < shape.outer; ++o)
      std::memcpy(&dst[(o * c.size + r) * block], &all[(r * shape.outer + o) * block],
                  block * sizeof(S));
}

} // namespace

//===----------------------------------------------------------------------===//
// Exported entry points (C interface of the functions that
// sp-prepare-cpu-runtime declares)
//===----------------------------------------------------------------------===//

SP_RT_EXPORT int64_t sp_rt_rank() { return comm().rank; }

SP_RT_EXPORT int64_t sp_rt_size() { return comm().size; }

#define SP_RT_REDUCING(NAME, E)                                                \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_all_reduce_##NAME(                      \
      UnrankedMemRefType<E::Storage> *in, UnrankedMemRefType<E::Storage> *out, \
      int32_t kind, int64_t groupSize) {                                       \
    allReduce<E>(in, out, kind, groupSize);                                    \
  }                                                                            \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_reduce_scatter_##NAME(                  \
      UnrankedMemRefType<E::Storage> *in, UnrankedMemRefType<E::Storage> *out, \
      int32_t kind, int64_t groupSize, int64_t dim) {                          \
    reduceScatter<E>(in, out, kind, groupSize, dim);                           \
  }

SP_RT_REDUCING(f32, F32)
SP_RT_REDUCING(f64, F64)
SP_RT_REDUCING(f16, F16)
SP_RT_REDUCING(bf16, BF16)

#define SP_RT_GATHER(NAME, S)                                                  \
  SP_RT_EXPORT void _mlir_ciface_sp_rt_all_gather_##NAME(                      \
      UnrankedMemRefType<S> *in, UnrankedMemRefType<S> *out,                   \
      int64_t groupSize, int64_t dim) {                                        \
    allGather<S>(in, out, groupSize, dim);                                     \
  }

SP_RT_GATHER(f32, float)
SP_RT_GATHER(f64, double)
SP_RT_GATHER(f16, uint16_t)
SP_RT_GATHER(bf16, uint16_t)
SP_RT_GATHER(f8E4M3FN, uint8_t)
SP_RT_GATHER(f8E4M3FNUZ, uint8_t)
SP_RT_GATHER(i8, int8_t)
SP_RT_GATHER(i16, int16_t)
SP_RT_GATHER(i32, int32_t)
SP_RT_GATHER(i64, int64_t)

SP_RT_EXPORT const SPRuntimeSymbol *sp_rt_symbols(size_t *count) {
#define SP_RT_ENTRY(NAME) {#NAME, reinterpret_cast<void *>(&NAME)}
#define SP_RT_REDUCING_ENTRIES(T)                                              \
  SP_RT_ENTRY(_mlir_ciface_sp_rt_all_reduce_##T),                              \
      SP_RT_ENTRY(_mlir_ciface_sp_rt_reduce_scatter_##T)
  static const SPRuntimeSymbol table[] = {
      // Lowered memref.copy of strided buffers (from MLIR's runner utils).
      SP_RT_ENTRY(memrefCopy),
      SP_RT_ENTRY(sp_rt_rank),
      SP_RT_ENTRY(sp_rt_size),
      SP_RT_REDUCING_ENTRIES(f32),
      SP_RT_REDUCING_ENTRIES(f64),
      SP_RT_REDUCING_ENTRIES(f16),
      SP_RT_REDUCING_ENTRIES(bf16),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_f32),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_f64),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_f16),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_bf16),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_f8E4M3FN),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_f8E4M3FNUZ),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_i8),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_i16),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_i32),
      SP_RT_ENTRY(_mlir_ciface_sp_rt_all_gather_i64),
  };
#undef SP_RT_REDUCING_ENTRIES
#undef SP_RT_ENTRY
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}
