//===- Pipelines.cpp - sp's pass pipelines --------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// Bufferization and lowering to the LLVM dialect, shared by both backends.
/// Every step is an upstream or sp pass, so a user can run any prefix with
/// sp-opt to see the intermediate IR.
#define SP_BUFFERIZE_AND_LOWER_TO_LLVM                                         \
  "func.func(convert-elementwise-to-linalg),"                                  \
  /* Tensors to buffers (CPU: collectives become runtime calls here). */      \
  "one-shot-bufferize{bufferize-function-boundaries "                          \
  "function-boundary-type-conversion=identity-layout-map},"                    \
  "sp-erase-groups,"                                                           \
  "buffer-deallocation-pipeline,"                                              \
  "convert-bufferization-to-memref,"                                           \
  "convert-linalg-to-loops,"                                                   \
  /* Arithmetic on bf16/fp8 runs in f32 (exact for the products and sums */  \
  /* the numerics use); conversions become integer code. */                   \
  "arith-emulate-unsupported-floats{source-types=bf16,f8E4M3FN,f8E4M3FNUZ "   \
  "target-type=f32},"                                                          \
  "sp-expand-fp8,"                                                             \
  "arith-expand{include-bf16=true},"                                           \
  "expand-strided-metadata,"                                                   \
  "lower-affine,"                                                              \
  "convert-scf-to-cf,"                                                         \
  "convert-math-to-llvm,"                                                      \
  "convert-arith-to-llvm,"                                                     \
  "finalize-memref-to-llvm,"                                                   \
  "convert-func-to-llvm,"                                                      \
  "convert-cf-to-llvm,"                                                        \
  "convert-index-to-llvm,"                                                     \
  "reconcile-unrealized-casts"

/// From sp ops on tensors to the LLVM dialect calling the CPU runtime:
/// row-wise ops to linalg with the reference numerics, all_slice to a slice
/// at this rank's offset, runtime declarations for the collectives.
static constexpr llvm::StringLiteral kLowerToCPU =
    "sp-decompose-to-linalg,"
    "sp-prepare-cpu-runtime," SP_BUFFERIZE_AND_LOWER_TO_LLVM;

/// From sp ops on tensors to the LLVM dialect calling the CUDA runtime:
/// every sp op becomes a runtime call (NCCL collective or kernel launch) on
/// buffers before bufferization; the rest of the module runs on the host.
static constexpr llvm::StringLiteral kLowerToCUDA =
    "sp-convert-to-cuda-runtime," SP_BUFFERIZE_AND_LOWER_TO_LLVM;

void mlir::sp::buildLowerToCPUPipeline(OpPassManager &pm) {
  if (failed(parsePassPipeline(kLowerToCPU, pm, llvm::errs())))
    llvm::report_fatal_error("sp-lower-to-cpu: malformed pipeline");
}

void mlir::sp::buildLowerToCUDAPipeline(OpPassManager &pm) {
  if (failed(parsePassPipeline(kLowerToCUDA, pm, llvm::errs())))
    llvm::report_fatal_error("sp-lower-to-cuda: malformed pipeline");
}

void mlir::sp::registerSPPipelines() {
  PassPipelineRegistration<>(
      "sp-lower-to-cpu",
      "Lower sp ops on tensors to the LLVM dialect for the CPU: linalg "
      "decomposition, bufferization, collectives as CPU runtime calls",
      [](OpPassManager &pm) { buildLowerToCPUPipeline(pm); });
  PassPipelineRegistration<>(
      "sp-lower-to-cuda",
      "Lower sp ops on tensors to the LLVM dialect for NVIDIA GPUs: NCCL "
      "collectives and sp's CUDA kernels as calls of libsp_cuda_runtime.so",
      [](OpPassManager &pm) { buildLowerToCUDAPipeline(pm); });
}
