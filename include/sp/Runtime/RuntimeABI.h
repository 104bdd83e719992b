//===- RuntimeABI.h - what sp's runtimes share ------------------*- C++ -*-===//
//
// Conventions of both runtime libraries, which compiled code calls by name:
//   libsp_runtime_cpu.so                 sp_rt_*       (MPI; sp-lower-to-cpu)
//   libsp_cuda_runtime[_emulated].so     sp_cuda_rt_*  (NCCL and sp's kernels;
//                                                        sp-lower-to-cuda)
// Each has `<prefix>_rank()` and `<prefix>_world_size()` returning int64_t
// (the compiled code's i64), and a symbol table for JITs that register
// symbols instead of loading the library with dlopen (sp-run does). Buffers
// cross the ABI as MLIR's C-interface memref descriptors (CRunnerUtils.h's
// UnrankedMemRefType); element types come from ElementTypes.h.
//
// Every call of a collective (and of a ring shift or a collective matmul)
// names its group with a group descriptor, a memref<?xi64> (C interface:
// StridedMemRefType<int64_t, 1>) viewing a constant array the compiler emits
// once per sp.group:
//
//   [ndims, grid[0], ..., grid[ndims-1], naxes, axes[0], ..., axes[naxes-1]]
//
// The job's ranks form the row-major grid (last axis fastest); a rank's
// group is the ranks that share its coordinates on the axes not listed, and
// its index in the group is its coordinates on `axes` linearized in the
// order listed (upstream shard's grid_axes convention). A group without a
// layout (`sp.group @g size(N)`: every rank) is [1, N, 1, 0]. GroupLayout
// below reads, writes and interprets descriptors for compilers and runtimes
// alike.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_RUNTIMEABI_H
#define SP_RUNTIME_RUNTIMEABI_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
/// One exported function of a runtime library.
struct SPRuntimeSymbol {
  const char *name;
  void *address;
};

/// Every function of libsp_runtime_cpu.so that compiled code calls;
/// `*count` receives the number of entries.
const SPRuntimeSymbol *sp_rt_symbols(size_t *count);
/// This process's rank and the number of ranks of the job.
int64_t sp_rt_rank(void);
int64_t sp_rt_world_size(void);

/// The same for the CUDA runtimes (libsp_cuda_runtime.so and its emulation).
const SPRuntimeSymbol *sp_cuda_rt_symbols(size_t *count);
int64_t sp_cuda_rt_rank(void);
int64_t sp_cuda_rt_world_size(void);
}

namespace sp_runtime {

/// The rank layout of a group descriptor (see the file comment).
struct GroupLayout {
  std::vector<int64_t> grid;
  std::vector<int64_t> axes;

  /// The descriptor of a group spanning `axes` of `grid`.
  static std::vector<int64_t> encode(const std::vector<int64_t> &grid,
                                     const std::vector<int64_t> &axes) {
    std::vector<int64_t> words{int64_t(grid.size())};
    words.insert(words.end(), grid.begin(), grid.end());
    words.push_back(int64_t(axes.size()));
    words.insert(words.end(), axes.begin(), axes.end());
    return words;
  }
  /// The descriptor of a group of every one of `ranks` ranks, in rank order.
  static std::vector<int64_t> encodeWorld(int64_t ranks) {
    return encode({ranks}, {0});
  }

  /// Reads `length` words, `stride` apart. Returns "" on success, else why
  /// the words are not a descriptor (`*this` is then unspecified).
  std::string decode(const int64_t *words, int64_t length, int64_t stride) {
    grid.clear();
    axes.clear();
    if (!words || length < 2)
      return "the group descriptor has " + std::to_string(length) +
             " words; it needs at least 2";
    auto at = [&](int64_t i) { return words[i * stride]; };
    int64_t ndims = at(0);
    if (ndims < 1 || ndims > length - 2)
      return "the group descriptor's grid has " + std::to_string(ndims) +
             " axes, which does not fit its " + std::to_string(length) +
             " words";
    int64_t ranks = 1;
    for (int64_t i = 0; i < ndims; ++i) {
      int64_t extent = at(1 + i);
      if (extent < 1 || extent > int64_t(1) << 31 ||
          ranks > (int64_t(1) << 31) / extent)
        return "the group descriptor's grid axis " + std::to_string(i) +
               " has extent " + std::to_string(extent) +
               " (extents are >= 1, and a job has at most 2^31 ranks)";
      ranks *= extent;
      grid.push_back(extent);
    }
    int64_t naxes = at(1 + ndims);
    if (naxes < 0 || naxes > ndims || length != 2 + ndims + naxes)
      return "the group descriptor spans " + std::to_string(naxes) +
             " axes of a " + std::to_string(ndims) + "-D grid in " +
             std::to_string(length) + " words";
    for (int64_t i = 0; i < naxes; ++i) {
      int64_t axis = at(2 + ndims + i);
      if (axis < 0 || axis >= ndims)
        return "the group descriptor spans axis " + std::to_string(axis) +
               " of a " + std::to_string(ndims) + "-D grid";
      for (int64_t seen : axes)
        if (seen == axis)
          return "the group descriptor spans axis " + std::to_string(axis) +
                 " twice";
      axes.push_back(axis);
    }
    return "";
  }

  /// The number of ranks of the job: the grid's size.
  int64_t worldSize() const {
    int64_t ranks = 1;
    for (int64_t extent : grid)
      ranks *= extent;
    return ranks;
  }
  /// The number of ranks of each group: the spanned axes' extents' product.
  int64_t size() const {
    int64_t ranks = 1;
    for (int64_t axis : axes)
      ranks *= grid[axis];
    return ranks;
  }
  /// Coordinate of world rank `rank` on grid axis `axis`.
  int64_t coordinate(int64_t rank, int64_t axis) const {
    int64_t stride = 1;
    for (size_t i = size_t(axis) + 1; i < grid.size(); ++i)
      stride *= grid[i];
    return rank / stride % grid[axis];
  }
  /// The index of world rank `rank` in its group: its coordinates on the
  /// spanned axes, linearized in the order listed.
  int64_t indexOf(int64_t rank) const {
    int64_t index = 0;
    for (int64_t axis : axes)
      index = index * grid[axis] + coordinate(rank, axis);
    return index;
  }
  /// Which group world rank `rank` belongs to: its coordinates on the axes
  /// the group does not span, linearized in grid order (MPI_Comm_split's
  /// and ncclCommSplit's color; the key is indexOf).
  int64_t colorOf(int64_t rank) const {
    int64_t color = 0;
    for (int64_t axis = 0; axis < int64_t(grid.size()); ++axis) {
      bool spanned = false;
      for (int64_t a : axes)
        spanned = spanned || a == axis;
      if (!spanned)
        color = color * grid[axis] + coordinate(rank, axis);
    }
    return color;
  }
  /// True when the group is every rank of the job in rank order (the
  /// spanned axes are all the grid's, in grid order): the world
  /// communicator serves it.
  bool isWorld() const {
    if (axes.size() != grid.size())
      return false;
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != int64_t(i))
        return false;
    return true;
  }

  /// "grid [2, 4] axes [1]".
  std::string describe() const {
    auto list = [](const std::vector<int64_t> &values) {
      std::string text = "[";
      for (size_t i = 0; i < values.size(); ++i)
        text += (i ? ", " : "") + std::to_string(values[i]);
      return text + "]";
    };
    return "grid " + list(grid) + " axes " + list(axes);
  }

  /// "" when a job of `jobSize` ranks can run the group, else what is wrong
  /// (for an error that starts with the op's name).
  std::string checkJob(int64_t jobSize) const {
    int64_t world = worldSize();
    if (world == jobSize)
      return "";
    std::string group = "runs over a group of " + std::to_string(size()) +
                        " ranks";
    if (!isWorld() || grid.size() != 1)
      group += " laid out as " + describe() + " (a job of " +
               std::to_string(world) + " ranks)";
    return group + ", but the job has " + std::to_string(jobSize) +
           " ranks (start it with --ranks=" + std::to_string(world) + ")";
  }
};

} // namespace sp_runtime

#endif // SP_RUNTIME_RUNTIMEABI_H
