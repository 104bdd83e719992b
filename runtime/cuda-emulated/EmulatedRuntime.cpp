//===- EmulatedRuntime.cpp - the CUDA runtime's ABI on the host -----------===//
//
// A Backend (CompiledABI.h) that does on the CPU what libsp_cuda_runtime.so
// does on a GPU: the norms and quant with the reference numerics
// (include/sp/Runtime/Numerics.h, which sp-lower-to-cpu's code matches bit
// for bit) and the collectives through the CPU runtime (MPI, rank-order
// sums). Code lowered with sp-lower-to-cuda must then give exactly what the
// same module gives through sp-lower-to-cpu: a test of the CUDA lowering
// (every argument, shape and layout the compiled code passes) without a GPU.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"
#include "HostKernels.h"

#include <mpi.h>

#include <cstdlib>

#include <cstring>
#include <string>
#include <vector>

using sp_cuda_abi::NormCall;

namespace {

/// The CPU runtime's entry points (runtime/cpu), C interface.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};
} // namespace

extern "C" {
#define SP_CPU_REDUCING(T)                                                     \
  void _mlir_ciface_sp_rt_reduce_scatter_##T(UnrankedMemRef *,                 \
                                             UnrankedMemRef *, int32_t,        \
                                             int64_t, int64_t);                \
  void _mlir_ciface_sp_rt_all_reduce_##T(UnrankedMemRef *, UnrankedMemRef *,   \
                                         int32_t, int64_t);
SP_CPU_REDUCING(f32)
SP_CPU_REDUCING(f16)
SP_CPU_REDUCING(bf16)
SP_CPU_REDUCING(f64)
#undef SP_CPU_REDUCING
void _mlir_ciface_sp_rt_all_gather_i8(UnrankedMemRef *, UnrankedMemRef *,
                                      int64_t, int64_t);
}

namespace {

/// A 2-D row-major descriptor over `data`.
struct Matrix {
  int64_t words[7];
  UnrankedMemRef memref;
  Matrix(const void *data, int64_t rows, int64_t columns) {
    auto address = reinterpret_cast<int64_t>(data);
    int64_t init[7] = {address, address, 0, rows, columns, columns, 1};
    std::memcpy(words, init, sizeof(words));
    memref = {2, words};
  }
};

thread_local std::string lastMessage;

class EmulatedBackend final : public sp_cuda_abi::Backend {
public:
  // The job's rank and size without starting MPI (the CPU runtime starts
  // it at the first collective): from MPI once it runs, else from mpirun's
  // environment, else a single rank.
  int rank() override { return query(MPI_Comm_rank, "OMPI_COMM_WORLD_RANK", 0); }
  int worldSize() override {
    return query(MPI_Comm_size, "OMPI_COMM_WORLD_SIZE", 1);
  }
  const char *lastError() override { return lastMessage.c_str(); }

  int allReduce(const void *in, void *out, int64_t count, int dtype,
                int reduction, const char *location) override {
    if (worldSize() == 1) // one rank: a copy, as NCCL does (no MPI needed)
      return copy(in, out, count * widthOf(dtype));
    Matrix i(in, 1, count), o(out, 1, count);
    switch (dtype) {
#define SP_CASE(CODE, T)                                                       \
  case sp_cuda_abi::CODE:                                                      \
    _mlir_ciface_sp_rt_all_reduce_##T(&i.memref, &o.memref, reduction,         \
                                      worldSize());                            \
    return 0;
      SP_CASE(F32, f32)
      SP_CASE(F16, f16)
      SP_CASE(BF16, bf16)
      SP_CASE(F64, f64)
    }
    return unsupported(dtype, location);
  }

  int reduceScatter(const void *in, void *out, int64_t outer, int64_t chunk,
                    int dtype, int reduction, const char *location) override {
    int64_t size = worldSize();
    if (size == 1)
      return copy(in, out, outer * chunk * widthOf(dtype));
    Matrix i(in, outer, size * chunk), o(out, outer, chunk);
    switch (dtype) {
#define SP_SCATTER(CODE, T)                                                    \
  case sp_cuda_abi::CODE:                                                      \
    _mlir_ciface_sp_rt_reduce_scatter_##T(&i.memref, &o.memref, reduction,     \
                                          size, /*dim=*/1);                    \
    return 0;
      SP_SCATTER(F32, f32)
      SP_SCATTER(F16, f16)
      SP_SCATTER(BF16, bf16)
      SP_SCATTER(F64, f64)
    }
    return unsupported(dtype, location);
  }

  int allGather(const void *in, void *out, int64_t outer, int64_t chunkBytes,
                const char *) override {
    int64_t size = worldSize();
    if (size == 1)
      return copy(in, out, outer * chunkBytes);
    Matrix i(in, outer, chunkBytes), o(out, outer, size * chunkBytes);
    _mlir_ciface_sp_rt_all_gather_i8(&i.memref, &o.memref, size, /*dim=*/1);
    return 0;
  }

  int norm(const NormCall &c, const char *) override {
    sp_host_kernels::norm(c.dtype, c.fp8, c.fused, c.quant, c.out, c.q,
                          c.residualOut, c.x, c.residual, c.weight, c.scale,
                          c.rows, c.hidden, c.epsilon);
    return 0;
  }

  int quant(int dtype, int fp8, uint8_t *q, const void *x, const float *scale,
            int64_t count, const char *) override {
    sp_host_kernels::quant(dtype, fp8, q, x, scale, count);
    return 0;
  }

private:
  static int64_t widthOf(int dtype) {
    return dtype == sp_cuda_abi::F64   ? 8
           : dtype == sp_cuda_abi::F32 ? 4
           : dtype == sp_cuda_abi::Bytes ? 1
                                         : 2;
  }
  static int copy(const void *in, void *out, int64_t bytes) {
    if (bytes > 0 && in != out)
      std::memmove(out, in, size_t(bytes));
    return 0;
  }

  static int query(int (*get)(MPI_Comm, int *), const char *variable,
                   int fallback) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    int value = fallback;
    if (initialized && !finalized)
      get(MPI_COMM_WORLD, &value);
    else if (const char *text = std::getenv(variable))
      value = std::atoi(text);
    return value;
  }

  int unsupported(int dtype, const char *location) {
    lastMessage = std::string(location) +
                  ": the emulated runtime cannot reduce element type code " +
                  std::to_string(dtype);
    return 1;
  }
};

} // namespace

sp_cuda_abi::Backend &sp_cuda_abi::backend() {
  static EmulatedBackend emulated;
  return emulated;
}
