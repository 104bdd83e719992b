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

void mlir::sp::registerSPDialects(DialectRegistry &registry) {
  registry.insert<SPDialect, arith::ArithDialect, func::FuncDialect,
                  tensor::TensorDialect, pdl::PDLDialect,
                  pdl_interp::PDLInterpDialect, shard::ShardDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
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
