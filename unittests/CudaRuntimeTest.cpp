//===- CudaRuntimeTest.cpp - the CUDA runtime's error paths, no GPU -------===//
//
// The order of the tests matters: a successful NCCL or cuBLASLt load is
// cached for the process, so the failing loads come first.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "CompiledABI.h"
#include "CublasLtGemm.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <cstdlib>
#include <string>
#include <type_traits>

// CudaRuntime.cpp declares the slice of NCCL's ABI it uses by hand; it must
// match the toolkit's nccl.h.
static_assert(sizeof(ncclUniqueId) == 128);
static_assert(ncclInt8 == 0 && ncclFloat16 == 6 && ncclFloat32 == 7 && ncclFloat64 == 8 &&
              ncclBfloat16 == 9);
static_assert(ncclSum == 0 && ncclProd == 1 && ncclMax == 2 && ncclMin == 3 &&
              ncclAvg == 4);
static_assert(ncclSuccess == 0 && ncclInProgress == 7);
// The point-to-point calls as CudaRuntime.cpp's SP_NCCL_SYMBOLS declares
// them (enums as int, the communicator as a pointer).
static_assert(sizeof(ncclDataType_t) == sizeof(int) &&
              sizeof(ncclComm_t) == sizeof(void *));
static_assert(
    std::is_same_v<decltype(&ncclSend),
                   ncclResult_t (*)(const void *, size_t, ncclDataType_t, int,
                                    ncclComm_t, cudaStream_t)>);
static_assert(std::is_same_v<decltype(&ncclRecv),
                             ncclResult_t (*)(void *, size_t, ncclDataType_t,
                                              int, ncclComm_t, cudaStream_t)>);
static_assert(std::is_same_v<decltype(&ncclGroupStart), ncclResult_t (*)()>);
static_assert(std::is_same_v<decltype(&ncclGroupEnd), ncclResult_t (*)()>);
// The communicators of groups that span part of the job.
static_assert(std::is_same_v<decltype(&ncclCommSplit),
                             ncclResult_t (*)(ncclComm_t, int, int,
                                              ncclComm_t *, ncclConfig_t *)>);
static_assert(NCCL_SPLIT_NOCOLOR == -1);

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

TEST(CudaRuntime, MissingCublasLtIsAClearError) {
  setenv("SP_CUBLASLT_LIBRARY", "/nonexistent/libcublasLt.so.13", 1);
  EXPECT_NE(sp_cuda_rt_load_cublaslt(nullptr), 0);
  EXPECT_EQ(lastError().rfind("cannot load cuBLASLt from "
                              "'/nonexistent/libcublasLt.so.13' (set "
                              "SP_CUBLASLT_LIBRARY, or add "
                              "/usr/local/cuda/lib64 to LD_LIBRARY_PATH): ",
                              0),
            0u)
      << lastError();
}

TEST(CudaRuntime, ALibraryThatIsNotCublasLt) {
  setenv("SP_CUBLASLT_LIBRARY", "libc.so.6", 1);
  EXPECT_NE(sp_cuda_rt_load_cublaslt(nullptr), 0);
  EXPECT_EQ(
      lastError(),
      "'libc.so.6' is not a usable cuBLASLt: it lacks cublasLtGetVersion");
}

// Every symbol of CublasLtGemm.h's list exists in the toolkit's cuBLASLt
// (no GPU needed to load it), of the major version of the headers.
TEST(CudaRuntime, LoadsTheToolkitsCublasLt) {
  setenv("SP_CUBLASLT_LIBRARY", "/usr/local/cuda/lib64/libcublasLt.so.13", 1);
  size_t version = 0;
  ASSERT_EQ(sp_cuda_rt_load_cublaslt(&version), 0) << lastError();
  EXPECT_EQ(version / 10000, size_t(CUBLAS_VER_MAJOR)) << version;
}

namespace {
sp_cuda_abi::CollectiveMatmulCall gemmCall(int inType, int outType, int64_t m,
                                           int64_t k, int64_t n) {
  sp_cuda_abi::CollectiveMatmulCall call;
  call.inType = inType;
  call.outType = outType;
  call.m = m;
  call.k = k;
  call.n = n;
  return call;
}
} // namespace

// What cuBLASLt cannot do is reported before any device or NCCL work, so
// every rank fails alike and none waits for a transfer.
TEST(CudaRuntime, CollectiveMatmulsReportWhatCublasLtCannotDo) {
  auto &backend = sp_cuda_abi::backend();
  auto fnuz =
      gemmCall(sp_cuda_abi::GemmF8E4M3FNUZ, sp_cuda_abi::BF16, 16, 32, 32);
  auto job = sp_cuda_abi::Group::everyRank(1);
  EXPECT_NE(backend.allGatherMatmul(job, fnuz,
                                    "sp.all_gather_matmul at m.mlir:4:7"),
            0);
  EXPECT_EQ(lastError().rfind("sp.all_gather_matmul at m.mlir:4:7: cuBLASLt "
                              "has no f8E4M3FNUZ GEMMs",
                              0),
            0u)
      << lastError();
  auto ragged =
      gemmCall(sp_cuda_abi::GemmF8E4M3FN, sp_cuda_abi::BF16, 16, 40, 32);
  EXPECT_NE(backend.matmulReduceScatter(job, ragged, "m.mlir:9:3"), 0);
  EXPECT_EQ(lastError(),
            "m.mlir:9:3: cuBLASLt's FP8 GEMMs need the contraction size and "
            "the columns to be multiples of 16, got k = 40, n = 32");
}

TEST(CudaRuntime, CollectiveMatmulsWithoutAGpu) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0)
    GTEST_SKIP() << "a GPU is present";
  auto &backend = sp_cuda_abi::backend();
  auto call = gemmCall(sp_cuda_abi::GemmBF16, sp_cuda_abi::BF16, 16, 32, 32);
  auto job = sp_cuda_abi::Group::everyRank(1);
  EXPECT_NE(backend.allGatherMatmul(job, call, "model.mlir:3:8"), 0);
  EXPECT_EQ(lastError().rfind("model.mlir:3:8: no usable CUDA device: ", 0), 0u)
      << lastError();
  int64_t handle = 0;
  EXPECT_NE(
      backend.ringShiftStart(job, nullptr, nullptr, 8, 1, &handle, "m:2:2"), 0);
  EXPECT_EQ(lastError().rfind("m:2:2: no usable CUDA device: ", 0), 0u)
      << lastError();
  EXPECT_NE(backend.ringShiftWait(42, "m:5:5"), 0);
  EXPECT_EQ(lastError(), "m:5:5: wait for an unknown or finished "
                         "sp.ring_shift (handle 42)");
}

// The GEMM's plan (layouts, FP8's TN form, f32 results to round) without
// cuBLASLt: what CublasLtGemm.h decides from the types alone.
TEST(CudaRuntime, CublasLtGemmTypeTable) {
  using namespace sp_cublaslt;
  EXPECT_TRUE(directOutput(OpF32, OutF32));
  EXPECT_FALSE(directOutput(OpF32, OutBF16));
  EXPECT_TRUE(directOutput(OpBF16, OutBF16));
  EXPECT_FALSE(directOutput(OpBF16, OutF16));
  EXPECT_TRUE(directOutput(OpE4M3FN, OutF16));
  EXPECT_EQ(alignmentOf(0), 256u);
  EXPECT_EQ(alignmentOf(4096 + 48), 16u);
  GemmSpec spec;
  spec.operand = OpE4M3FN;
  spec.output = OutBF16;
  spec.k = 32;
  spec.n = 48;
  spec.alignment = 8;
  EXPECT_EQ(unsupported(spec),
            "cuBLASLt's FP8 GEMMs need 16-byte aligned buffers");
  spec.alignment = 16;
  EXPECT_EQ(unsupported(spec), "");
}
