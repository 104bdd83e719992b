//===- CompiledABI.h - what sp-lower-to-cuda code calls ---------*- C++ -*-===//
//
// sp-convert-to-cuda-runtime turns every sp op into a call such as
//
//   _mlir_ciface_sp_cuda_rt_rms_norm_bf16(out, x, weight, epsilon, location)
//
// on unranked memrefs (MLIR's C interface: {rank, descriptor*}); collectives
// also take their group's descriptor (sp/Runtime/RuntimeABI.h). CompiledABI.cpp
// defines all of these functions once: it reads the descriptors, checks
// shapes, contiguity and groups against the op and the job (errors name the
// op and its source location), and hands plain pointers and counts, and the
// group, to a Backend.
// libsp_cuda_runtime.so links it with the GPU backend (NCCL + sp's kernels);
// libsp_cuda_runtime_emulated.so links it with a host backend (the reference
// numerics and the CPU runtime's MPI collectives), which runs the CUDA
// lowering on machines without a GPU, in tests.
//
// A failing call reports through the error handler and does not return:
// the default handler prints "sp CUDA runtime error (rank R): <op> at
// <file:line:col>: <why>" and exits with status 1; a host program can
// install its own (it must not return either).
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_COMPILEDABI_H
#define SP_RUNTIME_CUDA_COMPILEDABI_H

#include "sp/Runtime/RuntimeABI.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sp_cuda_abi {

/// Element type codes the backends receive (those of Kernels.h, plus raw
/// bytes for gathers and f64 for reductions).
enum DType { F32 = 0, F16 = 1, BF16 = 2, Bytes = 3, F64 = 4 };
/// FP8 output formats (Kernels.h's SPCudaFP8).
enum FP8 { E4M3FN = 0, E4M3FNUZ = 1 };

/// Bytes per element of a DType code.
inline size_t elementBytes(int dtype) {
  switch (dtype) {
  case F32:
    return 4;
  case F16:
  case BF16:
    return 2;
  case F64:
    return 8;
  default:
    return 1;
  }
}

/// MLIR's C interface for memref<*xT> (upstream's type): the rank and a
/// pointer to the ranked descriptor. Element widths vary per entry point, so
/// the element type here is bytes.
using UnrankedMemRef = ::UnrankedMemRefType<char>;

/// A group descriptor as compiled code passes it: memref<?xi64>.
using GroupDescriptor = ::StridedMemRefType<int64_t, 1>;

/// The group a collective runs over, read from its descriptor and checked
/// against the job (the grid has as many ranks as the job).
struct Group {
  /// The descriptor's words (a key for the group's communicator).
  std::vector<int64_t> words;
  sp_runtime::GroupLayout layout;
  /// The number of ranks of the group and this rank's index in it.
  int64_t size = 1;
  int64_t index = 0;
  /// Which of the layout's groups this rank is in: the split color.
  int64_t color = 0;
  /// Every rank of the job, in rank order: the job's own communicator.
  bool world = true;

  /// The group of all `ranks` ranks of a job, seen from rank `rank`.
  static Group everyRank(int64_t ranks, int64_t rank = 0) {
    Group group;
    group.layout.grid = {ranks};
    group.layout.axes = {0};
    group.words = sp_runtime::GroupLayout::encodeWorld(ranks);
    group.size = ranks;
    group.index = rank;
    return group;
  }
};

/// One norm/quant kernel call: `out` or `q` is written (q when `quant`),
/// `residualOut` when `fused`. Rows are everything but the last dimension.
struct NormCall {
  int dtype = F32;
  int fp8 = E4M3FN;
  bool fused = false;
  bool quant = false;
  void *out = nullptr;
  uint8_t *q = nullptr;
  void *residualOut = nullptr;
  const void *x = nullptr;
  const void *residual = nullptr;
  const void *weight = nullptr;
  const float *scale = nullptr;
  int64_t rows = 0;
  int64_t hidden = 0;
  float epsilon = 0;
};

/// Element types of the collective matmul GEMMs' operands.
enum GemmInput {
  GemmF32 = 0,
  GemmF16 = 1,
  GemmBF16 = 2,
  GemmF8E4M3FN = 3,
  GemmF8E4M3FNUZ = 4
};

/// Bytes per element of a GemmInput code.
inline size_t gemmInputBytes(int type) {
  return type == GemmF32 ? 4 : type <= GemmBF16 ? 2 : 1;
}

/// One sp.all_gather_matmul or sp.matmul_reduce_scatter: row-major,
/// contiguous buffers; this rank's lhs is [m][k], rhs [k][n]; "ranks" is
/// the group's size.
///  * all_gather_matmul: gathered = all_gather(lhs) is [ranks * m][k] (always
///    written), out = gathered x rhs is [ranks * m][n];
///  * matmul_reduce_scatter: out = reduce_scatter(lhs x rhs) is
///    [m / ranks][n] (sum over ranks, this rank's rows).
/// The GEMM's numerics: without `scaled`, linalg.matmul's as sp-lower-to-cpu
/// computes it (operands converted to outType, sums rounded to outType
/// from +0 in k order, products rounded too; HostKernels.h's gemm);
/// with `scaled` (fp8 operands), f32 products and sums from +0, then
/// outType(acc * (*lhsScale * *rhsScale)). GPU backends compute in f32
/// with cuBLASLt and round once (docs/GPU.md states the tolerance).
struct CollectiveMatmulCall {
  int inType = GemmF32;   // GemmInput of lhs and rhs
  int outType = F32;      // DType of out: F32, F16 or BF16
  bool scaled = false;
  const void *lhs = nullptr;
  const void *rhs = nullptr;
  const float *lhsScale = nullptr; // scaled only
  const float *rhsScale = nullptr; // scaled only
  void *out = nullptr;
  void *gathered = nullptr;        // all_gather_matmul only
  int64_t m = 0, k = 0, n = 0;
};

/// One linalg.matmul (sp-convert-to-cuda-runtime): row-major, contiguous
/// buffers, lhs [m][k], rhs [k][n], out [m][n]; out = init + lhs x rhs, or
/// lhs x rhs from +0 when `init` is null (the init was a fill of +0.0).
/// `init` has out's shape and may be `out` itself. The numerics are
/// CollectiveMatmulCall's unscaled GEMM's (operands converted to outType,
/// products and sums rounded to outType in k order), the sum starting from
/// init[i][j]; GPU backends compute in f32 with cuBLASLt (beta = 1 with an
/// init) and round once (docs/GPU.md states the tolerance).
struct MatmulCall {
  int inType = GemmF32; // GemmInput of lhs and rhs
  int outType = F32;    // DType of out (and init): F32, F16 or BF16
  const void *lhs = nullptr;
  const void *rhs = nullptr;
  const void *init = nullptr;
  void *out = nullptr;
  int64_t m = 0, k = 0, n = 0;

  /// The same GEMM as the collective matmuls' unscaled call (no group, no
  /// gathered buffer; the init stays here), for the GEMM code they share.
  CollectiveMatmulCall asGemm() const {
    CollectiveMatmulCall c;
    c.inType = inType;
    c.outType = outType;
    c.lhs = lhs;
    c.rhs = rhs;
    c.out = out;
    c.m = m;
    c.k = k;
    c.n = n;
    return c;
  }
};

/// A kernel launch's host twin (sp-gpu-launch-twins hands one to every
/// launch through sp_cuda_rt_kernel_twin): `run(params, dims)` runs the
/// kernel's whole grid on the host, from the same gpu.func body as the
/// binary (sp-gpu-kernel-host-twins); `dims` is the grid's x, y, z sizes
/// then the block's. `kinds[i]` is argument i's size in bytes, plus
/// kTwinPointer when it is a pointer.
struct KernelTwin {
  void (*run)(void **params, int64_t *dims) = nullptr;
  const int64_t *kinds = nullptr;
  int64_t count = 0;
  const char *location = "a GPU kernel launch";
};
constexpr int64_t kTwinPointer = int64_t(1) << 32;

/// Runs a twin over `grid` x `block` on this thread.
inline void runKernelTwin(const KernelTwin &twin, void **params,
                          const int64_t grid[3], const int64_t block[3]) {
  int64_t dims[6] = {grid[0], grid[1], grid[2], block[0], block[1], block[2]};
  twin.run(params, dims);
}

/// A launch's arguments, copied: a launch that runs after its call returns
/// (on a mock GPU's stream) cannot read the caller's, which are gone.
class KernelArguments {
public:
  KernelArguments(const KernelTwin &twin, void **params) {
    for (int64_t i = 0; i < twin.count; ++i) {
      size_t bytes = size_t(twin.kinds[i] & (kTwinPointer - 1));
      const char *value = static_cast<const char *>(params[i]);
      values.emplace_back(value, value + bytes);
      if (twin.kinds[i] & kTwinPointer) {
        void *pointer;
        std::memcpy(&pointer, value, sizeof(pointer));
        pointers.push_back(pointer);
      }
    }
    for (std::vector<char> &value : values)
      params_.push_back(value.data());
  }
  void **params() { return params_.data(); }
  /// The values of the pointer arguments (memref descriptors' allocated
  /// and aligned pointers).
  const std::vector<void *> &pointerArguments() const { return pointers; }

private:
  std::vector<std::vector<char>> values;
  std::vector<void *> params_;
  std::vector<void *> pointers;
};

/// The twin of the launch this thread is making: set by mgpuLaunchKernel
/// around Backend::launchKernel, for a mock GPU whose cudaLaunchKernel
/// runs it; null outside a launch.
const KernelTwin *launchingTwin();

/// What a runtime library provides. Each function returns 0 on success, or
/// non-zero after setting the message that lastError() returns, which
/// starts with `location`. Collectives run over `group`: "rank" below is
/// the index in the group (group.index of group.size), in whose order
/// reductions combine and gathers concatenate.
class Backend {
public:
  virtual ~Backend() = default;
  /// This process's rank in the job and the job's number of ranks.
  virtual int64_t rank() = 0;
  virtual int64_t worldSize() = 0;
  virtual const char *lastError() = 0;
  /// out[i] = reduce over ranks of in[i], `count` elements.
  virtual int allReduce(const Group &group, const void *in, void *out,
                        int64_t count, int dtype, int reduction,
                        const char *location) = 0;
  /// in is [outer][group.size][chunk], out is [outer][chunk] (elements):
  /// out = reduce over ranks of in[:, group.index, :].
  virtual int reduceScatter(const Group &group, const void *in, void *out,
                            int64_t outer, int64_t chunk, int dtype,
                            int reduction, const char *location) = 0;
  /// in is [outer][chunkBytes], out is [outer][group.size][chunkBytes]:
  /// out[:, r, :] = rank r's in.
  virtual int allGather(const Group &group, const void *in, void *out,
                        int64_t outer, int64_t chunkBytes,
                        const char *location) = 0;
  virtual int norm(const NormCall &call, const char *location) = 0;
  /// q[i] = quant(x[i], *scale), `count` elements.
  virtual int quant(int dtype, int fp8, uint8_t *q, const void *x,
                    const float *scale, int64_t count,
                    const char *location) = 0;
  /// See CollectiveMatmulCall. GPU backends pipeline the transfers with
  /// the chunk GEMMs.
  virtual int allGatherMatmul(const Group &group,
                              const CollectiveMatmulCall &call,
                              const char *location) = 0;
  virtual int matmulReduceScatter(const Group &group,
                                  const CollectiveMatmulCall &call,
                                  const char *location) = 0;
  /// See MatmulCall: one GEMM, no communication.
  virtual int matmul(const MatmulCall &call, const char *location) = 0;
  /// sp.ring_shift of `bytes` bytes: send `in` to rank (r + offset) mod n,
  /// receive into `out` from rank (r - offset) mod n. Start may return
  /// before the transfer is done (the caller may reuse `in` at once);
  /// wait, with the handle start set, returns when `out` holds the data.
  virtual int ringShiftStart(const Group &group, const void *in, void *out,
                             int64_t bytes, int64_t offset, int64_t *handle,
                             const char *location) = 0;
  virtual int ringShiftWait(int64_t handle, const char *location) = 0;
  /// Waits for the work that calls left enqueued (the GPU backend's calls
  /// on device memory only enqueue); compiled code calls it, through
  /// sp_cuda_rt_function_exit, at the exit of every public function of a
  /// module that calls the runtime. Backends whose calls complete return 0.
  virtual int synchronize(const char *location) {
    (void)location;
    return 0;
  }

  // Device-resident buffers (sp-cuda-device-buffers): the compiled code
  // keeps the buffers that only runtime calls touch in memory from these.
  // The defaults serve backends whose "device" is the host (the emulated
  // runtime): host memory, arguments used in place, results already there.

  /// `*pointer` = `bytes` bytes of device memory (null for 0 bytes),
  /// stream-ordered: usable by work enqueued after this call.
  virtual int deviceAllocate(int64_t bytes, void **pointer,
                             const char *location) {
    (void)location;
    *pointer = bytes > 0 ? std::aligned_alloc(256, (size_t(bytes) + 255) / 256 * 256)
                         : nullptr;
    return 0;
  }
  /// Frees what deviceAllocate returned, after the work enqueued before.
  virtual int deviceFree(void *pointer, const char *location) {
    (void)location;
    std::free(pointer);
    return 0;
  }
  /// An entry argument of `bytes` bytes at `pointer`, read only by runtime
  /// calls: `*device` = the memory the calls read: `pointer` itself when
  /// the GPU can address it, else a device copy (enqueued).
  virtual int argumentToDevice(const void *pointer, int64_t bytes,
                               void **device, const char *location) {
    (void)bytes, (void)location;
    *device = const_cast<void *>(pointer);
    return 0;
  }
  /// The function is returning: frees `device` if argumentToDevice made it.
  virtual int argumentRelease(const void *pointer, void *device,
                              const char *location) {
    (void)pointer, (void)device, (void)location;
    return 0;
  }
  /// Enqueues the copy of a result (`bytes` bytes of device memory) to the
  /// host buffer the function returns; the synchronization at the
  /// function's exit waits for it.
  virtual int resultToHost(void *host, const void *device, int64_t bytes,
                           const char *location) {
    (void)location;
    if (bytes > 0 && host != device)
      std::memcpy(host, device, size_t(bytes));
    return 0;
  }

  // GPU kernels that upstream's GPU path compiled (gpu-module-to-binary in
  // sp-lower-to-cuda) and launches through the mgpu* functions
  // (CompiledABI.cpp). The defaults serve backends without a GPU: there is
  // nothing to load, and a launch runs its host twin at once.

  /// `*module` = a handle of the binary (`bytes` bytes at `data`, which
  /// stays valid until unloadModule); it may load lazily.
  virtual int loadModule(const void *data, size_t bytes, void **module,
                         const char *location) {
    (void)bytes, (void)location;
    *module = const_cast<void *>(data);
    return 0;
  }
  virtual int unloadModule(void *module) {
    (void)module;
    return 0;
  }
  /// `*kernel` = the kernel `name` of a loaded module.
  virtual int kernelOf(void *module, const char *name, void **kernel,
                       const char *location) {
    (void)module, (void)location;
    *kernel = const_cast<char *>(name);
    return 0;
  }
  /// Enqueues the kernel over `grid` x `block` on the runtime's stream
  /// (`params`: one pointer per argument, read before this returns); the
  /// twin's location names it in errors. -1: this backend needs a twin
  /// and the launch has none.
  virtual int launchKernel(void *kernel, const int64_t grid[3],
                           const int64_t block[3], unsigned sharedBytes,
                           void **params, const KernelTwin &twin) {
    (void)kernel, (void)sharedBytes;
    if (!twin.run)
      return -1;
    runKernelTwin(twin, params, grid, block);
    return 0;
  }
};

/// The library's backend (defined once per runtime library).
Backend &backend();

/// What the host program said about the job (sp_cuda_rt_set_bootstrap).
struct Bootstrap {
  int rank = 0;
  int size = 1;
  int (*broadcast)(void *data, int64_t bytes, int root, void *context) =
      nullptr;
  void *context = nullptr;
};

/// The host program's bootstrap, or nullptr when it set none.
const Bootstrap *bootstrap();

} // namespace sp_cuda_abi

extern "C" {
/// Replaces the error handler (nullptr restores the default). The handler
/// receives the whole message and must not return (exit, abort, longjmp).
void sp_cuda_rt_set_error_handler(void (*handler)(const char *message));

/// How the job's processes reach each other, set by the host program before
/// the first runtime call (sp-run sets it to its MPI_COMM_WORLD right after
/// MPI_Init). `broadcast` copies `bytes` bytes at `data` from rank `root` to
/// every rank (collective; returns 0 on success); the GPU runtime
/// broadcasts NCCL's unique id with it, and takes this rank and the job's
/// size from here instead of the environment (SP_RANK, ...). The runtime
/// library itself never links MPI: without a bootstrap (broadcast nullptr),
/// the id travels through SP_NCCL_ID_FILE. A null `broadcast` removes the
/// bootstrap.
/// Kernels of gpu.binary ops, as upstream's gpu-to-llvm and LLVM IR
/// translation call them (CompiledABI.cpp): the GPU backend runs the
/// binaries on the runtime's stream, runtimes without a GPU the host twin
/// that sp_cuda_rt_kernel_twin named right before the launch.
void sp_cuda_rt_kernel_twin(void (*run)(void **params, int64_t *dims),
                            const int64_t *kinds, int64_t count,
                            const char *location);
void *mgpuModuleLoad(void *data, size_t bytes);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuLaunchKernel(void *kernel, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t paramCount);

void sp_cuda_rt_set_bootstrap(int rank, int size,
                              int (*broadcast)(void *data, int64_t bytes,
                                               int root, void *context),
                              void *context);
}

#endif // SP_RUNTIME_CUDA_COMPILEDABI_H
