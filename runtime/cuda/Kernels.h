//===- Kernels.h - sp's CUDA kernels: C entry points ------------*- C++ -*-===//
//
// RMSNorm, fused add + RMSNorm, static FP8 quant, and the norm + quant
// fusions, for bf16 / f16 / f32 activations. One CTA per row (hidden up to
// 16384), 128-bit vectorized loads and stores when the hidden size allows.
// The numerics are those of include/sp/Runtime/Numerics.h except the order
// of the f32 sum of squares (a block reduction, as in vLLM); the fused
// kernels are bitwise equal to the unfused sequence.
//
// Every function returns a cudaError_t value (0 = success); arguments are
// device pointers; `stream` is a cudaStream_t (0 = default stream).
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_KERNELS_H
#define SP_RUNTIME_CUDA_KERNELS_H

#include <cstdint>

extern "C" {

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

/// Threads per CTA the norm kernels use for `hidden` (for tests/benchmarks).
int sp_cuda_norm_block_size(int dtype, int64_t hidden);
}

#endif // SP_RUNTIME_CUDA_KERNELS_H
