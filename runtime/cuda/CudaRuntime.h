//===- CudaRuntime.h - sp's CUDA runtime: NCCL collectives ------*- C++ -*-===//
//
// The host side of the GPU path. NCCL is loaded with dlopen (so that nothing
// needs it until a collective runs on a GPU), the communicator is set up from
// the environment, and every CUDA and NCCL result is checked: a failing call
// returns a non-zero status and sp_cuda_rt_last_error() says what failed,
// where (the op's location string) and why. Collectives wait with a timeout
// and abort the communicator instead of hanging.
//
// Environment (all optional):
//   SP_RANK, SP_WORLD_SIZE    this process's rank and the number of ranks
//                             (default: OMPI_COMM_WORLD_RANK/SIZE, else 0/1)
//   SP_NCCL_ID_FILE           where rank 0 writes the NCCL unique id and the
//                             others read it (default /tmp/sp-nccl-id)
//   SP_NCCL_LIBRARY           the NCCL library (default libnccl.so.2)
//   SP_TIMEOUT_SECONDS        id exchange and collective timeout (default 300)
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_CUDARUNTIME_H
#define SP_RUNTIME_CUDA_CUDARUNTIME_H

#include <cstdint>

extern "C" {

/// The message of the last failure on this thread ("" if none).
const char *sp_cuda_rt_last_error();

/// Loads NCCL and resolves the functions sp uses; idempotent. On success
/// `*version` (if not null) receives ncclGetVersion's value.
int sp_cuda_rt_load_nccl(int *version);

/// Picks the GPU (rank modulo the device count) and creates the runtime's
/// stream; enough for the kernels. Idempotent.
int sp_cuda_rt_init_device();

/// sp_cuda_rt_init_device(), then loads NCCL, exchanges the
/// unique id and creates the communicator. Idempotent.
int sp_cuda_rt_init();

/// This process's rank and the number of ranks (from the environment).
int sp_cuda_rt_rank();
int sp_cuda_rt_world_size();

/// Collectives on device buffers, on the runtime's stream; `dtype` is
/// SPCudaDType (plus 3 = raw bytes for gathers, 4 = f64), `reduction` is sp's
/// ReductionKind (sum, prod, min, max, avg), `location` names the op in
/// errors. They return after the collective has completed.
int sp_cuda_rt_all_reduce(const void *in, void *out, int64_t count, int dtype,
                          int reduction, const char *location);
int sp_cuda_rt_reduce_scatter(const void *in, void *out, int64_t outCount,
                              int dtype, int reduction, const char *location);
int sp_cuda_rt_all_gather(const void *in, void *out, int64_t inCount,
                          int dtype, const char *location);

/// Destroys the communicator (at exit).
void sp_cuda_rt_finalize();
}

#endif // SP_RUNTIME_CUDA_CUDARUNTIME_H
