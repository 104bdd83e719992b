//===- CudaRuntime.cpp - sp's CUDA runtime: NCCL collectives --------------===//
//
// See CudaRuntime.h. NCCL's C API is declared here by hand (the few types
// and functions sp uses, with NCCL 2.x's ABI) so that building needs no NCCL
// headers and running needs NCCL only when a collective is used. cuBLASLt
// (the collective matmul GEMMs) is loaded the same way, its types coming
// from the toolkit's cublasLt.h (CublasLtGemm.h), so that nothing needs it
// until such an op runs.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "CompiledABI.h"
#include "CublasLtGemm.h"
#include "Kernels.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

// --- The slice of NCCL's API that sp uses (nccl.h, NCCL 2.x). -------------
struct NcclUniqueId {
  char internal[128];
};
using NcclComm = struct ncclComm *;
using NcclResult = int; // ncclSuccess = 0, ncclInProgress = 7
enum NcclDataType {
  ncclInt8 = 0,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9
};
enum NcclRedOp { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };

/// Every NCCL function sp uses, the one list from which the function table
/// is declared and resolved: X(member, symbol, result, parameters...).
#define SP_NCCL_SYMBOLS(X)                                                     \
  X(getVersion, ncclGetVersion, NcclResult, int *)                             \
  X(getUniqueId, ncclGetUniqueId, NcclResult, NcclUniqueId *)                  \
  X(commInitRank, ncclCommInitRank, NcclResult, NcclComm *, int, NcclUniqueId, \
    int)                                                                       \
  X(commSplit, ncclCommSplit, NcclResult, NcclComm, int, int, NcclComm *,     \
    void *)                                                                    \
  X(commDestroy, ncclCommDestroy, NcclResult, NcclComm)                        \
  X(commAbort, ncclCommAbort, NcclResult, NcclComm)                            \
  X(commGetAsyncError, ncclCommGetAsyncError, NcclResult, NcclComm,            \
    NcclResult *)                                                              \
  X(getErrorString, ncclGetErrorString, const char *, NcclResult)              \
  X(allReduce, ncclAllReduce, NcclResult, const void *, void *, size_t, int,   \
    int, NcclComm, cudaStream_t)                                               \
  X(reduceScatter, ncclReduceScatter, NcclResult, const void *, void *,        \
    size_t, int, int, NcclComm, cudaStream_t)                                  \
  X(allGather, ncclAllGather, NcclResult, const void *, void *, size_t, int,   \
    NcclComm, cudaStream_t)                                                    \
  X(send, ncclSend, NcclResult, const void *, size_t, int, int, NcclComm,      \
    cudaStream_t)                                                              \
  X(recv, ncclRecv, NcclResult, void *, size_t, int, int, NcclComm,            \
    cudaStream_t)                                                              \
  X(groupStart, ncclGroupStart, NcclResult)                                    \
  X(groupEnd, ncclGroupEnd, NcclResult)

struct Nccl {
  void *handle = nullptr;
#define SP_NCCL_MEMBER(member, symbol, result, ...)                            \
  result (*member)(__VA_ARGS__) = nullptr;
  SP_NCCL_SYMBOLS(SP_NCCL_MEMBER)
#undef SP_NCCL_MEMBER
};

Nccl nccl;
/// The job's communicator (every rank, in rank order).
NcclComm comm = nullptr;
/// The communicators of groups that span part of the job, by the group
/// descriptor's words, split from `comm` at the group's first use.
std::map<std::vector<int64_t>, NcclComm> groupComms;
/// Kernels, GEMMs, copies and the collectives run on `stream`; the
/// point-to-point transfers of collective matmuls and ring shifts run on
/// `commStream` (higher priority), ordered against `stream` with events.
cudaStream_t stream = nullptr;
cudaStream_t commStream = nullptr;

using sp_cublaslt::CublasLtApi;
struct CublasLt : CublasLtApi {
  void *library = nullptr;
};
CublasLt cublasLt;
cublasLtHandle_t ltHandle = nullptr;
/// cuBLASLt's workspace (NVIDIA's recommendation for Hopper is 32 MiB),
/// allocated once, used by the GEMMs on `stream` only.
void *ltWorkspace = nullptr;
constexpr size_t kLtWorkspaceBytes = size_t(32) << 20;
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

/// This rank and the job's size: the host program's bootstrap
/// (sp_cuda_rt_set_bootstrap), else the environment.
int envRank() {
  if (const sp_cuda_abi::Bootstrap *b = sp_cuda_abi::bootstrap())
    return b->rank;
  return envInt("SP_RANK", "OMPI_COMM_WORLD_RANK", 0);
}
int envWorldSize() {
  if (const sp_cuda_abi::Bootstrap *b = sp_cuda_abi::bootstrap())
    return b->size;
  return envInt("SP_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", 1);
}

const char *ncclError(NcclResult r) {
  return nccl.getErrorString ? nccl.getErrorString(r) : "unknown NCCL error";
}

/// Aborts every communicator (after a failure or a timeout: a peer may be
/// gone, and NCCL's kernels would wait for it forever).
void abortCommunicators() {
  for (auto &[words, group] : groupComms)
    nccl.commAbort(group);
  groupComms.clear();
  if (comm)
    nccl.commAbort(comm);
  comm = nullptr;
}

/// The first asynchronous error of any communicator (0 if none).
NcclResult asyncError() {
  NcclResult async = 0;
  auto failed = [&](NcclComm c) {
    return nccl.commGetAsyncError(c, &async) == 0 && async != 0 && async != 7;
  };
  if (comm && failed(comm))
    return async;
  for (auto &[words, group] : groupComms)
    if (failed(group))
      return async;
  return 0;
}

/// Stream-ordered calls (the default): a call of the compiled-code ABI whose
/// outputs are device memory only enqueues its work and returns; the
/// synchronization points (sp_cuda_rt_synchronize, which compiled code calls
/// at the exit of its public functions, or a call that must copy an output
/// to the host) wait for it. SP_CUDA_SYNC=call makes every call wait for
/// its own work (`explicit` is the default's former name).
bool explicitSync() {
  const char *mode = std::getenv("SP_CUDA_SYNC");
  return !(mode && std::strcmp(mode, "call") == 0);
}

/// The calls enqueued without a wait since the stream was last seen idle,
/// each with an event recorded after its work: a failure found at the next
/// wait is reported with the first call whose work did not complete.
struct PendingCall {
  std::string location;
  cudaEvent_t done = nullptr;
};
std::vector<PendingCall> pendingCalls;

void forgetPending() {
  for (PendingCall &call : pendingCalls)
    if (call.done)
      cudaEventDestroy(call.done);
  pendingCalls.clear();
}

/// The op a location string names ("sp.rms_norm at m.mlir:4:1").
std::string opOf(const std::string &location) {
  size_t at = location.find(" at ");
  return at == std::string::npos ? location : location.substr(0, at);
}

/// Who a failed wait blames: the first pending call whose work has not
/// completed, else the waiting call itself (`what` at `location`).
void blame(const char *what, const char *location, std::string &op,
           std::string &where) {
  for (PendingCall &call : pendingCalls)
    if (call.done && cudaEventQuery(call.done) != cudaSuccess) {
      op = opOf(call.location);
      where = call.location;
      return;
    }
  op = what;
  where = location;
}

/// Waits for the stream with a timeout, watching NCCL's asynchronous errors;
/// aborts the communicators rather than hang.
int waitFor(const char *what, const char *location) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(timeoutSeconds());
  std::string op, where;
  while (true) {
    cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess) {
      forgetPending();
      return 0;
    }
    if (status != cudaErrorNotReady) {
      blame(what, location, op, where);
      return fail("%s: %s failed on the GPU: %s", where.c_str(), op.c_str(),
                  cudaGetErrorString(status));
    }
    if (NcclResult async = asyncError()) {
      blame(what, location, op, where);
      abortCommunicators();
      return fail("%s: %s failed: NCCL: %s", where.c_str(), op.c_str(),
                  ncclError(async));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      blame(what, location, op, where);
      abortCommunicators();
      return fail("%s: %s did not complete within %d s (another rank failed "
                  "or is stuck); the communicator was aborted",
                  where.c_str(), op.c_str(), timeoutSeconds());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

/// Remembers a call whose work was enqueued without a wait.
int remember(const char *location) {
  PendingCall call{location, nullptr};
  cudaError_t status =
      cudaEventCreateWithFlags(&call.done, cudaEventDisableTiming);
  if (status == cudaSuccess)
    status = cudaEventRecord(call.done, stream);
  if (status != cudaSuccess) {
    if (call.done)
      cudaEventDestroy(call.done);
    return fail("%s: cudaEventRecord failed: %s", location,
                cudaGetErrorString(status));
  }
  pendingCalls.push_back(std::move(call));
  return 0;
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
  case 4:
    return ncclFloat64;
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

/// Checks the status of an enqueued NCCL call and, with SP_CUDA_SYNC=call,
/// waits for it (otherwise the caller waits when it must).
int complete(NcclResult r, const char *call, const char *op,
             const char *location) {
  if (r != 0)
    return fail("%s: %s failed: %s", location, call, ncclError(r));
  return explicitSync() ? 0 : waitFor(op, location);
}

/// Runs `init` (sp_cuda_rt_init: device and NCCL; sp_cuda_rt_init_device:
/// enough for the kernels), naming the op in its failure.
int ready(const char *location, int (*init)() = sp_cuda_rt_init) {
  if (init() != 0) {
    std::string why = lastError;
    return fail("%s: %s", location, why.c_str());
  }
  return 0;
}

/// Rank 0's NCCL unique id on every rank: broadcast with the host program's
/// bootstrap (sp-run: MPI_Bcast over MPI_COMM_WORLD) when there is one,
/// else through SP_NCCL_ID_FILE, which rank 0 writes atomically and the
/// others poll (every rank must see the same file: one host, or a shared
/// file system). SP_NCCL_ID_EXCHANGE=file forces the file, =mpi forbids it.
int exchangeUniqueId(NcclUniqueId &id, int rank, int size) {
  const sp_cuda_abi::Bootstrap *boot = sp_cuda_abi::bootstrap();
  const char *mode = std::getenv("SP_NCCL_ID_EXCHANGE");
  std::string how = mode ? mode : "";
  if (!how.empty() && how != "file" && how != "mpi")
    return fail("SP_NCCL_ID_EXCHANGE='%s' is neither 'mpi' nor 'file'",
                how.c_str());
  if (how == "file")
    boot = nullptr;
  if (how == "mpi" && !boot)
    return fail("SP_NCCL_ID_EXCHANGE=mpi, but the host program set no MPI "
                "bootstrap (sp_cuda_rt_set_bootstrap; sp-run sets one)");
  if (rank == 0) {
    NcclResult r = nccl.getUniqueId(&id);
    if (r != 0)
      return fail("ncclGetUniqueId failed: %s", ncclError(r));
  }
  if (boot) {
    if (boot->broadcast(id.internal, sizeof(id.internal), 0, boot->context) !=
        0)
      return fail("rank %d of %d: broadcasting the NCCL id from rank 0 over "
                  "MPI failed (set SP_NCCL_ID_EXCHANGE=file to exchange it "
                  "through SP_NCCL_ID_FILE instead)",
                  rank, size);
    return 0;
  }
  if (size == 1)
    return 0;
  const char *file = std::getenv("SP_NCCL_ID_FILE");
  std::string path = file ? file : "/tmp/sp-nccl-id";
  if (rank == 0) {
    std::string tmp = path + ".tmp" + std::to_string(getpid());
    std::ofstream(tmp, std::ios::binary).write(id.internal, sizeof(id.internal));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return fail("cannot write the NCCL id to '%s': %s (without an MPI "
                  "bootstrap the id travels through this file)",
                  path.c_str(), std::strerror(errno));
    return 0;
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(timeoutSeconds());
  while (true) {
    std::ifstream in(path, std::ios::binary);
    if (in.read(id.internal, sizeof(id.internal)))
      return 0;
    if (std::chrono::steady_clock::now() > deadline)
      return fail("rank %d: no NCCL id in '%s' after %d s: without an MPI "
                  "bootstrap (sp_cuda_rt_set_bootstrap, which sp-run sets) "
                  "the id travels through SP_NCCL_ID_FILE, which rank 0 "
                  "writes and every rank must see (the same host, or a "
                  "shared file system, and the same SP_NCCL_ID_FILE)",
                  rank, path.c_str(), timeoutSeconds());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}
} // namespace

extern "C" {

const char *sp_cuda_rt_last_error() { return lastError.c_str(); }


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
#define SP_NCCL_SLOT(member, symbol, ...)                                      \
  {#symbol, reinterpret_cast<void **>(&loaded.member)},
        SP_NCCL_SYMBOLS(SP_NCCL_SLOT)
#undef SP_NCCL_SLOT
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

int sp_cuda_rt_load_cublaslt(size_t *version) {
  std::lock_guard<std::mutex> lock(initMutex);
  if (!cublasLt.library) {
    const char *path = std::getenv("SP_CUBLASLT_LIBRARY");
    if (!path)
      path = "libcublasLt.so.13";
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library)
      return fail("cannot load cuBLASLt from '%s' (set SP_CUBLASLT_LIBRARY, or "
                  "add /usr/local/cuda/lib64 to LD_LIBRARY_PATH): %s",
                  path, dlerror());
    CublasLt loaded;
    loaded.library = library;
    struct {
      const char *name;
      void **slot;
    } symbols[] = {
#define SP_CUBLASLT_SLOT(name) {#name, reinterpret_cast<void **>(&loaded.name)},
        SP_CUBLASLT_SYMBOLS(SP_CUBLASLT_SLOT)
#undef SP_CUBLASLT_SLOT
    };
    for (auto &symbol : symbols) {
      *symbol.slot = dlsym(library, symbol.name);
      if (!*symbol.slot) {
        dlclose(library);
        return fail("'%s' is not a usable cuBLASLt: it lacks %s", path,
                    symbol.name);
      }
    }
    // The descriptors' attribute numbering is cublasLt.h's of this major
    // version (cublasLtGetVersion: major * 10000 + minor * 100 + patch).
    size_t loadedVersion = loaded.cublasLtGetVersion();
    if (loadedVersion / 10000 != size_t(CUBLAS_VER_MAJOR)) {
      dlclose(library);
      return fail("'%s' is cuBLASLt %zu.%zu, but sp was built with the "
                  "headers of cuBLASLt %d",
                  path, loadedVersion / 10000, loadedVersion / 100 % 100,
                  CUBLAS_VER_MAJOR);
    }
    cublasLt = loaded;
  }
  if (version)
    *version = cublasLt.cublasLtGetVersion();
  return 0;
}

int sp_cuda_rt_init_device() {
  std::lock_guard<std::mutex> lock(initMutex);
  if (stream)
    return 0;
  int rank = envRank(), size = envWorldSize();
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
  if ((status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) !=
      cudaSuccess)
    return fail("cudaStreamCreate failed: %s", cudaGetErrorString(status));
  // Transfers get the higher priority so that NCCL's kernels find SMs
  // while a GEMM fills the GPU.
  int leastPriority = 0, greatestPriority = 0;
  if ((status = cudaDeviceGetStreamPriorityRange(
           &leastPriority, &greatestPriority)) != cudaSuccess ||
      (status = cudaStreamCreateWithPriority(&commStream, cudaStreamNonBlocking,
                                             greatestPriority)) !=
          cudaSuccess) {
    cudaStreamDestroy(stream);
    stream = nullptr;
    commStream = nullptr;
    return fail("creating the transfer stream failed: %s",
                cudaGetErrorString(status));
  }
  return 0;
}

int sp_cuda_rt_init() {
  if (comm)
    return 0;
  if (sp_cuda_rt_init_device() != 0)
    return 1;
  int rank = envRank(), size = envWorldSize();
  if (sp_cuda_rt_load_nccl(nullptr) != 0)
    return 1;

  NcclUniqueId id;
  if (int status = exchangeUniqueId(id, rank, size))
    return status;
  NcclResult r = nccl.commInitRank(&comm, size, id, rank);
  if (r != 0) {
    comm = nullptr;
    return fail("ncclCommInitRank(rank %d of %d) failed: %s", rank, size,
                ncclError(r));
  }
  return 0;
}

} // extern "C"

namespace {
// The collectives on a communicator that ready() has set up (the C API
// below uses the job's).

int allReduceOn(NcclComm c, const void *in, void *out, int64_t count,
                int dtype, int reduction, const char *location) {
  int type = toNcclType(dtype, location), op = toNcclOp(reduction, location);
  if (type < 0 || op < 0)
    return 1;
  return complete(nccl.allReduce(in, out, count, type, op, c, stream),
                  "ncclAllReduce", "sp.all_reduce", location);
}

int reduceScatterOn(NcclComm c, const void *in, void *out, int64_t outCount,
                    int dtype, int reduction, const char *location) {
  int type = toNcclType(dtype, location), op = toNcclOp(reduction, location);
  if (type < 0 || op < 0)
    return 1;
  return complete(nccl.reduceScatter(in, out, outCount, type, op, c, stream),
                  "ncclReduceScatter", "sp.reduce_scatter", location);
}

int allGatherOn(NcclComm c, const void *in, void *out, int64_t inCount,
                int dtype, const char *location) {
  int type = toNcclType(dtype, location);
  if (type < 0)
    return 1;
  return complete(nccl.allGather(in, out, inCount, type, c, stream),
                  "ncclAllGather", "sp.all_gather", location);
}
} // namespace

extern "C" {

int sp_cuda_rt_all_reduce(const void *in, void *out, int64_t count, int dtype,
                          int reduction, const char *location) {
  if (toNcclType(dtype, location) < 0 || toNcclOp(reduction, location) < 0 ||
      ready(location) != 0)
    return 1;
  return allReduceOn(comm, in, out, count, dtype, reduction, location) ||
         (explicitSync() && waitFor("sp.all_reduce", location));
}

int sp_cuda_rt_reduce_scatter(const void *in, void *out, int64_t outCount,
                              int dtype, int reduction, const char *location) {
  if (toNcclType(dtype, location) < 0 || toNcclOp(reduction, location) < 0 ||
      ready(location) != 0)
    return 1;
  return reduceScatterOn(comm, in, out, outCount, dtype, reduction, location) ||
         (explicitSync() && waitFor("sp.reduce_scatter", location));
}

int sp_cuda_rt_all_gather(const void *in, void *out, int64_t inCount,
                          int dtype, const char *location) {
  if (toNcclType(dtype, location) < 0 || ready(location) != 0)
    return 1;
  return allGatherOn(comm, in, out, inCount, dtype, location) ||
         (explicitSync() && waitFor("sp.all_gather", location));
}

int sp_cuda_rt_synchronize() {
  if (pendingCalls.empty())
    return 0;
  std::string first = pendingCalls.front().location;
  return waitFor(opOf(first).c_str(), first.c_str());
}

void *sp_cuda_rt_stream() {
  return sp_cuda_rt_init_device() == 0 ? static_cast<void *>(stream) : nullptr;
}

void sp_cuda_rt_finalize() {
  for (auto &[words, group] : groupComms)
    nccl.commDestroy(group);
  groupComms.clear();
  if (comm)
    nccl.commDestroy(comm);
  comm = nullptr;
  if (ltHandle)
    cublasLt.cublasLtDestroy(ltHandle);
  ltHandle = nullptr;
  if (ltWorkspace)
    cudaFreeAsync(ltWorkspace, stream);
  ltWorkspace = nullptr;
  if (commStream)
    cudaStreamDestroy(commStream);
  commStream = nullptr;
  if (stream)
    cudaStreamDestroy(stream);
  stream = nullptr;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// The backend of compiled code (CompiledABI.h)
//===----------------------------------------------------------------------===//

namespace {

int cudaCheck(cudaError_t status, const char *call, const char *location) {
  if (status == cudaSuccess)
    return 0;
  return fail("%s: %s failed: %s", location, call, cudaGetErrorString(status));
}

/// What kind of memory a pointer is, for the GPU.
enum class Memory {
  Device,  // cudaMalloc'd
  Managed, // cudaMallocManaged: the GPU may use it in place
  Mapped,  // registered host memory: usable through its device address
  Host     // anything else (malloc'd, constants): the GPU cannot address it
};

/// The kind of `pointer`'s memory; `*device` receives the address the GPU
/// uses (null for Host).
Memory memoryOf(const void *pointer, void **device) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    (void)cudaGetLastError(); // clear: an unknown pointer is host memory
    attributes.type = cudaMemoryTypeUnregistered;
  }
  *device = nullptr;
  switch (attributes.type) {
  case cudaMemoryTypeDevice:
  case cudaMemoryTypeManaged:
    *device = const_cast<void *>(pointer);
    return attributes.type == cudaMemoryTypeDevice ? Memory::Device
                                                   : Memory::Managed;
  case cudaMemoryTypeHost:
    if (attributes.devicePointer) {
      *device = attributes.devicePointer;
      return Memory::Mapped;
    }
    return Memory::Host;
  default:
    return Memory::Host;
  }
}

/// Compiled host code may pass memory the GPU cannot address (malloc'd
/// buffers, constants): such a buffer is copied to device memory for the
/// call, and back when the call writes it. Device, managed and registered
/// host memory is used in place.
class Staging {
public:
  explicit Staging(const char *location) : location(location) {}
  Staging(const Staging &) = delete;
  Staging &operator=(const Staging &) = delete;
  ~Staging() {
    for (Item &item : items)
      cudaFreeAsync(item.device, stream);
  }

  int input(const void *&pointer, size_t bytes) {
    void *p = const_cast<void *>(pointer);
    int status = stage(p, bytes, /*output=*/false);
    pointer = p;
    return status;
  }
  int output(void *&pointer, size_t bytes) {
    return stage(pointer, bytes, /*output=*/true);
  }

  /// Copies outputs back and waits for everything enqueued; when no output
  /// was staged and no buffer is visible to the host (managed, mapped),
  /// only remembers the call for the next wait (unless SP_CUDA_SYNC=call).
  /// Staged inputs need no wait: CUDA has read pageable host memory when
  /// cudaMemcpyAsync returns, and the staging copies are freed in stream
  /// order.
  int finish(const char *what) {
    bool outputs = false;
    for (Item &item : items)
      outputs |= item.output;
    if (explicitSync() && !outputs && !hostVisible)
      return remember(location);
    for (Item &item : items)
      if (item.output &&
          cudaCheck(cudaMemcpyAsync(item.host, item.device, item.bytes,
                                    cudaMemcpyDeviceToHost, stream),
                    "cudaMemcpyAsync", location))
        return 1;
    return waitFor(what, location);
  }

private:
  struct Item {
    void *host;
    void *device;
    size_t bytes;
    bool output;
  };

  int stage(void *&pointer, size_t bytes, bool output) {
    if (!pointer || bytes == 0)
      return 0;
    void *device = nullptr;
    Memory memory = memoryOf(pointer, &device);
    if (memory != Memory::Host) {
      // Managed and mapped memory is read by the host: wait for it.
      hostVisible |= memory != Memory::Device;
      pointer = device;
      return 0;
    }
    Item item{pointer, nullptr, bytes, output};
    if (cudaCheck(cudaMallocAsync(&item.device, bytes, stream),
                  "cudaMallocAsync (staging host memory)", location))
      return 1;
    items.push_back(item);
    if (!output && cudaCheck(cudaMemcpyAsync(item.device, item.host, bytes,
                                             cudaMemcpyHostToDevice, stream),
                             "cudaMemcpyAsync", location))
      return 1;
    pointer = item.device;
    return 0;
  }

  const char *location;
  std::vector<Item> items;
  bool hostVisible = false;
};

/// Device scratch memory for one call.
struct Scratch {
  void *pointer = nullptr;
  ~Scratch() {
    if (pointer)
      cudaFreeAsync(pointer, stream);
  }
};

//===----------------------------------------------------------------------===//
// Collective matmuls: cuBLASLt GEMMs pipelined with NCCL transfers
//===----------------------------------------------------------------------===//

/// Events of one call (timing disabled), destroyed with it: a stream that
/// still waits on one keeps it alive (CUDA releases it once complete).
class Events {
public:
  explicit Events(const char *location) : location(location) {}
  Events(const Events &) = delete;
  Events &operator=(const Events &) = delete;
  ~Events() {
    for (cudaEvent_t event : events)
      cudaEventDestroy(event);
  }

  /// Records a new event on `producer` into `*event`.
  int record(cudaStream_t producer, cudaEvent_t *event) {
    if (cudaCheck(cudaEventCreateWithFlags(event, cudaEventDisableTiming),
                  "cudaEventCreateWithFlags", location))
      return 1;
    events.push_back(*event);
    return cudaCheck(cudaEventRecord(*event, producer), "cudaEventRecord",
                     location);
  }

  /// Makes `waiter` wait for everything enqueued on `producer` so far.
  int order(cudaStream_t producer, cudaStream_t waiter) {
    cudaEvent_t event;
    return record(producer, &event) || wait(waiter, event);
  }

  int wait(cudaStream_t waiter, cudaEvent_t event) {
    return cudaCheck(cudaStreamWaitEvent(waiter, event, 0),
                     "cudaStreamWaitEvent", location);
  }

private:
  const char *location;
  std::vector<cudaEvent_t> events;
};

/// The communicator of `group`: the job's for a group of every rank in rank
/// order, else one that ncclCommSplit makes from the job's at the first use
/// of the group's layout (color: the coordinates on the axes the group does
/// not span; key: the index in the group), kept for later calls. Every rank
/// runs the same program, so every rank reaches that first use at the same
/// point, as the collective split needs.
int communicator(const sp_cuda_abi::Group &group, const char *location,
                 NcclComm *out) {
  if (ready(location) != 0)
    return 1;
  if (group.world) {
    *out = comm;
    return 0;
  }
  auto it = groupComms.find(group.words);
  if (it == groupComms.end()) {
    NcclComm split = nullptr;
    NcclResult r = nccl.commSplit(comm, int(group.color), int(group.index),
                                  &split, nullptr);
    if (r != 0 || !split)
      return fail("%s: ncclCommSplit for the group laid out as %s (color "
                  "%lld, key %lld) failed: %s",
                  location, group.layout.describe().c_str(),
                  (long long)group.color, (long long)group.index,
                  r != 0 ? ncclError(r) : "no communicator");
    it = groupComms.emplace(group.words, split).first;
  }
  *out = it->second;
  return 0;
}

/// One NCCL group on the transfer stream: send `bytes` bytes to rank `to`
/// of `c` and receive as many from its rank `from`.
int exchange(NcclComm c, const void *send, int64_t to, void *receive,
             int64_t from, size_t bytes, const char *location) {
  NcclResult r = nccl.groupStart();
  if (r != 0)
    return fail("%s: ncclGroupStart failed: %s", location, ncclError(r));
  r = nccl.send(send, bytes, ncclInt8, int(to), c, commStream);
  if (r != 0) {
    nccl.groupEnd();
    return fail("%s: ncclSend to rank %lld failed: %s", location, (long long)to,
                ncclError(r));
  }
  r = nccl.recv(receive, bytes, ncclInt8, int(from), c, commStream);
  if (r != 0) {
    nccl.groupEnd();
    return fail("%s: ncclRecv from rank %lld failed: %s", location,
                (long long)from, ncclError(r));
  }
  if ((r = nccl.groupEnd()) != 0)
    return fail("%s: ncclGroupEnd (send to rank %lld, receive from rank %lld) "
                "failed: %s",
                location, (long long)to, (long long)from, ncclError(r));
  return 0;
}

/// ready() (with `init`: the plain matmul needs no NCCL), then cuBLASLt:
/// loaded, a handle, the workspace.
int blasReady(const char *location, int (*init)() = sp_cuda_rt_init) {
  if (ready(location, init) != 0)
    return 1;
  if (ltHandle)
    return 0;
  if (sp_cuda_rt_load_cublaslt(nullptr) != 0) {
    std::string why = lastError;
    return fail("%s: %s", location, why.c_str());
  }
  cublasLtHandle_t handle = nullptr;
  cublasStatus_t status = cublasLt.cublasLtCreate(&handle);
  if (status != CUBLAS_STATUS_SUCCESS)
    return fail("%s: cublasLtCreate failed: %s (%s)", location,
                cublasLt.cublasLtGetStatusName(status),
                cublasLt.cublasLtGetStatusString(status));
  if (cudaCheck(cudaMallocAsync(&ltWorkspace, kLtWorkspaceBytes, stream),
                "cudaMallocAsync (cuBLASLt workspace)", location)) {
    cublasLt.cublasLtDestroy(handle);
    ltWorkspace = nullptr;
    return 1;
  }
  ltHandle = handle;
  return 0;
}

/// The GEMM of a collective matmul call, as sp_cublaslt::GemmSpec.
sp_cublaslt::GemmSpec gemmSpec(const sp_cuda_abi::CollectiveMatmulCall &c,
                               int64_t rows, unsigned alignment) {
  static_assert(int(sp_cublaslt::OpE4M3FNUZ) == sp_cuda_abi::GemmF8E4M3FNUZ &&
                    int(sp_cublaslt::OpE4M3FN) == sp_cuda_abi::GemmF8E4M3FN &&
                    int(sp_cublaslt::OpBF16) == sp_cuda_abi::GemmBF16 &&
                    int(sp_cublaslt::OpF16) == sp_cuda_abi::GemmF16 &&
                    int(sp_cublaslt::OpF32) == sp_cuda_abi::GemmF32 &&
                    int(sp_cublaslt::OutBF16) == sp_cuda_abi::BF16 &&
                    int(sp_cublaslt::OutF16) == sp_cuda_abi::F16 &&
                    int(sp_cublaslt::OutF32) == sp_cuda_abi::F32,
                "CublasLtGemm.h's type codes are CompiledABI.h's");
  sp_cublaslt::GemmSpec spec;
  spec.operand = c.inType;
  spec.output = c.outType;
  if (c.scaled) {
    spec.lhsScale = c.lhsScale;
    spec.rhsScale = c.rhsScale;
  }
  spec.rows = rows;
  spec.k = c.k;
  spec.n = c.n;
  spec.alignment = alignment;
  return spec;
}

/// What cuBLASLt cannot compute, reported before any transfer starts (every
/// rank fails the same way, so none waits for a peer).
int checkGemm(const sp_cuda_abi::CollectiveMatmulCall &c, int64_t rows,
              unsigned alignment, const char *location) {
  std::string why = sp_cublaslt::unsupported(gemmSpec(c, rows, alignment));
  return why.empty() ? 0 : fail("%s: %s", location, why.c_str());
}

/// The alignment of every address base + i * stride.
unsigned alignmentOf(const void *base, size_t stride) {
  unsigned a = sp_cublaslt::alignmentOf(reinterpret_cast<uintptr_t>(base));
  unsigned b = sp_cublaslt::alignmentOf(stride);
  return a < b ? a : b;
}

/// The chunk GEMMs of one call, out[rows][n] = lhs[rows][k] x rhs, on the
/// compute stream: the rhs transposed once for FP8 (cuBLASLt's TN layout),
/// and an f32 result rounded by sp_cuda_round_f32 where cuBLASLt has no
/// kernel for the output type.
class ChunkGemms {
public:
  explicit ChunkGemms(const char *location)
      : gemm(cublasLt), location(location) {}

  /// Checks the GEMM, creates its descriptors and scratch (no work is
  /// enqueued); `alignment`: of every lhs and out pointer run() will get.
  int plan(const sp_cuda_abi::CollectiveMatmulCall &c, int64_t rows,
           unsigned alignment) {
    outType = c.outType;
    count = rows * c.n;
    k = c.k;
    rhs = c.rhs;
    if (!sp_cublaslt::isFP8(c.inType)) {
      unsigned r = alignmentOf(c.rhs, 0);
      alignment = r < alignment ? r : alignment;
    }
    if (checkGemm(c, rows, alignment, location))
      return 1;
    std::string why = gemm.plan(ltHandle, gemmSpec(c, rows, alignment),
                                ltWorkspace, kLtWorkspaceBytes);
    if (!why.empty())
      return fail("%s: %s", location, why.c_str());
    if (gemm.empty())
      return 0;
    if (gemm.transposedRhs()) {
      if (cudaCheck(
              cudaMallocAsync(&transposed.pointer, size_t(c.k * c.n), stream),
              "cudaMallocAsync", location))
        return 1;
      rhs = transposed.pointer;
    }
    if (gemm.dOutput() != outType &&
        cudaCheck(cudaMallocAsync(&f32.pointer, size_t(count) * sizeof(float),
                                  stream),
                  "cudaMallocAsync", location))
      return 1;
    return 0;
  }

  /// Enqueues what the GEMMs need first: FP8 needs rhs as [n][k], one
  /// transposition per call (k * n bytes read and written; weights stored
  /// transposed would avoid it).
  int prepare(const sp_cuda_abi::CollectiveMatmulCall &c) {
    if (!transposed.pointer)
      return 0;
    return cudaCheck(
        static_cast<cudaError_t>(sp_cuda_transpose_bytes(
            static_cast<uint8_t *>(transposed.pointer),
            static_cast<const uint8_t *>(c.rhs), c.k, c.n, stream)),
        "the transpose kernel launch", location);
  }

  /// Enqueues out = lhsRows x rhs for the planned number of rows, or
  /// out = init + lhsRows x rhs (the plain matmul's init, of out's type;
  /// planned with its alignment).
  int run(const void *lhsRows, void *out, const void *init = nullptr) {
    if (count == 0)
      return 0;
    size_t bytes = size_t(count) * sp_cuda_abi::elementBytes(outType);
    if (k == 0 && init) // an empty sum: the init
      return init == out ? 0
                         : cudaCheck(cudaMemcpyAsync(out, init, bytes,
                                                     cudaMemcpyDeviceToDevice,
                                                     stream),
                                     "cudaMemcpyAsync", location);
    if (k == 0) // an empty sum: +0
      return cudaCheck(cudaMemsetAsync(out, 0, bytes, stream),
                       "cudaMemsetAsync", location);
    void *d = f32.pointer ? f32.pointer : out;
    // cuBLASLt adds C (beta 1) only in D's type: with an f32 D the init is
    // added after the rounding, below.
    std::string why =
        gemm.run(rhs, lhsRows, d, stream, f32.pointer ? nullptr : init);
    if (!why.empty())
      return fail("%s: %s", location, why.c_str());
    if (!f32.pointer)
      return 0;
    if (!init)
      return cudaCheck(static_cast<cudaError_t>(sp_cuda_round_f32(
                           outType, out,
                           static_cast<const float *>(f32.pointer), count,
                           stream)),
                       "the rounding kernel launch", location);
    // out = T(init + T(product)) in f32 (two roundings): [init][product]
    // summed by the partial sums kernel.
    if (cudaCheck(cudaMallocAsync(&sums.pointer, 2 * bytes, stream),
                  "cudaMallocAsync", location) ||
        cudaCheck(cudaMemcpyAsync(sums.pointer, init, bytes,
                                  cudaMemcpyDeviceToDevice, stream),
                  "cudaMemcpyAsync", location) ||
        cudaCheck(static_cast<cudaError_t>(sp_cuda_round_f32(
                      outType, static_cast<char *>(sums.pointer) + bytes,
                      static_cast<const float *>(f32.pointer), count, stream)),
                  "the rounding kernel launch", location) ||
        cudaCheck(static_cast<cudaError_t>(sp_cuda_sum_partials(
                      outType, out, sums.pointer, 2, count, stream)),
                  "the partial sums kernel launch", location))
      return 1;
    return 0;
  }

private:
  sp_cublaslt::Gemm<CublasLtApi> gemm;
  const char *location;
  Scratch transposed, f32, sums;
  const void *rhs = nullptr;
  int outType = sp_cuda_abi::F32;
  int64_t count = 0, k = 0;
};

/// Stages the operands of a collective matmul call (see Staging).
int stageGemm(Staging &staging, sp_cuda_abi::CollectiveMatmulCall &c,
              size_t lhsBytes, size_t gatheredBytes, size_t outBytes) {
  size_t width = sp_cuda_abi::gemmInputBytes(c.inType);
  const void *lhsScale = c.lhsScale, *rhsScale = c.rhsScale;
  if (staging.input(c.lhs, lhsBytes) ||
      staging.input(c.rhs, size_t(c.k * c.n) * width) ||
      (c.scaled && (staging.input(lhsScale, sizeof(float)) ||
                    staging.input(rhsScale, sizeof(float)))) ||
      (c.gathered && staging.output(c.gathered, gatheredBytes)) ||
      staging.output(c.out, outBytes))
    return 1;
  c.lhsScale = static_cast<const float *>(lhsScale);
  c.rhsScale = static_cast<const float *>(rhsScale);
  return 0;
}

/// A started sp.ring_shift: the copy of its input that is sent, where it is
/// received, and the event after which `out` (or `received`) holds it.
struct PendingShift {
  void *sent = nullptr;
  void *received = nullptr; // runtime-owned when `out` is host memory
  void *hostOut = nullptr;  // then: where the data goes at the wait
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};

class GpuBackend final : public sp_cuda_abi::Backend {
public:
  int64_t rank() override { return envRank(); }
  int64_t worldSize() override { return envWorldSize(); }
  const char *lastError() override { return sp_cuda_rt_last_error(); }

  int allReduce(const sp_cuda_abi::Group &group, const void *in, void *out,
                int64_t count, int dtype, int reduction,
                const char *location) override {
    size_t bytes = size_t(count) * sp_cuda_abi::elementBytes(dtype);
    NcclComm c = nullptr;
    if (communicator(group, location, &c) != 0)
      return 1;
    Staging staging(location);
    if (staging.input(in, bytes) || staging.output(out, bytes) ||
        allReduceOn(c, in, out, count, dtype, reduction, location))
      return 1;
    return staging.finish("sp.all_reduce");
  }

  int reduceScatter(const sp_cuda_abi::Group &group, const void *in,
                    void *out, int64_t outer, int64_t chunk, int dtype,
                    int reduction, const char *location) override {
    int64_t size = group.size;
    size_t width = sp_cuda_abi::elementBytes(dtype);
    size_t rowBytes = size_t(chunk) * width;
    NcclComm c = nullptr;
    if (communicator(group, location, &c) != 0)
      return 1;
    Staging staging(location);
    if (staging.input(in, rowBytes * size * outer) ||
        staging.output(out, rowBytes * outer))
      return 1;
    // NCCL scatters contiguous blocks: bring rank r's [outer][chunk] slice
    // of the [outer][size][chunk] input together first.
    Scratch packed;
    const void *source = in;
    if (outer > 1 && size > 1) {
      if (cudaCheck(cudaMallocAsync(&packed.pointer, rowBytes * size * outer,
                                    stream),
                    "cudaMallocAsync", location))
        return 1;
      for (int64_t r = 0; r < size; ++r)
        if (cudaCheck(cudaMemcpy2DAsync(
                          static_cast<char *>(packed.pointer) +
                              r * outer * rowBytes,
                          rowBytes,
                          static_cast<const char *>(in) + r * rowBytes,
                          rowBytes * size, rowBytes, outer,
                          cudaMemcpyDeviceToDevice, stream),
                      "cudaMemcpy2DAsync", location))
          return 1;
      source = packed.pointer;
    }
    if (reduceScatterOn(c, source, out, outer * chunk, dtype, reduction,
                        location))
      return 1;
    return staging.finish("sp.reduce_scatter");
  }

  int allGather(const sp_cuda_abi::Group &group, const void *in, void *out,
                int64_t outer, int64_t chunkBytes,
                const char *location) override {
    int64_t size = group.size;
    size_t rowBytes = size_t(chunkBytes);
    NcclComm c = nullptr;
    if (communicator(group, location, &c) != 0)
      return 1;
    Staging staging(location);
    if (staging.input(in, rowBytes * outer) ||
        staging.output(out, rowBytes * size * outer))
      return 1;
    if (outer == 1 || size == 1) {
      if (allGatherOn(c, in, out, outer * chunkBytes, 3, location))
        return 1;
      return staging.finish("sp.all_gather");
    }
    // NCCL gathers into [size][outer][chunk]; sp wants [outer][size][chunk].
    Scratch gathered;
    if (cudaCheck(cudaMallocAsync(&gathered.pointer, rowBytes * size * outer,
                                  stream),
                  "cudaMallocAsync", location) ||
        allGatherOn(c, in, gathered.pointer, outer * chunkBytes, 3, location))
      return 1;
    for (int64_t r = 0; r < size; ++r)
      if (cudaCheck(cudaMemcpy2DAsync(
                        static_cast<char *>(out) + r * rowBytes,
                        rowBytes * size,
                        static_cast<const char *>(gathered.pointer) +
                            r * outer * rowBytes,
                        rowBytes, rowBytes, outer, cudaMemcpyDeviceToDevice,
                        stream),
                    "cudaMemcpy2DAsync", location))
        return 1;
    return staging.finish("sp.all_gather");
  }

  int synchronize(const char *) override { return sp_cuda_rt_synchronize(); }

  int deviceAllocate(int64_t bytes, void **pointer,
                     const char *location) override {
    *pointer = nullptr;
    if (ready(location, sp_cuda_rt_init_device) != 0)
      return 1;
    if (bytes <= 0)
      return 0;
    return cudaCheck(cudaMallocAsync(pointer, size_t(bytes), stream),
                     "cudaMallocAsync (a device-resident buffer)", location);
  }

  int deviceFree(void *pointer, const char *location) override {
    return pointer ? cudaCheck(cudaFreeAsync(pointer, stream), "cudaFreeAsync",
                               location)
                   : 0;
  }

  int argumentToDevice(const void *pointer, int64_t bytes, void **device,
                       const char *location) override {
    *device = const_cast<void *>(pointer);
    if (ready(location, sp_cuda_rt_init_device) != 0)
      return 1;
    if (!pointer || bytes <= 0)
      return 0;
    void *address = nullptr;
    if (memoryOf(pointer, &address) != Memory::Host) {
      *device = address; // the embedder's device (or managed, mapped) memory
      return 0;
    }
    void *copy = nullptr;
    if (cudaCheck(cudaMallocAsync(&copy, size_t(bytes), stream),
                  "cudaMallocAsync (an argument's device copy)", location))
      return 1;
    argumentCopies.insert(copy);
    *device = copy;
    return cudaCheck(cudaMemcpyAsync(copy, pointer, size_t(bytes),
                                     cudaMemcpyHostToDevice, stream),
                     "cudaMemcpyAsync (an argument to the device)", location);
  }

  int argumentRelease(const void *, void *device,
                      const char *location) override {
    if (!argumentCopies.erase(device))
      return 0; // used in place
    return cudaCheck(cudaFreeAsync(device, stream), "cudaFreeAsync", location);
  }

  int resultToHost(void *host, const void *device, int64_t bytes,
                   const char *location) override {
    if (bytes <= 0)
      return 0;
    if (cudaCheck(cudaMemcpyAsync(host, device, size_t(bytes),
                                  cudaMemcpyDeviceToHost, stream),
                  "cudaMemcpyAsync (a result to the host)", location))
      return 1;
    return remember(location); // the function's exit waits for it
  }

  // Kernels of gpu.binary ops (sp-lower-to-cuda's upstream GPU path): the
  // binary is loaded at the first launch, not at the module's constructor,
  // so that a machine without a GPU fails at a located call.
  struct Module {
    const void *data = nullptr;
    cudaLibrary_t library = nullptr;
    std::map<std::string, cudaKernel_t> kernels;
  };

  int loadModule(const void *data, size_t, void **module,
                 const char *) override {
    *module = new Module{data, nullptr, {}};
    return 0;
  }

  int unloadModule(void *handle) override {
    auto *module = static_cast<Module *>(handle);
    cudaError_t status =
        module->library ? cudaLibraryUnload(module->library) : cudaSuccess;
    delete module;
    return cudaCheck(status, "cudaLibraryUnload", "unloading a gpu.binary");
  }

  int kernelOf(void *handle, const char *name, void **kernel,
               const char *location) override {
    if (ready(location, sp_cuda_rt_init_device) != 0)
      return 1;
    auto *module = static_cast<Module *>(handle);
    if (!module->library &&
        cudaCheck(cudaLibraryLoadData(&module->library, module->data, nullptr,
                                      nullptr, 0, nullptr, nullptr, 0),
                  "cudaLibraryLoadData (the gpu.binary of this launch)",
                  location))
      return 1;
    auto found = module->kernels.find(name);
    if (found == module->kernels.end()) {
      cudaKernel_t loaded = nullptr;
      if (cudaCheck(cudaLibraryGetKernel(&loaded, module->library, name),
                    "cudaLibraryGetKernel", location))
        return 1;
      found = module->kernels.emplace(name, loaded).first;
    }
    *kernel = found->second;
    return 0;
  }

  /// Enqueued on the runtime's stream, like every call; the twin is for
  /// runtimes without a GPU.
  int launchKernel(void *kernel, const int64_t grid[3], const int64_t block[3],
                   unsigned sharedBytes, void **params,
                   const sp_cuda_abi::KernelTwin &twin) override {
    const char *location = twin.location;
    // sp-cuda-map-kernels only outlines loops whose buffers live on the
    // device; a host pointer here would fault on the GPU and poison the
    // context, so it is reported at the launch instead (the twin says which
    // arguments are pointers; without one nothing is checked).
    for (int64_t i = 0; i < twin.count; ++i) {
      void *pointer = nullptr;
      if (!(twin.kinds[i] & sp_cuda_abi::kTwinPointer) ||
          (std::memcpy(&pointer, params[i], sizeof(pointer)), !pointer))
        continue;
      void *device = nullptr;
      if (memoryOf(pointer, &device) == Memory::Host ||
          (device && device != pointer))
        return fail("%s: argument %lld of the kernel is host memory, which "
                    "the GPU cannot address",
                    location, static_cast<long long>(i));
    }
    if (cudaCheck(cudaLaunchKernel(static_cast<const void *>(kernel),
                                   dim3(unsigned(grid[0]), unsigned(grid[1]),
                                        unsigned(grid[2])),
                                   dim3(unsigned(block[0]), unsigned(block[1]),
                                        unsigned(block[2])),
                                   params, sharedBytes, stream),
                  "cudaLaunchKernel", location))
      return 1;
    return explicitSync() ? remember(location) : waitFor("the kernel", location);
  }

  int norm(const sp_cuda_abi::NormCall &call, const char *location) override {
    if (ready(location, sp_cuda_rt_init_device) != 0)
      return 1;
    size_t activation = size_t(call.rows * call.hidden) * sp_cuda_abi::elementBytes(call.dtype);
    size_t weight = size_t(call.hidden) * sp_cuda_abi::elementBytes(call.dtype);
    sp_cuda_abi::NormCall c = call;
    Staging staging(location);
    const void *scale = c.scale;
    void *q = c.q;
    if (staging.input(c.x, activation) || staging.input(c.weight, weight) ||
        (c.fused && staging.input(c.residual, activation)) ||
        (c.fused && staging.output(c.residualOut, activation)) ||
        (c.quant && staging.input(scale, sizeof(float))) ||
        (c.quant && staging.output(q, size_t(call.rows * call.hidden))) ||
        (!c.quant && staging.output(c.out, activation)))
      return 1;
    c.scale = static_cast<const float *>(scale);
    c.q = static_cast<uint8_t *>(q);
    int status;
    if (c.quant && c.fused)
      status = sp_cuda_fused_add_rms_norm_quant(
          c.dtype, c.fp8, c.q, c.residualOut, c.x, c.residual, c.weight,
          c.scale, c.rows, c.hidden, c.epsilon, stream);
    else if (c.quant)
      status = sp_cuda_rms_norm_quant(c.dtype, c.fp8, c.q, c.x, c.weight,
                                      c.scale, c.rows, c.hidden, c.epsilon,
                                      stream);
    else if (c.fused)
      status = sp_cuda_fused_add_rms_norm(c.dtype, c.out, c.residualOut, c.x,
                                          c.residual, c.weight, c.rows,
                                          c.hidden, c.epsilon, stream);
    else
      status = sp_cuda_rms_norm(c.dtype, c.out, c.x, c.weight, c.rows,
                                c.hidden, c.epsilon, stream);
    if (cudaCheck(static_cast<cudaError_t>(status), "the kernel launch",
                  location))
      return 1;
    return staging.finish("the norm kernel");
  }

  int quant(int dtype, int fp8, uint8_t *q, const void *x, const float *scale,
            int64_t count, const char *location) override {
    if (ready(location, sp_cuda_rt_init_device) != 0)
      return 1;
    Staging staging(location);
    const void *s = scale;
    void *out = q;
    if (staging.input(x, size_t(count) * sp_cuda_abi::elementBytes(dtype)) ||
        staging.input(s, sizeof(float)) ||
        staging.output(out, size_t(count)))
      return 1;
    int status = sp_cuda_quant(dtype, fp8, static_cast<uint8_t *>(out), x,
                               static_cast<const float *>(s), count, stream);
    if (cudaCheck(static_cast<cudaError_t>(status), "the kernel launch",
                  location))
      return 1;
    return staging.finish("the quant kernel");
  }

  int allGatherMatmul(const sp_cuda_abi::Group &group,
                      const sp_cuda_abi::CollectiveMatmulCall &call,
                      const char *location) override {
    int64_t ranks = group.size, self = group.index;
    NcclComm peers = nullptr;
    if (checkGemm(call, call.m, 256, location) || blasReady(location) ||
        communicator(group, location, &peers))
      return 1;
    size_t inChunk =
        size_t(call.m * call.k) * sp_cuda_abi::gemmInputBytes(call.inType);
    size_t outChunk =
        size_t(call.m * call.n) * sp_cuda_abi::elementBytes(call.outType);
    sp_cuda_abi::CollectiveMatmulCall c = call;
    Staging staging(location);
    if (stageGemm(staging, c, inChunk, inChunk * ranks, outChunk * ranks))
      return 1;
    char *gathered = static_cast<char *>(c.gathered);
    char *out = static_cast<char *>(c.out);
    unsigned alignment =
        std::min(alignmentOf(gathered, inChunk), alignmentOf(out, outChunk));
    ChunkGemms gemms(location);
    if (gemms.plan(c, c.m, alignment))
      return 1;
    if (inChunk > 0 &&
        cudaCheck(cudaMemcpyAsync(gathered + self * inChunk, c.lhs, inChunk,
                                  cudaMemcpyDeviceToDevice, stream),
                  "cudaMemcpyAsync", location))
      return 1;
    // Step t sends this rank's rows to rank r+t+1 and receives those of rank
    // r-t-1, which the GEMM of step t+1 multiplies: each transfer overlaps
    // the GEMM of the chunk before it.
    Events events(location);
    bool transfers = ranks > 1 && inChunk > 0;
    std::vector<cudaEvent_t> received(transfers ? size_t(ranks - 1) : 0);
    if (transfers && events.order(stream, commStream)) // lhs is ready
      return 1;
    for (int64_t t = 0; transfers && t + 1 < ranks; ++t) {
      int64_t to = (self + t + 1) % ranks,
              from = (self - t - 1 + ranks) % ranks;
      if (exchange(peers, c.lhs, to, gathered + from * inChunk, from, inChunk,
                   location) ||
          events.record(commStream, &received[t]))
        return 1;
    }
    if (gemms.prepare(c))
      return 1;
    for (int64_t s = 0; s < ranks; ++s) {
      int64_t chunk = (self - s + ranks) % ranks;
      if ((transfers && s > 0 && events.wait(stream, received[s - 1])) ||
          gemms.run(gathered + chunk * inChunk, out + chunk * outChunk))
        return 1;
    }
    // The compute stream has waited for the last transfer: nothing on the
    // transfer stream outlives the (staged) buffers.
    return staging.finish("sp.all_gather_matmul");
  }

  int matmulReduceScatter(const sp_cuda_abi::Group &group,
                          const sp_cuda_abi::CollectiveMatmulCall &call,
                          const char *location) override {
    int64_t ranks = group.size, self = group.index;
    int64_t rows = call.m / ranks;
    NcclComm peers = nullptr;
    if (checkGemm(call, rows, 256, location) || blasReady(location) ||
        communicator(group, location, &peers))
      return 1;
    size_t inChunk =
        size_t(rows * call.k) * sp_cuda_abi::gemmInputBytes(call.inType);
    size_t part =
        size_t(rows * call.n) * sp_cuda_abi::elementBytes(call.outType);
    if (part == 0) // nothing to compute or send
      return 0;
    sp_cuda_abi::CollectiveMatmulCall c = call;
    Staging staging(location);
    if (stageGemm(staging, c, inChunk * ranks, 0, part))
      return 1;
    const char *lhs = static_cast<const char *>(c.lhs);
    // sent[s]: the partial sum for rank r+s+1's rows; partials[j]: rank j's
    // partial sum of this rank's rows (this rank's own at j = r).
    Scratch sent, partials;
    if ((ranks > 1 &&
         cudaCheck(cudaMallocAsync(&sent.pointer, part * (ranks - 1), stream),
                   "cudaMallocAsync", location)) ||
        cudaCheck(cudaMallocAsync(&partials.pointer, part * ranks, stream),
                  "cudaMallocAsync", location))
      return 1;
    char *sending = static_cast<char *>(sent.pointer);
    char *receiving = static_cast<char *>(partials.pointer);
    unsigned alignment = alignmentOf(lhs, inChunk);
    alignment = std::min(alignment, alignmentOf(receiving, part));
    if (ranks > 1)
      alignment = std::min(alignment, alignmentOf(sending, part));
    ChunkGemms gemms(location);
    if (gemms.plan(c, rows, alignment) || gemms.prepare(c))
      return 1;
    // Step s computes the partial sum for rank r+s+1 and sends it while the
    // GEMM of step s+1 runs; this rank's own partial comes last.
    Events events(location);
    for (int64_t s = 0; s + 1 < ranks; ++s) {
      int64_t to = (self + s + 1) % ranks,
              from = (self - s - 1 + ranks) % ranks;
      if (gemms.run(lhs + to * inChunk, sending + s * part) ||
          events.order(stream, commStream) ||
          exchange(peers, sending + s * part, to, receiving + from * part, from,
                   part, location))
        return 1;
    }
    if (gemms.run(lhs + self * inChunk, receiving + self * part) ||
        (ranks > 1 && events.order(commStream, stream)))
      return 1;
    // In rank order, in f32, one rounding: the CPU path's reduce_scatter.
    if (cudaCheck(static_cast<cudaError_t>(sp_cuda_sum_partials(
                      c.outType, c.out, receiving, ranks, rows * c.n, stream)),
                  "the partial sums kernel launch", location))
      return 1;
    return staging.finish("sp.matmul_reduce_scatter");
  }

  /// linalg.matmul: one cuBLASLt GEMM on the stream (beta 1 with an init),
  /// no NCCL.
  int matmul(const sp_cuda_abi::MatmulCall &call,
             const char *location) override {
    sp_cuda_abi::CollectiveMatmulCall c = call.asGemm();
    if (checkGemm(c, c.m, 256, location) ||
        blasReady(location, sp_cuda_rt_init_device))
      return 1;
    size_t outBytes =
        size_t(c.m * c.n) * sp_cuda_abi::elementBytes(c.outType);
    if (outBytes == 0)
      return 0;
    Staging staging(location);
    const void *init = call.init;
    if (stageGemm(staging, c,
                  size_t(c.m * c.k) * sp_cuda_abi::gemmInputBytes(c.inType), 0,
                  outBytes) ||
        (init && staging.input(init, outBytes)))
      return 1;
    unsigned alignment = std::min(alignmentOf(c.lhs, 0), alignmentOf(c.out, 0));
    if (init)
      alignment = std::min(alignment, alignmentOf(init, 0));
    ChunkGemms gemm(location);
    if (gemm.plan(c, c.m, alignment) || gemm.prepare(c) ||
        gemm.run(c.lhs, c.out, init))
      return 1;
    return staging.finish("linalg.matmul");
  }

  int ringShiftStart(const sp_cuda_abi::Group &group, const void *in,
                     void *out, int64_t bytes, int64_t offset, int64_t *handle,
                     const char *location) override {
    NcclComm peers = nullptr;
    if (communicator(group, location, &peers) != 0)
      return 1;
    int64_t ranks = group.size, self = group.index;
    int64_t step = ((offset % ranks) + ranks) % ranks;
    PendingShift shift;
    shift.bytes = size_t(bytes);
    void *target = out;
    if (bytes > 0) {
      // The caller may reuse `in` as soon as this returns: send a copy,
      // taken before returning when the host can write `in`.
      void *inDevice = nullptr, *outDevice = nullptr;
      Memory inMemory = memoryOf(in, &inDevice);
      if (cudaCheck(cudaMallocAsync(&shift.sent, shift.bytes, stream),
                    "cudaMallocAsync", location) ||
          cudaCheck(cudaMemcpyAsync(shift.sent, inDevice ? inDevice : in,
                                    shift.bytes,
                                    inDevice ? cudaMemcpyDeviceToDevice
                                             : cudaMemcpyHostToDevice,
                                    stream),
                    "cudaMemcpyAsync", location) ||
          (inMemory != Memory::Device && waitFor("sp.ring_shift", location)))
        return 1;
      if (memoryOf(out, &outDevice) == Memory::Host) {
        if (cudaCheck(cudaMallocAsync(&shift.received, shift.bytes, stream),
                      "cudaMallocAsync", location))
          return 1;
        shift.hostOut = out;
        target = shift.received;
      } else {
        target = outDevice;
      }
    }
    if (cudaCheck(cudaEventCreateWithFlags(&shift.done, cudaEventDisableTiming),
                  "cudaEventCreateWithFlags", location))
      return 1;
    if (step == 0) { // to itself: a copy
      if ((bytes > 0 &&
           cudaCheck(cudaMemcpyAsync(target, shift.sent, shift.bytes,
                                     cudaMemcpyDeviceToDevice, stream),
                     "cudaMemcpyAsync", location)) ||
          cudaCheck(cudaEventRecord(shift.done, stream), "cudaEventRecord",
                    location))
        return 1;
    } else {
      Events events(location);
      if ((bytes > 0 &&
           (events.order(stream, commStream) ||
            exchange(peers, shift.sent, (self + step) % ranks, target,
                     (self - step + ranks) % ranks, shift.bytes, location))) ||
          cudaCheck(cudaEventRecord(shift.done, commStream), "cudaEventRecord",
                    location))
        return 1;
    }
    *handle = nextShift++;
    shifts[*handle] = shift;
    return 0;
  }

  int ringShiftWait(int64_t handle, const char *location) override {
    auto it = shifts.find(handle);
    if (it == shifts.end())
      return fail("%s: wait for an unknown or finished sp.ring_shift (handle "
                  "%lld)",
                  location, (long long)handle);
    PendingShift shift = it->second;
    shifts.erase(it);
    int status =
        cudaCheck(cudaStreamWaitEvent(stream, shift.done, 0),
                  "cudaStreamWaitEvent", location) ||
        (shift.hostOut &&
         cudaCheck(cudaMemcpyAsync(shift.hostOut, shift.received, shift.bytes,
                                   cudaMemcpyDeviceToHost, stream),
                   "cudaMemcpyAsync", location));
    cudaEventDestroy(shift.done);
    // Freed in stream order, after the transfer (waited for above).
    for (void *buffer : {shift.sent, shift.received})
      if (buffer)
        cudaFreeAsync(buffer, stream);
    return status ? status : waitFor("sp.ring_shift", location);
  }

private:
  /// The device copies argumentToDevice made, until argumentRelease.
  std::set<void *> argumentCopies;
  /// Started shifts by handle (1, 2, ...), each waited for once.
  std::map<int64_t, PendingShift> shifts;
  int64_t nextShift = 1;
};

} // namespace

sp_cuda_abi::Backend &sp_cuda_abi::backend() {
  static GpuBackend gpu;
  return gpu;
}
