//===- HostKernels.h - sp's CUDA kernels' semantics on the host -*- C++ -*-===//
//
// What sp_cuda_rms_norm & co. compute, with the reference numerics
// (include/sp/Runtime/Numerics.h), on host memory: the emulated runtime and
// the mock GPU of the tests run these instead of the kernels. Element type
// codes are Kernels.h's (0 f32, 1 f16, 2 bf16; fp8 0 e4m3fn, 1 e4m3fnuz).
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_EMULATED_HOSTKERNELS_H
#define SP_RUNTIME_CUDA_EMULATED_HOSTKERNELS_H

#include "CompiledABI.h"
#include "sp/Runtime/Numerics.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace sp_host_kernels {

using namespace mlir::sp::numerics;

inline size_t widthOf(int dtype) { return sp_cuda_abi::elementBytes(dtype); }

inline ElementKind kindOf(int dtype) {
  return dtype == 0 ? ElementKind::F32
                    : dtype == 1 ? ElementKind::F16 : ElementKind::BF16;
}

inline FP8Kind fp8Of(int fp8) {
  return fp8 == 0 ? FP8Kind::E4M3FN : FP8Kind::E4M3FNUZ;
}

/// Element `i` of an activation buffer as raw bits (float bits for f32).
inline uint32_t load(const void *data, int dtype, int64_t i) {
  uint32_t v = 0;
  std::memcpy(&v, static_cast<const char *>(data) + widthOf(dtype) * i,
              widthOf(dtype));
  return v;
}

inline void store(void *data, int dtype, int64_t i, uint32_t bits) {
  std::memcpy(static_cast<char *>(data) + widthOf(dtype) * i, &bits,
              widthOf(dtype));
}

/// rms_norm / fused add + rms_norm, writing `out` or, with `quant`, `q`;
/// `residualOut` when `fused`.
inline void norm(int dtype, int fp8, bool fused, bool quant, void *out,
                 uint8_t *q, void *residualOut, const void *x,
                 const void *residual, const void *weight, const float *scale,
                 int64_t rows, int64_t hidden, float epsilon) {
  ElementKind kind = kindOf(dtype);
  std::vector<uint32_t> xs(hidden), rs(hidden), ws(hidden), z(hidden),
      normed(hidden);
  for (int64_t i = 0; i < hidden; ++i)
    ws[i] = load(weight, dtype, i);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t base = row * hidden;
    for (int64_t i = 0; i < hidden; ++i)
      xs[i] = load(x, dtype, base + i);
    if (fused) {
      for (int64_t i = 0; i < hidden; ++i)
        rs[i] = load(residual, dtype, base + i);
      fusedAddRMSNormRow(xs.data(), rs.data(), ws.data(), hidden, epsilon,
                         kind, normed.data(), z.data());
      for (int64_t i = 0; i < hidden; ++i)
        store(residualOut, dtype, base + i, z[i]);
    } else {
      rmsNormRow(xs.data(), ws.data(), hidden, epsilon, kind, normed.data());
    }
    for (int64_t i = 0; i < hidden; ++i) {
      if (quant)
        q[base + i] = quantFP8(toFloat(normed[i], kind), *scale, fp8Of(fp8));
      else
        store(out, dtype, base + i, normed[i]);
    }
  }
}

/// q[i] = quant(x[i], *scale)
inline void quant(int dtype, int fp8, uint8_t *q, const void *x,
                  const float *scale, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    q[i] = quantFP8(toFloat(load(x, dtype, i), kindOf(dtype)), *scale,
                    fp8Of(fp8));
}

/// Element `i` of a GEMM operand of GemmInput `type`, as a float (exact).
inline float gemmOperand(const void *data, int type, int64_t i) {
  switch (type) {
  case sp_cuda_abi::GemmF32:
    return static_cast<const float *>(data)[i];
  case sp_cuda_abi::GemmF16:
    return f16ToFloat(static_cast<const uint16_t *>(data)[i]);
  case sp_cuda_abi::GemmBF16:
    return bf16ToFloat(static_cast<const uint16_t *>(data)[i]);
  case sp_cuda_abi::GemmF8E4M3FN:
    return fp8ToFloat(static_cast<const uint8_t *>(data)[i], FP8Kind::E4M3FN);
  default:
    return fp8ToFloat(static_cast<const uint8_t *>(data)[i],
                      FP8Kind::E4M3FNUZ);
  }
}

/// out[rows][n] = lhs[rows][k] x rhs[k][n] with the numerics of the
/// collective matmul ops' GEMM (CompiledABI.h), as sp-lower-to-cpu computes
/// linalg.matmul: operands converted to the result type T, products and
/// sums rounded to T (bf16 included: sp-strict-float-casts keeps the CPU
/// lowering's roundings), summed from +0 in k order. Scaled: f32 then
/// T(acc * (lhsScale * rhsScale)). Bit for bit the CPU path's result.
/// With `init` ([rows][n] of T, unscaled only), the sum starts from
/// init[i][j] instead of +0: linalg.matmul's accumulation into its init.
inline void gemm(const sp_cuda_abi::CollectiveMatmulCall &c, const void *lhs,
                 int64_t rows, void *out, const void *init = nullptr) {
  ElementKind kind = kindOf(c.outType);
  float scale = c.scaled ? *c.lhsScale * *c.rhsScale : 1.0f;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      float acc =
          init ? toFloat(load(init, c.outType, i * c.n + j), kind) : 0.0f;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        float a = gemmOperand(lhs, c.inType, i * c.k + kk);
        float b = gemmOperand(c.rhs, c.inType, kk * c.n + j);
        if (c.scaled) {
          acc = acc + a * b;
          continue;
        }
        float product = round(round(a, kind) * round(b, kind), kind);
        acc = round(acc + product, kind);
      }
      float value = c.scaled ? round(acc * scale, kind) : acc;
      store(out, c.outType, i * c.n + j, fromFloat(value, kind));
    }
}

/// One linalg.matmul (MatmulCall): gemm's numerics, from the init when
/// there is one. `out` may be `init` (each element is read before it is
/// written).
inline void matmul(const sp_cuda_abi::MatmulCall &m) {
  gemm(m.asGemm(), m.lhs, m.m, m.out, m.init);
}

} // namespace sp_host_kernels

#endif // SP_RUNTIME_CUDA_EMULATED_HOSTKERNELS_H
