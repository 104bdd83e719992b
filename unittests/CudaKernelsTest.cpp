//===- CudaKernelsTest.cpp - the kernel entry points' error paths ---------===//
//
// Runs everywhere: invalid arguments are rejected before any device work,
// and without a usable GPU every entry point returns a CUDA error code.
//
//===----------------------------------------------------------------------===//

#include "FP8Convert.h"
#include "KernelOrder.h"
#include "Kernels.h"
#include "sp/Runtime/Numerics.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace mlir::sp::numerics;

namespace {
/// Restores the kernel set a test selected.
struct KernelSetScope {
  int saved = sp_cuda_selected_kernels();
  ~KernelSetScope() { sp_cuda_select_kernels(saved); }
};
} // namespace

TEST(CudaKernels, RejectInvalidArguments) {
  EXPECT_EQ(sp_cuda_rms_norm(SP_CUDA_BF16, nullptr, nullptr, nullptr, 4, 0,
                             1e-5f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(sp_cuda_rms_norm(SP_CUDA_BF16, nullptr, nullptr, nullptr, -1, 8,
                             1e-5f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(sp_cuda_fused_add_rms_norm(42, nullptr, nullptr, nullptr, nullptr,
                                       nullptr, 4, 8, 1e-5f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(sp_cuda_quant(SP_CUDA_F32, SP_CUDA_E4M3FN, nullptr, nullptr,
                          nullptr, -3, nullptr),
            cudaErrorInvalidValue);
  // Nothing to do is not an error.
  EXPECT_EQ(sp_cuda_rms_norm(SP_CUDA_F16, nullptr, nullptr, nullptr, 0, 8,
                             1e-5f, nullptr),
            cudaSuccess);
}

TEST(CudaKernels, LaunchConfiguration) {
  KernelSetScope scope;
  ASSERT_EQ(sp_cuda_select_kernels(SP_CUDA_KERNELS_REFERENCE), cudaSuccess);
  // 128-bit vectors: 8 bf16 per thread, one CTA of up to 1024 threads.
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 4096), 512);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 16384), 1024);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F32, 4096), 1024);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1000), 1000 / 8 + 3);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1001), 1024); // scalar path
  // The reference set's order depends on the buffers' alignment.
  int threads = 0, width = 0;
  ASSERT_EQ(sp_cuda_norm_order(SP_CUDA_BF16, 4096, 1, &threads, &width),
            cudaSuccess);
  EXPECT_EQ(threads, 512);
  EXPECT_EQ(width, 8);
  ASSERT_EQ(sp_cuda_norm_order(SP_CUDA_BF16, 4096, 0, &threads, &width),
            cudaSuccess);
  EXPECT_EQ(threads, 512);
  EXPECT_EQ(width, 1);
}

TEST(CudaKernels, FastLaunchConfiguration) {
  KernelSetScope scope;
  ASSERT_EQ(sp_cuda_select_kernels(SP_CUDA_KERNELS_FAST), cudaSuccess);
  EXPECT_EQ(sp_cuda_selected_kernels(), SP_CUDA_KERNELS_FAST);
  // Four 16-byte chunks per thread, warps, at most 512 threads (two CTAs
  // per SM), from the hidden size alone.
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 4096), 128);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 8192), 256);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 16384), 512);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 65536), 512); // streamed
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F32, 4096), 256);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1000), 32);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1001), 32);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1), 32);
  // One element-to-thread mapping whatever the alignment or the row length.
  for (int64_t hidden : {4096, 1001}) {
    int threads[2], width[2];
    for (int aligned : {0, 1})
      ASSERT_EQ(sp_cuda_norm_order(SP_CUDA_F16, hidden, aligned,
                                   &threads[aligned], &width[aligned]),
                cudaSuccess);
    EXPECT_EQ(threads[0], threads[1]);
    EXPECT_EQ(width[0], 8);
    EXPECT_EQ(width[1], 8);
  }
  // The software FP8 variant orders the sums alike.
  ASSERT_EQ(sp_cuda_select_kernels(SP_CUDA_KERNELS_FAST_SOFTWARE_FP8),
            cudaSuccess);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 4096), 128);
  // Unknown sets are refused and change nothing.
  EXPECT_EQ(sp_cuda_select_kernels(7), cudaErrorInvalidValue);
  EXPECT_EQ(sp_cuda_selected_kernels(), SP_CUDA_KERNELS_FAST_SOFTWARE_FP8);
}

// The fast kernels' branch-free FP8 conversion (FP8Convert.h, compiled here
// for the host) and the identity their hardware fnuz path relies on
// (e4m3fnuz(c) is e4m3fn(2c) but for -0), against Numerics.h over f32
// values of every exponent in the quant's clamp range (a stride through the
// bit patterns; bench/gpu/check.cu --dry-run runs a denser one).
TEST(CudaKernels, SoftwareFP8MatchesNumerics) {
  int64_t checked = 0;
  for (uint64_t u = 0; u < (1ull << 32); u += 997) {
    float f = floatOf(uint32_t(u));
    if (std::isnan(f))
      continue;
    float a = std::fabs(f);
    if (a <= 448.0f) {
      ++checked;
      ASSERT_EQ(sp_fp8::softwareFP8<false>(f), floatToFP8(f, FP8Kind::E4M3FN))
          << "f32 bits " << u;
    }
    if (a <= 240.0f) {
      ASSERT_EQ(sp_fp8::softwareFP8<true>(f), floatToFP8(f, FP8Kind::E4M3FNUZ))
          << "f32 bits " << u;
    }
    if (a <= 224.0f) {
      ASSERT_EQ(sp_fp8::fnuzFromDoubledFn(floatToFP8(2.0f * f, FP8Kind::E4M3FN)),
                floatToFP8(f, FP8Kind::E4M3FNUZ))
          << "f32 bits " << u;
    }
  }
  EXPECT_GT(checked, 2000000);
  // Every code's own value, ties between neighbours (to even) included.
  for (FP8Kind kind : {FP8Kind::E4M3FN, FP8Kind::E4M3FNUZ})
    for (int c = 0; c < 256; ++c) {
      float f = fp8ToFloat(uint8_t(c), kind);
      if (std::isnan(f) || std::fabs(f) > fp8Max(kind))
        continue;
      uint32_t code = kind == FP8Kind::E4M3FN ? sp_fp8::softwareFP8<false>(f)
                                              : sp_fp8::softwareFP8<true>(f);
      EXPECT_EQ(code, floatToFP8(f, kind)) << "code " << c;
    }
}

// The host model of the kernels' summation order (KernelOrder.h) is
// Numerics.h's row function wherever the order cannot matter (sums of small
// integers are exact), and differs from the sequential sum where it does.
TEST(CudaKernels, KernelOrderModel) {
  std::mt19937 rng(3);
  for (ElementKind kind : {ElementKind::BF16, ElementKind::F16, ElementKind::F32})
    for (int64_t hidden : {1, 31, 1000, 1001, 4096}) {
      std::vector<uint32_t> x(hidden), r(hidden), w(hidden), a(hidden),
          b(hidden), ra(hidden), rb(hidden);
      for (int64_t i = 0; i < hidden; ++i) {
        x[i] = fromFloat(float(int(rng() % 9) - 4), kind);
        r[i] = fromFloat(float(int(rng() % 5) - 2), kind);
        w[i] = fromFloat(std::normal_distribution<float>()(rng), kind);
      }
      for (int threads : {32, 96, 512})
        for (int width : {1, 4, 8}) {
          rmsNormRow(x.data(), w.data(), hidden, 1e-6f, kind, a.data());
          sp_kernel_order::rmsNormRowGPU(x.data(), w.data(), hidden, 1e-6f,
                                         kind, threads, width, b.data());
          EXPECT_EQ(a, b) << "hidden " << hidden << " threads " << threads;
          fusedAddRMSNormRow(x.data(), r.data(), w.data(), hidden, 1e-6f, kind,
                             a.data(), ra.data());
          sp_kernel_order::fusedAddRMSNormRowGPU(x.data(), r.data(), w.data(),
                                                 hidden, 1e-6f, kind, threads,
                                                 width, b.data(), rb.data());
          EXPECT_EQ(a, b);
          EXPECT_EQ(ra, rb);
        }
    }
  // 1 + 2^-24 * 32 in sequence loses every small term; the tree keeps them.
  std::vector<float> row(64, 0.0f);
  row[0] = 1.0f;
  for (int i = 1; i < 33; ++i)
    row[i] = std::ldexp(1.0f, -12); // square 2^-24, half an ulp of 1
  float sequential = 0.0f;
  for (float v : row)
    sequential = sequential + v * v;
  EXPECT_EQ(sequential, 1.0f);
  EXPECT_GT(sp_kernel_order::sumOfSquares(row.data(), 64, 64, 1), 1.0f);
}

TEST(CudaKernels, ReportErrorsWithoutADevice) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0)
    GTEST_SKIP() << "a GPU is present; bench/gpu/check.sh covers it";
  int result = sp_cuda_rms_norm(SP_CUDA_BF16, nullptr, nullptr, nullptr, 4, 8,
                                1e-5f, nullptr);
  EXPECT_NE(result, cudaSuccess);
  EXPECT_STRNE(cudaGetErrorString(static_cast<cudaError_t>(result)), "");
}
