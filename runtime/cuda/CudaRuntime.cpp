//===- CudaRuntime.cpp - sp's CUDA runtime: NCCL collectives --------------===//
//
// See CudaRuntime.h. NCCL's C API is declared here by hand (the few types
// and functions sp uses, with NCCL 2.x's ABI) so that building needs no NCCL
// headers and running needs NCCL only when a collective is used.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "CompiledABI.h"
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
#include <vector>
#include <unistd.h>

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

int envRank() { return envInt("SP_RANK", "OMPI_COMM_WORLD_RANK", 0); }
int envWorldSize() { return envInt("SP_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", 1); }

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

/// Checks the status of an enqueued NCCL call and waits for it.
int complete(NcclResult r, const char *call, const char *op,
             const char *location) {
  if (r != 0)
    return fail("%s: %s failed: %s", location, call, ncclError(r));
  return waitFor(op, location);
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

//===----------------------------------------------------------------------===//
// The backend of compiled code (CompiledABI.h)
//===----------------------------------------------------------------------===//

namespace {

int cudaCheck(cudaError_t status, const char *call, const char *location) {
  if (status == cudaSuccess)
    return 0;
  return fail("%s: %s failed: %s", location, call, cudaGetErrorString(status));
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

  /// Copies outputs back and waits for everything enqueued.
  int finish(const char *what) {
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
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
      (void)cudaGetLastError(); // clear: an unknown pointer is host memory
      attributes.type = cudaMemoryTypeUnregistered;
    }
    if (attributes.type == cudaMemoryTypeDevice ||
        attributes.type == cudaMemoryTypeManaged)
      return 0;
    if (attributes.type == cudaMemoryTypeHost && attributes.devicePointer) {
      pointer = attributes.devicePointer;
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
};

/// Device scratch memory for one call.
struct Scratch {
  void *pointer = nullptr;
  ~Scratch() {
    if (pointer)
      cudaFreeAsync(pointer, stream);
  }
};

class GpuBackend final : public sp_cuda_abi::Backend {
public:
  int rank() override { return envRank(); }
  int worldSize() override { return envWorldSize(); }
  const char *lastError() override { return sp_cuda_rt_last_error(); }

  int allReduce(const void *in, void *out, int64_t count, int dtype,
                int reduction, const char *location) override {
    size_t bytes = size_t(count) * sp_cuda_abi::elementBytes(dtype);
    if (ready(location) != 0)
      return 1;
    Staging staging(location);
    if (staging.input(in, bytes) || staging.output(out, bytes) ||
        sp_cuda_rt_all_reduce(in, out, count, dtype, reduction, location))
      return 1;
    return staging.finish("sp.all_reduce");
  }

  int reduceScatter(const void *in, void *out, int64_t outer, int64_t chunk,
                    int dtype, int reduction, const char *location) override {
    int64_t size = worldSize();
    size_t width = sp_cuda_abi::elementBytes(dtype);
    size_t rowBytes = size_t(chunk) * width;
    if (ready(location) != 0)
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
    if (sp_cuda_rt_reduce_scatter(source, out, outer * chunk, dtype,
                                  reduction, location))
      return 1;
    return staging.finish("sp.reduce_scatter");
  }

  int allGather(const void *in, void *out, int64_t outer, int64_t chunkBytes,
                const char *location) override {
    int64_t size = worldSize();
    size_t rowBytes = size_t(chunkBytes);
    if (ready(location) != 0)
      return 1;
    Staging staging(location);
    if (staging.input(in, rowBytes * outer) ||
        staging.output(out, rowBytes * size * outer))
      return 1;
    if (outer == 1 || size == 1) {
      if (sp_cuda_rt_all_gather(in, out, outer * chunkBytes, 3, location))
        return 1;
      return staging.finish("sp.all_gather");
    }
    // NCCL gathers into [size][outer][chunk]; sp wants [outer][size][chunk].
    Scratch gathered;
    if (cudaCheck(cudaMallocAsync(&gathered.pointer, rowBytes * size * outer,
                                  stream),
                  "cudaMallocAsync", location) ||
        sp_cuda_rt_all_gather(in, gathered.pointer, outer * chunkBytes, 3,
                              location))
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
};

} // namespace

sp_cuda_abi::Backend &sp_cuda_abi::backend() {
  static GpuBackend gpu;
  return gpu;
}
