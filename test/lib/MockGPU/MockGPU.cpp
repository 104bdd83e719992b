//===- MockGPU.cpp - CUDA runtime, kernels and NCCL, on the host ----------===//
//
// libsp_cuda_runtime_mockgpu.so is the real GPU runtime
// (runtime/cuda/CudaRuntime.cpp + CompiledABI.cpp, unchanged) linked with
// this file and MockCublasLt.cpp instead of libcudart, libsp_cuda_kernels,
// NCCL and cuBLASLt. It lets CI run the GPU backend's own logic without a
// GPU: device selection, the staging of host memory, the packing of
// collectives along inner dims with cudaMemcpy2DAsync, the NCCL calls'
// counts, types, ops and peers, the unique-id exchange (MPI broadcast or
// the id file; every rank must pass rank 0's random id),
// the ordering of the two streams with events, the cuBLASLt descriptors,
// waiting on the streams, and the error paths.
//
// "Device" memory is host memory from cudaMallocAsync, remembered in a
// registry; the kernels, copies, NCCL and cuBLASLt here refuse any other
// pointer (as a GPU would fault), so a buffer the runtime forgot to stage is
// caught, and so is a buffer freed (in stream order) before a stream used it.
//
// Streams are queues: every copy, kernel, NCCL call, cuBLASLt GEMM, event
// record, event wait and free is enqueued and runs only when the host waits
// (cudaStreamQuery, cudaStreamSynchronize, cudaEventQuery, ...), one
// operation at a time, in stream order, after the events it waits for. The
// scheduler runs the first stream (in creation order) that can make
// progress; SP_MOCK_STREAM_ORDER=reversed makes it prefer the last one. The
// runtime creates its compute stream first and its transfer stream second,
// so the two orders run a transfer as late / as early as its dependencies
// allow: a missing cudaStreamWaitEvent shows as a GEMM reading a chunk that
// has not arrived, a partial sent before it was computed, or a sum read
// before the partials arrived (wrong outputs), and a cycle of waits as a
// reported deadlock. NCCL calls on a communicator run in the order they
// were issued (as NCCL serializes them), each group of ncclSend/ncclRecv as
// one MPI exchange.
//
// The kernels compute with the reference numerics; NCCL's collectives are
// MPI_Allgather on the communicator's MPI communicator and the reference's
// rank-order combination (Numerics.h's combine, as the CPU runtime sums),
// its point-to-point calls MPI_Isend/MPI_Irecv on it, and ncclCommSplit is
// MPI_Comm_split;
// cuBLASLt's GEMMs accumulate in f32 in k order and round once
// (MockCublasLt.cpp). The library exports the nccl* and cublasLt* functions
// itself: point SP_NCCL_LIBRARY and SP_CUBLASLT_LIBRARY at it.
//
// Fault injection (environment): SP_MOCK_NCCL_FAIL=1 makes every NCCL
// collective and point-to-point call return an error;
// SP_MOCK_STREAM_HANG=1 makes the streams never finish (the runtime's
// timeout must fire); SP_MOCK_CUBLASLT_FAIL=1 makes cublasLtMatmul fail.
// SP_MOCK_COUNTS=1 prints, when the process exits, what the runtime asked
// of the "GPU" (`mock GPU counts (rank R): ...`): copies by direction,
// host synchronizations (a cudaStreamQuery that found its stream done,
// cudaStreamSynchronize, cudaEventSynchronize), stream-ordered allocations,
// kernel launches and NCCL calls; the baseline of issue #17's device-resident
// execution (one copy per input and output, one synchronization per call of
// the entry function). sp_mock_count("synchronizations") etc. returns one
// of them to a test in the same process.
// SP_MOCK_NCCL_FAIL_AT=rankR:callK makes the K-th NCCL collective or
// point-to-point call of rank R fail the way NCCL reports an error found
// while a collective runs (a peer or the network failed): the call returns
// ncclSuccess, the stream stops at that call (the work enqueued before it
// still runs, nothing after it), and ncclCommGetAsyncError reports
// ncclSystemError; the other ranks wait in the collective.
// SP_MOCK_PROTECT_DEVICE=1 maps device memory with no host access except
// while a stream operation runs: host code touching a device buffer dies
// with SIGSEGV, as it would with real device memory.
//
//===----------------------------------------------------------------------===//

#include "MockGPU.h"

#include "CompiledABI.h"
#include "HostKernels.h"
#include "Kernels.h"

#include <cuda_runtime_api.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//

namespace {

std::mutex registryMutex;
/// Base address -> size of every live "device" allocation.
std::map<const char *, size_t> &registry() {
  static std::map<const char *, size_t> allocations;
  return allocations;
}

/// SP_MOCK_PROTECT_DEVICE=1: device memory is mapped pages that the host
/// cannot read or write except while the mock runs an operation of a
/// stream, so host code that touches device memory (a host loop given a
/// device buffer) dies with SIGSEGV, as it would with real device memory.
bool protectDevice() {
  static const bool protect = [] {
    const char *v = std::getenv("SP_MOCK_PROTECT_DEVICE");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return protect;
}

size_t pageRounded(size_t bytes) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  return (bytes + 256 + page - 1) / page * page;
}

/// Opens (while an operation runs) or closes the host's access to every
/// live device allocation.
void setHostAccess(bool open) {
  if (!protectDevice())
    return;
  std::lock_guard<std::mutex> lock(registryMutex);
  for (auto &[base, bytes] : registry())
    mprotect(const_cast<char *>(base), pageRounded(bytes),
             open ? PROT_READ | PROT_WRITE : PROT_NONE);
}

} // namespace

bool mock::isDevice(const void *p, size_t bytes) {
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

namespace {

/// SP_MOCK_COUNTS: what the runtime asked of the GPU, printed at exit.
struct Counts {
  std::atomic<long> hostToDevice{0}, deviceToHost{0}, deviceToDevice{0},
      copies2D{0}, synchronizations{0}, allocations{0}, kernels{0}, nccl{0};
  ~Counts() {
    if (!mock::envSet("SP_MOCK_COUNTS"))
      return;
    const char *rank = std::getenv("OMPI_COMM_WORLD_RANK");
    std::fprintf(stderr,
                 "mock GPU counts (rank %s): %ld host-to-device copies, %ld "
                 "device-to-host copies, %ld device-to-device copies, %ld 2D "
                 "copies, %ld synchronizations, %ld allocations, %ld kernel "
                 "launches, %ld NCCL calls\n",
                 rank ? rank : "0", hostToDevice.load(), deviceToHost.load(),
                 deviceToDevice.load(), copies2D.load(),
                 synchronizations.load(), allocations.load(), kernels.load(),
                 nccl.load());
    std::fflush(stderr);
  }
};
Counts counts;

} // namespace

/// One of the counts, by name, for tests in the same process.
MOCK_EXPORT long sp_mock_count(const char *what) {
  std::string w = what;
  return w == "host-to-device"     ? counts.hostToDevice.load()
         : w == "device-to-host"   ? counts.deviceToHost.load()
         : w == "synchronizations" ? counts.synchronizations.load()
         : w == "allocations"      ? counts.allocations.load()
         : w == "kernels"          ? counts.kernels.load()
         : w == "nccl"             ? counts.nccl.load()
                                   : -1;
}

bool mock::asyncFailure = false;

bool mock::failsAsynchronously(cudaStream_t stream) {
  ++counts.nccl;
  static long calls = 0;
  ++calls;
  const char *v = std::getenv("SP_MOCK_NCCL_FAIL_AT");
  int rank = -1;
  long call = -1;
  if (!v || std::sscanf(v, "rank%d:call%ld", &rank, &call) != 2)
    return false;
  int initialized = 0, me = 0;
  MPI_Initialized(&initialized);
  if (initialized)
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (me != rank || calls != call)
    return false;
  std::fprintf(stderr, "mock NCCL: SP_MOCK_NCCL_FAIL_AT: rank %d's NCCL call "
                       "#%ld fails asynchronously\n",
               rank, call);
  std::fflush(stderr);
  asyncFailure = true;
  // The stream stops at the failed call: what was enqueued before it can
  // still run, nothing after it does (as a collective that never finishes).
  mock::stall(stream);
  return true;
}

bool mock::envSet(const char *name) {
  const char *v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}


void mock::fault(const char *what, const void *p) {
  std::fprintf(stderr, "mock GPU: %s was given host pointer %p (an illegal "
                       "address on a GPU)\n",
               what, p);
  std::fflush(stderr);
  std::abort();
}

void mock::need(const void *p, size_t bytes, const char *what) {
  if (p && !isDevice(p, bytes))
    fault(what, p);
}

using mock::envSet;
using mock::isDevice;
using mock::need;

//===----------------------------------------------------------------------===//
// Streams and events: queues run when the host waits
//===----------------------------------------------------------------------===//

namespace {

struct MockEvent {
  uint64_t recorded = 0;  // cudaEventRecord calls so far
  uint64_t completed = 0; // the latest record that has run
  bool destroyed = false;
};

/// A communicator's calls run in the order they were issued. `mpi` carries
/// its transfers: MPI_COMM_WORLD for ncclCommInitRank's, a communicator of
/// MPI_Comm_split for ncclCommSplit's, none for one rank without MPI.
struct MockComm {
  int rank;
  int size;
  MPI_Comm mpi = MPI_COMM_NULL;
  uint64_t issued = 0;
  uint64_t next = 0;
  bool aborted = false;
};

struct Op {
  const char *what = "";
  std::function<void()> work;
  MockEvent *waitEvent = nullptr; // runs after this record of the event
  uint64_t waitGeneration = 0;
  MockEvent *recordEvent = nullptr; // completes this record
  uint64_t recordGeneration = 0;
  MockComm *comm = nullptr; // an NCCL call: its turn on the communicator
  uint64_t ticket = 0;
  bool stalled = false; // never runs (a failed NCCL call)
};

struct MockStream {
  int id;
  std::deque<Op> ops;
};

/// Every stream, in creation order (never freed: queued work may outlive
/// cudaStreamDestroy, as on a GPU). The legacy default stream comes first
/// when used.
std::vector<MockStream *> &streams() {
  static std::vector<MockStream *> all;
  return all;
}

MockStream *newStream() {
  auto *stream = new MockStream{int(streams().size()), {}};
  streams().push_back(stream);
  return stream;
}

MockStream *streamOf(cudaStream_t handle) {
  static MockStream *legacy = nullptr;
  if (!handle) {
    if (!legacy)
      legacy = newStream();
    return legacy;
  }
  auto *stream = reinterpret_cast<MockStream *>(handle);
  for (MockStream *known : streams())
    if (known == stream)
      return stream;
  std::fprintf(stderr, "mock GPU: unknown stream %p\n",
               static_cast<void *>(handle));
  std::abort();
}

std::set<MockEvent *> &liveEvents() {
  static std::set<MockEvent *> events;
  return events;
}

MockEvent *eventOf(cudaEvent_t event) {
  auto *e = reinterpret_cast<MockEvent *>(event);
  return liveEvents().count(e) ? e : nullptr;
}

bool runnable(const Op &op) {
  if (op.stalled)
    return false;
  if (op.waitEvent && op.waitEvent->completed < op.waitGeneration)
    return false;
  return !op.comm || op.comm->aborted || op.comm->next == op.ticket;
}

/// Runs one operation: the head of the first stream (creation order, or
/// reversed) that can run. False when none can.
bool step() {
  static bool reversed = [] {
    const char *order = std::getenv("SP_MOCK_STREAM_ORDER");
    return order && std::strcmp(order, "reversed") == 0;
  }();
  std::vector<MockStream *> &all = streams();
  for (size_t i = 0; i < all.size(); ++i) {
    MockStream *stream = all[reversed ? all.size() - 1 - i : i];
    if (stream->ops.empty() || !runnable(stream->ops.front()))
      continue;
    Op op = std::move(stream->ops.front());
    stream->ops.pop_front();
    if (op.work && !(op.comm && op.comm->aborted)) {
      setHostAccess(true);
      op.work();
      setHostAccess(false);
    }
    if (op.recordEvent && op.recordEvent->completed < op.recordGeneration)
      op.recordEvent->completed = op.recordGeneration;
    if (op.comm)
      ++op.comm->next;
    return true;
  }
  return false;
}

/// Nothing can run but the host waits for something: a cycle of waits.
[[noreturn]] void deadlock(const char *waiting) {
  std::fprintf(stderr, "mock GPU: deadlock while waiting for %s:\n", waiting);
  for (MockStream *stream : streams()) {
    if (stream->ops.empty())
      continue;
    const Op &op = stream->ops.front();
    std::fprintf(stderr, "  stream %d: %s%s%s\n", stream->id, op.what,
                 op.waitEvent ? " (waits for an event not yet recorded)" : "",
                 op.comm ? " (an NCCL call out of issue order)" : "");
  }
  std::fflush(stderr);
  std::abort();
}

template <typename Done> void drain(Done done, const char *waiting) {
  while (!done())
    if (!step())
      deadlock(waiting);
}

void push(cudaStream_t stream, Op op) {
  streamOf(stream)->ops.push_back(std::move(op));
}

/// An NCCL call: stream order, and its turn among the communicator's calls.
void pushNccl(cudaStream_t stream, MockComm *comm, const char *what,
              std::function<void()> work) {
  Op op;
  op.what = what;
  op.work = std::move(work);
  op.comm = comm;
  op.ticket = comm->issued++;
  push(stream, std::move(op));
}

} // namespace

void mock::enqueue(cudaStream_t stream, const char *what,
                   std::function<void()> work) {
  Op op;
  op.what = what;
  op.work = std::move(work);
  push(stream, std::move(op));
}

using mock::enqueue;

void mock::stall(cudaStream_t stream) {
  Op op;
  op.what = "an NCCL call that failed asynchronously (never completes)";
  op.stalled = true;
  push(stream, std::move(op));
}

namespace {

size_t widthOf(int dtype) { return sp_host_kernels::widthOf(dtype); }

/// All norm kernels: the reference, row by row.
int norm(int dtype, int fp8, bool fused, bool quant, void *out, uint8_t *q,
         void *residualOut, const void *x, const void *residual,
         const void *weight, const float *scale, int64_t rows, int64_t hidden,
         float epsilon, void *stream) {
  if (rows < 0 || hidden <= 0 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  size_t activation = size_t(rows * hidden) * widthOf(dtype);
  auto check = [=] {
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
  };
  check();
  ++counts.kernels;
  enqueue(static_cast<cudaStream_t>(stream), "a norm kernel", [=] {
    check();
    sp_host_kernels::norm(dtype, fp8, fused, quant, out, q, residualOut, x,
                          residual, weight, scale, rows, hidden, epsilon);
  });
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// Kernels of gpu.binary ops (cudaLibrary*): the mock cannot run a cubin, so
// a launch runs the host twin the compiled code handed the runtime
// (sp-gpu-launch-twins; CompiledABI.h's launchingTwin), in stream order,
// after checking that every pointer argument is device memory
//===----------------------------------------------------------------------===//

namespace {
/// A loaded gpu.binary and its kernels, by name.
struct MockLibrary {
  const void *code = nullptr;
  std::map<std::string, std::unique_ptr<std::string>> kernels;
};
} // namespace

MOCK_EXPORT cudaError_t cudaLibraryLoadData(cudaLibrary_t *library,
                                            const void *code, cudaJitOption *,
                                            void **, unsigned int,
                                            cudaLibraryOption *, void **,
                                            unsigned int) {
  if (!library || !code)
    return cudaErrorInvalidValue;
  *library = reinterpret_cast<cudaLibrary_t>(new MockLibrary{code, {}});
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaLibraryUnload(cudaLibrary_t library) {
  delete reinterpret_cast<MockLibrary *>(library);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaLibraryGetKernel(cudaKernel_t *kernel,
                                             cudaLibrary_t library,
                                             const char *name) {
  auto *mock = reinterpret_cast<MockLibrary *>(library);
  if (!kernel || !mock || !name)
    return cudaErrorInvalidValue;
  std::unique_ptr<std::string> &entry = mock->kernels[name];
  if (!entry)
    entry = std::make_unique<std::string>(name);
  *kernel = reinterpret_cast<cudaKernel_t>(entry.get());
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaLaunchKernel(const void *kernel, dim3 grid,
                                         dim3 block, void **args, size_t,
                                         cudaStream_t stream) {
  const sp_cuda_abi::KernelTwin *twin = sp_cuda_abi::launchingTwin();
  if (!kernel || !twin || !twin->run)
    return cudaErrorInvalidDeviceFunction;
  if (grid.x * grid.y * grid.z == 0 || block.x * block.y * block.z == 0 ||
      block.x * block.y * block.z > 1024)
    return cudaErrorInvalidConfiguration;
  auto arguments = std::make_shared<sp_cuda_abi::KernelArguments>(*twin, args);
  std::string what =
      std::string("the kernel ") + *static_cast<const std::string *>(kernel) +
      " (" + twin->location + ")";
  auto check = [arguments, what] {
    for (void *pointer : arguments->pointerArguments())
      need(pointer, 1, what.c_str());
  };
  check();
  ++counts.kernels;
  sp_cuda_abi::KernelTwin run = *twin;
  int64_t g[3] = {grid.x, grid.y, grid.z};
  int64_t b[3] = {block.x, block.y, block.z};
  enqueue(stream, "a GPU kernel", [=] {
    check();
    sp_cuda_abi::runKernelTwin(run, arguments->params(), g, b);
  });
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// NCCL over MPI: collectives combined in rank order, point-to-point
//===----------------------------------------------------------------------===//

/// ncclUniqueId: passed by value to ncclCommInitRank.
struct MockId {
  char internal[128];
};

// nccl.h's values.
enum { ncclInt8 = 0, ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8,
       ncclBfloat16 = 9 };
enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };
constexpr int ncclSuccess = 0, ncclInvalidArgument = 4, ncclSystemError = 2,
              ncclInvalidUsage = 5;

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

/// Every rank's `bytes` bytes of `in` into `all`, in the communicator's
/// rank order.
void gatherAll(const void *in, void *all, size_t bytes, MockComm *comm,
               const char *what) {
  if (comm->size == 1) {
    std::memmove(all, in, bytes);
    return;
  }
  if (bytes > size_t(0x7FFFFFFF) ||
      MPI_Allgather(in, int(bytes), MPI_BYTE, all, int(bytes), MPI_BYTE,
                    comm->mpi) != MPI_SUCCESS) {
    std::fprintf(stderr, "mock NCCL: MPI_Allgather for %s failed\n", what);
    std::abort();
  }
}

/// out[i] = the rank-order combination of contributions[r][offset + i], as
/// the CPU runtime computes it (f32, f64 for f64 data; one rounding).
void combine(const char *contributions, size_t stride, size_t offset,
             void *out, size_t count, int dtype, int kind, int ranks) {
  using namespace mlir::sp::numerics;
  auto reduction = static_cast<Reduction>(kind);
  size_t width = sp_cuda_abi::elementBytes(dtype);
  auto at = [&](int r, size_t i) {
    return contributions + (r * stride + offset + i) * width;
  };
  if (dtype == sp_cuda_abi::F64) {
    std::vector<double> values(ranks);
    for (size_t i = 0; i < count; ++i) {
      for (int r = 0; r < ranks; ++r)
        std::memcpy(&values[r], at(r, i), sizeof(double));
      double value = mlir::sp::numerics::combine(values.data(), ranks, reduction);
      std::memcpy(static_cast<char *>(out) + i * width, &value, width);
    }
    return;
  }
  ElementKind element = sp_host_kernels::kindOf(dtype);
  std::vector<float> values(ranks);
  for (size_t i = 0; i < count; ++i) {
    for (int r = 0; r < ranks; ++r) {
      uint32_t bits = 0;
      std::memcpy(&bits, at(r, i), width);
      values[r] = toFloat(bits, element);
    }
    uint32_t bits = fromFloat(
        mlir::sp::numerics::combine(values.data(), ranks, reduction), element);
    std::memcpy(static_cast<char *>(out) + i * width, &bits, width);
  }
}

/// ncclAllReduce / ncclReduceScatter of `count` received elements.
int reduce(bool scatter, const void *in, void *out, size_t count, int type,
           int op, MockComm *comm, cudaStream_t stream) {
  int kind = spReduction(op), dtype = dtypeOf(type);
  if (kind < 0 || !comm || dtype < 0 || dtype == sp_cuda_abi::Bytes)
    return ncclInvalidArgument;
  const char *what = scatter ? "ncclReduceScatter" : "ncclAllReduce";
  size_t width = ncclWidth(type);
  size_t inCount = scatter ? count * comm->size : count;
  pushNccl(stream, comm, what, [=] {
    need(in, inCount * width, what);
    need(out, count * width, what);
    if (comm->size == 1) { // NCCL copies
      std::memmove(out, in, count * width);
      return;
    }
    std::vector<char> all(inCount * width * comm->size);
    gatherAll(in, all.data(), inCount * width, comm, what);
    combine(all.data(), inCount, scatter ? comm->rank * count : 0, out, count,
            dtype, kind, comm->size);
  });
  return ncclSuccess;
}

/// One ncclSend or ncclRecv, collected until the group ends.
struct PointToPoint {
  bool send;
  void *buffer;
  size_t bytes;
  int peer;
  MockComm *comm;
  cudaStream_t stream;
};

int groupDepth = 0;
std::vector<PointToPoint> &group() {
  static std::vector<PointToPoint> calls;
  return calls;
}

/// The transfers of one group: every receive and send posted, then all
/// waited for (NCCL runs a group's calls concurrently).
void exchange(const std::vector<PointToPoint> &calls) {
  constexpr int kTag = 0x4E43; // not the CPU runtime's ring shift tag
  std::vector<MPI_Request> requests;
  for (const PointToPoint &c : calls) {
    need(c.buffer, c.bytes, c.send ? "ncclSend" : "ncclRecv");
    if (c.comm->size == 1) { // a rank's transfer to itself, without MPI
      continue;
    }
    MPI_Request request;
    int status = c.send ? MPI_Isend(c.buffer, int(c.bytes), MPI_BYTE, c.peer,
                                    kTag, c.comm->mpi, &request)
                        : MPI_Irecv(c.buffer, int(c.bytes), MPI_BYTE, c.peer,
                                    kTag, c.comm->mpi, &request);
    if (status != MPI_SUCCESS) {
      std::fprintf(stderr, "mock NCCL: MPI point-to-point failed\n");
      std::abort();
    }
    requests.push_back(request);
  }
  if (!requests.empty() && MPI_Waitall(int(requests.size()), requests.data(),
                                       MPI_STATUSES_IGNORE) != MPI_SUCCESS) {
    std::fprintf(stderr, "mock NCCL: MPI_Waitall failed\n");
    std::abort();
  }
  // One rank: each send pairs with the receive from itself, in order.
  if (!calls.empty() && calls.front().comm->size == 1) {
    std::vector<const PointToPoint *> sends, receives;
    for (const PointToPoint &c : calls)
      (c.send ? sends : receives).push_back(&c);
    for (size_t i = 0; i < sends.size() && i < receives.size(); ++i)
      std::memcpy(receives[i]->buffer, sends[i]->buffer,
                  std::min(sends[i]->bytes, receives[i]->bytes));
  }
}

int pointToPoint(bool send, void *buffer, size_t count, int type, int peer,
                 MockComm *comm, cudaStream_t stream) {
  const char *what = send ? "ncclSend" : "ncclRecv";
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (mock::failsAsynchronously(stream))
    return ncclSuccess;
  size_t width = ncclWidth(type);
  if (!comm || width == 0 || peer < 0 || peer >= comm->size ||
      count * width > size_t(0x7FFFFFFF))
    return ncclInvalidArgument;
  need(buffer, count * width, what);
  PointToPoint call{send, buffer, count * width, peer, comm, stream};
  if (groupDepth > 0) {
    group().push_back(call);
    return ncclSuccess;
  }
  pushNccl(stream, comm, what, [call] { exchange({call}); });
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
  case cudaErrorInvalidResourceHandle:
    return "invalid resource handle";
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
  *stream = reinterpret_cast<cudaStream_t>(newStream());
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaDeviceGetStreamPriorityRange(int *least,
                                                         int *greatest) {
  *least = 0;
  *greatest = -5; // a Hopper's range
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaStreamCreateWithPriority(cudaStream_t *stream,
                                                     unsigned int,
                                                     int priority) {
  if (priority < -5 || priority > 0)
    return cudaErrorInvalidValue;
  *stream = reinterpret_cast<cudaStream_t>(newStream());
  return cudaSuccess;
}

/// Queued work still runs (as on a GPU); the queue stays known.
MOCK_EXPORT cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  streamOf(stream);
  return cudaSuccess;
}

/// Runs one queued operation (of any stream) and reports "not ready" while
/// the stream has work, so the runtime's polling loop is exercised.
MOCK_EXPORT cudaError_t cudaStreamQuery(cudaStream_t stream) {
  if (envSet("SP_MOCK_STREAM_HANG") || mock::asyncFailure)
    return cudaErrorNotReady;
  MockStream *s = streamOf(stream);
  if (s->ops.empty()) {
    ++counts.synchronizations;
    return cudaSuccess;
  }
  if (!step())
    deadlock("a stream (cudaStreamQuery)");
  return cudaErrorNotReady;
}

MOCK_EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (envSet("SP_MOCK_STREAM_HANG") || mock::asyncFailure)
    return cudaErrorLaunchTimeout;
  MockStream *s = streamOf(stream);
  drain([s] { return s->ops.empty(); }, "a stream (cudaStreamSynchronize)");
  ++counts.synchronizations;
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event,
                                                 unsigned int) {
  auto *e = new MockEvent;
  liveEvents().insert(e);
  *event = reinterpret_cast<cudaEvent_t>(e);
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaEventCreate(cudaEvent_t *event) {
  return cudaEventCreateWithFlags(event, 0);
}

/// Stream waits already enqueued still see the event (kept, not freed).
MOCK_EXPORT cudaError_t cudaEventDestroy(cudaEvent_t event) {
  MockEvent *e = eventOf(event);
  if (!e)
    return cudaErrorInvalidResourceHandle;
  liveEvents().erase(e);
  e->destroyed = true;
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaEventRecord(cudaEvent_t event,
                                        cudaStream_t stream) {
  MockEvent *e = eventOf(event);
  if (!e)
    return cudaErrorInvalidResourceHandle;
  Op op;
  op.what = "cudaEventRecord";
  op.recordEvent = e;
  op.recordGeneration = ++e->recorded;
  push(stream, std::move(op));
  return cudaSuccess;
}

/// Waits for the event's latest record at the time of the call (none: no
/// wait), as CUDA defines it.
MOCK_EXPORT cudaError_t cudaStreamWaitEvent(cudaStream_t stream,
                                            cudaEvent_t event,
                                            unsigned int flags) {
  MockEvent *e = eventOf(event);
  if (!e || flags != 0)
    return e ? cudaErrorInvalidValue : cudaErrorInvalidResourceHandle;
  if (e->recorded == 0)
    return cudaSuccess;
  Op op;
  op.what = "cudaStreamWaitEvent";
  op.waitEvent = e;
  op.waitGeneration = e->recorded;
  push(stream, std::move(op));
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaEventQuery(cudaEvent_t event) {
  MockEvent *e = eventOf(event);
  if (!e)
    return cudaErrorInvalidResourceHandle;
  if (e->completed >= e->recorded)
    return cudaSuccess;
  if (envSet("SP_MOCK_STREAM_HANG"))
    return cudaErrorNotReady;
  if (mock::asyncFailure) {
    // Whatever can still run does (the work before the failed call).
    while (e->completed < e->recorded && step()) {
    }
    return e->completed >= e->recorded ? cudaSuccess : cudaErrorNotReady;
  }
  if (!step())
    deadlock("an event (cudaEventQuery)");
  return cudaErrorNotReady;
}

MOCK_EXPORT cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  MockEvent *e = eventOf(event);
  if (!e)
    return cudaErrorInvalidResourceHandle;
  drain([e] { return e->completed >= e->recorded; },
        "an event (cudaEventSynchronize)");
  ++counts.synchronizations;
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaMallocAsync(void **pointer, size_t bytes,
                                        cudaStream_t) {
  // Odd sizes still get 256-byte alignment, as cudaMalloc's.
  void *p = nullptr;
  if (protectDevice()) {
    p = mmap(nullptr, pageRounded(bytes), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      p = nullptr;
  } else {
    p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  }
  if (!p)
    return cudaErrorMemoryAllocation;
  std::memset(p, 0xA5, bytes); // uninitialized device memory is not zero
  if (protectDevice())
    mprotect(p, pageRounded(bytes), PROT_NONE);
  std::lock_guard<std::mutex> lock(registryMutex);
  registry()[static_cast<const char *>(p)] = bytes;
  *pointer = p;
  ++counts.allocations;
  return cudaSuccess;
}

/// Stream-ordered: the memory stays valid for what was enqueued before.
MOCK_EXPORT cudaError_t cudaFreeAsync(void *pointer, cudaStream_t stream) {
  static std::set<void *> freeing;
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    if (!registry().count(static_cast<const char *>(pointer)) ||
        !freeing.insert(pointer).second)
      return cudaErrorInvalidValue;
  }
  enqueue(stream, "cudaFreeAsync", [pointer] {
    std::lock_guard<std::mutex> lock(registryMutex);
    size_t bytes = registry()[static_cast<const char *>(pointer)];
    registry().erase(static_cast<const char *>(pointer));
    freeing.erase(pointer);
    if (protectDevice())
      munmap(pointer, pageRounded(bytes));
    else
      std::free(pointer);
  });
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

/// From host memory the source is read at the call (CUDA stages pageable
/// memory before returning); everything else happens in stream order.
MOCK_EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src,
                                        size_t bytes, cudaMemcpyKind kind,
                                        cudaStream_t stream) {
  bool fromDevice = kind == cudaMemcpyDeviceToHost ||
                    kind == cudaMemcpyDeviceToDevice;
  bool toDevice = kind == cudaMemcpyHostToDevice ||
                  kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyHostToHost || kind == cudaMemcpyDefault ||
      (fromDevice && !isDevice(src, bytes)) ||
      (toDevice && !isDevice(dst, bytes)) ||
      (!fromDevice && isDevice(src, bytes) && bytes > 0) ||
      (!toDevice && isDevice(dst, bytes) && bytes > 0))
    return cudaErrorInvalidValue;
  ++(!fromDevice ? counts.hostToDevice
                 : toDevice ? counts.deviceToDevice : counts.deviceToHost);
  if (!fromDevice) {
    auto copy = std::make_shared<std::vector<char>>(
        static_cast<const char *>(src), static_cast<const char *>(src) + bytes);
    enqueue(stream, "cudaMemcpyAsync (host to device)", [=] {
      need(dst, bytes, "cudaMemcpyAsync (destination)");
      std::memcpy(dst, copy->data(), bytes);
    });
    return cudaSuccess;
  }
  enqueue(stream, "cudaMemcpyAsync", [=] {
    need(src, bytes, "cudaMemcpyAsync (source)");
    if (toDevice)
      need(dst, bytes, "cudaMemcpyAsync (destination)");
    std::memmove(dst, src, bytes);
  });
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch,
                                          const void *src, size_t spitch,
                                          size_t width, size_t height,
                                          cudaMemcpyKind kind,
                                          cudaStream_t stream) {
  if (kind != cudaMemcpyDeviceToDevice || width > dpitch || width > spitch)
    return cudaErrorInvalidValue;
  size_t dstBytes = height ? (height - 1) * dpitch + width : 0;
  size_t srcBytes = height ? (height - 1) * spitch + width : 0;
  if (!isDevice(dst, dstBytes) || !isDevice(src, srcBytes))
    return cudaErrorInvalidValue;
  ++counts.copies2D;
  enqueue(stream, "cudaMemcpy2DAsync", [=] {
    need(dst, dstBytes, "cudaMemcpy2DAsync (destination)");
    need(src, srcBytes, "cudaMemcpy2DAsync (source)");
    for (size_t row = 0; row < height; ++row)
      std::memcpy(static_cast<char *>(dst) + row * dpitch,
                  static_cast<const char *>(src) + row * spitch, width);
  });
  return cudaSuccess;
}

MOCK_EXPORT cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes,
                                        cudaStream_t stream) {
  if (!isDevice(dst, bytes))
    return cudaErrorInvalidValue;
  enqueue(stream, "cudaMemsetAsync", [=] {
    need(dst, bytes, "cudaMemsetAsync");
    std::memset(dst, value, bytes);
  });
  return cudaSuccess;
}

//===----------------------------------------------------------------------===//
// sp's kernels (Kernels.h)
//===----------------------------------------------------------------------===//

int sp_cuda_norm_block_size(int, int64_t) { return 1024; }

int sp_cuda_rms_norm(int dtype, void *out, const void *x, const void *weight,
                     int64_t rows, int64_t hidden, float epsilon,
                     void *stream) {
  return norm(dtype, 0, false, false, out, nullptr, nullptr, x, nullptr, weight,
              nullptr, rows, hidden, epsilon, stream);
}

int sp_cuda_fused_add_rms_norm(int dtype, void *out, void *residualOut,
                               const void *x, const void *residual,
                               const void *weight, int64_t rows, int64_t hidden,
                               float epsilon, void *stream) {
  return norm(dtype, 0, true, false, out, nullptr, residualOut, x, residual,
              weight, nullptr, rows, hidden, epsilon, stream);
}

int sp_cuda_rms_norm_quant(int dtype, int fp8, uint8_t *q, const void *x,
                           const void *weight, const float *scale, int64_t rows,
                           int64_t hidden, float epsilon, void *stream) {
  return norm(dtype, fp8, false, true, nullptr, q, nullptr, x, nullptr, weight,
              scale, rows, hidden, epsilon, stream);
}

int sp_cuda_fused_add_rms_norm_quant(int dtype, int fp8, uint8_t *q,
                                     void *residualOut, const void *x,
                                     const void *residual, const void *weight,
                                     const float *scale, int64_t rows,
                                     int64_t hidden, float epsilon,
                                     void *stream) {
  return norm(dtype, fp8, true, true, nullptr, q, residualOut, x, residual,
              weight, scale, rows, hidden, epsilon, stream);
}

int sp_cuda_quant(int dtype, int fp8, uint8_t *q, const void *x,
                  const float *scale, int64_t count, void *stream) {
  if (count < 0 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  auto check = [=] {
    need(x, size_t(count) * widthOf(dtype), "the quant kernel (x)");
    need(q, size_t(count), "the quant kernel (q)");
    need(scale, sizeof(float), "the quant kernel (scale)");
  };
  check();
  ++counts.kernels;
  enqueue(static_cast<cudaStream_t>(stream), "the quant kernel", [=] {
    check();
    sp_host_kernels::quant(dtype, fp8, q, x, scale, count);
  });
  return cudaSuccess;
}

/// Numerics.h's combine (sum, f32, rank order) and one rounding: what the
/// CPU runtime's reduce_scatter computes, bit for bit.
int sp_cuda_sum_partials(int dtype, void *out, const void *partials,
                         int64_t ranks, int64_t count, void *stream) {
  if (count < 0 || ranks < 1 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  size_t width = widthOf(dtype);
  auto check = [=] {
    need(out, size_t(count) * width, "the partial sums kernel (out)");
    need(partials, size_t(count * ranks) * width,
         "the partial sums kernel (partials)");
  };
  check();
  ++counts.kernels;
  enqueue(static_cast<cudaStream_t>(stream), "the partial sums kernel", [=] {
    check();
    using namespace mlir::sp::numerics;
    ElementKind kind = sp_host_kernels::kindOf(dtype);
    std::vector<float> contributions(static_cast<size_t>(ranks));
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t r = 0; r < ranks; ++r)
        contributions[r] = toFloat(
            sp_host_kernels::load(partials, dtype, r * count + i), kind);
      float sum = combine(contributions.data(), ranks, Reduction::Sum);
      sp_host_kernels::store(out, dtype, i, fromFloat(sum, kind));
    }
  });
  return cudaSuccess;
}

int sp_cuda_transpose_bytes(uint8_t *out, const uint8_t *in, int64_t rows,
                            int64_t cols, void *stream) {
  if (rows < 0 || cols < 0)
    return cudaErrorInvalidValue;
  size_t bytes = size_t(rows * cols);
  auto check = [=] {
    need(out, bytes, "the transpose kernel (out)");
    need(in, bytes, "the transpose kernel (in)");
  };
  check();
  ++counts.kernels;
  enqueue(static_cast<cudaStream_t>(stream), "the transpose kernel", [=] {
    check();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[c * rows + r] = in[r * cols + c];
  });
  return cudaSuccess;
}

int sp_cuda_round_f32(int dtype, void *out, const float *in, int64_t count,
                      void *stream) {
  if (count < 0 || dtype < 0 || dtype > 2)
    return cudaErrorInvalidValue;
  auto check = [=] {
    need(out, size_t(count) * widthOf(dtype), "the rounding kernel (out)");
    need(in, size_t(count) * sizeof(float), "the rounding kernel (in)");
  };
  check();
  ++counts.kernels;
  enqueue(static_cast<cudaStream_t>(stream), "the rounding kernel", [=] {
    check();
    using namespace mlir::sp::numerics;
    ElementKind kind = sp_host_kernels::kindOf(dtype);
    for (int64_t i = 0; i < count; ++i)
      sp_host_kernels::store(out, dtype, i, fromFloat(in[i], kind));
  });
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
  // Fresh random bytes on every call (as NCCL's id is a fresh socket
  // address and magic): the other ranks can only know them if the runtime
  // delivered rank 0's id to them (MPI broadcast or id file).
  static std::random_device device;
  std::memset(id->internal, 0, sizeof(id->internal));
  int length = std::snprintf(id->internal, sizeof(id->internal),
                             "mock-nccl-id-%d-", int(getpid()));
  for (size_t i = size_t(length); i + 1 < sizeof(id->internal); ++i)
    id->internal[i] = char('a' + device() % 26);
  return ncclSuccess;
}

/// Checks that every rank got rank 0's id (the runtime's id exchange works)
/// and that the ranks agree with MPI's; says which check failed on stderr.
MOCK_EXPORT int ncclCommInitRank(MockComm **comm, int nranks, MockId id,
                                 int rank) {
  int initialized = 0, mpiRank = 0, mpiSize = 1;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &mpiRank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpiSize);
  }
  if (rank != mpiRank || nranks != mpiSize) {
    std::fprintf(stderr,
                 "mock NCCL: ncclCommInitRank(rank %d of %d), but MPI says "
                 "rank %d of %d\n",
                 rank, nranks, mpiRank, mpiSize);
    return ncclInvalidArgument;
  }
  MockId root = id;
  if (initialized)
    MPI_Bcast(root.internal, 128, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (std::memcmp(root.internal, id.internal, 128) != 0) {
    std::fprintf(stderr,
                 "mock NCCL: rank %d passed another unique id to "
                 "ncclCommInitRank than rank 0 (%.40s... instead of "
                 "%.40s...): the id exchange is broken\n",
                 rank, id.internal, root.internal);
    return ncclInvalidArgument;
  }
  if (std::strncmp(id.internal, "mock-nccl-id-", 13) != 0) {
    std::fprintf(stderr, "mock NCCL: rank %d: the unique id does not come "
                         "from ncclGetUniqueId\n", rank);
    return ncclInvalidArgument;
  }
  *comm = new MockComm{rank, nranks, initialized ? MPI_COMM_WORLD
                                                 : MPI_COMM_NULL};
  return ncclSuccess;
}

/// ncclCommSplit: MPI_Comm_split of the parent's MPI communicator (every
/// rank of the parent must call it, as NCCL requires), with NCCL's
/// semantics: ranks ordered by key, NCCL_SPLIT_NOCOLOR (-1) gets no
/// communicator. Checks what sp relies on: a color and a key per rank.
MOCK_EXPORT int ncclCommSplit(MockComm *parent, int color, int key,
                              MockComm **comm, void *config) {
  if (!parent || !comm || config || parent->aborted || color < -1 || key < 0)
    return ncclInvalidArgument;
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (parent->mpi == MPI_COMM_NULL) { // one rank, no MPI
    *comm = color < 0 ? nullptr : new MockComm{0, 1, MPI_COMM_NULL};
    return ncclSuccess;
  }
  MPI_Comm split = MPI_COMM_NULL;
  if (MPI_Comm_split(parent->mpi, color < 0 ? MPI_UNDEFINED : color, key,
                     &split) != MPI_SUCCESS)
    return ncclSystemError;
  if (split == MPI_COMM_NULL) {
    *comm = nullptr;
    return ncclSuccess;
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(split, &rank);
  MPI_Comm_size(split, &size);
  *comm = new MockComm{rank, size, split};
  return ncclSuccess;
}

/// Kept (queued calls may still name it), marked finished.
MOCK_EXPORT int ncclCommDestroy(MockComm *comm) {
  comm->aborted = true;
  return ncclSuccess;
}

MOCK_EXPORT int ncclCommAbort(MockComm *comm) {
  comm->aborted = true;
  return ncclSuccess;
}

MOCK_EXPORT int ncclCommGetAsyncError(MockComm *, int *error) {
  *error = mock::asyncFailure ? ncclSystemError : ncclSuccess;
  return ncclSuccess;
}

MOCK_EXPORT const char *ncclGetErrorString(int result) {
  return result == ncclSuccess ? "no error" : "mock NCCL failure";
}

MOCK_EXPORT int ncclAllReduce(const void *in, void *out, size_t count, int type,
                              int op, MockComm *comm, cudaStream_t stream) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (mock::failsAsynchronously(stream))
    return ncclSuccess;
  need(in, count * ncclWidth(type), "ncclAllReduce (send buffer)");
  need(out, count * ncclWidth(type), "ncclAllReduce (receive buffer)");
  return reduce(false, in, out, count, type, op, comm, stream);
}

MOCK_EXPORT int ncclReduceScatter(const void *in, void *out, size_t count,
                                  int type, int op, MockComm *comm,
                                  cudaStream_t stream) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (mock::failsAsynchronously(stream))
    return ncclSuccess;
  if (!comm)
    return ncclInvalidArgument;
  need(in, count * comm->size * ncclWidth(type),
       "ncclReduceScatter (send buffer)");
  need(out, count * ncclWidth(type), "ncclReduceScatter (receive buffer)");
  return reduce(true, in, out, count, type, op, comm, stream);
}

MOCK_EXPORT int ncclAllGather(const void *in, void *out, size_t count, int type,
                              MockComm *comm, cudaStream_t stream) {
  if (envSet("SP_MOCK_NCCL_FAIL"))
    return ncclSystemError;
  if (mock::failsAsynchronously(stream))
    return ncclSuccess;
  size_t width = ncclWidth(type);
  if (!comm || width == 0)
    return ncclInvalidArgument;
  need(in, count * width, "ncclAllGather (send buffer)");
  need(out, count * width * comm->size, "ncclAllGather (receive buffer)");
  pushNccl(stream, comm, "ncclAllGather", [=] {
    need(in, count * width, "ncclAllGather (send buffer)");
    need(out, count * width * comm->size, "ncclAllGather (receive buffer)");
    gatherAll(in, out, count * width, comm, "ncclAllGather");
  });
  return ncclSuccess;
}

MOCK_EXPORT int ncclSend(const void *in, size_t count, int type, int peer,
                         MockComm *comm, cudaStream_t stream) {
  return pointToPoint(true, const_cast<void *>(in), count, type, peer, comm,
                      stream);
}

MOCK_EXPORT int ncclRecv(void *out, size_t count, int type, int peer,
                         MockComm *comm, cudaStream_t stream) {
  return pointToPoint(false, out, count, type, peer, comm, stream);
}

MOCK_EXPORT int ncclGroupStart() {
  ++groupDepth;
  return ncclSuccess;
}

/// The group's calls become one operation. NCCL allows a group to span
/// streams and communicators; sp's runtime never does, and the mock refuses
/// it rather than model it.
MOCK_EXPORT int ncclGroupEnd() {
  if (groupDepth == 0)
    return ncclInvalidUsage;
  if (--groupDepth > 0)
    return ncclSuccess;
  std::vector<PointToPoint> calls;
  calls.swap(group());
  if (calls.empty())
    return ncclSuccess;
  for (const PointToPoint &c : calls)
    if (c.comm != calls.front().comm || c.stream != calls.front().stream)
      return ncclInvalidUsage;
  pushNccl(calls.front().stream, calls.front().comm, "an NCCL group",
           [calls] { exchange(calls); });
  return ncclSuccess;
}

} // extern "C"
