//===- CollectiveMatmulMockTest.cpp - the GPU backend's GEMMs, mock GPU ---===//
//
// The GPU backend's collective matmuls and ring shifts (CudaRuntime.cpp) on
// one rank, through libsp_cuda_runtime_mockgpu.so: its cuBLASLt descriptors
// interpreted by the mock (MockCublasLt.cpp), for every operand/result type
// pair, plain and FP8 scaled, against what cuBLASLt's compute type 32F
// defines: f32 products summed in k order from +0, one rounding (bit for
// bit). Buffers in host memory (staged by the runtime) and in "device"
// memory (used in place), odd shapes (alignments below 16 bytes), k = 0,
// the errors. The plain matmul (linalg.matmul's call) likewise, from +0
// and from an init (beta 1, or the rounded f32 D plus the init), in place
// too. The multi-rank pipelines run in test/CUDA/collective-matmul-
// mock.test. A separate binary: the mock library exports the same entry
// points as the GPU runtime SPTests links.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"
#include "GroupMemref.h"

#include "sp/Runtime/Numerics.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

using namespace mlir::sp::numerics;
using sp_cuda_abi::CollectiveMatmulCall;

extern "C" int sp_cuda_rt_synchronize();
extern "C" void *sp_cuda_rt_stream();
extern "C" void _mlir_ciface_sp_cuda_rt_all_gather_matmul_bf16_f32(
    sp_cuda_abi::UnrankedMemRef *out, sp_cuda_abi::UnrankedMemRef *gathered,
    sp_cuda_abi::UnrankedMemRef *lhs, sp_cuda_abi::UnrankedMemRef *rhs,
    sp_cuda_abi::GroupDescriptor *group, const char *location);

namespace {

/// Bytes of one element of a GemmInput / DType code.
size_t inBytes(int type) { return sp_cuda_abi::gemmInputBytes(type); }
size_t outBytes(int type) { return sp_cuda_abi::elementBytes(type); }

ElementKind kindOf(int dtype) {
  return dtype == sp_cuda_abi::F32   ? ElementKind::F32
         : dtype == sp_cuda_abi::F16 ? ElementKind::F16
                                     : ElementKind::BF16;
}

float operand(const std::vector<uint8_t> &data, int type, int64_t i) {
  const uint8_t *p = data.data() + i * inBytes(type);
  uint32_t bits = 0;
  std::memcpy(&bits, p, inBytes(type));
  switch (type) {
  case sp_cuda_abi::GemmF32:
    return floatOf(bits);
  case sp_cuda_abi::GemmF16:
    return f16ToFloat(uint16_t(bits));
  case sp_cuda_abi::GemmBF16:
    return bf16ToFloat(uint16_t(bits));
  default:
    return fp8ToFloat(uint8_t(bits), FP8Kind::E4M3FN);
  }
}

/// Random operands of `type`, small enough for f16 sums of fp8 products.
std::vector<uint8_t> random(int type, int64_t count, std::mt19937 &rng) {
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<uint8_t> data(size_t(count) * inBytes(type));
  for (int64_t i = 0; i < count; ++i) {
    float v = uniform(rng);
    uint32_t bits = type == sp_cuda_abi::GemmF32   ? bitsOf(v)
                    : type == sp_cuda_abi::GemmF16 ? floatToF16(v)
                    : type == sp_cuda_abi::GemmBF16
                        ? floatToBF16(v)
                        : floatToFP8(v, FP8Kind::E4M3FN);
    std::memcpy(data.data() + i * inBytes(type), &bits, inBytes(type));
  }
  return data;
}

/// cuBLASLt's definition: T(scale * sum_k a * b), f32 from +0 in k order.
std::vector<uint8_t> expected(const std::vector<uint8_t> &lhs,
                              const std::vector<uint8_t> &rhs, int inType,
                              int outType, int64_t rows, int64_t k, int64_t n,
                              float scale) {
  std::vector<uint8_t> out(size_t(rows * n) * outBytes(outType));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t l = 0; l < k; ++l)
        acc = acc +
              operand(lhs, inType, i * k + l) * operand(rhs, inType, l * n + j);
      uint32_t bits = fromFloat(scale * acc, kindOf(outType));
      std::memcpy(out.data() + (i * n + j) * outBytes(outType), &bits,
                  outBytes(outType));
    }
  return out;
}

/// A 2-D row-major memref descriptor over `data`.
struct Memref {
  std::vector<int64_t> words;
  sp_cuda_abi::UnrankedMemRef memref;
  Memref(void *data, int64_t rows, int64_t cols) {
    auto address = reinterpret_cast<int64_t>(data);
    words = {address, address, 0, rows, cols, cols, 1};
    memref = {2, words.data()};
  }
  sp_cuda_abi::UnrankedMemRef *operator&() { return &memref; }
};

/// The group of the job's one rank, as the ABI layer hands it to a backend;
/// with `split`, a layout that spans the same rank but is not the job's
/// rank order as written (grid [1, 1], axes [1]), so the backend splits a
/// communicator for it.
sp_cuda_abi::Group oneRank(bool split = false) {
  sp_cuda_abi::Group group = sp_cuda_abi::Group::everyRank(1);
  if (split) {
    group.layout.grid = {1, 1};
    group.layout.axes = {1};
    group.words =
        sp_runtime::GroupLayout::encode(group.layout.grid, group.layout.axes);
    group.world = false;
  }
  return group;
}

std::string lastError() { return sp_cuda_abi::backend().lastError(); }

const char *kLoc = "sp.all_gather_matmul at gemm.mlir:1:1";

/// One rank: all_gather_matmul is the GEMM (and gathered = lhs);
/// matmul_reduce_scatter is the GEMM too (the sum of one partial).
void checkPair(int inType, int outType, bool scaled, int64_t m, int64_t k,
               int64_t n, bool split = false) {
  SCOPED_TRACE("in " + std::to_string(inType) + " out " +
               std::to_string(outType) + (scaled ? " scaled" : "") + " " +
               std::to_string(m) + "x" + std::to_string(k) + "x" +
               std::to_string(n));
  std::mt19937 rng(unsigned(inType * 31 + outType * 7 + m + k + n));
  std::vector<uint8_t> lhs = random(inType, m * k, rng);
  std::vector<uint8_t> rhs = random(inType, k * n, rng);
  float lhsScale = 0.375f, rhsScale = 1.25f;
  float scale = scaled ? lhsScale * rhsScale : 1.0f;
  std::vector<uint8_t> want =
      expected(lhs, rhs, inType, outType, m, k, n, scale);
  std::vector<uint8_t> out(want.size(), 0xEE), gathered(lhs.size(), 0xEE),
      reduced(want.size(), 0xEE);
  CollectiveMatmulCall call;
  call.inType = inType;
  call.outType = outType;
  call.scaled = scaled;
  call.lhs = lhs.data();
  call.rhs = rhs.data();
  call.lhsScale = scaled ? &lhsScale : nullptr;
  call.rhsScale = scaled ? &rhsScale : nullptr;
  call.out = out.data();
  call.gathered = gathered.data();
  call.m = m;
  call.k = k;
  call.n = n;
  auto &backend = sp_cuda_abi::backend();
  ASSERT_EQ(backend.allGatherMatmul(oneRank(split), call, kLoc), 0)
      << lastError();
  EXPECT_EQ(out, want);
  EXPECT_EQ(gathered, lhs);
  call.out = reduced.data();
  call.gathered = nullptr;
  ASSERT_EQ(backend.matmulReduceScatter(oneRank(split), call, kLoc), 0)
      << lastError();
  EXPECT_EQ(reduced, want);
}

} // namespace

TEST(CollectiveMatmulMock, EveryTypePairIsCublasLtsF32Accumulation) {
  for (int in : {sp_cuda_abi::GemmF32, sp_cuda_abi::GemmF16,
                 sp_cuda_abi::GemmBF16, sp_cuda_abi::GemmF8E4M3FN})
    for (int out : {sp_cuda_abi::F32, sp_cuda_abi::F16, sp_cuda_abi::BF16}) {
      checkPair(in, out, /*scaled=*/false, 8, 32, 16);
      if (in == sp_cuda_abi::GemmF8E4M3FN)
        checkPair(in, out, /*scaled=*/true, 8, 32, 16);
    }
}

// Rows, contraction and columns that leave 4- and 2-byte alignments: the
// preference must promise no more than the pointers have.
TEST(CollectiveMatmulMock, OddShapes) {
  checkPair(sp_cuda_abi::GemmF32, sp_cuda_abi::F32, false, 3, 5, 7);
  checkPair(sp_cuda_abi::GemmBF16, sp_cuda_abi::BF16, false, 3, 5, 7);
  checkPair(sp_cuda_abi::GemmF16, sp_cuda_abi::F32, false, 1, 1, 1);
  checkPair(sp_cuda_abi::GemmF32, sp_cuda_abi::BF16, false, 5, 3, 9);
}

// A group with a layout gets its own communicator (ncclCommSplit of the
// job's), here of the one rank.
TEST(CollectiveMatmulMock, LayoutGroupsSplitACommunicator) {
  checkPair(sp_cuda_abi::GemmBF16, sp_cuda_abi::F32, false, 4, 16, 8,
            /*split=*/true);
  std::vector<float> in = {1, 2, 3}, out(3, 0);
  int64_t handle = 0;
  auto &backend = sp_cuda_abi::backend();
  ASSERT_EQ(backend.ringShiftStart(oneRank(true), in.data(), out.data(), 12, 1,
                                   &handle, "shift:3:1"),
            0)
      << lastError();
  ASSERT_EQ(backend.ringShiftWait(handle, "shift:3:1"), 0) << lastError();
  EXPECT_EQ(out, in);
  std::vector<float> sum(3, 0);
  ASSERT_EQ(backend.allReduce(oneRank(true), in.data(), sum.data(), 3,
                              sp_cuda_abi::F32, /*sum=*/0, "sum:1:1"),
            0)
      << lastError();
  EXPECT_EQ(sum, in);
}

TEST(CollectiveMatmulMock, EmptyContractionIsZero) {
  checkPair(sp_cuda_abi::GemmBF16, sp_cuda_abi::F32, false, 4, 0, 6);
}

// Operands already in device memory are used in place.
TEST(CollectiveMatmulMock, DeviceBuffers) {
  int64_t m = 4, k = 16, n = 16;
  std::mt19937 rng(7);
  std::vector<uint8_t> lhs = random(sp_cuda_abi::GemmBF16, m * k, rng);
  std::vector<uint8_t> rhs = random(sp_cuda_abi::GemmBF16, k * n, rng);
  std::vector<uint8_t> want =
      expected(lhs, rhs, sp_cuda_abi::GemmBF16, sp_cuda_abi::F32, m, k, n, 1);
  void *dLhs, *dRhs, *dOut, *dGathered;
  ASSERT_EQ(cudaMallocAsync(&dLhs, lhs.size(), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dRhs, rhs.size(), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dOut, want.size(), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dGathered, lhs.size(), nullptr), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dLhs, lhs.data(), lhs.size(),
                            cudaMemcpyHostToDevice, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dRhs, rhs.data(), rhs.size(),
                            cudaMemcpyHostToDevice, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  Memref out(dOut, m, n), gathered(dGathered, m, k), a(dLhs, m, k),
      b(dRhs, k, n);
  GroupMemref group(sp_runtime::GroupLayout::encodeWorld(1));
  _mlir_ciface_sp_cuda_rt_all_gather_matmul_bf16_f32(&out, &gathered, &a, &b,
                                                     &group, kLoc);
  // The call only enqueued its work on the runtime's stream: an embedder
  // synchronizes before using the result on another stream.
  ASSERT_EQ(sp_cuda_rt_synchronize(), 0) << lastError();
  std::vector<uint8_t> got(want.size());
  ASSERT_EQ(cudaMemcpyAsync(got.data(), dOut, got.size(),
                            cudaMemcpyDeviceToHost, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  EXPECT_EQ(got, want);
  for (void *p : {dLhs, dRhs, dOut, dGathered})
    EXPECT_EQ(cudaFreeAsync(p, nullptr), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
}

TEST(CollectiveMatmulMock, Errors) {
  auto &backend = sp_cuda_abi::backend();
  std::vector<uint8_t> lhs(64 * 48), rhs(48 * 32), out(64 * 32 * 2),
      gathered(lhs.size());
  CollectiveMatmulCall call;
  call.inType = sp_cuda_abi::GemmF8E4M3FNUZ;
  call.outType = sp_cuda_abi::BF16;
  call.lhs = lhs.data();
  call.rhs = rhs.data();
  call.out = out.data();
  call.gathered = gathered.data();
  call.m = 64;
  call.k = 48;
  call.n = 32;
  EXPECT_NE(backend.allGatherMatmul(oneRank(), call, kLoc), 0);
  EXPECT_EQ(lastError().rfind(
                std::string(kLoc) + ": cuBLASLt has no f8E4M3FNUZ GEMMs", 0),
            0u)
      << lastError();
  call.inType = sp_cuda_abi::GemmBF16;
  setenv("SP_MOCK_CUBLASLT_FAIL", "1", 1);
  EXPECT_NE(backend.matmulReduceScatter(oneRank(), call, "m.mlir:7:7"), 0);
  unsetenv("SP_MOCK_CUBLASLT_FAIL");
  EXPECT_EQ(lastError(), "m.mlir:7:7: cublasLtMatmul failed: "
                         "CUBLAS_STATUS_EXECUTION_FAILED (mock cuBLASLt "
                         "failure)");
  EXPECT_NE(backend.ringShiftWait(99, "m.mlir:8:8"), 0);
  EXPECT_EQ(lastError(), "m.mlir:8:8: wait for an unknown or finished "
                         "sp.ring_shift (handle 99)");
}

namespace {
/// Whether cuBLASLt writes `out` from `in` operands itself (CublasLtGemm.h's
/// directOutput); otherwise the runtime rounds an f32 D.
bool direct(int in, int out) {
  return out == sp_cuda_abi::F32 || in == sp_cuda_abi::GemmF8E4M3FN ||
         (in == sp_cuda_abi::GemmF16 && out == sp_cuda_abi::F16) ||
         (in == sp_cuda_abi::GemmBF16 && out == sp_cuda_abi::BF16);
}

/// Backend::matmul (linalg.matmul) on one rank against cuBLASLt's
/// definition: T(sum) from +0; with an init, T(init + sum) (beta 1) where
/// cuBLASLt writes T, else T(init + T(sum)) (the f32 D rounded, then the
/// partial sums kernel). `inPlace`: out is the init's buffer.
void checkMatmul(int inType, int outType, bool withInit, int64_t m, int64_t k,
                 int64_t n, bool inPlace = false) {
  SCOPED_TRACE("matmul in " + std::to_string(inType) + " out " +
               std::to_string(outType) + (withInit ? " + init" : "") +
               (inPlace ? " in place" : "") + " " + std::to_string(m) + "x" +
               std::to_string(k) + "x" + std::to_string(n));
  std::mt19937 rng(unsigned(inType * 13 + outType * 5 + m + k + n));
  std::vector<uint8_t> lhs = random(inType, m * k, rng);
  std::vector<uint8_t> rhs = random(inType, k * n, rng);
  int initType = outType == sp_cuda_abi::F32    ? sp_cuda_abi::GemmF32
                 : outType == sp_cuda_abi::F16 ? sp_cuda_abi::GemmF16
                                               : sp_cuda_abi::GemmBF16;
  std::vector<uint8_t> init = random(initType, m * n, rng);
  std::vector<uint8_t> sum = expected(lhs, rhs, inType, sp_cuda_abi::F32, m,
                                      k, n, 1.0f);
  ElementKind kind = kindOf(outType);
  std::vector<uint8_t> want(size_t(m * n) * outBytes(outType));
  for (int64_t i = 0; i < m * n; ++i) {
    float acc = operand(sum, sp_cuda_abi::GemmF32, i);
    float value = acc;
    if (withInit) {
      float c = operand(init, initType, i);
      value = k == 0 ? c
              : direct(inType, outType)
                  ? c + acc
                  : c + toFloat(fromFloat(acc, kind), kind);
    }
    uint32_t bits = fromFloat(value, kind);
    std::memcpy(want.data() + i * outBytes(outType), &bits, outBytes(outType));
  }
  std::vector<uint8_t> out(want.size(), 0xEE);
  sp_cuda_abi::MatmulCall call;
  call.inType = inType;
  call.outType = outType;
  call.lhs = lhs.data();
  call.rhs = rhs.data();
  call.init = withInit ? init.data() : nullptr;
  call.out = inPlace ? init.data() : out.data();
  call.m = m;
  call.k = k;
  call.n = n;
  ASSERT_EQ(sp_cuda_abi::backend().matmul(call, "linalg.matmul at m.mlir:2:8"),
            0)
      << lastError();
  EXPECT_EQ(inPlace ? init : out, want);
}
} // namespace

TEST(PlainMatmulMock, EveryTypePairFromZeroAndFromAnInit) {
  for (int in : {sp_cuda_abi::GemmF32, sp_cuda_abi::GemmF16,
                 sp_cuda_abi::GemmBF16, sp_cuda_abi::GemmF8E4M3FN})
    for (int out : {sp_cuda_abi::F32, sp_cuda_abi::F16, sp_cuda_abi::BF16})
      for (bool init : {false, true})
        checkMatmul(in, out, init, 8, 32, 16);
}

TEST(PlainMatmulMock, OddShapesEmptySumsAndInPlace) {
  checkMatmul(sp_cuda_abi::GemmF32, sp_cuda_abi::F32, true, 3, 5, 7);
  checkMatmul(sp_cuda_abi::GemmBF16, sp_cuda_abi::BF16, true, 3, 5, 7);
  checkMatmul(sp_cuda_abi::GemmF32, sp_cuda_abi::BF16, true, 5, 3, 9);
  checkMatmul(sp_cuda_abi::GemmBF16, sp_cuda_abi::BF16, false, 4, 0, 6);
  checkMatmul(sp_cuda_abi::GemmBF16, sp_cuda_abi::BF16, true, 4, 0, 6);
  checkMatmul(sp_cuda_abi::GemmF16, sp_cuda_abi::F16, true, 4, 8, 8,
              /*inPlace=*/true);
  checkMatmul(sp_cuda_abi::GemmF32, sp_cuda_abi::F16, true, 4, 8, 8,
              /*inPlace=*/true);
  checkMatmul(sp_cuda_abi::GemmBF16, sp_cuda_abi::F32, false, 0, 8, 8);
}

TEST(PlainMatmulMock, Errors) {
  std::vector<uint8_t> lhs(64 * 48), rhs(48 * 32), out(64 * 32 * 2);
  sp_cuda_abi::MatmulCall call;
  call.inType = sp_cuda_abi::GemmF8E4M3FN;
  call.outType = sp_cuda_abi::BF16;
  call.lhs = lhs.data();
  call.rhs = rhs.data();
  call.out = out.data();
  call.m = 64;
  call.k = 40;
  call.n = 32;
  auto &backend = sp_cuda_abi::backend();
  EXPECT_NE(backend.matmul(call, "linalg.matmul at m.mlir:3:3"), 0);
  EXPECT_EQ(lastError(), "linalg.matmul at m.mlir:3:3: cuBLASLt's FP8 GEMMs "
                         "need the contraction size and the columns to be "
                         "multiples of 16, got k = 40, n = 32");
  call.k = 48;
  call.inType = sp_cuda_abi::GemmBF16;
  setenv("SP_MOCK_CUBLASLT_FAIL", "1", 1);
  EXPECT_NE(backend.matmul(call, "linalg.matmul at m.mlir:4:4"), 0);
  unsetenv("SP_MOCK_CUBLASLT_FAIL");
  EXPECT_EQ(lastError(), "linalg.matmul at m.mlir:4:4: cublasLtMatmul "
                         "failed: CUBLAS_STATUS_EXECUTION_FAILED (mock "
                         "cuBLASLt failure)");
}

// One rank: the shift is a copy; the input may be reused before the wait.
TEST(CollectiveMatmulMock, RingShiftOnOneRank) {
  auto &backend = sp_cuda_abi::backend();
  std::vector<int32_t> in = {1, 2, 3, 4, 5}, out(5, 0);
  int64_t first = 0, second = 0;
  ASSERT_EQ(
      backend.ringShiftStart(oneRank(), in.data(), out.data(), 20, 3, &first,
                             "shift:1:1"),
      0)
      << lastError();
  std::vector<int32_t> original = in;
  in.assign(5, -1);
  std::vector<int32_t> out2(5, 0);
  ASSERT_EQ(backend.ringShiftStart(oneRank(), in.data(), out2.data(), 20, -1,
                                   &second, "shift:2:1"),
            0)
      << lastError();
  EXPECT_NE(first, second);
  ASSERT_EQ(backend.ringShiftWait(second, "shift:2:1"), 0) << lastError();
  ASSERT_EQ(backend.ringShiftWait(first, "shift:1:1"), 0) << lastError();
  EXPECT_EQ(out, original);
  EXPECT_EQ(out2, in);
  EXPECT_NE(backend.ringShiftWait(first, "shift:1:1"), 0);
}

extern "C" {
int sp_cuda_rt_init();
void sp_cuda_rt_finalize();
const char *sp_cuda_rt_last_error();
}

namespace {
int broadcasts = 0;
int countingBroadcast(void *data, int64_t bytes, int root, void *context) {
  EXPECT_EQ(bytes, 128);
  EXPECT_EQ(root, 0);
  EXPECT_EQ(context, &broadcasts);
  EXPECT_EQ(std::strncmp(static_cast<char *>(data), "mock-nccl-id-", 13), 0);
  ++broadcasts;
  return 0;
}
int failingBroadcast(void *, int64_t, int, void *) { return 1; }
} // namespace

/// The NCCL id travels through the host program's bootstrap (sp-run: an
/// MPI broadcast), not the id file, and the failures say what to do.
TEST(NcclIdExchange, BootstrapBroadcastAndFallbacks) {
  const char *idFile = std::getenv("SP_NCCL_ID_FILE");
  ASSERT_NE(idFile, nullptr);
  sp_cuda_rt_finalize();
  sp_cuda_rt_set_bootstrap(0, 1, &countingBroadcast, &broadcasts);
  ASSERT_EQ(sp_cuda_rt_init(), 0) << sp_cuda_rt_last_error();
  EXPECT_EQ(broadcasts, 1);
  EXPECT_EQ(sp_cuda_rt_init(), 0); // idempotent: no second exchange
  EXPECT_EQ(broadcasts, 1);
  sp_cuda_rt_finalize();

  // Forced to the file: no broadcast (one rank: nothing to write either).
  setenv("SP_NCCL_ID_EXCHANGE", "file", 1);
  ASSERT_EQ(sp_cuda_rt_init(), 0) << sp_cuda_rt_last_error();
  EXPECT_EQ(broadcasts, 1);
  sp_cuda_rt_finalize();

  setenv("SP_NCCL_ID_EXCHANGE", "carrier-pigeon", 1);
  EXPECT_NE(sp_cuda_rt_init(), 0);
  EXPECT_STREQ(sp_cuda_rt_last_error(),
               "SP_NCCL_ID_EXCHANGE='carrier-pigeon' is neither 'mpi' nor "
               "'file'");
  sp_cuda_rt_finalize();
  unsetenv("SP_NCCL_ID_EXCHANGE");

  sp_cuda_rt_set_bootstrap(0, 1, &failingBroadcast, nullptr);
  EXPECT_NE(sp_cuda_rt_init(), 0);
  EXPECT_STREQ(sp_cuda_rt_last_error(),
               "rank 0 of 1: broadcasting the NCCL id from rank 0 over MPI "
               "failed (set SP_NCCL_ID_EXCHANGE=file to exchange it through "
               "SP_NCCL_ID_FILE instead)");
  sp_cuda_rt_finalize();

  // No bootstrap: the file, unless MPI is demanded.
  sp_cuda_rt_set_bootstrap(0, 1, nullptr, nullptr);
  setenv("SP_NCCL_ID_EXCHANGE", "mpi", 1);
  EXPECT_NE(sp_cuda_rt_init(), 0);
  EXPECT_STREQ(sp_cuda_rt_last_error(),
               "SP_NCCL_ID_EXCHANGE=mpi, but the host program set no MPI "
               "bootstrap (sp_cuda_rt_set_bootstrap; sp-run sets one)");
  sp_cuda_rt_finalize();
  unsetenv("SP_NCCL_ID_EXCHANGE");

  // Two ranks without a bootstrap: rank 0 writes the id file.
  std::remove(idFile);
  setenv("SP_WORLD_SIZE", "2", 1);
  setenv("SP_RANK", "1", 1);
  setenv("SP_TIMEOUT_SECONDS", "0", 1);
  EXPECT_NE(sp_cuda_rt_init(), 0); // rank 1: nobody writes the file
  EXPECT_NE(std::string(sp_cuda_rt_last_error())
                .find("rank 1: no NCCL id in '" + std::string(idFile) +
                      "' after 0 s: without an MPI bootstrap"),
            std::string::npos)
      << sp_cuda_rt_last_error();
  sp_cuda_rt_finalize();
  unsetenv("SP_WORLD_SIZE");
  unsetenv("SP_RANK");
  unsetenv("SP_TIMEOUT_SECONDS");
}

int main(int argc, char **argv) {
  // NCCL and cuBLASLt are the mock library itself.
  setenv("SP_NCCL_LIBRARY", SP_MOCKGPU_LIBRARY, 1);
  setenv("SP_CUBLASLT_LIBRARY", SP_MOCKGPU_LIBRARY, 1);
  std::string idFile =
      "/tmp/sp-mockgpu-unittest-nccl-id-" + std::to_string(getpid());
  setenv("SP_NCCL_ID_FILE", idFile.c_str(), 0);
  ::testing::InitGoogleTest(&argc, argv);
  int status = RUN_ALL_TESTS();
  std::remove(idFile.c_str());
  return status;
}

//===----------------------------------------------------------------------===//
// Stream-ordered calls (issue #17 item 1, in part)
//===----------------------------------------------------------------------===//

extern "C" void sp_cuda_rt_function_exit(const char *location);
extern "C" long sp_mock_count(const char *what);

namespace {
std::vector<uint32_t> normReference(const std::vector<uint32_t> &x,
                                    const std::vector<uint32_t> &w,
                                    int64_t rows, int64_t hidden) {
  std::vector<uint32_t> out(x.size());
  for (int64_t r = 0; r < rows; ++r)
    rmsNormRow(&x[r * hidden], w.data(), hidden, 1e-5f, ElementKind::BF16,
               &out[r * hidden]);
  return out;
}

std::vector<uint32_t> readBF16(const void *device, size_t n) {
  // The mock's device memory is host memory; read once the stream is done.
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<const uint16_t *>(device)[i];
  return out;
}
} // namespace

// By default a norm on device buffers only enqueues (no host
// synchronization, no staging copy, the output not written yet: the mock
// runs queued work only when the host waits); the function exit
// (sp_cuda_rt_function_exit) waits once for both calls; host outputs are
// still staged and waited for; a stuck stream is reported at the
// synchronization with the op and location of the first call whose work
// did not complete.
TEST(StreamOrderedCalls, DeviceBuffersOnlyEnqueue) {
  auto &backend = sp_cuda_abi::backend();
  const int64_t rows = 4, hidden = 64;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<uint32_t> x(rows * hidden), w(hidden);
  for (uint32_t &v : x)
    v = floatToBF16(normal(rng));
  for (uint32_t &v : w)
    v = floatToBF16(normal(rng));
  std::vector<uint32_t> want = normReference(x, w, rows, hidden);
  std::vector<uint32_t> want2 = normReference(want, w, rows, hidden);
  std::vector<uint16_t> x16(x.begin(), x.end()), w16(w.begin(), w.end());

  void *dx, *dw, *dOut, *dOut2;
  size_t bytes = x16.size() * 2;
  ASSERT_EQ(cudaMallocAsync(&dx, bytes, nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dw, hidden * 2, nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dOut, bytes, nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dOut2, bytes, nullptr), cudaSuccess);
  std::memcpy(dx, x16.data(), bytes); // the mock's device memory is host's
  std::memcpy(dw, w16.data(), hidden * 2);

  sp_cuda_abi::NormCall first;
  first.dtype = sp_cuda_abi::BF16;
  first.x = dx;
  first.weight = dw;
  first.out = dOut;
  first.rows = rows;
  first.hidden = hidden;
  first.epsilon = 1e-5f;
  sp_cuda_abi::NormCall second = first;
  second.x = dOut;
  second.out = dOut2;

  long syncs = sp_mock_count("synchronizations");
  long copies = sp_mock_count("host-to-device") + sp_mock_count("device-to-host");
  ASSERT_EQ(backend.norm(first, "sp.rms_norm at s.mlir:1:1"), 0) << lastError();
  ASSERT_EQ(backend.norm(second, "sp.rms_norm at s.mlir:2:1"), 0) << lastError();
  EXPECT_EQ(sp_mock_count("synchronizations"), syncs);
  EXPECT_EQ(static_cast<const uint8_t *>(dOut2)[0], 0xA5); // not run yet
  // What compiled code calls at the exit of a public function.
  sp_cuda_rt_function_exit("func.return at s.mlir:9:1");
  EXPECT_EQ(sp_mock_count("synchronizations"), syncs + 1);
  EXPECT_EQ(sp_mock_count("host-to-device") + sp_mock_count("device-to-host"),
            copies);
  EXPECT_EQ(readBF16(dOut, x.size()), want);
  EXPECT_EQ(readBF16(dOut2, x.size()), want2);
  EXPECT_EQ(sp_cuda_rt_synchronize(), 0); // nothing pending: no wait
  EXPECT_EQ(sp_mock_count("synchronizations"), syncs + 1);

  // Host buffers: staged, copied back and waited for within the call.
  std::vector<uint16_t> hostOut(x16.size());
  sp_cuda_abi::NormCall staged = first;
  staged.x = x16.data();
  staged.weight = w16.data();
  staged.out = hostOut.data();
  ASSERT_EQ(backend.norm(staged, "sp.rms_norm at s.mlir:3:1"), 0) << lastError();
  EXPECT_EQ(std::vector<uint32_t>(hostOut.begin(), hostOut.end()), want);
  EXPECT_EQ(sp_mock_count("synchronizations"), syncs + 2);

  // A stream that never finishes: the calls return, the synchronization
  // times out and names the first pending call.
  setenv("SP_MOCK_STREAM_HANG", "1", 1);
  setenv("SP_TIMEOUT_SECONDS", "1", 1);
  ASSERT_EQ(backend.norm(first, "sp.rms_norm at s.mlir:4:1"), 0) << lastError();
  ASSERT_EQ(backend.norm(second, "sp.rms_norm at s.mlir:5:1"), 0) << lastError();
  EXPECT_NE(sp_cuda_rt_synchronize(), 0);
  EXPECT_EQ(lastError(),
            "sp.rms_norm at s.mlir:4:1: sp.rms_norm did not complete within 1 "
            "s (another rank failed or is stuck); the communicator was "
            "aborted");
  unsetenv("SP_MOCK_STREAM_HANG");
  unsetenv("SP_TIMEOUT_SECONDS");
  // The work was only late: it completes at the next synchronization.
  EXPECT_EQ(sp_cuda_rt_synchronize(), 0) << lastError();
  EXPECT_EQ(readBF16(dOut2, x.size()), want2);

  // SP_CUDA_SYNC=call: every call waits for its own work.
  setenv("SP_CUDA_SYNC", "call", 1);
  long before = sp_mock_count("synchronizations");
  ASSERT_EQ(backend.norm(first, "sp.rms_norm at s.mlir:6:1"), 0) << lastError();
  EXPECT_EQ(sp_mock_count("synchronizations"), before + 1);
  unsetenv("SP_CUDA_SYNC");
  for (void *p : {dx, dw, dOut, dOut2})
    EXPECT_EQ(cudaFreeAsync(p, nullptr), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
}

//===----------------------------------------------------------------------===//
// Device-resident buffers: what code lowered with sp-lower-to-cuda calls
// (sp-cuda-device-buffers), as an embedder sees it
//===----------------------------------------------------------------------===//

namespace {
/// memref<?xi8> as the compiled code passes it.
using ByteBuffer = StridedMemRefType<char, 1>;
} // namespace

extern "C" {
void _mlir_ciface_sp_cuda_rt_device_alloc(ByteBuffer *, int64_t, const char *);
void _mlir_ciface_sp_cuda_rt_device_free(ByteBuffer *, const char *);
void _mlir_ciface_sp_cuda_rt_argument_to_device(ByteBuffer *, int64_t, int64_t,
                                                const char *);
void _mlir_ciface_sp_cuda_rt_argument_release(int64_t, ByteBuffer *,
                                              const char *);
void _mlir_ciface_sp_cuda_rt_result_to_host(int64_t, ByteBuffer *,
                                            const char *);
void _mlir_ciface_sp_cuda_rt_rms_norm_bf16(sp_cuda_abi::UnrankedMemRef *out,
                                          sp_cuda_abi::UnrankedMemRef *x,
                                          sp_cuda_abi::UnrankedMemRef *weight,
                                          float epsilon, const char *location);
}

namespace {
int64_t addressOf(const void *p) { return reinterpret_cast<int64_t>(p); }

/// A 1-D memref descriptor over `data`.
struct Memref1D {
  std::vector<int64_t> words;
  sp_cuda_abi::UnrankedMemRef memref;
  Memref1D(void *data, int64_t size) {
    words = {addressOf(data), addressOf(data), 0, size, 1};
    memref = {1, words.data()};
  }
  sp_cuda_abi::UnrankedMemRef *operator&() { return &memref; }
};

/// The calls of one call of a lowered `@f(%x, %w) -> rms_norm(%x, %w)`
/// whose arguments and result only the runtime touches: the arguments to
/// the device (in place when they are device memory), the result in device
/// memory, copied to `hostOut` before the exit's synchronization.
void loweredNorm(void *x, void *w, uint16_t *hostOut, int64_t rows,
                 int64_t hidden) {
  int64_t bytes = rows * hidden * 2;
  ByteBuffer dx{}, dw{}, out{};
  _mlir_ciface_sp_cuda_rt_argument_to_device(&dx, addressOf(x), bytes,
                                             "argument 0 of @f at e.mlir:1:1");
  _mlir_ciface_sp_cuda_rt_argument_to_device(&dw, addressOf(w), hidden * 2,
                                             "argument 1 of @f at e.mlir:1:1");
  _mlir_ciface_sp_cuda_rt_device_alloc(&out, bytes,
                                       "a device buffer at e.mlir:2:8");
  Memref xm(dx.data, rows, hidden), om(out.data, rows, hidden);
  Memref1D wm(dw.data, hidden);
  _mlir_ciface_sp_cuda_rt_rms_norm_bf16(&om, &xm, &wm, 1e-5f,
                                       "sp.rms_norm at e.mlir:2:8");
  _mlir_ciface_sp_cuda_rt_result_to_host(addressOf(hostOut), &out,
                                         "result 0 of @f at e.mlir:3:3");
  _mlir_ciface_sp_cuda_rt_device_free(&out, "a device buffer at e.mlir:2:8");
  sp_cuda_rt_function_exit("func.return at e.mlir:3:3");
  _mlir_ciface_sp_cuda_rt_argument_release(addressOf(x), &dx,
                                           "argument 0 of @f at e.mlir:1:1");
  _mlir_ciface_sp_cuda_rt_argument_release(addressOf(w), &dw,
                                           "argument 1 of @f at e.mlir:1:1");
}
} // namespace

// Host arguments are copied to the device once per call, device arguments
// (an embedder's) are used in place: no copy, no allocation, and the
// release leaves the embedder's memory alone. One synchronization per
// call, at the exit; the result is copied to the host once.
TEST(DeviceResident, EmbedderDevicePointersAreUsedInPlace) {
  const int64_t rows = 4, hidden = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<uint32_t> x(rows * hidden), w(hidden);
  for (uint32_t &v : x)
    v = floatToBF16(normal(rng));
  for (uint32_t &v : w)
    v = floatToBF16(normal(rng));
  std::vector<uint32_t> want = normReference(x, w, rows, hidden);
  std::vector<uint16_t> x16(x.begin(), x.end()), w16(w.begin(), w.end());
  auto count = [](const char *what) { return sp_mock_count(what); };

  // Host arguments: one copy each, one allocation each (and the result's).
  std::vector<uint16_t> hostOut(x.size(), 0xEEEE);
  long h2d = count("host-to-device"), d2h = count("device-to-host"),
       syncs = count("synchronizations"), allocations = count("allocations");
  loweredNorm(x16.data(), w16.data(), hostOut.data(), rows, hidden);
  EXPECT_EQ(std::vector<uint32_t>(hostOut.begin(), hostOut.end()), want);
  EXPECT_EQ(count("host-to-device") - h2d, 2);
  EXPECT_EQ(count("device-to-host") - d2h, 1);
  EXPECT_EQ(count("synchronizations") - syncs, 1);
  EXPECT_EQ(count("allocations") - allocations, 3);

  // The embedder's device memory, filled on its own stream and waited for.
  void *dx, *dw;
  ASSERT_EQ(cudaMallocAsync(&dx, x16.size() * 2, nullptr), cudaSuccess);
  ASSERT_EQ(cudaMallocAsync(&dw, w16.size() * 2, nullptr), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dx, x16.data(), x16.size() * 2,
                            cudaMemcpyHostToDevice, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dw, w16.data(), w16.size() * 2,
                            cudaMemcpyHostToDevice, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  ByteBuffer inPlace{};
  _mlir_ciface_sp_cuda_rt_argument_to_device(&inPlace, addressOf(dx),
                                             int64_t(x16.size() * 2),
                                             "argument 0 of @f at e.mlir:1:1");
  EXPECT_EQ(static_cast<void *>(inPlace.data), dx);
  _mlir_ciface_sp_cuda_rt_argument_release(addressOf(dx), &inPlace,
                                           "argument 0 of @f at e.mlir:1:1");

  std::fill(hostOut.begin(), hostOut.end(), 0xEEEE);
  h2d = count("host-to-device"), d2h = count("device-to-host"),
  syncs = count("synchronizations"), allocations = count("allocations");
  loweredNorm(dx, dw, hostOut.data(), rows, hidden);
  EXPECT_EQ(std::vector<uint32_t>(hostOut.begin(), hostOut.end()), want);
  EXPECT_EQ(count("host-to-device") - h2d, 0);
  EXPECT_EQ(count("device-to-host") - d2h, 1);
  EXPECT_EQ(count("synchronizations") - syncs, 1);
  EXPECT_EQ(count("allocations") - allocations, 1); // the result's only
  // sp's stream, for an embedder's events.
  cudaStream_t spStream = static_cast<cudaStream_t>(sp_cuda_rt_stream());
  ASSERT_NE(spStream, nullptr);
  cudaEvent_t done;
  ASSERT_EQ(cudaEventCreateWithFlags(&done, cudaEventDisableTiming),
            cudaSuccess);
  ASSERT_EQ(cudaEventRecord(done, spStream), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(nullptr, done, 0), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(done), cudaSuccess);
  // Still the embedder's: its own free succeeds (a second free would not).
  EXPECT_EQ(cudaFreeAsync(dx, nullptr), cudaSuccess);
  EXPECT_EQ(cudaFreeAsync(dw, nullptr), cudaSuccess);
  EXPECT_EQ(cudaFreeAsync(dx, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
}

// SP_MOCK_PROTECT_DEVICE=1, which the count tests run with: host code that
// touches the mock's device memory dies with SIGSEGV (as on a GPU), so a
// device-resident buffer that a host loop reads cannot go unnoticed. The
// death test re-executes this binary (threadsafe style) so that the mock
// reads the variable afresh in the child.
TEST(MockGPU, ProtectedDeviceMemoryFaultsOnHostAccess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("SP_MOCK_PROTECT_DEVICE", "1", 1);
        void *p = nullptr;
        if (cudaMallocAsync(&p, 64, nullptr) != cudaSuccess)
          std::exit(2);
        std::printf("%d\n", *static_cast<volatile char *>(p));
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGSEGV), "");
}
