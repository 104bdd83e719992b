//===- CompiledABI.h - what code lowered with sp-lower-to-cuda calls -*- C++ -*-===//
//
// sp-convert-to-cuda-runtime turns every sp op into a call such as
//
//   _mlir_ciface_sp_cuda_rt_rms_norm_bf16(out, x, weight, epsilon, location)
//
// on unranked memrefs (MLIR's C interface: {rank, descriptor*}). CompiledABI.cpp
// defines all of these functions once: it reads the descriptors, checks
// shapes, contiguity and group sizes against the op (errors name the op and
// its source location), and hands plain pointers and counts to a Backend.
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

#include <cstddef>
#include <cstdint>

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

/// MLIR's C interface for memref<*xT>: the rank and a pointer to the ranked
/// descriptor {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
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

/// What a runtime library provides. Each function returns 0 on success, or
/// non-zero after setting the message that lastError() returns, which
/// starts with `location`.
class Backend {
public:
  virtual ~Backend() = default;
  virtual int rank() = 0;
  virtual int worldSize() = 0;
  virtual const char *lastError() = 0;
  /// out[i] = reduce over ranks of in[i], `count` elements.
  virtual int allReduce(const void *in, void *out, int64_t count, int dtype,
                        int reduction, const char *location) = 0;
  /// in is [outer][worldSize][chunk], out is [outer][chunk] (elements):
  /// out = reduce over ranks of in[:, rank, :].
  virtual int reduceScatter(const void *in, void *out, int64_t outer,
                            int64_t chunk, int dtype, int reduction,
                            const char *location) = 0;
  /// in is [outer][chunkBytes], out is [outer][worldSize][chunkBytes]:
  /// out[:, r, :] = rank r's in.
  virtual int allGather(const void *in, void *out, int64_t outer,
                        int64_t chunkBytes, const char *location) = 0;
  virtual int norm(const NormCall &call, const char *location) = 0;
  /// q[i] = quant(x[i], *scale), `count` elements.
  virtual int quant(int dtype, int fp8, uint8_t *q, const void *x,
                    const float *scale, int64_t count,
                    const char *location) = 0;
};

/// The library's backend (defined once per runtime library).
Backend &backend();

} // namespace sp_cuda_abi

extern "C" {
/// Replaces the error handler (nullptr restores the default). The handler
/// receives the whole message and must not return (exit, abort, longjmp).
void sp_cuda_rt_set_error_handler(void (*handler)(const char *message));

struct SPCudaRuntimeSymbol {
  const char *name;
  void *address;
};
/// Every function compiled code calls, for JITs that register symbols
/// (sp-run); `*count` receives the number of entries.
const SPCudaRuntimeSymbol *sp_cuda_rt_symbols(size_t *count);
}

#endif // SP_RUNTIME_CUDA_COMPILEDABI_H
