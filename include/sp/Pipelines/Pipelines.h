//===- Pipelines.h - sp's lowering pipelines --------------------*- C++ -*-===//
//
// From sp ops on tensors to the LLVM dialect, built from the passes' create
// functions (so a client linking SPPipelines gets every pass it needs):
//   sp-lower-to-cpu   linalg decomposition with the exact numerics, runtime
//                     declarations, bufferization (collectives become calls
//                     of libsp_runtime_cpu.so), LLVM;
//   sp-lower-to-cuda  every sp op and matmul becomes a call of
//                     libsp_cuda_runtime.so (NCCL collectives, sp's kernels,
//                     cuBLASLt), the rest GPU kernels (upstream's GPU path,
//                     each with a host twin for runtimes without a GPU),
//                     then the same bufferization and LLVM lowering.
//
//===----------------------------------------------------------------------===//

#ifndef SP_PIPELINES_PIPELINES_H
#define SP_PIPELINES_PIPELINES_H

#include <string>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::sp {

/// How sp-lower-to-cpu turns linalg ops into machine code.
enum class CPUCodegen {
  /// Static tiles vectorized across independent outputs (the default;
  /// bit for bit the scalar loops' results, docs/CPUCodegen.md).
  Vector,
  /// convert-linalg-to-loops: scalar loops, kept as the reference the vector
  /// code is tested against bit for bit.
  Scalar,
};

struct LowerToCPUOptions {
  CPUCodegen codegen = CPUCodegen::Vector;
  /// Vector register width in bits (0: the host's).
  unsigned vectorBits = 0;
};

/// Adds the `sp-lower-to-cpu` pipeline to `pm` (on a module).
void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUOptions &options);
void buildLowerToCPUPipeline(OpPassManager &pm);

struct LowerToCUDAOptions {
  /// The GPU architecture the kernels are compiled for.
  std::string chip = "sm_90";
  /// gpu-module-to-binary's format (fatbin, bin, isa) or "auto": fatbin
  /// when the toolkit has ptxas and fatbinary, else isa (PTX).
  std::string format = "auto";
  /// The CUDA toolkit ("": $CUDA_HOME, else /usr/local/cuda).
  std::string toolkit;
};

/// Adds the `sp-lower-to-cuda` pipeline to `pm` (on a module).
void buildLowerToCUDAPipeline(OpPassManager &pm,
                              const LowerToCUDAOptions &options);
void buildLowerToCUDAPipeline(OpPassManager &pm);

/// Registers both pipelines under their names for textual pipelines.
void registerSPPipelines();

} // namespace mlir::sp

#endif // SP_PIPELINES_PIPELINES_H
