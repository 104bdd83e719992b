//===- CompiledABI.cpp - entry points of code lowered for CUDA ------------===//
//
// See CompiledABI.h. Nothing here touches CUDA: descriptors in, checked
// pointers and counts out to the library's Backend.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define SP_EXPORT extern "C" __attribute__((visibility("default")))

using namespace sp_cuda_abi;

namespace {

void (*errorHandler)(const char *) = nullptr;

[[noreturn]] void defaultHandler(const char *message) {
  // One write: mpirun interleaves the ranks' output at write boundaries.
  std::fputs(message, stderr);
  std::fflush(stderr);
  std::exit(1);
}

[[noreturn]] void report(const std::string &what) {
  std::string message = "sp CUDA runtime error (rank " +
                        std::to_string(backend().rank()) + "): " + what + "\n";
  if (errorHandler)
    errorHandler(message.c_str());
  defaultHandler(message.c_str()); // a handler that returned
}

[[noreturn]] void fatal(const char *location, const char *format, ...) {
  char why[1536];
  va_list args;
  va_start(args, format);
  std::vsnprintf(why, sizeof(why), format, args);
  va_end(args);
  report(std::string(location) + ": " + why);
}

/// Backend messages already name the op's location.
void check(int status, const char *) {
  if (status != 0)
    report(backend().lastError());
}

/// A contiguous row-major buffer described by a memref descriptor.
struct View {
  char *data = nullptr;
  int64_t rank = 0;
  const int64_t *sizes = nullptr;
  int64_t elements = 1;

  int64_t size(int64_t d) const { return sizes[d]; }
  /// Product of the sizes of dims [from, to).
  int64_t product(int64_t from, int64_t to) const {
    int64_t p = 1;
    for (int64_t d = from; d < to; ++d)
      p *= sizes[d];
    return p;
  }
};

View view(const UnrankedMemRef *memref, size_t width, const char *what,
          const char *location) {
  if (!memref || !memref->descriptor)
    fatal(location, "the %s buffer is missing", what);
  auto *words = static_cast<int64_t *>(memref->descriptor);
  View v;
  v.rank = memref->rank;
  int64_t offset = words[2];
  v.sizes = words + 3;
  const int64_t *strides = words + 3 + v.rank;
  // Row-major contiguous, ignoring dims of size 1 (their stride is free).
  int64_t expected = 1;
  for (int64_t d = v.rank - 1; d >= 0; --d) {
    if (v.sizes[d] < 0)
      fatal(location, "the %s buffer has a negative size", what);
    if (v.sizes[d] != 1 && strides[d] != expected)
      fatal(location,
            "the %s buffer is not contiguous (dim %lld has stride %lld, "
            "expected %lld)",
            what, static_cast<long long>(d),
            static_cast<long long>(strides[d]),
            static_cast<long long>(expected));
    expected *= v.sizes[d];
  }
  v.elements = expected;
  v.data = reinterpret_cast<char *>(words[1]) + offset * int64_t(width);
  if (!words[1] && v.elements != 0)
    fatal(location, "the %s buffer is null", what);
  return v;
}

std::string shapeOf(const View &v) {
  std::string s;
  for (int64_t d = 0; d < v.rank; ++d)
    s += (d ? "x" : "") + std::to_string(v.sizes[d]);
  return v.rank == 0 ? "scalar" : s;
}

void sameShape(const View &a, const View &b, const char *what,
               const char *location) {
  bool same = a.rank == b.rank;
  for (int64_t d = 0; same && d < a.rank; ++d)
    same = a.sizes[d] == b.sizes[d];
  if (!same)
    fatal(location, "the %s buffer is %s, expected %s", what,
          shapeOf(b).c_str(), shapeOf(a).c_str());
}

void checkGroup(int64_t groupSize, const char *location) {
  int size = backend().worldSize();
  if (groupSize != size)
    fatal(location,
          "runs over a group of %lld ranks, but the job has %d ranks (start "
          "it with --ranks=%lld)",
          static_cast<long long>(groupSize), size,
          static_cast<long long>(groupSize));
}

void allReduce(UnrankedMemRef *in, UnrankedMemRef *out, int dtype,
               int32_t reduction, int64_t groupSize, const char *location) {
  checkGroup(groupSize, location);
  View i = view(in, elementBytes(dtype), "input", location);
  View o = view(out, elementBytes(dtype), "result", location);
  sameShape(i, o, "result", location);
  check(backend().allReduce(i.data, o.data, i.elements, dtype, reduction,
                            location),
        location);
}

void reduceScatter(UnrankedMemRef *in, UnrankedMemRef *out, int dtype,
                   int32_t reduction, int64_t groupSize, int64_t dim,
                   const char *location) {
  checkGroup(groupSize, location);
  View i = view(in, elementBytes(dtype), "input", location);
  View o = view(out, elementBytes(dtype), "result", location);
  if (dim < 0 || dim >= i.rank || i.rank != o.rank)
    fatal(location, "dim %lld is out of range for %s", (long long)dim,
          shapeOf(i).c_str());
  if (i.size(dim) % groupSize != 0)
    fatal(location, "dim %lld of size %lld does not divide among %lld ranks",
          (long long)dim, (long long)i.size(dim), (long long)groupSize);
  for (int64_t d = 0; d < i.rank; ++d)
    if (o.size(d) != (d == dim ? i.size(d) / groupSize : i.size(d)))
      fatal(location, "the result buffer is %s for an input of %s",
            shapeOf(o).c_str(), shapeOf(i).c_str());
  int64_t outer = i.product(0, dim);
  int64_t chunk = o.size(dim) * i.product(dim + 1, i.rank);
  check(backend().reduceScatter(i.data, o.data, outer, chunk, dtype,
                                reduction, location),
        location);
}

void allGather(UnrankedMemRef *in, UnrankedMemRef *out, size_t width,
               int64_t groupSize, int64_t dim, const char *location) {
  checkGroup(groupSize, location);
  View i = view(in, width, "input", location);
  View o = view(out, width, "result", location);
  if (dim < 0 || dim >= i.rank || i.rank != o.rank)
    fatal(location, "dim %lld is out of range for %s", (long long)dim,
          shapeOf(i).c_str());
  for (int64_t d = 0; d < i.rank; ++d)
    if (o.size(d) != (d == dim ? i.size(d) * groupSize : i.size(d)))
      fatal(location, "the result buffer is %s for an input of %s",
            shapeOf(o).c_str(), shapeOf(i).c_str());
  int64_t outer = i.product(0, dim);
  int64_t chunkBytes = i.product(dim, i.rank) * int64_t(width);
  check(backend().allGather(i.data, o.data, outer, chunkBytes, location),
        location);
}

/// Fills rows/hidden and checks x, weight and the outputs against each other.
void normShapes(NormCall &call, const View &x, const View &weight,
                const char *location) {
  if (x.rank < 1)
    fatal(location, "the input must have at least one dimension");
  call.hidden = x.size(x.rank - 1);
  call.rows = x.product(0, x.rank - 1);
  if (weight.rank != 1 || weight.size(0) != call.hidden)
    fatal(location, "the weight buffer is %s, expected %lld",
          shapeOf(weight).c_str(), static_cast<long long>(call.hidden));
}

const float *scaleOf(UnrankedMemRef *scale, const char *location) {
  View s = view(scale, 4, "scale", location);
  if (s.elements != 1)
    fatal(location, "the scale buffer is %s, expected one element",
          shapeOf(s).c_str());
  return reinterpret_cast<const float *>(s.data);
}

/// The memrefs of one norm call: `out` (or `q` for the quant variants),
/// `residualOut` and `residual` for the fused add, `scale` for quant.
struct NormBuffers {
  UnrankedMemRef *out = nullptr, *q = nullptr, *residualOut = nullptr,
                 *x = nullptr, *residual = nullptr, *weight = nullptr,
                 *scale = nullptr;
};

/// Every norm entry point: reads and checks the descriptors (all activation
/// buffers have x's shape, the weight is [hidden], the scale one float).
void runNorm(int dtype, int fp8, const NormBuffers &m, float epsilon,
             const char *location) {
  size_t w = elementBytes(dtype);
  NormCall call;
  call.dtype = dtype;
  call.fp8 = fp8;
  call.fused = m.residual != nullptr;
  call.quant = m.q != nullptr;
  call.epsilon = epsilon;
  View vx = view(m.x, w, "input", location);
  View vw = view(m.weight, w, "weight", location);
  normShapes(call, vx, vw, location);
  call.x = vx.data;
  call.weight = vw.data;
  auto sameAsInput = [&](UnrankedMemRef *memref, size_t width,
                         const char *what) {
    View v = view(memref, width, what, location);
    sameShape(vx, v, what, location);
    return v.data;
  };
  if (call.fused) {
    call.residual = sameAsInput(m.residual, w, "residual");
    call.residualOut = sameAsInput(m.residualOut, w, "residual result");
  }
  if (call.quant) {
    call.q = reinterpret_cast<uint8_t *>(sameAsInput(m.q, 1, "result"));
    call.scale = scaleOf(m.scale, location);
  } else {
    call.out = sameAsInput(m.out, w, "result");
  }
  check(backend().norm(call, location), location);
}

void quant(int dtype, int fp8, UnrankedMemRef *q, UnrankedMemRef *x,
           UnrankedMemRef *scale, const char *location) {
  View vx = view(x, elementBytes(dtype), "input", location);
  View vq = view(q, 1, "result", location);
  sameShape(vx, vq, "result", location);
  check(backend().quant(dtype, fp8, reinterpret_cast<uint8_t *>(vq.data),
                        vx.data, scaleOf(scale, location), vx.elements,
                        location),
        location);
}

} // namespace

//===----------------------------------------------------------------------===//
// The exported entry points, one per (op, element type)
//===----------------------------------------------------------------------===//

SP_EXPORT void sp_cuda_rt_set_error_handler(void (*handler)(const char *)) {
  errorHandler = handler;
}

SP_EXPORT int sp_cuda_rt_rank() { return backend().rank(); }

SP_EXPORT int sp_cuda_rt_world_size() { return backend().worldSize(); }

#define SP_REDUCING(NAME, DTYPE)                                               \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_all_reduce_##NAME(                    \
      UnrankedMemRef *in, UnrankedMemRef *out, int32_t reduction,              \
      int64_t groupSize, const char *location) {                               \
    allReduce(in, out, DTYPE, reduction, groupSize, location);                 \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_reduce_scatter_##NAME(                \
      UnrankedMemRef *in, UnrankedMemRef *out, int32_t reduction,              \
      int64_t groupSize, int64_t dim, const char *location) {                  \
    reduceScatter(in, out, DTYPE, reduction, groupSize, dim, location);        \
  }
SP_REDUCING(f32, F32)
SP_REDUCING(f16, F16)
SP_REDUCING(bf16, BF16)
SP_REDUCING(f64, F64)

#define SP_GATHER(NAME, WIDTH)                                                 \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_all_gather_##NAME(                    \
      UnrankedMemRef *in, UnrankedMemRef *out, int64_t groupSize, int64_t dim, \
      const char *location) {                                                  \
    allGather(in, out, WIDTH, groupSize, dim, location);                       \
  }
SP_GATHER(f32, 4)
SP_GATHER(f16, 2)
SP_GATHER(bf16, 2)
SP_GATHER(f64, 8)
SP_GATHER(f8E4M3FN, 1)
SP_GATHER(f8E4M3FNUZ, 1)
SP_GATHER(i8, 1)
SP_GATHER(i16, 2)
SP_GATHER(i32, 4)
SP_GATHER(i64, 8)

#define SP_NORMS(NAME, DTYPE)                                                  \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_rms_norm_##NAME(                      \
      UnrankedMemRef *out, UnrankedMemRef *x, UnrankedMemRef *weight,          \
      float epsilon, const char *location) {                                   \
    NormBuffers m;                                                             \
    m.out = out, m.x = x, m.weight = weight;                                   \
    runNorm(DTYPE, E4M3FN, m, epsilon, location);                              \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_fused_add_rms_norm_##NAME(            \
      UnrankedMemRef *out, UnrankedMemRef *residualOut, UnrankedMemRef *x,     \
      UnrankedMemRef *residual, UnrankedMemRef *weight, float epsilon,         \
      const char *location) {                                                  \
    NormBuffers m;                                                             \
    m.out = out, m.residualOut = residualOut, m.x = x, m.residual = residual;  \
    m.weight = weight;                                                         \
    runNorm(DTYPE, E4M3FN, m, epsilon, location);                              \
  }
SP_NORMS(f32, F32)
SP_NORMS(f16, F16)
SP_NORMS(bf16, BF16)

#define SP_QUANTS(NAME, DTYPE, F8NAME, F8)                                     \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_quant_##NAME##_##F8NAME(              \
      UnrankedMemRef *q, UnrankedMemRef *x, UnrankedMemRef *scale,             \
      const char *location) {                                                  \
    quant(DTYPE, F8, q, x, scale, location);                                   \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_rms_norm_quant_##NAME##_##F8NAME(     \
      UnrankedMemRef *q, UnrankedMemRef *x, UnrankedMemRef *weight,            \
      UnrankedMemRef *scale, float epsilon, const char *location) {            \
    NormBuffers m;                                                             \
    m.q = q, m.x = x, m.weight = weight, m.scale = scale;                      \
    runNorm(DTYPE, F8, m, epsilon, location);                                  \
  }                                                                            \
  SP_EXPORT void                                                               \
      _mlir_ciface_sp_cuda_rt_fused_add_rms_norm_quant_##NAME##_##F8NAME(      \
          UnrankedMemRef *q, UnrankedMemRef *residualOut, UnrankedMemRef *x,   \
          UnrankedMemRef *residual, UnrankedMemRef *weight,                    \
          UnrankedMemRef *scale, float epsilon, const char *location) {        \
    NormBuffers m;                                                             \
    m.q = q, m.residualOut = residualOut, m.x = x, m.residual = residual;      \
    m.weight = weight, m.scale = scale;                                        \
    runNorm(DTYPE, F8, m, epsilon, location);                                  \
  }
#define SP_QUANTS_FOR(NAME, DTYPE)                                             \
  SP_QUANTS(NAME, DTYPE, f8E4M3FN, E4M3FN)                                     \
  SP_QUANTS(NAME, DTYPE, f8E4M3FNUZ, E4M3FNUZ)
SP_QUANTS_FOR(f32, F32)
SP_QUANTS_FOR(f16, F16)
SP_QUANTS_FOR(bf16, BF16)

SP_EXPORT const SPCudaRuntimeSymbol *sp_cuda_rt_symbols(size_t *count) {
#define E(NAME) {#NAME, reinterpret_cast<void *>(&NAME)}
#define REDUCING(T)                                                            \
  E(_mlir_ciface_sp_cuda_rt_all_reduce_##T),                                   \
      E(_mlir_ciface_sp_cuda_rt_reduce_scatter_##T)
#define NORMS(T)                                                               \
  E(_mlir_ciface_sp_cuda_rt_rms_norm_##T),                                     \
      E(_mlir_ciface_sp_cuda_rt_fused_add_rms_norm_##T)
#define QUANTS(T, F)                                                           \
  E(_mlir_ciface_sp_cuda_rt_quant_##T##_##F),                                  \
      E(_mlir_ciface_sp_cuda_rt_rms_norm_quant_##T##_##F),                     \
      E(_mlir_ciface_sp_cuda_rt_fused_add_rms_norm_quant_##T##_##F)
  static const SPCudaRuntimeSymbol table[] = {
      E(sp_cuda_rt_rank),
      E(sp_cuda_rt_world_size),
      REDUCING(f32),
      REDUCING(f16),
      REDUCING(bf16),
      REDUCING(f64),
      E(_mlir_ciface_sp_cuda_rt_all_gather_f32),
      E(_mlir_ciface_sp_cuda_rt_all_gather_f16),
      E(_mlir_ciface_sp_cuda_rt_all_gather_bf16),
      E(_mlir_ciface_sp_cuda_rt_all_gather_f64),
      E(_mlir_ciface_sp_cuda_rt_all_gather_f8E4M3FN),
      E(_mlir_ciface_sp_cuda_rt_all_gather_f8E4M3FNUZ),
      E(_mlir_ciface_sp_cuda_rt_all_gather_i8),
      E(_mlir_ciface_sp_cuda_rt_all_gather_i16),
      E(_mlir_ciface_sp_cuda_rt_all_gather_i32),
      E(_mlir_ciface_sp_cuda_rt_all_gather_i64),
      NORMS(f32),
      NORMS(f16),
      NORMS(bf16),
      QUANTS(f32, f8E4M3FN),
      QUANTS(f32, f8E4M3FNUZ),
      QUANTS(f16, f8E4M3FN),
      QUANTS(f16, f8E4M3FNUZ),
      QUANTS(bf16, f8E4M3FN),
      QUANTS(bf16, f8E4M3FNUZ),
  };
#undef QUANTS
#undef NORMS
#undef REDUCING
#undef E
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}
