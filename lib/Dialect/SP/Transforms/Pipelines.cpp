//===- Pipelines.cpp - sp's pass pipelines --------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// From sp ops on tensors to the LLVM dialect calling the CPU runtime.
/// Every step is an upstream or sp pass, so a user can run any prefix with
/// sp-opt to see the intermediate IR.
static constexpr llvm::StringLiteral kLowerToCPU =
    // Row-wise ops to linalg with the reference numerics; all_slice to a
    // slice at this rank's offset; runtime declarations.
    "sp-decompose-to-linalg,"
    "sp-prepare-cpu-runtime,"
    "func.func(convert-elementwise-to-linalg),"
    // Tensors to buffers; collectives become runtime calls here.
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "sp-erase-groups,"
    "buffer-deallocation-pipeline,"
    "convert-bufferization-to-memref,"
    "convert-linalg-to-loops,"
    // Arithmetic on bf16/fp8 runs in f32 (exact for the products and sums
    // the numerics use); conversions become integer code.
    "arith-emulate-unsupported-floats{source-types=bf16,f8E4M3FN,f8E4M3FNUZ "
    "target-type=f32},"
    "sp-expand-fp8,"
    "arith-expand{include-bf16=true},"
    "expand-strided-metadata,"
    "lower-affine,"
    "convert-scf-to-cf,"
    "convert-math-to-llvm,"
    "convert-arith-to-llvm,"
    "finalize-memref-to-llvm,"
    "convert-func-to-llvm,"
    "convert-cf-to-llvm,"
    "convert-index-to-llvm,"
    "reconcile-unrealized-casts";

void mlir::sp::buildLowerToCPUPipeline(OpPassManager &pm) {
  if (failed(parsePassPipeline(kLowerToCPU, pm, llvm::errs())))
    llvm::report_fatal_error("sp-lower-to-cpu: malformed pipeline");
}

void mlir::sp::registerSPPipelines() {
  PassPipelineRegistration<>(
      "sp-lower-to-cpu",
      "Lower sp ops on tensors to the LLVM dialect for the CPU: linalg "
      "decomposition, bufferization, collectives as CPU runtime calls",
      [](OpPassManager &pm) { buildLowerToCPUPipeline(pm); });
}
