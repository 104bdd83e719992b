//===- Passes.td - sp conversion passes --------------------*- tablegen -*-===//

#ifndef SP_CONVERSION_PASSES_TD
#define SP_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def SPConvertToCUDARuntime
    : Pass<"sp-convert-to-cuda-runtime", "::mlir::ModuleOp"> {
  let summary = "Turn sp ops on tensors into calls of the CUDA runtime: NCCL "
                "collectives and launches of sp's kernels, on buffers";
  let description = [{
    The GPU counterpart of `sp-decompose-to-linalg` + `sp-prepare-cpu-runtime`,
    run before one-shot bufferization (like upstream's
    `convert-shard-to-mpi`). Every sp op becomes a call of
    `libsp_cuda_runtime.so` on buffers: each tensor operand is read through
    `bufferization.to_buffer ... read_only`, each result is a fresh
    `memref.alloc` returned with `bufferization.to_tensor ... restrict
    writable`, and the call takes them as unranked memrefs (C interface), so
    the runtime sees shapes and strides and checks them.

    | sp op | runtime function | on the GPU |
    |---|---|---|
    | `sp.all_reduce` | `sp_cuda_rt_all_reduce_<T>` | `ncclAllReduce` |
    | `sp.reduce_scatter` | `sp_cuda_rt_reduce_scatter_<T>` | `ncclReduceScatter` |
    | `sp.all_gather` | `sp_cuda_rt_all_gather_<T>` | `ncclAllGather` (bytes: fp8 too) |
    | `sp.rms_norm` | `sp_cuda_rt_rms_norm_<T>` | `sp_cuda_rms_norm` kernel |
    | `sp.fused_add_rms_norm` | `sp_cuda_rt_fused_add_rms_norm_<T>` | fused kernel |
    | `sp.quant` | `sp_cuda_rt_quant_<T>_<F8>` | quant kernel |
    | `sp.quant(sp.rms_norm)` | `sp_cuda_rt_rms_norm_quant_<T>_<F8>` | one kernel |
    | `sp.quant(sp.fused_add_rms_norm)` | `sp_cuda_rt_fused_add_rms_norm_quant_<T>_<F8>` | one kernel |
    | `sp.all_slice` | `tensor.extract_slice` at `sp_cuda_rt_rank()` | (no communication) |

    A norm whose only user is an `sp.quant` is fused with it: the
    normalized activations never reach memory (bitwise the same result).
    Every call also passes the op's name and source location, which the
    runtime puts in its error messages. Element types the kernels or NCCL do
    not support are reported at the op. `sp.replicated` argument attributes
    are dropped; `sp.group` symbols are left for `sp-erase-groups`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // SP_CONVERSION_PASSES_TD
