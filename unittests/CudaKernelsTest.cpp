//===- CudaKernelsTest.cpp - the kernel entry points' error paths ---------===//
//
// Runs everywhere: invalid arguments are rejected before any device work,
// and without a usable GPU every entry point returns a CUDA error code.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

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
  // 128-bit vectors: 8 bf16 per thread, one CTA of up to 1024 threads.
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 4096), 512);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_BF16, 16384), 1024);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F32, 4096), 1024);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1000), 1000 / 8 + 3);
  EXPECT_EQ(sp_cuda_norm_block_size(SP_CUDA_F16, 1001), 1024); // scalar path
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
