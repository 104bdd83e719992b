//===- Registration.cpp - one entry point for every sp client -------------===//

#include "sp/Registration/Registration.h"

#include "sp/Conversion/Passes.h"
#include "sp/Dialect/Arith/Transforms/Passes.h"
#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/Transforms/BufferizableOpInterfaceImpl.h"
#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/PDL/IR/PDL.h"
#include "mlir/Dialect/PDLInterp/IR/PDLInterp.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

void mlir::sp::registerSPDialects(DialectRegistry &registry) {
  registry.insert<SPDialect, arith::ArithDialect, func::FuncDialect,
                  tensor::TensorDialect, pdl::PDLDialect,
                  pdl_interp::PDLInterpDialect, shard::ShardDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
  // sp-lower-to-cuda compiles kernels (gpu-module-to-binary: the NVVM
  // target, the module's translation to LLVM IR) and its output becomes
  // LLVM IR with gpu.binary ops in it.
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
}

void mlir::sp::registerSPPasses() {
  // The global pass registry rejects a second registration of the same
  // argument, and a tool may both link sp and load the plugin.
  static bool registered = [] {
    registerSPTransformsPasses();
    registerSPConversionPasses();
    registerSPArithTransformsPasses();
    registerSPPipelines();
    return true;
  }();
  (void)registered;
}

void mlir::sp::registerAllSP(DialectRegistry &registry) {
  registerSPDialects(registry);
  registerSPPasses();
}
