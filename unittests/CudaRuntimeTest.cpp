//===- CudaRuntimeTest.cpp - the CUDA runtime's error paths, no GPU -------===//
//
// The order of the tests matters: a successful NCCL load is cached for the
// process, so the failing loads come first.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <cstdlib>
#include <string>

// CudaRuntime.cpp declares the slice of NCCL's ABI it uses by hand; it must
// match the toolkit's nccl.h.
static_assert(sizeof(ncclUniqueId) == 128);
static_assert(ncclInt8 == 0 && ncclFloat16 == 6 && ncclFloat32 == 7 && ncclFloat64 == 8 &&
              ncclBfloat16 == 9);
static_assert(ncclSum == 0 && ncclProd == 1 && ncclMax == 2 && ncclMin == 3 &&
              ncclAvg == 4);
static_assert(ncclSuccess == 0 && ncclInProgress == 7);

static std::string lastError() { return sp_cuda_rt_last_error(); }

TEST(CudaRuntime, MissingNcclIsAClearError) {
  setenv("SP_NCCL_LIBRARY", "/nonexistent/libnccl.so.2", 1);
  EXPECT_NE(sp_cuda_rt_load_nccl(nullptr), 0);
  EXPECT_NE(lastError().find("cannot load NCCL from '/nonexistent/libnccl.so.2'"),
            std::string::npos)
      << lastError();
}

TEST(CudaRuntime, ALibraryThatIsNotNccl) {
  setenv("SP_NCCL_LIBRARY", "libc.so.6", 1);
  EXPECT_NE(sp_cuda_rt_load_nccl(nullptr), 0);
  EXPECT_NE(lastError().find("'libc.so.6' is not a usable NCCL: it lacks ncclGetVersion"),
            std::string::npos)
      << lastError();
}

TEST(CudaRuntime, LoadsTheToolkitsNccl) {
  setenv("SP_NCCL_LIBRARY", "/usr/local/cuda/lib64/libnccl.so.2", 1);
  int version = 0;
  ASSERT_EQ(sp_cuda_rt_load_nccl(&version), 0) << lastError();
  EXPECT_GE(version, 22800); // NCCL 2.28
}

TEST(CudaRuntime, RankAndSizeFromTheEnvironment) {
  setenv("SP_RANK", "3", 1);
  setenv("SP_WORLD_SIZE", "2", 1);
  EXPECT_EQ(sp_cuda_rt_rank(), 3);
  EXPECT_NE(sp_cuda_rt_init(), 0);
  EXPECT_EQ(lastError(), "invalid rank 3 of 2 (SP_RANK / SP_WORLD_SIZE)");
  unsetenv("SP_RANK");
  unsetenv("SP_WORLD_SIZE");
  EXPECT_EQ(sp_cuda_rt_rank(), 0);
  EXPECT_EQ(sp_cuda_rt_world_size(), 1);
}

TEST(CudaRuntime, CollectivesReportTheOpLocation) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0)
    GTEST_SKIP() << "a GPU is present";
  EXPECT_NE(sp_cuda_rt_all_reduce(nullptr, nullptr, 8, 2, 0, "model.mlir:3:8"), 0);
  EXPECT_EQ(lastError().rfind("model.mlir:3:8: no usable CUDA device: ", 0), 0u)
      << lastError();
  EXPECT_NE(sp_cuda_rt_all_gather(nullptr, nullptr, 8, 7, "model.mlir:9:1"), 0);
  EXPECT_EQ(lastError(), "model.mlir:9:1: unsupported element type code 7");
  EXPECT_NE(sp_cuda_rt_reduce_scatter(nullptr, nullptr, 8, 0, 9, "m:1:1"), 0);
  EXPECT_EQ(lastError(), "m:1:1: unknown reduction 9");
}
