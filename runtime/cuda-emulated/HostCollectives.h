//===- HostCollectives.h - NCCL's collectives on the host -------*- C++ -*-===//
//
// What ncclAllReduce / ncclReduceScatter / ncclAllGather compute, on host
// memory, through the CPU runtime's MPI collectives (rank-order sums, so the
// results equal the CPU path's bit for bit) over a group, which the CPU
// runtime's communicators serve (sub-communicators for groups that span part
// of the job). A group of one rank is a copy, as in NCCL, and needs no MPI.
// The emulated runtime uses these. Element types are CompiledABI.h's DType
// codes.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H
#define SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H

#include "CompiledABI.h"
#include "sp/Runtime/ElementTypes.h"

#include <cstdint>
#include <cstring>

// The CPU runtime's entry points (runtime/cpu), C interface.
extern "C" {
#define SP_HOST_CPU_REDUCING(NAME, STORAGE, CODE)                              \
  void _mlir_ciface_sp_rt_reduce_scatter_##NAME(                               \
      UnrankedMemRefType<STORAGE> *, UnrankedMemRefType<STORAGE> *, int32_t,   \
      sp_cuda_abi::GroupDescriptor *, int64_t);                                \
  void _mlir_ciface_sp_rt_all_reduce_##NAME(                                   \
      UnrankedMemRefType<STORAGE> *, UnrankedMemRefType<STORAGE> *, int32_t,   \
      sp_cuda_abi::GroupDescriptor *);
SP_FOR_EVERY_REDUCIBLE_TYPE(SP_HOST_CPU_REDUCING)
#undef SP_HOST_CPU_REDUCING
void _mlir_ciface_sp_rt_all_gather_i8(UnrankedMemRefType<int8_t> *,
                                      UnrankedMemRefType<int8_t> *,
                                      sp_cuda_abi::GroupDescriptor *, int64_t);
int64_t _mlir_ciface_sp_rt_ring_shift_start_i8(UnrankedMemRefType<int8_t> *,
                                               UnrankedMemRefType<int8_t> *,
                                               int64_t,
                                               sp_cuda_abi::GroupDescriptor *);
void sp_rt_ring_shift_wait(int64_t);
}

namespace sp_host_collectives {

/// A 2-D row-major memref of `T` over `data` (upstream's descriptor types).
template <typename T>
struct Matrix {
  StridedMemRefType<T, 2> descriptor;
  UnrankedMemRefType<T> memref;
  Matrix(const void *data, int64_t rows, int64_t columns) {
    T *pointer = static_cast<T *>(const_cast<void *>(data));
    descriptor.basePtr = descriptor.data = pointer;
    descriptor.offset = 0;
    descriptor.sizes[0] = rows;
    descriptor.sizes[1] = columns;
    descriptor.strides[0] = columns;
    descriptor.strides[1] = 1;
    memref = {2, &descriptor};
  }
};

inline void copy(const void *in, void *out, int64_t bytes) {
  if (bytes > 0 && in != out)
    std::memmove(out, in, size_t(bytes));
}

/// The descriptor of `group` as compiled code would pass it.
struct GroupRef {
  sp_cuda_abi::GroupDescriptor descriptor;
  explicit GroupRef(const sp_cuda_abi::Group &group) {
    int64_t *words = const_cast<int64_t *>(group.words.data());
    descriptor.basePtr = descriptor.data = words;
    descriptor.offset = 0;
    descriptor.sizes[0] = int64_t(group.words.size());
    descriptor.strides[0] = 1;
  }
  sp_cuda_abi::GroupDescriptor *operator&() { return &descriptor; }
};

/// in is [outer][ranks][chunk] elements, out [outer][chunk], ranks being
/// the group's size; `reduction` is sp's ReductionKind. Returns false for an
/// element type without reductions. With `scatter` false this is all_reduce
/// of outer * chunk elements.
inline bool reduce(const sp_cuda_abi::Group &group, bool scatter,
                   const void *in, void *out, int64_t outer, int64_t chunk,
                   int dtype, int reduction) {
  int64_t ranks = group.size;
#define SP_HOST_IS(NAME, STORAGE, CODE) dtype == sp_cuda_abi::CODE ||
  if (!(SP_FOR_EVERY_REDUCIBLE_TYPE(SP_HOST_IS) false))
    return false;
#undef SP_HOST_IS
  if (ranks == 1) {
    copy(in, out, outer * chunk * int64_t(sp_cuda_abi::elementBytes(dtype)));
    return true;
  }
#define SP_HOST_REDUCE(NAME, STORAGE, CODE)                                    \
  case sp_cuda_abi::CODE: {                                                    \
    Matrix<STORAGE> i(in, outer, scatter ? ranks * chunk : chunk),             \
        o(out, outer, chunk);                                                  \
    GroupRef g(group);                                                         \
    if (scatter)                                                               \
      _mlir_ciface_sp_rt_reduce_scatter_##NAME(&i.memref, &o.memref,           \
                                               reduction, &g, /*dim=*/1);      \
    else                                                                       \
      _mlir_ciface_sp_rt_all_reduce_##NAME(&i.memref, &o.memref, reduction,    \
                                           &g);                                \
    return true;                                                               \
  }
  switch (dtype) { SP_FOR_EVERY_REDUCIBLE_TYPE(SP_HOST_REDUCE) }
#undef SP_HOST_REDUCE
  return false; // unreachable: checked above
}

/// in is [outer][chunkBytes], out [outer][ranks][chunkBytes], ranks being
/// the group's size.
inline void allGather(const sp_cuda_abi::Group &group, const void *in,
                      void *out, int64_t outer, int64_t chunkBytes) {
  int64_t ranks = group.size;
  if (ranks == 1)
    return copy(in, out, outer * chunkBytes);
  Matrix<int8_t> i(in, outer, chunkBytes), o(out, outer, ranks * chunkBytes);
  GroupRef g(group);
  _mlir_ciface_sp_rt_all_gather_i8(&i.memref, &o.memref, &g, /*dim=*/1);
}

/// Starts sending `bytes` of `in` to group rank (r + offset) mod ranks and
/// receiving into `out` from group rank (r - offset) mod ranks; returns the
/// handle ringShiftWait takes. One rank, or an offset that is a multiple of
/// `ranks`, is a copy (handle 0).
inline int64_t ringShiftStart(const sp_cuda_abi::Group &group, const void *in,
                              void *out, int64_t bytes, int64_t offset) {
  int64_t ranks = group.size;
  if (ranks == 1 || offset % ranks == 0) {
    copy(in, out, bytes);
    return 0;
  }
  Matrix<int8_t> i(in, 1, bytes), o(out, 1, bytes);
  GroupRef g(group);
  return _mlir_ciface_sp_rt_ring_shift_start_i8(&i.memref, &o.memref, offset,
                                                &g);
}

inline void ringShiftWait(int64_t handle) {
  if (handle != 0)
    sp_rt_ring_shift_wait(handle);
}

} // namespace sp_host_collectives

#endif // SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H
