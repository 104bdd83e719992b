//===- HostCollectives.h - NCCL's collectives on the host -------*- C++ -*-===//
//
// What ncclAllReduce / ncclReduceScatter / ncclAllGather compute, on host
// memory, through the CPU runtime's MPI collectives (rank-order sums, so the
// results equal the CPU path's bit for bit). One rank is a copy, as in NCCL,
// and needs no MPI. The emulated runtime and the mock GPU of the tests use
// these. Element types are CompiledABI.h's DType codes.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H
#define SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H

#include "CompiledABI.h"

#include <cstdint>
#include <cstring>

// The CPU runtime's entry points (runtime/cpu), C interface.
extern "C" {
#define SP_HOST_CPU_REDUCING(T)                                                \
  void _mlir_ciface_sp_rt_reduce_scatter_##T(sp_cuda_abi::UnrankedMemRef *,    \
                                             sp_cuda_abi::UnrankedMemRef *,    \
                                             int32_t, int64_t, int64_t);       \
  void _mlir_ciface_sp_rt_all_reduce_##T(sp_cuda_abi::UnrankedMemRef *,        \
                                         sp_cuda_abi::UnrankedMemRef *,        \
                                         int32_t, int64_t);
SP_HOST_CPU_REDUCING(f32)
SP_HOST_CPU_REDUCING(f16)
SP_HOST_CPU_REDUCING(bf16)
SP_HOST_CPU_REDUCING(f64)
#undef SP_HOST_CPU_REDUCING
void _mlir_ciface_sp_rt_all_gather_i8(sp_cuda_abi::UnrankedMemRef *,
                                      sp_cuda_abi::UnrankedMemRef *, int64_t,
                                      int64_t);
}

namespace sp_host_collectives {

/// A 2-D row-major descriptor over `data`.
struct Matrix {
  int64_t words[7];
  sp_cuda_abi::UnrankedMemRef memref;
  Matrix(const void *data, int64_t rows, int64_t columns) {
    auto address = reinterpret_cast<int64_t>(data);
    int64_t init[7] = {address, address, 0, rows, columns, columns, 1};
    std::memcpy(words, init, sizeof(words));
    memref = {2, words};
  }
};

inline void copy(const void *in, void *out, int64_t bytes) {
  if (bytes > 0 && in != out)
    std::memmove(out, in, size_t(bytes));
}

/// in is [outer][ranks][chunk] elements, out [outer][chunk]; `reduction` is
/// sp's ReductionKind. Returns false for an element type without reductions.
/// With `scatter` false this is all_reduce of outer * chunk elements (ranks
/// is then only the group size).
inline bool reduce(bool scatter, const void *in, void *out, int64_t outer,
                   int64_t chunk, int dtype, int reduction, int64_t ranks) {
  if (dtype != sp_cuda_abi::F32 && dtype != sp_cuda_abi::F16 &&
      dtype != sp_cuda_abi::BF16 && dtype != sp_cuda_abi::F64)
    return false;
  if (ranks == 1) {
    copy(in, out, outer * chunk * int64_t(sp_cuda_abi::elementBytes(dtype)));
    return true;
  }
  Matrix i(in, outer, scatter ? ranks * chunk : chunk), o(out, outer, chunk);
#define SP_HOST_REDUCE(CODE, T)                                                \
  case sp_cuda_abi::CODE:                                                      \
    if (scatter)                                                               \
      _mlir_ciface_sp_rt_reduce_scatter_##T(&i.memref, &o.memref, reduction,   \
                                            ranks, /*dim=*/1);                 \
    else                                                                       \
      _mlir_ciface_sp_rt_all_reduce_##T(&i.memref, &o.memref, reduction,       \
                                        ranks);                                \
    return true;
  switch (dtype) {
    SP_HOST_REDUCE(F32, f32)
    SP_HOST_REDUCE(F16, f16)
    SP_HOST_REDUCE(BF16, bf16)
    SP_HOST_REDUCE(F64, f64)
  }
#undef SP_HOST_REDUCE
  return false; // unreachable: checked above
}

/// in is [outer][chunkBytes], out [outer][ranks][chunkBytes].
inline void allGather(const void *in, void *out, int64_t outer,
                      int64_t chunkBytes, int64_t ranks) {
  if (ranks == 1)
    return copy(in, out, outer * chunkBytes);
  Matrix i(in, outer, chunkBytes), o(out, outer, ranks * chunkBytes);
  _mlir_ciface_sp_rt_all_gather_i8(&i.memref, &o.memref, ranks, /*dim=*/1);
}

} // namespace sp_host_collectives

#endif // SP_RUNTIME_CUDA_EMULATED_HOSTCOLLECTIVES_H
