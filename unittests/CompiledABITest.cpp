//===- CompiledABITest.cpp - the CUDA runtime's compiled-code ABI ---------===//
//
// The entry points that sp-lower-to-cuda's code calls, through the emulated
// runtime (the same ABI layer as libsp_cuda_runtime.so, host backend): they
// compute the right thing from memref descriptors, and reject bad
// descriptors with a message naming the op's location, through the error
// handler. A separate binary from SPTests, which links the GPU runtime that
// exports the same symbols.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"
#include "GroupMemref.h"

#include "sp/Runtime/Numerics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <vector>

using namespace mlir::sp::numerics;

using sp_cuda_abi::UnrankedMemRef;

namespace {
/// A ranked descriptor {allocated, aligned, offset, sizes, strides}.
struct Descriptor {
  std::vector<int64_t> words;
  UnrankedMemRef memref;
  Descriptor(void *data, std::vector<int64_t> sizes,
             std::vector<int64_t> strides = {}, int64_t offset = 0) {
    if (strides.empty()) {
      strides.assign(sizes.size(), 1);
      for (int64_t d = int64_t(sizes.size()) - 2; d >= 0; --d)
        strides[d] = strides[d + 1] * sizes[d + 1];
    }
    auto address = reinterpret_cast<int64_t>(data);
    words = {address, address, offset};
    words.insert(words.end(), sizes.begin(), sizes.end());
    words.insert(words.end(), strides.begin(), strides.end());
    memref = {int64_t(sizes.size()), words.data()};
  }
  UnrankedMemRef *operator&() { return &memref; }
};

/// The descriptor of a group of every one of `ranks` ranks.
GroupMemref everyRank(int64_t ranks) {
  return GroupMemref(sp_runtime::GroupLayout::encodeWorld(ranks));
}
} // namespace

extern "C" {
void _mlir_ciface_sp_cuda_rt_rms_norm_bf16(UnrankedMemRef *, UnrankedMemRef *,
                                           UnrankedMemRef *, float,
                                           const char *);
void _mlir_ciface_sp_cuda_rt_rms_norm_quant_f32_f8E4M3FN(
    UnrankedMemRef *, UnrankedMemRef *, UnrankedMemRef *, UnrankedMemRef *,
    float, const char *);
void _mlir_ciface_sp_cuda_rt_all_reduce_f32(UnrankedMemRef *, UnrankedMemRef *,
                                            int32_t,
                                            sp_cuda_abi::GroupDescriptor *,
                                            const char *);
void _mlir_ciface_sp_cuda_rt_reduce_scatter_f32(UnrankedMemRef *,
                                                UnrankedMemRef *, int32_t,
                                                sp_cuda_abi::GroupDescriptor *,
                                                int64_t, const char *);
void _mlir_ciface_sp_cuda_rt_all_gather_f32(UnrankedMemRef *, UnrankedMemRef *,
                                            sp_cuda_abi::GroupDescriptor *,
                                            int64_t, const char *);
void _mlir_ciface_sp_cuda_rt_matmul_bf16_bf16(UnrankedMemRef *,
                                              UnrankedMemRef *,
                                              UnrankedMemRef *, const char *);
void _mlir_ciface_sp_cuda_rt_matmul_accumulate_f32_f32(UnrankedMemRef *,
                                                       UnrankedMemRef *,
                                                       UnrankedMemRef *,
                                                       UnrankedMemRef *,
                                                       const char *);
}

static const char *kLoc = "sp.rms_norm at model.mlir:12:5";

TEST(CompiledABI, RMSNormFromDescriptorsMatchesTheReference) {
  // bf16 [1, 2, 3, 4], weight 1: the known values of DESIGN.md.
  std::vector<uint16_t> x = {floatToBF16(1), floatToBF16(2), floatToBF16(3),
                             floatToBF16(4)};
  std::vector<uint16_t> w(4, floatToBF16(1)), out(4, 0);
  Descriptor dx(x.data(), {1, 4}), dw(w.data(), {4}), dout(out.data(), {1, 4});
  _mlir_ciface_sp_cuda_rt_rms_norm_bf16(&dout, &dx, &dw, 1e-6f, kLoc);
  const float expected[] = {0.365234375f, 0.73046875f, 1.09375f, 1.4609375f};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(bf16ToFloat(out[i]), expected[i]) << i;
}

TEST(CompiledABI, RowsAreEverythingButTheLastDimAndOffsetsAreHonored) {
  // A 2x3x8 f32 input at element offset 5 of its allocation.
  std::vector<float> storage(5 + 48), w(8, 1.0f), scale = {0.5f};
  for (int i = 0; i < 48; ++i)
    storage[5 + i] = float(i % 7) - 3.0f;
  std::vector<uint8_t> q(48, 0);
  Descriptor dx(storage.data(), {2, 3, 8}, {}, /*offset=*/5),
      dw(w.data(), {8}), dq(q.data(), {2, 3, 8}), ds(scale.data(), {});
  _mlir_ciface_sp_cuda_rt_rms_norm_quant_f32_f8E4M3FN(&dq, &dx, &dw, &ds, 1e-5f,
                                                       kLoc);
  for (int row = 0; row < 6; ++row) {
    uint32_t bits[8], weight[8], normed[8];
    for (int i = 0; i < 8; ++i) {
      bits[i] = bitsOf(storage[5 + row * 8 + i]);
      weight[i] = bitsOf(1.0f);
    }
    rmsNormRow(bits, weight, 8, 1e-5f, ElementKind::F32, normed);
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(q[row * 8 + i],
                quantFP8(floatOf(normed[i]), 0.5f, FP8Kind::E4M3FN))
          << row << "," << i;
  }
}

TEST(CompiledABI, SingleRankCollectivesCopy) {
  std::vector<float> in = {1, 2, 3, 4}, out(4, 0);
  Descriptor din(in.data(), {2, 2}), dout(out.data(), {2, 2});
  GroupMemref one = everyRank(1);
  _mlir_ciface_sp_cuda_rt_all_reduce_f32(&din, &dout, 0, &one, "sp.all_reduce");
  EXPECT_EQ(out, in);
}

// A layout whose grid is the job's one rank: a group of one (here through
// the CPU runtime's communicator for the layout), so the collectives copy.
TEST(CompiledABI, LayoutGroupsOfTheJobsRanks) {
  std::vector<float> in = {1, 2, 3, 4}, out(4, 0), gathered(4, 0);
  Descriptor din(in.data(), {4}), dout(out.data(), {4}),
      dgathered(gathered.data(), {4});
  GroupMemref layout(sp_runtime::GroupLayout::encode({1, 1}, {1}));
  _mlir_ciface_sp_cuda_rt_reduce_scatter_f32(&din, &dout, 0, &layout, 0,
                                             "sp.reduce_scatter");
  EXPECT_EQ(out, in);
  _mlir_ciface_sp_cuda_rt_all_gather_f32(&dout, &dgathered, &layout, 0,
                                         "sp.all_gather");
  EXPECT_EQ(gathered, in);
}

using CompiledABIDeathTest = ::testing::Test;

TEST(CompiledABIDeathTest, NonContiguousBuffersAreRejected) {
  std::vector<uint16_t> x(8 * 4), w(4), out(4 * 4);
  // Every other row of an 8x4 buffer: stride 8 in dim 0.
  Descriptor dx(x.data(), {4, 4}, {8, 1}), dw(w.data(), {4}),
      dout(out.data(), {4, 4});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_rms_norm_bf16(&dout, &dx, &dw, 1e-6f,
                                                    kLoc),
              ::testing::ExitedWithCode(1),
              "sp CUDA runtime error \\(rank 0\\): sp.rms_norm at "
              "model.mlir:12:5: the input buffer is not contiguous \\(dim 0 "
              "has stride 8, expected 4\\)");
}

TEST(CompiledABIDeathTest, ShapesAreChecked) {
  std::vector<uint16_t> x(16), w(8), out(16);
  Descriptor dx(x.data(), {4, 4}), dw(w.data(), {8}), dout(out.data(), {4, 4}),
      small(out.data(), {2, 4});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_rms_norm_bf16(&dout, &dx, &dw, 1e-6f,
                                                    kLoc),
              ::testing::ExitedWithCode(1),
              "the weight buffer is 8, expected 4");
  Descriptor dw4(w.data(), {4});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_rms_norm_bf16(&small, &dx, &dw4, 1e-6f,
                                                    kLoc),
              ::testing::ExitedWithCode(1),
              "the result buffer is 2x4, expected 4x4");
}

TEST(CompiledABIDeathTest, GroupSizeMustMatchTheJob) {
  std::vector<float> in(8), out(4);
  Descriptor din(in.data(), {8}), dout(out.data(), {4});
  GroupMemref two = everyRank(2);
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_reduce_scatter_f32(
                  &din, &dout, 0, &two, 0, "sp.reduce_scatter at m.mlir:3:8"),
              ::testing::ExitedWithCode(1),
              "sp.reduce_scatter at m.mlir:3:8: runs over a group of 2 ranks, "
              "but the job has 1 ranks \\(start it with --ranks=2\\)");
}

TEST(CompiledABIDeathTest, TheGridMustBeTheJob) {
  std::vector<float> in(8), out(2);
  Descriptor din(in.data(), {8}), dout(out.data(), {2});
  GroupMemref tp(sp_runtime::GroupLayout::encode({2, 4}, {1}));
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_reduce_scatter_f32(
                  &din, &dout, 0, &tp, 0, "sp.reduce_scatter at m.mlir:3:8"),
              ::testing::ExitedWithCode(1),
              "sp.reduce_scatter at m.mlir:3:8: runs over a group of 4 ranks "
              "laid out as grid \\[2, 4\\] axes \\[1\\] \\(a job of 8 "
              "ranks\\), but the job has 1 ranks \\(start it with "
              "--ranks=8\\)");
}

TEST(CompiledABIDeathTest, MalformedGroupDescriptors) {
  std::vector<float> in(4), out(4);
  Descriptor din(in.data(), {4}), dout(out.data(), {4});
  GroupMemref twice({2, 1, 1, 2, 1, 1});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_all_reduce_f32(&din, &dout, 0, &twice,
                                                     "sp.all_reduce at a:1:1"),
              ::testing::ExitedWithCode(1),
              "sp.all_reduce at a:1:1: the group descriptor spans axis 1 "
              "twice");
  GroupMemref truncated({2, 2});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_all_reduce_f32(
                  &din, &dout, 0, &truncated, "sp.all_reduce at a:1:1"),
              ::testing::ExitedWithCode(1),
              "the group descriptor's grid has 2 axes, which does not fit its "
              "2 words");
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_all_reduce_f32(&din, &dout, 0, nullptr,
                                                     "sp.all_reduce at a:1:1"),
              ::testing::ExitedWithCode(1), "the group descriptor is missing");
}

static void exitSeven(const char *message) {
  std::fprintf(stderr, "handled: %s", message);
  std::fflush(stderr);
  _exit(7);
}

TEST(CompiledABIDeathTest, AnInstalledHandlerReceivesTheMessage) {
  std::vector<float> in(4), out(3);
  Descriptor din(in.data(), {4}), dout(out.data(), {3});
  EXPECT_EXIT(
      {
        sp_cuda_rt_set_error_handler(&exitSeven);
        GroupMemref one = everyRank(1);
        _mlir_ciface_sp_cuda_rt_all_reduce_f32(&din, &dout, 0, &one,
                                               "sp.all_reduce at m.mlir:1:1");
      },
      ::testing::ExitedWithCode(7),
      "handled: sp CUDA runtime error \\(rank 0\\): sp.all_reduce at "
      "m.mlir:1:1: the result buffer is 3, expected 4");
}

static const char *kMatmul = "linalg.matmul at model.mlir:7:3";

TEST(CompiledABI, MatmulRoundsAsLinalgMatmul) {
  // bf16: 1 + 2^-8 is a tie (rounds to 1); from +0 each product and each
  // partial sum is rounded to bf16, in k order: ((0 + 1) + 2^-8) + 2^-8 = 1
  // where one rounding of the exact sum would give 1 + 2^-7.
  const float a[3] = {1.0f, 0.00390625f, 0.00390625f};
  std::vector<uint16_t> lhs(3), rhs(3, floatToBF16(1.0f)), out(1, 0xFFFF);
  for (int i = 0; i < 3; ++i)
    lhs[i] = floatToBF16(a[i]);
  Descriptor dl(lhs.data(), {1, 3}), dr(rhs.data(), {3, 1}),
      dout(out.data(), {1, 1});
  _mlir_ciface_sp_cuda_rt_matmul_bf16_bf16(&dout, &dl, &dr, kMatmul);
  EXPECT_EQ(bf16ToFloat(out[0]), 1.0f);
}

TEST(CompiledABI, MatmulAccumulatesFromTheInitInPlace) {
  // out = init + lhs x rhs, the sum from init[i][j] in k order (f32, ulp 8
  // at 1e8: (1e8 + 3) + 3 stays 1e8, 1e8 + (3 + 3) would not), with out
  // aliasing init.
  std::vector<float> lhs = {3, 3, 2, 3}, rhs = {1, 1}, out = {1e8f, 5};
  Descriptor dl(lhs.data(), {2, 2}), dr(rhs.data(), {2, 1}),
      dout(out.data(), {2, 1});
  _mlir_ciface_sp_cuda_rt_matmul_accumulate_f32_f32(&dout, &dout, &dl, &dr,
                                                    kMatmul);
  EXPECT_EQ(out[0], 1e8f);
  EXPECT_EQ(out[1], 10.0f);
}

TEST(CompiledABIDeathTest, MatmulShapesAreChecked) {
  std::vector<float> lhs(6), rhs(8), out(8), init(6);
  Descriptor dl(lhs.data(), {2, 3}), dr(rhs.data(), {4, 2}),
      dr3(rhs.data(), {3, 2}), dout(out.data(), {2, 2}),
      dbig(out.data(), {4, 2}), dinit(init.data(), {3, 2});
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_matmul_accumulate_f32_f32(
                  &dout, &dout, &dl, &dr, kMatmul),
              ::testing::ExitedWithCode(1),
              "linalg.matmul at model.mlir:7:3: lhs is 2x3 but rhs is 4x2: "
              "the contraction sizes differ");
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_matmul_accumulate_f32_f32(
                  &dbig, &dbig, &dl, &dr3, kMatmul),
              ::testing::ExitedWithCode(1),
              "the result \\(init\\) is 4x2, but lhs 2x3 x rhs 3x2 is 2x2");
  EXPECT_EXIT(_mlir_ciface_sp_cuda_rt_matmul_accumulate_f32_f32(
                  &dout, &dinit, &dl, &dr3, kMatmul),
              ::testing::ExitedWithCode(1),
              "the init buffer is 3x2, expected 2x2");
}

TEST(CompiledABI, TheSymbolTableListsEveryEntryPoint) {
  size_t count = 0;
  const SPRuntimeSymbol *table = sp_cuda_rt_symbols(&count);
  // rank, size; 4 types x (all_reduce, reduce_scatter); 10 gathers;
  // 3 types x 2 norms; 3 types x 2 fp8 x 3 quant kernels; the ring shift's
  // wait and 10 starts; 5 operand x 3 result types x 2 collective matmuls,
  // and 2 fp8 x 3 result types x 2 in the scaled form; the function exit;
  // the device-resident buffers' allocation, free (of a buffer and by
  // address), argument copy and release, and result copy; 5 operand x 3
  // result types x 2 matmuls (from +0 and accumulating); the kernel twin
  // and the 8 mgpu* functions.
  EXPECT_EQ(count, 2u + 8u + 10u + 6u + 18u + 1u + 10u + 30u + 12u + 1u + 6u +
                       30u + 9u);
  for (size_t i = 0; i < count; ++i)
    EXPECT_NE(table[i].address, nullptr) << table[i].name;
}

//===----------------------------------------------------------------------===//
// GPU kernels without a GPU: the emulated backend runs a launch's host twin
//===----------------------------------------------------------------------===//

namespace {
/// What the last twin run saw.
int64_t twinDims[6];
int64_t twinScalar = 0;
float *twinBuffer = nullptr;

/// A twin as sp-gpu-launch-twins makes them: one pointer per argument.
void fakeTwin(void **params, int64_t *dims) {
  std::memcpy(twinDims, dims, sizeof(twinDims));
  std::memcpy(&twinScalar, params[0], sizeof(int64_t));
  std::memcpy(&twinBuffer, params[1], sizeof(float *));
  for (int64_t i = 0; i < dims[0] * dims[3]; ++i)
    twinBuffer[i] = float(twinScalar);
}

const int64_t kFakeKinds[] = {8, 8 | sp_cuda_abi::kTwinPointer};
char fakeBinary[] = "not a cubin";
} // namespace

TEST(CompiledABI, KernelLaunchesRunTheirHostTwin) {
  std::vector<float> buffer(6, 0.0f);
  int64_t scalar = 3;
  float *data = buffer.data();
  void *params[] = {&scalar, &data};
  void *module = mgpuModuleLoad(fakeBinary, sizeof(fakeBinary));
  void *kernel = mgpuModuleGetFunction(module, "k");
  void *stream = mgpuStreamCreate();
  sp_cuda_rt_kernel_twin(&fakeTwin, kFakeKinds, 2, "gpu.launch_func @m at m.mlir:3:5");
  mgpuLaunchKernel(kernel, 2, 1, 1, 3, 1, 1, 0, stream, params, nullptr, 2);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
  const int64_t expected[6] = {2, 1, 1, 3, 1, 1};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(twinDims[i], expected[i]) << i;
  EXPECT_EQ(twinBuffer, buffer.data());
  for (float value : buffer)
    EXPECT_EQ(value, 3.0f);
}

TEST(CompiledABI, KernelArgumentsAreCopied) {
  int64_t scalar = 5;
  float value = 1.5f;
  float *pointer = &value;
  void *params[] = {&scalar, &pointer};
  sp_cuda_abi::KernelTwin twin{&fakeTwin, kFakeKinds, 2, "here"};
  sp_cuda_abi::KernelArguments copied(twin, params);
  scalar = 6; // the launch's own storage changes after the launch
  int64_t seen = 0;
  std::memcpy(&seen, copied.params()[0], sizeof(seen));
  EXPECT_EQ(seen, 5);
  ASSERT_EQ(copied.pointerArguments().size(), 1u);
  EXPECT_EQ(copied.pointerArguments()[0], static_cast<void *>(&value));
}

TEST(CompiledABIDeathTest, ALaunchWithoutATwinIsReported) {
  void *params[] = {nullptr};
  EXPECT_EXIT(
      {
        void *module = mgpuModuleLoad(fakeBinary, sizeof(fakeBinary));
        mgpuLaunchKernel(mgpuModuleGetFunction(module, "k"), 1, 1, 1, 1, 1,
                         1, 0, nullptr, params, nullptr, 1);
      },
      ::testing::ExitedWithCode(1),
      "this runtime has no GPU and runs kernels through their host twins, "
      "and this launch has none");
}

TEST(CompiledABIDeathTest, ATwinOfAnotherKernelIsReported) {
  int64_t scalar = 0;
  void *params[] = {&scalar};
  EXPECT_EXIT(
      {
        sp_cuda_rt_kernel_twin(&fakeTwin, kFakeKinds, 2,
                               "gpu.launch_func @m at m.mlir:4:5");
        mgpuLaunchKernel(mgpuModuleGetFunction(nullptr, "k"), 1, 1, 1, 1, 1,
                         1, 0, nullptr, params, nullptr, 1);
      },
      ::testing::ExitedWithCode(1),
      "gpu.launch_func @m at m.mlir:4:5: the launch passes 1 arguments, its "
      "host twin takes 2");
}
