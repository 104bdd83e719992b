//===- CompiledABI.cpp - entry points of code lowered for CUDA ------------===//
//
// See CompiledABI.h. Nothing here touches CUDA: descriptors in, checked
// pointers and counts out to the library's Backend.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"

#include "sp/Runtime/ElementTypes.h"
#include "sp/Runtime/RankState.h"

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
  sp_runtime::recordError(int(backend().rank()), message.c_str());
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
  DynamicMemRefType<char> d(*memref);
  View v;
  v.rank = d.rank;
  v.sizes = d.sizes;
  // Row-major contiguous, ignoring dims of size 1 (their stride is free).
  int64_t expected = 1;
  for (int64_t dim = v.rank - 1; dim >= 0; --dim) {
    if (d.sizes[dim] < 0)
      fatal(location, "the %s buffer has a negative size", what);
    if (d.sizes[dim] != 1 && d.strides[dim] != expected)
      fatal(location,
            "the %s buffer is not contiguous (dim %lld has stride %lld, "
            "expected %lld)",
            what, static_cast<long long>(dim),
            static_cast<long long>(d.strides[dim]),
            static_cast<long long>(expected));
    expected *= d.sizes[dim];
  }
  v.elements = expected;
  // The offset counts elements of the entry point's type, not bytes.
  v.data = d.data + d.offset * int64_t(width);
  if (!d.data && v.elements != 0)
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

/// One call of an op over the group, recorded in the rank's state while it
/// runs (sp/Runtime/RankState.h: the launcher's post-mortem, SP_FAULT).
/// The CUDA path has no allocation of its own to fail for
/// SP_FAULT=oom@...:opK; the compiled code's mallocs are sp-run's.
class OpRecord {
public:
  explicit OpRecord(const char *location) {
    (void)sp_runtime::enterOp(int(backend().rank()), location);
  }
  ~OpRecord() { sp_runtime::leaveOp(); }
};

/// Reads a group descriptor and checks it against the job.
Group readGroup(GroupDescriptor *descriptor, const char *location) {
  if (!descriptor)
    fatal(location, "the group descriptor is missing");
  Group g;
  std::string why = g.layout.decode(descriptor->data + descriptor->offset,
                                    descriptor->sizes[0],
                                    descriptor->strides[0]);
  if (!why.empty())
    fatal(location, "%s", why.c_str());
  why = g.layout.checkJob(backend().worldSize());
  if (!why.empty())
    fatal(location, "%s", why.c_str());
  int64_t rank = backend().rank();
  g.words = sp_runtime::GroupLayout::encode(g.layout.grid, g.layout.axes);
  g.size = g.layout.size();
  g.index = g.layout.indexOf(rank);
  g.color = g.layout.colorOf(rank);
  g.world = g.layout.isWorld();
  return g;
}

void allReduce(UnrankedMemRef *in, UnrankedMemRef *out, int dtype,
               int32_t reduction, GroupDescriptor *group,
               const char *location) {
  OpRecord record(location);
  Group g = readGroup(group, location);
  View i = view(in, elementBytes(dtype), "input", location);
  View o = view(out, elementBytes(dtype), "result", location);
  sameShape(i, o, "result", location);
  check(backend().allReduce(g, i.data, o.data, i.elements, dtype, reduction,
                            location),
        location);
}

void reduceScatter(UnrankedMemRef *in, UnrankedMemRef *out, int dtype,
                   int32_t reduction, GroupDescriptor *group, int64_t dim,
                   const char *location) {
  OpRecord record(location);
  Group g = readGroup(group, location);
  int64_t groupSize = g.size;
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
  check(backend().reduceScatter(g, i.data, o.data, outer, chunk, dtype,
                                reduction, location),
        location);
}

void allGather(UnrankedMemRef *in, UnrankedMemRef *out, size_t width,
               GroupDescriptor *group, int64_t dim, const char *location) {
  OpRecord record(location);
  Group g = readGroup(group, location);
  int64_t groupSize = g.size;
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
  check(backend().allGather(g, i.data, o.data, outer, chunkBytes, location),
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

/// The operands of a GEMM entry point (collective or not): lhs [m][k] and
/// rhs [k][n] of `inType`, the result of `outType`, all 2-D, with the
/// contraction sizes checked; the result's shape is the caller's to check.
struct GemmOperands {
  View lhs, rhs, out;
  int64_t m = 0, k = 0, n = 0;

  GemmOperands(int inType, int outType, UnrankedMemRef *lhsMemref,
               UnrankedMemRef *rhsMemref, UnrankedMemRef *outMemref,
               const char *location) {
    size_t in = gemmInputBytes(inType);
    lhs = view(lhsMemref, in, "lhs", location);
    rhs = view(rhsMemref, in, "rhs", location);
    out = view(outMemref, elementBytes(outType), "result", location);
    if (lhs.rank != 2 || rhs.rank != 2 || out.rank != 2)
      fatal(location,
            "the operands must be 2-D, got lhs %s, rhs %s, result %s",
            shapeOf(lhs).c_str(), shapeOf(rhs).c_str(), shapeOf(out).c_str());
    m = lhs.size(0);
    k = lhs.size(1);
    n = rhs.size(1);
    if (rhs.size(0) != k)
      fatal(location, "lhs is %s but rhs is %s: the contraction sizes differ",
            shapeOf(lhs).c_str(), shapeOf(rhs).c_str());
  }
};

/// Every collective matmul entry point: reads and checks the descriptors
/// (2-D, contiguous, shapes consistent with the group) and calls the
/// backend.
void collectiveMatmul(bool gather, int inType, int outType, bool scaled,
                      UnrankedMemRef *out, UnrankedMemRef *gathered,
                      UnrankedMemRef *lhs, UnrankedMemRef *rhs,
                      UnrankedMemRef *lhsScale, UnrankedMemRef *rhsScale,
                      GroupDescriptor *group, const char *location) {
  OpRecord record(location);
  Group g = readGroup(group, location);
  int64_t groupSize = g.size;
  size_t in = gemmInputBytes(inType);
  GemmOperands gemm(inType, outType, lhs, rhs, out, location);
  const View &a = gemm.lhs, &o = gemm.out;
  CollectiveMatmulCall call;
  call.inType = inType;
  call.outType = outType;
  call.scaled = scaled;
  call.m = gemm.m;
  call.k = gemm.k;
  call.n = gemm.n;
  int64_t rows = gather ? call.m * groupSize : call.m / groupSize;
  if (!gather && call.m % groupSize != 0)
    fatal(location, "lhs rows (%lld) do not divide among %lld ranks",
          (long long)call.m, (long long)groupSize);
  if (o.size(0) != rows || o.size(1) != call.n)
    fatal(location, "the result buffer is %s, expected %lldx%lld",
          shapeOf(o).c_str(), (long long)rows, (long long)call.n);
  call.lhs = a.data;
  call.rhs = gemm.rhs.data;
  call.out = o.data;
  if (gather) {
    View g = view(gathered, in, "gathered", location);
    if (g.rank != 2 || g.size(0) != rows || g.size(1) != call.k)
      fatal(location, "the gathered buffer is %s, expected %lldx%lld",
            shapeOf(g).c_str(), (long long)rows, (long long)call.k);
    call.gathered = g.data;
  }
  if (scaled) {
    call.lhsScale = scaleOf(lhsScale, location);
    call.rhsScale = scaleOf(rhsScale, location);
  }
  check(gather ? backend().allGatherMatmul(g, call, location)
               : backend().matmulReduceScatter(g, call, location),
        location);
}

/// Every matmul entry point: lhs [m][k], rhs [k][n], out (and init) [m][n],
/// checked before the backend sees them.
void matmul(int inType, int outType, UnrankedMemRef *out, UnrankedMemRef *init,
            UnrankedMemRef *lhs, UnrankedMemRef *rhs, const char *location) {
  OpRecord record(location);
  GemmOperands gemm(inType, outType, lhs, rhs, out, location);
  const View &a = gemm.lhs, &b = gemm.rhs, &o = gemm.out;
  MatmulCall call;
  call.inType = inType;
  call.outType = outType;
  call.m = gemm.m;
  call.k = gemm.k;
  call.n = gemm.n;
  if (o.size(0) != call.m || o.size(1) != call.n)
    fatal(location, "the result (init) is %s, but lhs %s x rhs %s is %lldx%lld",
          shapeOf(o).c_str(), shapeOf(a).c_str(), shapeOf(b).c_str(),
          (long long)call.m, (long long)call.n);
  call.lhs = a.data;
  call.rhs = b.data;
  call.out = o.data;
  if (init) {
    View i = view(init, elementBytes(outType), "init", location);
    sameShape(o, i, "init", location);
    call.init = i.data;
  }
  check(backend().matmul(call, location), location);
}

int64_t ringShiftStart(UnrankedMemRef *in, UnrankedMemRef *out, size_t width,
                       int64_t offset, GroupDescriptor *group,
                       const char *location) {
  OpRecord record(location);
  Group g = readGroup(group, location);
  View i = view(in, width, "input", location);
  View o = view(out, width, "result", location);
  sameShape(i, o, "result", location);
  int64_t handle = 0;
  check(backend().ringShiftStart(g, i.data, o.data,
                                 i.elements * int64_t(width), offset, &handle,
                                 location),
        location);
  return handle;
}

} // namespace

//===----------------------------------------------------------------------===//
// The exported entry points, one per (op, element type)
//===----------------------------------------------------------------------===//

SP_EXPORT void sp_cuda_rt_set_error_handler(void (*handler)(const char *)) {
  errorHandler = handler;
}

namespace {
sp_cuda_abi::Bootstrap hostBootstrap;
} // namespace

const sp_cuda_abi::Bootstrap *sp_cuda_abi::bootstrap() {
  return hostBootstrap.broadcast ? &hostBootstrap : nullptr;
}

SP_EXPORT void sp_cuda_rt_set_bootstrap(int rank, int size,
                                        int (*broadcast)(void *, int64_t, int,
                                                         void *),
                                        void *context) {
  hostBootstrap = {rank, size, broadcast, context};
}

/// The exit of a public function of a module lowered with
/// sp-convert-to-cuda-runtime: the work its calls left enqueued must be
/// done (a failure goes to the error handler like any call's).
SP_EXPORT void sp_cuda_rt_function_exit(const char *location) {
  check(backend().synchronize(location), location);
}

//===----------------------------------------------------------------------===//
// Device-resident buffers (the sp-cuda-device-buffers pass): memref<?xi8>
// buffers in and out, host pointers as i64
//===----------------------------------------------------------------------===//

namespace {
/// memref<?xi8>, as compiled code passes and receives it.
using ByteBuffer = ::StridedMemRefType<char, 1>;

void setBytes(ByteBuffer *result, void *pointer, int64_t bytes) {
  result->basePtr = result->data = static_cast<char *>(pointer);
  result->offset = 0;
  result->sizes[0] = bytes;
  result->strides[0] = 1;
}

char *bytesOf(const ByteBuffer *buffer) {
  return buffer->data + buffer->offset;
}

void *pointerOf(int64_t address) {
  return reinterpret_cast<void *>(static_cast<intptr_t>(address));
}
} // namespace

/// A buffer that only runtime calls touch: device memory, stream-ordered.
SP_EXPORT void _mlir_ciface_sp_cuda_rt_device_alloc(ByteBuffer *result,
                                                    int64_t bytes,
                                                    const char *location) {
  void *pointer = nullptr;
  check(backend().deviceAllocate(bytes, &pointer, location), location);
  setBytes(result, pointer, bytes);
}

/// A device buffer a private function returned, freed by its caller by
/// address (sp-cuda-device-buffers: its views start at the allocation).
SP_EXPORT void _mlir_ciface_sp_cuda_rt_device_free_pointer(int64_t address,
                                                           const char *location) {
  if (address)
    check(backend().deviceFree(reinterpret_cast<void *>(address), location),
          location);
}

SP_EXPORT void _mlir_ciface_sp_cuda_rt_device_free(ByteBuffer *buffer,
                                                   const char *location) {
  if (buffer->basePtr)
    check(backend().deviceFree(buffer->basePtr, location), location);
}

/// An entry argument that only runtime calls read, once per call of the
/// function: in place when the GPU can address it, else copied.
SP_EXPORT void _mlir_ciface_sp_cuda_rt_argument_to_device(
    ByteBuffer *result, int64_t pointer, int64_t bytes, const char *location) {
  void *device = nullptr;
  check(backend().argumentToDevice(pointerOf(pointer), bytes, &device,
                                   location),
        location);
  setBytes(result, device, bytes);
}

SP_EXPORT void _mlir_ciface_sp_cuda_rt_argument_release(int64_t pointer,
                                                        ByteBuffer *device,
                                                        const char *location) {
  check(backend().argumentRelease(pointerOf(pointer), device->basePtr,
                                  location),
        location);
}

/// A result that only runtime calls wrote: copied to the host buffer the
/// function returns, before the synchronization at its exit.
SP_EXPORT void _mlir_ciface_sp_cuda_rt_result_to_host(int64_t host,
                                                     ByteBuffer *device,
                                                     const char *location) {
  check(backend().resultToHost(pointerOf(host), bytesOf(device),
                               device->sizes[0], location),
        location);
}

SP_EXPORT int64_t sp_cuda_rt_rank() { return backend().rank(); }

SP_EXPORT int64_t sp_cuda_rt_world_size() { return backend().worldSize(); }

#define SP_REDUCING(NAME, STORAGE, DTYPE)                                      \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_all_reduce_##NAME(                    \
      UnrankedMemRef *in, UnrankedMemRef *out, int32_t reduction,              \
      GroupDescriptor *group, const char *location) {                          \
    allReduce(in, out, DTYPE, reduction, group, location);                     \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_reduce_scatter_##NAME(                \
      UnrankedMemRef *in, UnrankedMemRef *out, int32_t reduction,              \
      GroupDescriptor *group, int64_t dim, const char *location) {             \
    reduceScatter(in, out, DTYPE, reduction, group, dim, location);            \
  }
SP_FOR_EVERY_REDUCIBLE_TYPE(SP_REDUCING)
#undef SP_REDUCING

#define SP_GATHER(NAME, STORAGE, CODE)                                         \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_all_gather_##NAME(                    \
      UnrankedMemRef *in, UnrankedMemRef *out, GroupDescriptor *group,         \
      int64_t dim, const char *location) {                                     \
    allGather(in, out, sizeof(STORAGE), group, dim, location);                 \
  }
SP_FOR_EVERY_GATHERED_TYPE(SP_GATHER)
#undef SP_GATHER

#define SP_NORMS(NAME, STORAGE, DTYPE)                                         \
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
SP_FOR_EVERY_KERNEL_TYPE(SP_NORMS)
#undef SP_NORMS

#define SP_QUANTS(NAME, STORAGE, DTYPE, F8NAME, F8STORAGE, F8)                 \
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
SP_FOR_EVERY_KERNEL_AND_FP8_TYPE(SP_QUANTS)
#undef SP_QUANTS

#define SP_RING_SHIFT(NAME, STORAGE, CODE)                                     \
  SP_EXPORT int64_t _mlir_ciface_sp_cuda_rt_ring_shift_start_##NAME(           \
      UnrankedMemRef *in, UnrankedMemRef *out, int64_t offset,                 \
      GroupDescriptor *group, const char *location) {                          \
    return ringShiftStart(in, out, sizeof(STORAGE), offset, group, location);  \
  }
SP_FOR_EVERY_GATHERED_TYPE(SP_RING_SHIFT)
#undef SP_RING_SHIFT

SP_EXPORT void sp_cuda_rt_ring_shift_wait(int64_t handle,
                                          const char *location) {
  OpRecord record(location);
  check(backend().ringShiftWait(handle, location), location);
}

#define SP_GEMMS(IN, INSTORAGE, INCODE, OUT, OUTSTORAGE, OUTCODE)              \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_all_gather_matmul_##IN##_##OUT(      \
      UnrankedMemRef *out, UnrankedMemRef *gathered, UnrankedMemRef *lhs,      \
      UnrankedMemRef *rhs, GroupDescriptor *group, const char *location) {     \
    collectiveMatmul(true, INCODE, OUTCODE, false, out, gathered, lhs, rhs,    \
                     nullptr, nullptr, group, location);                       \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_matmul_reduce_scatter_##IN##_##OUT(  \
      UnrankedMemRef *out, UnrankedMemRef *lhs, UnrankedMemRef *rhs,           \
      GroupDescriptor *group, const char *location) {                          \
    collectiveMatmul(false, INCODE, OUTCODE, false, out, nullptr, lhs, rhs,    \
                     nullptr, nullptr, group, location);                       \
  }
SP_FOR_EVERY_GEMM_TYPE_PAIR(SP_GEMMS)
#undef SP_GEMMS

#define SP_SCALED_GEMMS(IN, INSTORAGE, INCODE, OUT, OUTSTORAGE, OUTCODE)       \
  SP_EXPORT void                                                               \
      _mlir_ciface_sp_cuda_rt_all_gather_matmul_scaled_##IN##_##OUT(           \
          UnrankedMemRef *out, UnrankedMemRef *gathered, UnrankedMemRef *lhs,  \
          UnrankedMemRef *rhs, UnrankedMemRef *lhsScale,                       \
          UnrankedMemRef *rhsScale, GroupDescriptor *group,                    \
          const char *location) {                                              \
    collectiveMatmul(true, INCODE, OUTCODE, true, out, gathered, lhs, rhs,     \
                     lhsScale, rhsScale, group, location);                     \
  }                                                                            \
  SP_EXPORT void                                                               \
      _mlir_ciface_sp_cuda_rt_matmul_reduce_scatter_scaled_##IN##_##OUT(       \
          UnrankedMemRef *out, UnrankedMemRef *lhs, UnrankedMemRef *rhs,       \
          UnrankedMemRef *lhsScale, UnrankedMemRef *rhsScale,                  \
          GroupDescriptor *group, const char *location) {                      \
    collectiveMatmul(false, INCODE, OUTCODE, true, out, nullptr, lhs, rhs,     \
                     lhsScale, rhsScale, group, location);                     \
  }
SP_FOR_EVERY_SCALED_GEMM_TYPE_PAIR(SP_SCALED_GEMMS)
#undef SP_SCALED_GEMMS

/// linalg.matmul: out = lhs x rhs from +0 (the init was a fill of +0.0),
/// or out = init + lhs x rhs.
#define SP_MATMULS(IN, INSTORAGE, INCODE, OUT, OUTSTORAGE, OUTCODE)            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_matmul_##IN##_##OUT(                  \
      UnrankedMemRef *out, UnrankedMemRef *lhs, UnrankedMemRef *rhs,           \
      const char *location) {                                                  \
    matmul(INCODE, OUTCODE, out, nullptr, lhs, rhs, location);                 \
  }                                                                            \
  SP_EXPORT void _mlir_ciface_sp_cuda_rt_matmul_accumulate_##IN##_##OUT(       \
      UnrankedMemRef *out, UnrankedMemRef *init, UnrankedMemRef *lhs,          \
      UnrankedMemRef *rhs, const char *location) {                             \
    matmul(INCODE, OUTCODE, out, init, lhs, rhs, location);                    \
  }
SP_FOR_EVERY_GEMM_TYPE_PAIR(SP_MATMULS)
#undef SP_MATMULS

//===----------------------------------------------------------------------===//
// GPU kernels compiled by upstream's GPU path: the mgpu* functions that
// gpu.binary and gpu.launch_func become in LLVM IR (upstream's names and
// signatures; Debian ships no library with them), on the runtime's stream
//===----------------------------------------------------------------------===//

namespace {
/// The twin the next launch on this thread gets (sp_cuda_rt_kernel_twin),
/// and the one of the launch being made.
thread_local KernelTwin nextTwin;
thread_local const KernelTwin *currentTwin = nullptr;
/// Stands for a stream: every launch runs on the runtime's stream.
char theStream;
} // namespace

const KernelTwin *sp_cuda_abi::launchingTwin() { return currentTwin; }

/// The host twin and location of the launch that follows (sp-gpu-launch-twins
/// calls it right before each gpu.launch_func).
SP_EXPORT void sp_cuda_rt_kernel_twin(void (*run)(void **, int64_t *),
                                      const int64_t *kinds, int64_t count,
                                      const char *location) {
  nextTwin = KernelTwin{run, kinds, count, location};
}

/// A gpu.binary's cubin or fatbin, from the module's global constructor.
SP_EXPORT void *mgpuModuleLoad(void *data, size_t bytes) {
  const char *location = "loading a gpu.binary";
  void *module = nullptr;
  check(backend().loadModule(data, bytes, &module, location), location);
  return module;
}

/// A gpu.binary of PTX (format=isa), NUL-terminated; compiled by the driver.
SP_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel) {
  (void)optLevel;
  return mgpuModuleLoad(data, std::strlen(static_cast<char *>(data)) + 1);
}

SP_EXPORT void mgpuModuleUnload(void *module) {
  check(backend().unloadModule(module), "unloading a gpu.binary");
}

SP_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  void *kernel = nullptr;
  check(backend().kernelOf(module, name, &kernel, nextTwin.location),
        nextTwin.location);
  return kernel;
}

/// Launches never need a stream of their own: they run on the runtime's,
/// in order with its calls, and the function's exit synchronizes it.
SP_EXPORT void *mgpuStreamCreate() { return &theStream; }
SP_EXPORT void mgpuStreamDestroy(void *) {}
SP_EXPORT void mgpuStreamSynchronize(void *) {}

SP_EXPORT void mgpuLaunchKernel(void *kernel, intptr_t gridX, intptr_t gridY,
                                intptr_t gridZ, intptr_t blockX,
                                intptr_t blockY, intptr_t blockZ,
                                int32_t sharedBytes, void *stream,
                                void **params, void **extra,
                                size_t paramCount) {
  (void)stream, (void)extra;
  KernelTwin twin = nextTwin;
  nextTwin = KernelTwin();
  const char *location = twin.location;
  if (twin.run && size_t(twin.count) != paramCount)
    fatal(location, "the launch passes %zu arguments, its host twin takes "
                    "%lld",
          paramCount, static_cast<long long>(twin.count));
  int64_t grid[3] = {gridX, gridY, gridZ};
  int64_t block[3] = {blockX, blockY, blockZ};
  currentTwin = &twin;
  int status = backend().launchKernel(kernel, grid, block,
                                      unsigned(sharedBytes), params, twin);
  currentTwin = nullptr;
  if (status == -1)
    fatal(location,
          "this runtime has no GPU and runs kernels through their host "
          "twins, and this launch has none (lower with sp-lower-to-cuda, "
          "whose sp-gpu-launch-twins gives every launch one)");
  check(status, location);
}

SP_EXPORT const SPRuntimeSymbol *sp_cuda_rt_symbols(size_t *count) {
#define E(NAME) {#NAME, reinterpret_cast<void *>(&NAME)},
#define REDUCING(NAME, STORAGE, CODE)                                          \
  E(_mlir_ciface_sp_cuda_rt_all_reduce_##NAME)                                 \
  E(_mlir_ciface_sp_cuda_rt_reduce_scatter_##NAME)
#define GATHER(NAME, STORAGE, CODE) E(_mlir_ciface_sp_cuda_rt_all_gather_##NAME)
#define NORMS(NAME, STORAGE, CODE)                                             \
  E(_mlir_ciface_sp_cuda_rt_rms_norm_##NAME)                                   \
  E(_mlir_ciface_sp_cuda_rt_fused_add_rms_norm_##NAME)
#define QUANTS(NAME, STORAGE, CODE, F8NAME, F8STORAGE, F8CODE)                 \
  E(_mlir_ciface_sp_cuda_rt_quant_##NAME##_##F8NAME)                           \
  E(_mlir_ciface_sp_cuda_rt_rms_norm_quant_##NAME##_##F8NAME)                  \
  E(_mlir_ciface_sp_cuda_rt_fused_add_rms_norm_quant_##NAME##_##F8NAME)
#define SHIFT(NAME, STORAGE, CODE) E(_mlir_ciface_sp_cuda_rt_ring_shift_start_##NAME)
#define GEMMS(IN, INS, INC, OUT, OUTS, OUTC)                                   \
  E(_mlir_ciface_sp_cuda_rt_all_gather_matmul_##IN##_##OUT)                    \
  E(_mlir_ciface_sp_cuda_rt_matmul_reduce_scatter_##IN##_##OUT)
#define SCALED_GEMMS(IN, INS, INC, OUT, OUTS, OUTC)                            \
  E(_mlir_ciface_sp_cuda_rt_all_gather_matmul_scaled_##IN##_##OUT)             \
  E(_mlir_ciface_sp_cuda_rt_matmul_reduce_scatter_scaled_##IN##_##OUT)
#define MATMULS(IN, INS, INC, OUT, OUTS, OUTC)                                 \
  E(_mlir_ciface_sp_cuda_rt_matmul_##IN##_##OUT)                               \
  E(_mlir_ciface_sp_cuda_rt_matmul_accumulate_##IN##_##OUT)
  static const SPRuntimeSymbol table[] = {
      E(sp_cuda_rt_rank)
      E(sp_cuda_rt_world_size)
      SP_FOR_EVERY_REDUCIBLE_TYPE(REDUCING)
      SP_FOR_EVERY_GATHERED_TYPE(GATHER)
      SP_FOR_EVERY_KERNEL_TYPE(NORMS)
      SP_FOR_EVERY_KERNEL_AND_FP8_TYPE(QUANTS)
      E(sp_cuda_rt_ring_shift_wait)
      E(sp_cuda_rt_function_exit)
      E(_mlir_ciface_sp_cuda_rt_device_alloc)
      E(_mlir_ciface_sp_cuda_rt_device_free)
      E(_mlir_ciface_sp_cuda_rt_device_free_pointer)
      E(_mlir_ciface_sp_cuda_rt_argument_to_device)
      E(_mlir_ciface_sp_cuda_rt_argument_release)
      E(_mlir_ciface_sp_cuda_rt_result_to_host)
      E(sp_cuda_rt_kernel_twin)
      E(mgpuModuleLoad)
      E(mgpuModuleLoadJIT)
      E(mgpuModuleUnload)
      E(mgpuModuleGetFunction)
      E(mgpuStreamCreate)
      E(mgpuStreamDestroy)
      E(mgpuStreamSynchronize)
      E(mgpuLaunchKernel)
      SP_FOR_EVERY_GATHERED_TYPE(SHIFT)
      SP_FOR_EVERY_GEMM_TYPE_PAIR(GEMMS)
      SP_FOR_EVERY_SCALED_GEMM_TYPE_PAIR(SCALED_GEMMS)
      SP_FOR_EVERY_GEMM_TYPE_PAIR(MATMULS)
  };
#undef MATMULS
#undef SCALED_GEMMS
#undef GEMMS
#undef SHIFT
#undef QUANTS
#undef NORMS
#undef GATHER
#undef REDUCING
#undef E
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}
