//===- Pipelines.cpp - sp's lowering pipelines ----------------------------===//

#include "sp/Pipelines/Pipelines.h"

#include "sp/Conversion/Passes.h"
#include "sp/Dialect/Arith/Transforms/Passes.h"
#include "sp/Dialect/SP/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/BufferizationToMemRef/BufferizationToMemRef.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/SCFToGPU/SCFToGPUPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::sp;

namespace {
struct LowerToCPUPipelineOptions
    : public PassPipelineOptions<LowerToCPUPipelineOptions> {
  PassOptions::Option<CPUCodegen> codegen{
      *this, "codegen",
      llvm::cl::desc("How linalg ops become machine code"),
      llvm::cl::init(CPUCodegen::Vector),
      llvm::cl::values(
          clEnumValN(CPUCodegen::Vector, "vector",
                     "tiled and vectorized across independent outputs "
                     "(default)"),
          clEnumValN(CPUCodegen::Scalar, "scalar",
                     "convert-linalg-to-loops, the reference the vector code "
                     "is tested against"))};
  PassOptions::Option<unsigned> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Vector register width in bits (0: the host's)"),
      llvm::cl::init(0)};
};
struct LowerToCUDAPipelineOptions
    : public PassPipelineOptions<LowerToCUDAPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "gpu-chip",
      llvm::cl::desc("The GPU architecture the kernels are compiled for"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> format{
      *this, "gpu-format",
      llvm::cl::desc("What gpu-module-to-binary embeds: fatbin (SASS and "
                     "PTX; needs the toolkit's ptxas and fatbinary), bin, "
                     "isa (PTX, compiled by the driver at load), or auto: "
                     "fatbin when the toolkit has the tools, else isa"),
      llvm::cl::init("auto")};
  PassOptions::Option<std::string> toolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc("The CUDA toolkit (default: $CUDA_HOME, else "
                     "/usr/local/cuda)"),
      llvm::cl::init("")};
};
} // namespace

/// Elementwise ops on tensors to linalg.generic, shared by both backends.
static void addElementwiseToLinalg(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
}

/// Tensors to buffers, shared by both backends.
static void addBufferize(OpPassManager &pm) {
  // Tensors to buffers (CPU: collectives become runtime calls here).
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // The pipelined collective matmul loops carry a fresh buffer (the chunk
  // a ring_shift received) from one step to the next.
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(sp::createSPEraseGroups());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
}

/// Arithmetic on bf16/fp8 runs in f32, rounded back after every op as the
/// IR says (sp-strict-float-casts keeps later folds from dropping those
/// roundings); conversions become integer code. The host and the GPU
/// kernels share it, so that a kernel and its host twin compute alike.
static void addFloatEmulation(OpPassManager &pm) {
  arith::ArithEmulateUnsupportedFloatsOptions emulate;
  emulate.sourceTypeStrs = {"bf16", "f8E4M3FN", "f8E4M3FNUZ"};
  emulate.targetTypeStr = "f32";
  pm.addPass(arith::createArithEmulateUnsupportedFloats(emulate));
  pm.addPass(sp::createSPStrictFloatCasts());
  pm.addPass(sp::createSPExpandFP8());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
}

/// Buffers to the LLVM dialect, shared by both backends. `vectors`: the
/// module has vector ops (the CPU codegen path) to lower as well.
static void addLowerToLLVM(OpPassManager &pm, bool vectors,
                           bool gpuKernels = false) {
  pm.addPass(createConvertLinalgToLoopsPass());
  addFloatEmulation(pm);
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  if (vectors) {
    // No vector.contract reaches this point, so the default contraction
    // lowering (and its FMAs) never runs; reductions stay ordered.
    ConvertVectorToLLVMPassOptions vectorToLLVM;
    vectorToLLVM.reassociateFPReductions = false;
    pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
    pm.addPass(createUBToLLVMConversionPass());
  }
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  if (gpuKernels)
    pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (gpuKernels)
    pm.addPass(sp::createSPGPULaunchTwins());
}

void mlir::sp::buildLowerToCPUPipeline(OpPassManager &pm,
                                       const LowerToCPUOptions &options) {
  // Row-wise ops to linalg with the reference numerics, all_slice to a
  // slice at this rank's offset, runtime declarations for the collectives.
  pm.addPass(createSPDecomposeToLinalg());
  pm.addPass(createSPPrepareCPURuntime());
  addElementwiseToLinalg(pm);
  bool vectors = options.codegen == CPUCodegen::Vector;
  if (vectors) {
    // Static tiles vectorized across independent outputs (CPUCodegen.cpp).
    SPCPUVectorizeOptions vectorize;
    vectorize.vectorBits = options.vectorBits;
    pm.addNestedPass<func::FuncOp>(createSPCPUVectorize(vectorize));
    pm.addPass(createCanonicalizerPass());
  }
  addBufferize(pm);
  if (vectors) {
    pm.addNestedPass<func::FuncOp>(createSPCPULowerVectors());
    VectorTransferToSCFOptions toSCF;
    toSCF.enableFullUnroll(true).setTargetRank(1);
    pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass(toSCF));
    pm.addNestedPass<func::FuncOp>(createSPCPULowerVectors());
    pm.addPass(createCanonicalizerPass());
  }
  addLowerToLLVM(pm, vectors);
}

void mlir::sp::buildLowerToCPUPipeline(OpPassManager &pm) {
  buildLowerToCPUPipeline(pm, LowerToCPUOptions());
}

/// The toolkit gpu-module-to-binary runs ptxas and fatbinary from.
static std::string defaultCudaToolkit() {
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *path = std::getenv(variable); path && *path)
      return path;
  return "/usr/local/cuda";
}

void mlir::sp::buildLowerToCUDAPipeline(OpPassManager &pm,
                                        const LowerToCUDAOptions &options) {
  // Every sp op (and linalg.matmul) becomes a runtime call (NCCL
  // collective, sp's kernel, cuBLASLt) on buffers before bufferization.
  pm.addPass(createSPConvertToCUDARuntime());
  addElementwiseToLinalg(pm);
  addBufferize(pm);
  // The rest of the compute becomes GPU kernels with upstream's GPU path:
  // loop nests mapped to blocks and threads where every buffer they touch
  // can live on the device, launches, outlined gpu.modules.
  pm.addPass(createSPCUDAMapKernels());
  pm.addNestedPass<func::FuncOp>(createConvertParallelLoopToGpuPass());
  pm.addPass(createGpuKernelOutliningPass());
  // Buffers only runtime calls and kernels touch live in device memory
  // (docs/GPU.md).
  pm.addPass(createSPCUDADeviceBuffers());
  // The kernels' arithmetic as the host's, then a host twin of each kernel
  // (what runtimes without a GPU run), then NVVM and a binary.
  addFloatEmulation(pm.nest<gpu::GPUModuleOp>());
  pm.addPass(createSPGPUKernelHostTwins());
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createLowerAffinePass());
  device.addPass(createSCFToControlFlowPass());
  device.addPass(createConvertGpuOpsToNVVMOps());
  device.addPass(createReconcileUnrealizedCastsPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath =
      options.toolkit.empty() ? defaultCudaToolkit() : options.toolkit;
  binary.compilationTarget = options.format;
  if (binary.compilationTarget == "auto") {
    SmallString<128> ptxas(binary.toolkitPath), fatbinary(binary.toolkitPath);
    llvm::sys::path::append(ptxas, "bin", "ptxas");
    llvm::sys::path::append(fatbinary, "bin", "fatbinary");
    binary.compilationTarget = llvm::sys::fs::can_execute(ptxas) &&
                                       llvm::sys::fs::can_execute(fatbinary)
                                   ? "fatbin"
                                   : "isa";
  }
  pm.addPass(createGpuModuleToBinaryPass(binary));
  addLowerToLLVM(pm, /*vectors=*/false, /*gpuKernels=*/true);
}

void mlir::sp::buildLowerToCUDAPipeline(OpPassManager &pm) {
  buildLowerToCUDAPipeline(pm, LowerToCUDAOptions());
}

void mlir::sp::registerSPPipelines() {
  PassPipelineRegistration<LowerToCPUPipelineOptions>(
      "sp-lower-to-cpu",
      "Lower sp ops on tensors to the LLVM dialect for the CPU: linalg "
      "decomposition, scalar loops (or, with codegen=vector, tiled vector "
      "code), bufferization, collectives as CPU runtime calls",
      [](OpPassManager &pm, const LowerToCPUPipelineOptions &options) {
        LowerToCPUOptions cpu;
        cpu.codegen = options.codegen;
        cpu.vectorBits = options.vectorBits;
        buildLowerToCPUPipeline(pm, cpu);
      });
  PassPipelineRegistration<LowerToCUDAPipelineOptions>(
      "sp-lower-to-cuda",
      "Lower sp ops on tensors to the LLVM dialect for NVIDIA GPUs: NCCL "
      "collectives, sp's CUDA kernels and cuBLASLt as calls of "
      "libsp_cuda_runtime.so, the rest as GPU kernels (upstream's GPU path)",
      [](OpPassManager &pm, const LowerToCUDAPipelineOptions &options) {
        LowerToCUDAOptions cuda;
        cuda.chip = options.chip;
        cuda.format = options.format;
        cuda.toolkit = options.toolkit;
        buildLowerToCUDAPipeline(pm, cuda);
      });
}
