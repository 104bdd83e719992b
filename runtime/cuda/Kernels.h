//===- Kernels.h - sp's CUDA kernels: C entry points ------------*- C++ -*-===//
//
// RMSNorm, fused add + RMSNorm, static FP8 quant, and the norm + quant
// fusions, for bf16 / f16 / f32 activations; the collective matmuls' sum of
// partial products, byte transposition and f32 rounding. One CTA per row,
// 128-bit vectorized loads and stores when the hidden size and the buffers
// allow. The numerics are those of include/sp/Runtime/Numerics.h except
// the order of the f32 sum of squares (a block reduction, as in vLLM), which
// runtime/cuda/KernelOrder.h defines on the host; the fused kernels are
// bitwise equal to the unfused sequence.
//
// Two kernel sets compute the norms and quant (see Kernels.cu): `reference`
// (the first kernels, the default) and `fast`; `fast-software-fp8` is `fast`
// with the integer FP8 conversion of its sm_80 build on every GPU (so that a
// newer GPU checks it too). The environment variable SP_CUDA_KERNELS names
// the set (read at the first call; unknown names mean `reference`);
// sp_cuda_select_kernels overrides it.
//
// Every function returns a cudaError_t value (0 = success); arguments are
// device pointers; `stream` is a cudaStream_t (0 = default stream).
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_KERNELS_H
#define SP_RUNTIME_CUDA_KERNELS_H

#include <cstdint>

extern "C" {

/// Kernel sets.
enum SPCudaKernelSet {
  SP_CUDA_KERNELS_REFERENCE = 0,
  SP_CUDA_KERNELS_FAST = 1,
  SP_CUDA_KERNELS_FAST_SOFTWARE_FP8 = 2
};

/// Activation element types.
enum SPCudaDType { SP_CUDA_F32 = 0, SP_CUDA_F16 = 1, SP_CUDA_BF16 = 2 };
/// FP8 formats.
enum SPCudaFP8 { SP_CUDA_E4M3FN = 0, SP_CUDA_E4M3FNUZ = 1 };

/// out = rms_norm(x, w)
int sp_cuda_rms_norm(int dtype, void *out, const void *x, const void *weight,
                     int64_t rows, int64_t hidden, float epsilon, void *stream);

/// residualOut = T(x + residual); out = rms_norm(residualOut, w)
int sp_cuda_fused_add_rms_norm(int dtype, void *out, void *residualOut,
                               const void *x, const void *residual,
                               const void *weight, int64_t rows,
                               int64_t hidden, float epsilon, void *stream);

/// q = quant(x, *scale) for `count` elements
int sp_cuda_quant(int dtype, int fp8, uint8_t *q, const void *x,
                  const float *scale, int64_t count, void *stream);

/// q = quant(rms_norm(x, w), *scale)
int sp_cuda_rms_norm_quant(int dtype, int fp8, uint8_t *q, const void *x,
                           const void *weight, const float *scale,
                           int64_t rows, int64_t hidden, float epsilon,
                           void *stream);

/// residualOut = T(x + residual); q = quant(rms_norm(residualOut, w), *scale)
int sp_cuda_fused_add_rms_norm_quant(int dtype, int fp8, uint8_t *q,
                                     void *residualOut, const void *x,
                                     const void *residual, const void *weight,
                                     const float *scale, int64_t rows,
                                     int64_t hidden, float epsilon,
                                     void *stream);

/// The collective matmuls' helpers (CudaRuntime.cpp):
///
/// out[i] = T(p[0][i] + p[1][i] + ... + p[ranks-1][i]) for `count` elements
/// of `partials` ([ranks][count], type T = dtype): the sum in rank order in
/// f32 from p[0], rounded once (Numerics.h's combine, the CPU path's
/// reduce_scatter), so that given the same partial sums the result is the
/// CPU's bit for bit.
int sp_cuda_sum_partials(int dtype, void *out, const void *partials,
                         int64_t ranks, int64_t count, void *stream);

/// out[c][r] = in[r][c] for a [rows][cols] matrix of bytes (FP8 weights into
/// cuBLASLt's "TN" layout).
int sp_cuda_transpose_bytes(uint8_t *out, const uint8_t *in, int64_t rows,
                            int64_t cols, void *stream);

/// out[i] = T(in[i]) (round to nearest even) for `count` f32 values.
int sp_cuda_round_f32(int dtype, void *out, const float *in, int64_t count,
                      void *stream);

/// Threads per CTA the selected norm kernels use for `hidden` (for
/// tests/benchmarks).
int sp_cuda_norm_block_size(int dtype, int64_t hidden);

/// Selects the kernel set of the calls that follow in this process (not
/// thread-safe against concurrent launches); cudaErrorInvalidValue for an
/// unknown set.
int sp_cuda_select_kernels(int set);

/// The kernel set the next call uses.
int sp_cuda_selected_kernels(void);

/// How the selected norm kernels order the f32 sum of squares of a row of
/// `hidden` elements (KernelOrder.h): CTAs of `threads` threads, thread t
/// summing the chunks t, t + threads, ... of `width` elements in order.
/// `buffersAligned`: every buffer of the call 16-byte aligned (the
/// reference set's order depends on it, the fast set's does not).
int sp_cuda_norm_order(int dtype, int64_t hidden, int buffersAligned,
                       int *threads, int *width);
}

#endif // SP_RUNTIME_CUDA_KERNELS_H
