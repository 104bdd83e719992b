//===- CudaRuntime.cpp - sp's CUDA runtime: NCCL collectives --------------===//
//
// See CudaRuntime.h. NCCL's C API is declared here by hand (the few types
// and functions sp uses, with NCCL 2.x's ABI) so that building needs no NCCL
// headers and running needs NCCL only when a collective is used.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "Kernels.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

// --- The slice of NCCL's API that sp uses (nccl.h, NCCL 2.x). -------------
struct NcclUniqueId {
  char internal[128];
};
using NcclComm = struct ncclComm *;
using NcclResult = int; // ncclSuccess = 0, ncclInProgress = 7
enum NcclDataType { ncclInt8 = 0, ncclFloat16 = 6, ncclFloat32 = 7, ncclBfloat16 = 9 };
enum NcclRedOp { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };

struct Nccl {
  void *handle = nullptr;
  NcclResult (*getVersion)(int *) = nullptr;
  NcclResult (*getUniqueId)(NcclUniqueId *) = nullptr;
  NcclResult (*commInitRank)(NcclComm *, int, NcclUniqueId, int) = nullptr;
  NcclResult (*commDestroy)(NcclComm) = nullptr;
  NcclResult (*commAbort)(NcclComm) = nullptr;
  NcclResult (*commGetAsyncError)(NcclComm, NcclResult *) = nullptr;
  const char *(*getErrorString)(NcclResult) = nullptr;
  NcclResult (*allReduce)(const void *, void *, size_t, int, int, NcclComm,
                          cudaStream_t) = nullptr;
  NcclResult (*reduceScatter)(const void *, void *, size_t, int, int, NcclComm,
                              cudaStream_t) = nullptr;
  NcclResult (*allGather)(const void *, void *, size_t, int, NcclComm,
                          cudaStream_t) = nullptr;
};

Nccl nccl;
NcclComm comm = nullptr;
cudaStream_t stream = nullptr;
std::mutex initMutex;
thread_local std::string lastError;

int fail(const char *format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  lastError = buffer;
  return 1;
}

int envInt(const char *name, const char *fallback, int defaultValue) {
  if (const char *v = std::getenv(name))
    return std::atoi(v);
  if (fallback)
    if (const char *v = std::getenv(fallback))
      return std::atoi(v);
  return defaultValue;
}

int timeoutSeconds() { return envInt("SP_TIMEOUT_SECONDS", nullptr, 300); }

const char *ncclError(NcclResult r) {
  return nccl.getErrorString ? nccl.getErrorString(r) : "unknown NCCL error";
}

/// Waits for the stream with a timeout, watching NCCL's asynchronous errors;
/// aborts the communicator rather than hang.
int waitFor(const char *what, const char *location) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(timeoutSeconds());
  while (true) {
    cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess)
      return 0;
    if (status != cudaErrorNotReady)
      return fail("%s: %s failed on the GPU: %s", location, what,
                  cudaGetErrorString(status));
    NcclResult async = 0;
    if (comm && nccl.commGetAsyncError(comm, &async) == 0 && async != 0 &&
        async != 7) {
      nccl.commAbort(comm);
      comm = nullptr;
      return fail("%s: %s failed: NCCL: %s", location, what, ncclError(async));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      if (comm)
        nccl.commAbort(comm);
      comm = nullptr;
      return fail("%s: %s did not complete within %d s (another rank failed "
                  "or is stuck); the communicator was aborted",
                  location, what, timeoutSeconds());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

int toNcclType(int dtype, const char *location) {
  switch (dtype) {
  case SP_CUDA_F32:
    return ncclFloat32;
  case SP_CUDA_F16:
    return ncclFloat16;
  case SP_CUDA_BF16:
    return ncclBfloat16;
  case 3:
    return ncclInt8; // fp8 moved as bytes
  }
  fail("%s: unsupported element type code %d", location, dtype);
  return -1;
}

int toNcclOp(int reduction, const char *location) {
  switch (reduction) {
  case 0:
    return ncclSum;
  case 1:
    return ncclProd;
  case 2:
    return ncclMin;
  case 3:
    return ncclMax;
  case 4:
    return ncclAvg;
  }
  fail("%s: unknown reduction %d", location, reduction);
  return -1;
}

/// Checks the status of an enqueued NCCL call and waits for it.
int complete(NcclResult r, const char *call, const char *op,
             const char *location) {
  if (r != 0)
    return fail("%s: %s failed: %s", location, call, ncclError(r));
  return waitFor(op, location);
}

int ready(const char *location) {
  if (sp_cuda_rt_init() != 0) {
    std::string why = lastError;
    return fail("%s: %s", location, why.c_str());
  }
  return 0;
}
} // namespace

extern "C" {

const char *sp_cuda_rt_last_error() { return lastError.c_str(); }

int sp_cuda_rt_rank() { return envInt("SP_RANK", "OMPI_COMM_WORLD_RANK", 0); }

int sp_cuda_rt_world_size() {
  return envInt("SP_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", 1);
}

int sp_cuda_rt_load_nccl(int *version) {
  std::lock_guard<std::mutex> lock(initMutex);
  if (!nccl.handle) {
    const char *path = std::getenv("SP_NCCL_LIBRARY");
    if (!path)
      path = "libnccl.so.2";
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return fail("cannot load NCCL from '%s' (set SP_NCCL_LIBRARY, or add "
                  "/usr/local/cuda/lib64 to LD_LIBRARY_PATH): %s",
                  path, dlerror());
    Nccl loaded;
    loaded.handle = handle;
    struct {
      const char *name;
      void **slot;
    } symbols[] = {
        {"ncclGetVersion", reinterpret_cast<void **>(&loaded.getVersion)},
        {"ncclGetUniqueId", reinterpret_cast<void **>(&loaded.getUniqueId)},
        {"ncclCommInitRank", reinterpret_cast<void **>(&loaded.commInitRank)},
        {"ncclCommDestroy", reinterpret_cast<void **>(&loaded.commDestroy)},
        {"ncclCommAbort", reinterpret_cast<void **>(&loaded.commAbort)},
        {"ncclCommGetAsyncError",
         reinterpret_cast<void **>(&loaded.commGetAsyncError)},
        {"ncclGetErrorString", reinterpret_cast<void **>(&loaded.getErrorString)},
        {"ncclAllReduce", reinterpret_cast<void **>(&loaded.allReduce)},
        {"ncclReduceScatter", reinterpret_cast<void **>(&loaded.reduceScatter)},
        {"ncclAllGather", reinterpret_cast<void **>(&loaded.allGather)},
    };
    for (auto &symbol : symbols) {
      *symbol.slot = dlsym(handle, symbol.name);
      if (!*symbol.slot) {
        dlclose(handle);
        return fail("'%s' is not a usable NCCL: it lacks %s", path, symbol.name);
      }
    }
    nccl = loaded;
  }
  if (version) {
    NcclResult r = nccl.getVersion(version);
    if (r != 0)
      return fail("ncclGetVersion failed: %s", ncclError(r));
  }
  return 0;
}

int sp_cuda_rt_init() {
  if (comm)
    return 0;
  int rank = sp_cuda_rt_rank(), size = sp_cuda_rt_world_size();
  if (size < 1 || rank < 0 || rank >= size)
    return fail("invalid rank %d of %d (SP_RANK / SP_WORLD_SIZE)", rank, size);
  int devices = 0;
  cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0)
    return fail("no usable CUDA device: %s",
                status == cudaSuccess ? "none found" : cudaGetErrorString(status));
  if ((status = cudaSetDevice(rank % devices)) != cudaSuccess)
    return fail("cudaSetDevice(%d) failed: %s", rank % devices,
                cudaGetErrorString(status));
  if (sp_cuda_rt_load_nccl(nullptr) != 0)
    return 1;

  // Unique id exchange through a file: rank 0 writes it atomically.
  const char *file = std::getenv("SP_NCCL_ID_FILE");
  std::string path = file ? file : "/tmp/sp-nccl-id";
  NcclUniqueId id;
  if (rank == 0) {
    NcclResult r = nccl.getUniqueId(&id);
    if (r != 0)
      return fail("ncclGetUniqueId failed: %s", ncclError(r));
    std::string tmp = path + ".tmp" + std::to_string(getpid());
    std::ofstream(tmp, std::ios::binary).write(id.internal, sizeof(id.internal));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return fail("cannot write the NCCL id to '%s': %s", path.c_str(),
                  std::strerror(errno));
  } else {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(timeoutSeconds());
    while (true) {
      std::ifstream in(path, std::ios::binary);
      if (in.read(id.internal, sizeof(id.internal)))
        break;
      if (std::chrono::steady_clock::now() > deadline)
        return fail("rank %d: no NCCL id in '%s' after %d s (is rank 0 "
                    "running with the same SP_NCCL_ID_FILE?)",
                    rank, path.c_str(), timeoutSeconds());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if ((status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) !=
      cudaSuccess)
    return fail("cudaStreamCreate failed: %s", cudaGetErrorString(status));
  NcclResult r = nccl.commInitRank(&comm, size, id, rank);
  if (r != 0) {
    comm = nullptr;
    return fail("ncclCommInitRank(rank %d of %d) failed: %s", rank, size,
                ncclError(r));
  }
  return 0;
}

int sp_cuda_rt_all_reduce(const void *in, void *out, int64_t count, int dtype,
                          int reduction, const char *location) {
  int type = toNcclType(dtype, location), op = toNcclOp(reduction, location);
  if (type < 0 || op < 0 || ready(location) != 0)
    return 1;
  return complete(nccl.allReduce(in, out, count, type, op, comm, stream),
                  "ncclAllReduce", "sp.all_reduce", location);
}

int sp_cuda_rt_reduce_scatter(const void *in, void *out, int64_t outCount,
                              int dtype, int reduction, const char *location) {
  int type = toNcclType(dtype, location), op = toNcclOp(reduction, location);
  if (type < 0 || op < 0 || ready(location) != 0)
    return 1;
  return complete(
      nccl.reduceScatter(in, out, outCount, type, op, comm, stream),
      "ncclReduceScatter", "sp.reduce_scatter", location);
}

int sp_cuda_rt_all_gather(const void *in, void *out, int64_t inCount,
                          int dtype, const char *location) {
  int type = toNcclType(dtype, location);
  if (type < 0 || ready(location) != 0)
    return 1;
  return complete(nccl.allGather(in, out, inCount, type, comm, stream),
                  "ncclAllGather", "sp.all_gather", location);
}

void sp_cuda_rt_finalize() {
  if (comm)
    nccl.commDestroy(comm);
  comm = nullptr;
  if (stream)
    cudaStreamDestroy(stream);
  stream = nullptr;
}

} // extern "C"
