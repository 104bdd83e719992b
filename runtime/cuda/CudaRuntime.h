//===- CudaRuntime.h - sp's CUDA runtime: NCCL collectives ------*- C++ -*-===//
//
// The host side of the GPU path. NCCL is loaded with dlopen (so that nothing
// needs it until a collective runs on a GPU), the job's communicator is set
// up from the environment (a group with a rank layout gets one that
// ncclCommSplit makes from it at the group's first use, collectively: every
// rank runs the same program), and every CUDA and NCCL result is checked: a
// failing call returns a non-zero status and sp_cuda_rt_last_error() says
// what failed, where (the op's location string) and why. Collectives wait
// with a timeout and abort the communicators instead of hanging.
//
// Environment (all optional):
//   SP_RANK, SP_WORLD_SIZE    this process's rank and the number of ranks
//                             (default: OMPI_COMM_WORLD_RANK/SIZE, else 0/1);
//                             ignored when the host program set a bootstrap
//   SP_NCCL_ID_FILE           without a bootstrap: where rank 0 writes the
//                             NCCL unique id and the others read it (default
//                             /tmp/sp-nccl-id)
//   SP_NCCL_ID_EXCHANGE       `file` forces the file even with a bootstrap;
//                             `mpi` fails instead of falling back to it
//
// The host program (sp-run) sets a bootstrap with sp_cuda_rt_set_bootstrap
// (CompiledABI.h): this rank, the job's size and an MPI broadcast. The
// unique id is then broadcast from rank 0 over MPI (no file; works across
// nodes); this library does not link MPI.
//   SP_NCCL_LIBRARY           the NCCL library (default libnccl.so.2)
//   SP_CUBLASLT_LIBRARY       the cuBLASLt library of the collective matmul
//                             GEMMs (default libcublasLt.so.13)
//   SP_TIMEOUT_SECONDS        id exchange and collective timeout (default 300)
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_CUDARUNTIME_H
#define SP_RUNTIME_CUDA_CUDARUNTIME_H

#include "sp/Runtime/RuntimeABI.h"

#include <cstdint>

extern "C" {

/// The message of the last failure on this thread ("" if none).
const char *sp_cuda_rt_last_error();

/// Loads NCCL and resolves the functions sp uses; idempotent. On success
/// `*version` (if not null) receives ncclGetVersion's value.
int sp_cuda_rt_load_nccl(int *version);

/// Loads cuBLASLt and resolves the functions sp uses (CublasLtGemm.h's
/// list); idempotent. On success `*version` (if not null) receives
/// cublasLtGetVersion's value. A cuBLASLt of another major version than the
/// toolkit sp was built with is refused (its enums may differ).
int sp_cuda_rt_load_cublaslt(size_t *version);

/// Picks the GPU (rank modulo the device count) and creates the runtime's
/// streams (compute, and a higher-priority one for point-to-point
/// transfers); enough for the kernels. Idempotent.
int sp_cuda_rt_init_device();

/// sp_cuda_rt_init_device(), then loads NCCL, exchanges the
/// unique id (MPI broadcast through the bootstrap, else the id file) and
/// creates the communicator. Idempotent.
int sp_cuda_rt_init();

// sp_cuda_rt_rank() and sp_cuda_rt_world_size() (sp/Runtime/RuntimeABI.h)
// come from the environment.

/// Collectives over the job's communicator (every rank) on device buffers,
/// on the runtime's stream; `dtype` is
/// SPCudaDType (plus 3 = raw bytes for gathers, 4 = f64), `reduction` is sp's
/// ReductionKind (sum, prod, min, max, avg), `location` names the op in
/// errors. They return after the collective has completed (whatever
/// SP_CUDA_SYNC says).
int sp_cuda_rt_all_reduce(const void *in, void *out, int64_t count, int dtype,
                          int reduction, const char *location);
int sp_cuda_rt_reduce_scatter(const void *in, void *out, int64_t outCount,
                              int dtype, int reduction, const char *location);
int sp_cuda_rt_all_gather(const void *in, void *out, int64_t inCount,
                          int dtype, const char *location);

/// A call of the compiled-code ABI (a norm, quant, collective or collective
/// matmul) whose outputs are device memory (not managed, not host) only
/// enqueues its work on the runtime's stream and returns (errors of the
/// launch or of the NCCL call itself are reported at the call); a call
/// that writes host memory copies it back and waits. This waits for the
/// enqueued work (with the timeout, watching NCCL's asynchronous errors)
/// and reports a failure with the op and location of the first call whose
/// work did not complete. Call it before reading the results on another
/// stream or the host. 0 when nothing is pending. SP_CUDA_SYNC=call makes
/// every call wait for its own work instead (ring shifts always do). Code
/// lowered with sp-convert-to-cuda-runtime calls it (through
/// sp_cuda_rt_function_exit, the failure going to the error handler) at the
/// exit of every public function of a module that calls the runtime.
int sp_cuda_rt_synchronize();

/// The runtime's compute stream (a cudaStream_t; created, with the device
/// selected, on first use; null if there is no usable device): every
/// kernel, collective and copy of the compiled-code ABI runs on it, so an
/// embedder can order its own streams against it with events.
void *sp_cuda_rt_stream();

/// Destroys the communicators, the streams and the cuBLASLt handle (at
/// exit).
void sp_cuda_rt_finalize();
}

#endif // SP_RUNTIME_CUDA_CUDARUNTIME_H
