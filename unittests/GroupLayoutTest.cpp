//===- GroupLayoutTest.cpp - group descriptors and the runtimes' groups ---===//
//
// The group descriptor of sp/Runtime/RuntimeABI.h (what the compiler emits
// per sp.group and every runtime reads): encoding, decoding and its errors,
// each rank's index in its group and the split color, against hand-computed
// DP x TP layouts; and the CPU runtime's use of it on a one-rank job (the
// communicator of a layout, the world size check). The multi-rank runs are
// test/Integration/group-layout.test.
//
//===----------------------------------------------------------------------===//

#include "sp/Runtime/RuntimeABI.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <gtest/gtest.h>

#include <vector>

using sp_runtime::GroupLayout;

extern "C" void _mlir_ciface_sp_rt_all_reduce_f32(
    UnrankedMemRefType<float> *, UnrankedMemRefType<float> *, int32_t,
    StridedMemRefType<int64_t, 1> *);

namespace {
GroupLayout decoded(const std::vector<int64_t> &words) {
  GroupLayout layout;
  std::string why = layout.decode(words.data(), int64_t(words.size()), 1);
  EXPECT_EQ(why, "");
  return layout;
}

std::string whyNot(const std::vector<int64_t> &words) {
  GroupLayout layout;
  return layout.decode(words.data(), int64_t(words.size()), 1);
}

/// A 1-D memref descriptor over `data`.
template <typename T> struct MemrefOf {
  StridedMemRefType<T, 1> descriptor;
  UnrankedMemRefType<T> unranked;
  MemrefOf(T *data, int64_t size) {
    descriptor.basePtr = descriptor.data = data;
    descriptor.offset = 0;
    descriptor.sizes[0] = size;
    descriptor.strides[0] = 1;
    unranked = {1, &descriptor};
  }
};
} // namespace

TEST(GroupLayout, Encoding) {
  EXPECT_EQ(GroupLayout::encodeWorld(4), (std::vector<int64_t>{1, 4, 1, 0}));
  EXPECT_EQ(GroupLayout::encode({2, 4}, {1}),
            (std::vector<int64_t>{2, 2, 4, 1, 1}));
  GroupLayout tp = decoded({2, 2, 4, 1, 1});
  EXPECT_EQ(tp.grid, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(tp.axes, (std::vector<int64_t>{1}));
  EXPECT_EQ(tp.worldSize(), 8);
  EXPECT_EQ(tp.size(), 4);
  EXPECT_EQ(tp.describe(), "grid [2, 4] axes [1]");
  // A strided view reads every other word.
  std::vector<int64_t> strided = {1, -1, 3, -1, 1, -1, 0};
  GroupLayout world;
  EXPECT_EQ(world.decode(strided.data(), 4, 2), "");
  EXPECT_EQ(world.grid, (std::vector<int64_t>{3}));
  EXPECT_TRUE(world.isWorld());
}

// DP 2 x TP 4 on 8 ranks: @tp groups {0-3} and {4-7}, @dp {0,4}, {1,5}, ...
TEST(GroupLayout, DataTimesTensorParallel) {
  GroupLayout tp = decoded(GroupLayout::encode({2, 4}, {1}));
  GroupLayout dp = decoded(GroupLayout::encode({2, 4}, {0}));
  for (int64_t rank = 0; rank < 8; ++rank) {
    EXPECT_EQ(tp.indexOf(rank), rank % 4) << rank;
    EXPECT_EQ(tp.colorOf(rank), rank / 4) << rank;
    EXPECT_EQ(dp.indexOf(rank), rank / 4) << rank;
    EXPECT_EQ(dp.colorOf(rank), rank % 4) << rank;
  }
  EXPECT_FALSE(tp.isWorld());
  EXPECT_FALSE(dp.isWorld());
  EXPECT_TRUE(decoded(GroupLayout::encode({2, 4}, {0, 1})).isWorld());
}

// Axes linearize in the order listed (shard's grid_axes): on grid [2, 2, 2]
// spanning [2, 0], rank (c0, c1, c2) has index c2 * 2 + c0 and color c1.
TEST(GroupLayout, AxesInTheOrderListed) {
  GroupLayout layout = decoded(GroupLayout::encode({2, 2, 2}, {2, 0}));
  EXPECT_EQ(layout.size(), 4);
  for (int64_t rank = 0; rank < 8; ++rank) {
    int64_t c0 = rank / 4, c1 = rank / 2 % 2, c2 = rank % 2;
    EXPECT_EQ(layout.indexOf(rank), c2 * 2 + c0) << rank;
    EXPECT_EQ(layout.colorOf(rank), c1) << rank;
  }
  // Every rank, in another order than the job's: not the world's.
  GroupLayout transposed = decoded(GroupLayout::encode({2, 4}, {1, 0}));
  EXPECT_EQ(transposed.size(), 8);
  EXPECT_FALSE(transposed.isWorld());
  EXPECT_EQ(transposed.indexOf(1), 2);
  EXPECT_EQ(transposed.colorOf(5), 0);
  // No axes: every rank alone.
  GroupLayout alone = decoded(GroupLayout::encode({2, 4}, {}));
  EXPECT_EQ(alone.size(), 1);
  EXPECT_EQ(alone.indexOf(6), 0);
  EXPECT_EQ(alone.colorOf(6), 6);
}

TEST(GroupLayout, TheJobMustBeTheGrid) {
  EXPECT_EQ(decoded(GroupLayout::encodeWorld(4)).checkJob(4), "");
  EXPECT_EQ(decoded(GroupLayout::encodeWorld(2)).checkJob(4),
            "runs over a group of 2 ranks, but the job has 4 ranks (start "
            "it with --ranks=2)");
  EXPECT_EQ(decoded(GroupLayout::encode({2, 4}, {0})).checkJob(4),
            "runs over a group of 2 ranks laid out as grid [2, 4] axes [0] "
            "(a job of 8 ranks), but the job has 4 ranks (start it with "
            "--ranks=8)");
}

TEST(GroupLayout, MalformedDescriptors) {
  EXPECT_EQ(whyNot({}), "the group descriptor has 0 words; it needs at least 2");
  EXPECT_EQ(whyNot({0, 0}), "the group descriptor's grid has 0 axes, which "
                            "does not fit its 2 words");
  EXPECT_EQ(whyNot({1, 0, 1, 0}),
            "the group descriptor's grid axis 0 has extent 0 (extents are >= "
            "1, and a job has at most 2^31 ranks)");
  EXPECT_EQ(whyNot({1, 4, 1, 0, 7}),
            "the group descriptor spans 1 axes of a 1-D grid in 5 words");
  EXPECT_EQ(whyNot({1, 4, 1, 1}),
            "the group descriptor spans axis 1 of a 1-D grid");
  EXPECT_EQ(whyNot({2, 2, 2, 2, 0, 0}),
            "the group descriptor spans axis 0 twice");
  EXPECT_EQ(whyNot({2, int64_t(1) << 20, int64_t(1) << 20, 0}),
            "the group descriptor's grid axis 1 has extent 1048576 (extents "
            "are >= 1, and a job has at most 2^31 ranks)");
}

// The CPU runtime on a one-rank job: a layout of that rank gets a
// communicator of its own (MPI_Comm_split), and the sum of one
// contribution is the contribution.
TEST(CPURuntimeGroups, ALayoutOfTheOneRank) {
  std::vector<float> in = {1.5f, -2.0f, 3.25f}, out(3, 0);
  std::vector<int64_t> words = GroupLayout::encode({1, 1}, {1});
  MemrefOf<float> a(in.data(), 3), b(out.data(), 3);
  MemrefOf<int64_t> group(words.data(), int64_t(words.size()));
  _mlir_ciface_sp_rt_all_reduce_f32(&a.unranked, &b.unranked, 0,
                                    &group.descriptor);
  EXPECT_EQ(out, in);
}

using CPURuntimeGroupsDeathTest = ::testing::Test;

TEST(CPURuntimeGroupsDeathTest, TheGridMustBeTheJob) {
  std::vector<float> in(4), out(4);
  std::vector<int64_t> words = GroupLayout::encode({2, 4}, {1});
  MemrefOf<float> a(in.data(), 4), b(out.data(), 4);
  MemrefOf<int64_t> group(words.data(), int64_t(words.size()));
  EXPECT_EXIT(_mlir_ciface_sp_rt_all_reduce_f32(&a.unranked, &b.unranked, 0,
                                                &group.descriptor),
              ::testing::ExitedWithCode(1),
              "sp runtime error \\(rank 0\\): sp.all_reduce runs over a group "
              "of 4 ranks laid out as grid \\[2, 4\\] axes \\[1\\] \\(a job of "
              "8 ranks\\), but the job has 1 ranks \\(start it with "
              "--ranks=8\\)");
}
