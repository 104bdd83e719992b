//===- EmulatedRuntime.cpp - the CUDA runtime's ABI on the host -----------===//
//
// A Backend (CompiledABI.h) that does on the CPU what libsp_cuda_runtime.so
// does on a GPU: the norms and quant with the reference numerics
// (include/sp/Runtime/Numerics.h, which sp-lower-to-cpu's code matches bit
// for bit) and the collectives through the CPU runtime (MPI, rank-order
// sums, a sub-communicator per group layout). Code lowered with sp-lower-to-cuda must then give exactly what the
// same module gives through sp-lower-to-cpu: a test of the CUDA lowering
// (every argument, shape and layout the compiled code passes) without a GPU.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"
#include "HostCollectives.h"
#include "HostKernels.h"

#include <mpi.h>

#include <cstdlib>
#include <string>
#include <vector>

using sp_cuda_abi::Group;
using sp_cuda_abi::NormCall;

namespace {

thread_local std::string lastMessage;

class EmulatedBackend final : public sp_cuda_abi::Backend {
public:
  // The job's rank and size without starting MPI (the CPU runtime starts
  // it at the first collective): from MPI once it runs, else from mpirun's
  // environment, else a single rank.
  int64_t rank() override { return query(MPI_Comm_rank, "OMPI_COMM_WORLD_RANK", 0); }
  int64_t worldSize() override {
    return query(MPI_Comm_size, "OMPI_COMM_WORLD_SIZE", 1);
  }
  const char *lastError() override { return lastMessage.c_str(); }

  int allReduce(const Group &group, const void *in, void *out, int64_t count,
                int dtype, int reduction, const char *location) override {
    if (!sp_host_collectives::reduce(group, /*scatter=*/false, in, out, 1,
                                     count, dtype, reduction))
      return unsupported(dtype, location);
    return 0;
  }

  int reduceScatter(const Group &group, const void *in, void *out,
                    int64_t outer, int64_t chunk, int dtype, int reduction,
                    const char *location) override {
    if (!sp_host_collectives::reduce(group, /*scatter=*/true, in, out, outer,
                                     chunk, dtype, reduction))
      return unsupported(dtype, location);
    return 0;
  }

  int allGather(const Group &group, const void *in, void *out, int64_t outer,
                int64_t chunkBytes, const char *) override {
    sp_host_collectives::allGather(group, in, out, outer, chunkBytes);
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

  int allGatherMatmul(const Group &group,
                      const sp_cuda_abi::CollectiveMatmulCall &c,
                      const char *) override {
    sp_host_collectives::allGather(
        group, c.lhs, c.gathered, 1,
        c.m * c.k * int64_t(sp_cuda_abi::gemmInputBytes(c.inType)));
    sp_host_kernels::gemm(c, c.gathered, group.size * c.m, c.out);
    return 0;
  }

  int matmulReduceScatter(const Group &group,
                          const sp_cuda_abi::CollectiveMatmulCall &c,
                          const char *location) override {
    std::vector<char> product(size_t(c.m * c.n) *
                              sp_cuda_abi::elementBytes(c.outType));
    sp_host_kernels::gemm(c, c.lhs, c.m, product.data());
    if (!sp_host_collectives::reduce(group, /*scatter=*/true, product.data(),
                                     c.out, 1, c.m / group.size * c.n,
                                     c.outType, /*sum=*/0))
      return unsupported(c.outType, location);
    return 0;
  }

  int matmul(const sp_cuda_abi::MatmulCall &c, const char *) override {
    sp_host_kernels::matmul(c);
    return 0;
  }

  int ringShiftStart(const Group &group, const void *in, void *out,
                     int64_t bytes, int64_t offset, int64_t *handle,
                     const char *) override {
    *handle =
        sp_host_collectives::ringShiftStart(group, in, out, bytes, offset);
    return 0;
  }

  int ringShiftWait(int64_t handle, const char *) override {
    sp_host_collectives::ringShiftWait(handle);
    return 0;
  }

private:
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
