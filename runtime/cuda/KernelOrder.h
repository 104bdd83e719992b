//===- KernelOrder.h - the CUDA norm kernels' sums, on the host -*- C++ -*-===//
//
// Host C++ model of the one thing sp's CUDA norm kernels (Kernels.cu) do
// differently from include/sp/Runtime/Numerics.h: the order in which they
// add up the f32 squares of a row. Everything else (the conversions, the
// fused add, inv = 1/sqrt(ss/H + eps), the two roundings of the output, the
// quant) is Numerics.h's, so rmsNormRowGPU below is what the kernels must
// produce bit for bit; bench/gpu/check.cu compares every kernel set with it.
//
// The order, for CTAs of `threads` threads (a multiple of 32) and chunks of
// `width` consecutive elements (Kernels.h: sp_cuda_norm_order gives both):
//   1. thread t sums, from +0, v*v for the elements of its chunks t,
//      t + threads, t + 2*threads, ... in increasing element order (a
//      product is rounded, then added: no FMA contraction);
//   2. each warp of 32 threads adds its lanes by butterfly: for offset
//      16, 8, 4, 2, 1, lane l takes v[l] + v[l ^ offset];
//   3. warp 0 does the same over the warps' results (lane 0 of each), lanes
//      beyond the number of warps contributing +0.
// IEEE addition is commutative, so both lanes of a butterfly pair hold the
// same value and the result does not depend on which lane reads it.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_KERNELORDER_H
#define SP_RUNTIME_CUDA_KERNELORDER_H

#include "sp/Runtime/Numerics.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace sp_kernel_order {

using namespace mlir::sp::numerics;

/// Steps 2 and 3 above over one value per thread (`values.size()` threads,
/// a multiple of 32).
inline float blockSum(std::vector<float> values) {
  auto warpSum = [](float *lanes) {
    for (int offset = 16; offset > 0; offset >>= 1) {
      float next[32];
      for (int l = 0; l < 32; ++l)
        next[l] = lanes[l] + lanes[l ^ offset];
      for (int l = 0; l < 32; ++l)
        lanes[l] = next[l];
    }
    return lanes[0];
  };
  size_t warps = values.size() / 32;
  float partial[32] = {};
  for (size_t w = 0; w < warps; ++w)
    partial[w] = warpSum(&values[w * 32]);
  return warpSum(partial);
}

/// Step 1 and blockSum: the kernels' sum of squares of `row` (as f32).
inline float sumOfSquares(const float *row, int64_t hidden, int threads,
                          int width) {
  std::vector<float> perThread(threads, 0.0f);
  int64_t chunks = (hidden + width - 1) / width;
  for (int t = 0; t < threads; ++t) {
    float ss = 0.0f;
    for (int64_t c = t; c < chunks; c += threads)
      for (int64_t e = c * width; e < (c + 1) * width && e < hidden; ++e) {
        float square = row[e] * row[e];
        ss = ss + square;
      }
    perThread[t] = ss;
  }
  return blockSum(std::move(perThread));
}

/// Numerics.h's rmsNormRow with the kernels' sum of squares.
inline void rmsNormRowGPU(const uint32_t *x, const uint32_t *weight,
                          int64_t hidden, float epsilon, ElementKind kind,
                          int threads, int width, uint32_t *out) {
  std::vector<float> values(hidden);
  for (int64_t i = 0; i < hidden; ++i)
    values[i] = toFloat(x[i], kind);
  float ss = sumOfSquares(values.data(), hidden, threads, width);
  float inverse = 1.0f / std::sqrt(ss / static_cast<float>(hidden) + epsilon);
  for (int64_t i = 0; i < hidden; ++i) {
    float normed = round(values[i] * inverse, kind);
    out[i] = fromFloat(normed * toFloat(weight[i], kind), kind);
  }
}

/// Numerics.h's fusedAddRMSNormRow with the kernels' sum of squares.
inline void fusedAddRMSNormRowGPU(const uint32_t *x, const uint32_t *residual,
                                  const uint32_t *weight, int64_t hidden,
                                  float epsilon, ElementKind kind, int threads,
                                  int width, uint32_t *out,
                                  uint32_t *residualOut) {
  for (int64_t i = 0; i < hidden; ++i)
    residualOut[i] =
        fromFloat(toFloat(x[i], kind) + toFloat(residual[i], kind), kind);
  rmsNormRowGPU(residualOut, weight, hidden, epsilon, kind, threads, width,
                out);
}

} // namespace sp_kernel_order

#endif // SP_RUNTIME_CUDA_KERNELORDER_H
