//===- MockGPU.h - the mock GPU's device memory and streams -----*- C++ -*-===//
//
// Shared by MockGPU.cpp (CUDA runtime API, sp's kernels, NCCL) and
// MockCublasLt.cpp. See MockGPU.cpp for the model.
//
//===----------------------------------------------------------------------===//

#ifndef SP_TEST_MOCKGPU_MOCKGPU_H
#define SP_TEST_MOCKGPU_MOCKGPU_H

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>

namespace mock {

/// Whether [p, p + bytes) lies in one live device allocation.
bool isDevice(const void *p, size_t bytes);

/// A kernel, copy or library call touching memory the GPU cannot address:
/// reported and the process aborts (a GPU would fault).
[[noreturn]] void fault(const char *what, const void *p);

/// fault() unless [p, p + bytes) is device memory (null p: nothing).
void need(const void *p, size_t bytes, const char *what);

/// Whether the environment variable is set to something other than "0".
bool envSet(const char *name);

/// SP_MOCK_NCCL_FAIL_AT=rankR:callK: called once per NCCL collective or
/// point-to-point call; true for rank R's K-th, which then fails
/// asynchronously (asyncFailure: streams never finish,
/// ncclCommGetAsyncError reports an error).
/// `stream` is the call's: it stalls there (mock::stall).
bool failsAsynchronously(cudaStream_t stream);
extern bool asyncFailure;

/// Enqueues an operation that never runs: `stream` stops there.
void stall(cudaStream_t stream);

/// Enqueues `work` on `stream`; it runs in stream order, once everything
/// enqueued on the stream before it (and the events it waited for) has run,
/// when the host waits (cudaStreamQuery, cudaStreamSynchronize, ...).
void enqueue(cudaStream_t stream, const char *what, std::function<void()> work);

} // namespace mock

#endif // SP_TEST_MOCKGPU_MOCKGPU_H
