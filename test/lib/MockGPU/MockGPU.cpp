//===- MockGPU.cpp - CUDA runtime, kernels and NCCL, on the host ----------===//
//
// libsp_cuda_runtime_mockgpu.so is the real GPU runtime
// (runtime/cuda/CudaRuntime.cpp + CompiledABI.cpp, unchanged) linked with
// this file instead of libcudart, libsp_cuda_kernels and NCCL. It lets CI
// run the GPU backend's own logic without a GPU: device selection, the
// staging of host memory, the packing of collectives along inner dims with
// cudaMemcpy2DAsync, the NCCL calls' counts, types and ops, the unique-id
// exchange through the file, waiting on the stream, and the error paths.
//
// "Device" memory is host memory from cudaMallocAsync, remembered in a
// registry; the kernels and NCCL here refuse any other pointer (as a GPU
// would fault), so a buffer the runtime forgot to stage is caught. The
// kernels compute with the reference numerics; NCCL goes through the CPU
// runtime's MPI collectives (rank-order sums), so results must equal the
// CPU path bit for bit. The library exports the nccl* functions itself:
// point SP_NCCL_LIBRARY at it.
//
// Fault injection (environment): SP_MOCK_NCCL_FAIL=1 makes every NCCL
// collective return an error; SP_MOCK_STREAM_HANG=1 makes the stream never
// finish (the runtime's timeout must fire).
//
//===----------------------------------------------------------------------===//

#include "HostCollectives.h"
#include "HostKernels.h"
#include "Kernels.h"

#include <cuda_runtime_api.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))


namespace {

std::mutex registryMutex;
/// Base address -> size of every live "device" allocation.
std::map<const char *, size_t> &registry() {
  static std::map<const char *, size_t> allocations;
  return allocations;
}

/// Whether [p, p + bytes) lies in one device allocation.
bool isDevice(const void *p, size_t bytes) {
  if (bytes == 0)
    return true;
  std::lock_guard<std::mutex> lock(registryMutex);
  auto &allocations = registry();
  auto it = allocations.upper_bound(static_cast<const char *>(p));
  if (it == allocations.begin())
    return false;
  --it;
  const char *c = static_cast<const char *>(p);
  return c >= it->first && c + bytes <= it->first + it->second;
}

bool envSet(const char *name) {
  const char *v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

/// A kernel or NCCL call touching memory the GPU cannot address.
[[noreturn]] void fault(const char *what, const void *p) {
  std::fprintf(stderr, "mock GPU: %s was given host pointer %p (an illegal "
                       "address on a GPU)\n",
               what, p);
  std::fflush(stderr);
  std::abort();
}

void need(const void *p, size_t bytes, const char *what) {
  if (p && !isDevice(p, bytes))
    fault(what, p);
}

size_t widthOf(int dtype) { return sp_host_kernels::widthOf(dtype); }

/// All norm kernels: the reference, row by row.
int norm(int dtype, int fp8, bool fused, bool quant, void *out, uint8_t *q,
         void *residualOut, const void *x, const void *residual,
         const void *weight, const float *scale, int64_t rows, int64_t hidden,
         float epsilon) {
  if (rows < 0 || hidden <= 0 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  size_t activation = size_t(rows * hidden) * widthOf(dtype);
  need(x, activation, "a norm kernel (x)");
  need(weight, size_t(hidden) * widthOf(dtype), "a norm kernel (weight)");
  if (fused) {
    need(residual, activation, "a norm kernel (residual)");
    need(residualOut, activation, "a norm kernel (residual out)");
  }
  if (quant) {
    need(q, size_t(rows * hidden), "a norm kernel (q)");
    need(scale, sizeof(float), "a norm kernel (scale)");
  } else {
    need(out, activation, "a norm kernel (out)");
  }
  sp_host_kernels::norm(dtype, fp8, fused, quant, out, q, residualOut, x,
                        residual, weight, scale, rows, hidden, epsilon);
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// NCCL over the CPU runtime (HostCollectives.h)
//===----------------------------------------------------------------------===//

struct MockComm {
  int rank;
  int size;
};
/// ncclUniqueId: passed by value to ncclCommInitRank.
struct MockId {
  char internal[128];
};

// nccl.h's values.
enum { ncclInt8 = 0, ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8,
       ncclBfloat16 = 9 };
enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };
constexpr int ncclSuccess = 0, ncclInvalidArgument = 4, ncclSystemError = 2;

/// NCCL's data type as CompiledABI.h's DType code; -1 if not one sp uses.
int dtypeOf(int type) {
  switch (type) {
  case ncclInt8:
    return sp_cuda_abi::Bytes;
  case ncclFloat16:
    return sp_cuda_abi::F16;
  case ncclBfloat16:
    return sp_cuda_abi::BF16;
  case ncclFloat32:
    return sp_cuda_abi::F32;
  case ncclFloat64:
    return sp_cuda_abi::F64;
  }
  return -1;
}

size_t ncclWidth(int type) {
  int dtype = dtypeOf(type);
  return dtype < 0 ? 0 : sp_cuda_abi::elementBytes(dtype);
}

/// NCCL's op numbering to sp's ReductionKind (what the CPU runtime takes).
int spReduction(int op) {
  switch (op) {
  case ncclSum:
    return 0;
  case ncclProd:
    return 1;
  case ncclMin:
    return 2;
  case ncclMax:
    return 3;
  case ncclAvg:
    return 4;
  }
  return -1;
}

/// ncclAllReduce / ncclReduceScatter of `count` received elements.
int reduce(bool scatter, const void *in, void *out, size_t count, int type,
           int op, MockComm *comm) {
  int kind = spReduction(op);
  if (kind < 0 || !comm ||
      !sp_host_collectives::reduce(scatter, in, out, /*outer=*/1,
                                   int64_t(count), dtypeOf(type), kind,
                                   comm->size))
    return ncclInvalidArgument;
  return ncclSuccess;
}
} // namespace

//===----------------------------------------------------------------------===//
// The CUDA runtime API sp's runtime uses
//===----------------------------------------------------------------------===//

extern "C" {

MOCK_EXPORT const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
  case cudaSuccess:
    return "no error";
  case cudaErrorInvalidValue:
    return "invalid argument";
  case cudaErrorNotReady:
    return "device not ready";
  default:
    return "mock CUDA error";
  }
}

MOCK_EXPORT cudaError_t cudaGetLastError() { return cudaSuccess; }

MOCK_EXPORT cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

MOCK_EXPORT cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream,
                                                  unsigned int) {
  static int token;
  *stream = reinterpret_cast<cudaStream_t>(&token);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }

/// Everything here runs synchronously; "not ready" on every other query
/// still exercises the runtime's polling loop.
MOCK_EXPORT cudaError_t cudaStreamQuery(cudaStream_t) {
  static bool ready = false;
  if (envSet("SP_MOCK_STREAM_HANG"))
    return cudaErrorNotReady;
  ready = !ready;
  return ready ? cudaSuccess : cudaErrorNotReady;
}

MOCK_EXPORT cudaError_t cudaMallocAsync(void **pointer, size_t bytes,
                                        cudaStream_t) {
  // Odd sizes still get 256-byte alignment, as cudaMalloc's.
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  if (!p)
    return cudaErrorMemoryAllocation;
  std::memset(p, 0xA5, bytes); // uninitialized device memory is not zero
  std::lock_guard<std::mutex> lock(registryMutex);
  registry()[static_cast<const char *>(p)] = bytes;
  *pointer = p;
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaFreeAsync(void *pointer, cudaStream_t) {
  std::lock_guard<std::mutex> lock(registryMutex);
  if (!registry().erase(static_cast<const char *>(pointer)))
    return cudaErrorInvalidValue;
  std::free(pointer);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaPointerGetAttributes(
    cudaPointerAttributes *attributes, const void *pointer) {
  std::memset(attributes, 0, sizeof(*attributes));
  bool device = isDevice(pointer, 1);
  attributes->type = device ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
  attributes->devicePointer = device ? const_cast<void *>(pointer) : nullptr;
  attributes->hostPointer = device ? nullptr : const_cast<void *>(pointer);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src,
                                        size_t bytes, cudaMemcpyKind kind,
                                        cudaStream_t) {
  bool fromDevice = kind == cudaMemcpyDeviceToHost ||
                    kind == cudaMemcpyDeviceToDevice;
  bool toDevice = kind == cudaMemcpyHostToDevice ||
                  kind == cudaMemcpyDeviceToDevice;
  if ((fromDevice && !isDevice(src, bytes)) || (toDevice && !isDevice(dst, bytes)))
    return cudaErrorInvalidValue;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch,
                                          const void *src, size_t spitch,
                                          size_t width, size_t height,
                                          cudaMemcpyKind kind, cudaStream_t) {
  if (kind != cudaMemcpyDeviceToDevice || width > dpitch || width > spitch)
    return cudaErrorInvalidValue;
  if (height > 0 && (!isDevice(dst, (height - 1) * dpitch + width) ||
                     !isDevice(src, (height - 1) * spitch + width)))
    return cudaErrorInvalidValue;
  for (size_t row = 0; row < height; ++row)
    std::memcpy(static_cast<char *>(dst) + row * dpitch,
                static_cast<const char *>(src) + row * spitch, width);
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// sp's kernels (Kernels.h)
//===----------------------------------------------------------------------===//

int sp_cuda_norm_block_size(int, int64_t) { return 1024; }

int sp_cuda_rms_norm(int dtype, void *out, const void *x, const void *weight,
                     int64_t rows, int64_t hidden, float epsilon, void *) {
  return norm(dtype, 0, false, false, out, nullptr, nullptr, x, nullptr,
              weight, nullptr, rows, hidden, epsilon);
}

int sp_cuda_fused_add_rms_norm(int dtype, void *out, void *residualOut,
                               const void *x, const void *residual,
                               const void *weight, int64_t rows,
                               int64_t hidden, float epsilon, void *) {
  return norm(dtype, 0, true, false, out, nullptr, residualOut, x, residual,
              weight, nullptr, rows, hidden, epsilon);
}

int sp_cuda_rms_norm_quant(int dtype, int fp8, uint8_t *q, const void *x,
                           const void *weight, const float *scale,
                           int64_t rows, int64_t hidden, float epsilon,
                           void *) {
  return norm(dtype, fp8, false, true, nullptr, q, nullptr, x, nullptr, weight,
              scale, rows, hidden, epsilon);
}

int sp_cuda_fused_add_rms_norm_quant(int dtype, int fp8, uint8_t *q,
                                     void *residualOut, const void *x,
                                     const void *residual, const void *weight,
                                     const float *scale, int64_t rows,
                                     int64_t hidden, float epsilon, void *) {
  return norm(dtype, fp8, true, true, nullptr, q, residualOut, x, residual,
              weight, scale, rows, hidden, epsilon);
}

int sp_cuda_quant(int dtype, int fp8, uint8_t *q, const void *x,
                  const float *scale, int64_t count, void *) {
  if (count < 0 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  need(x, size_t(count) * widthOf(dtype), "the quant kernel (x)");
  need(q, size_t(count), "the quant kernel (q)");
  need(scale, sizeof(float), "the quant kernel (scale)");
  sp_host_kernels::quant(dtype, fp8, q, x, scale, count);
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// NCCL (the subset CudaRuntime.cpp resolves with dlsym)
//===----------------------------------------------------------------------===//

MOCK_EXPORT int ncclGetVersion(int *version) {
  *version = 22800;
  return ncclSuccess;
}

MOCK_EXPORT int ncclGetUniqueId(MockId *id) {
  // Something the other ranks can only know through the id file.
  std::memset(id->internal, 0, sizeof(id->internal));
  std::snprintf(id->internal, sizeof(id->internal), "mock-nccl-id-%d-%ld",
                int(getpid()), long(std::rand()));
  return ncclSuccess;
}

/// Checks that every rank got rank 0's id (the file exchange works) and that
/// the ranks agree with MPI's.
MOCK_EXPORT int ncclCommInitRank(MockComm **comm, int nranks, MockId id,
                                 int rank) {
  int initialized = 0, mpiRank = 0, mpiSize = 1;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &mpiRank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpiSize);
  }
  if (rank != mpiRank || nranks != mpiSize)
    return ncclInvalidArgument;
  MockId root = id;
  if (initialized)
    MPI_Bcast(root.internal, 128, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (std::memcmp(root.internal, id.internal, 128) != 0)
    return ncclInvalidArgument;
  *comm = new MockComm{rank, nranks};
  return ncclSuccess;
}

MOCK_EXPORT int ncclCommDestroy(MockComm *comm) {
  delete comm;
  return ncclSuccess;
}

MOCK_EXPORT int ncclCommAbort(MockComm *comm) {
  delete comm;
  return ncclSuccess;
}

MOCK_EXPORT int ncclCommGetAsyncError(MockComm *, int *error) {
  *error = ncclSuccess;
  return ncclSuccess;
}

MOCK_EXPORT const char *ncclGetErrorString(int result) {
  return result == ncclSuccess ? "no error" : "mock NCCL failure";
}

MOCK_EXPORT int ncclAllReduce(const void *in, void *out, size_t count,
                              int type, int op, MockComm *comm,
                              cudaStream_t) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  need(in, count * ncclWidth(type), "ncclAllReduce (send buffer)");
  need(out, count * ncclWidth(type), "ncclAllReduce (receive buffer)");
  return reduce(false, in, out, count, type, op, comm);
}

MOCK_EXPORT int ncclReduceScatter(const void *in, void *out, size_t count,
                                  int type, int op, MockComm *comm,
                                  cudaStream_t) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (!comm)
    return ncclInvalidArgument;
  need(in, count * comm->size * ncclWidth(type),
       "ncclReduceScatter (send buffer)");
  need(out, count * ncclWidth(type), "ncclReduceScatter (receive buffer)");
  return reduce(true, in, out, count, type, op, comm);
}

MOCK_EXPORT int ncclAllGather(const void *in, void *out, size_t count,
                              int type, MockComm *comm, cudaStream_t) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  size_t width = ncclWidth(type);
  if (!comm || width == 0)
    return ncclInvalidArgument;
  need(in, count * width, "ncclAllGather (send buffer)");
  need(out, count * width * comm->size, "ncclAllGather (receive buffer)");
  sp_host_collectives::allGather(in, out, /*outer=*/1, int64_t(count * width),
                                 comm->size);
  return ncclSuccess;
}

} // extern "C"
