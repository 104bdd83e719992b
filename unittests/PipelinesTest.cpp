//===- PipelinesTest.cpp - the lowering pipelines without registration ----===//
//
// A compiler that links SPPipelines builds sp-lower-to-cpu and
// sp-lower-to-cuda from the passes' create functions: no pass or pipeline
// has to be registered by name first (this binary registers none).
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/Transforms/BufferizableOpInterfaceImpl.h"
#include "sp/Pipelines/Pipelines.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {
constexpr StringLiteral kModule = R"mlir(
  sp.group @tp size(2)
  func.func @f(%x: tensor<8x4xbf16>, %w: tensor<4xbf16> {sp.replicated},
               %s: tensor<f32> {sp.replicated}) -> tensor<8x4xf8E4M3FN> {
    %a = sp.reduce_scatter %x over @tp : tensor<8x4xbf16> -> tensor<4x4xbf16>
    %n = sp.rms_norm %a, %w epsilon = 1.0e-6 : tensor<4x4xbf16>, tensor<4xbf16>
    %q = sp.quant %n, %s : tensor<4x4xbf16> -> tensor<4x4xf8E4M3FN>
    %g = sp.all_gather %q over @tp : tensor<4x4xf8E4M3FN> -> tensor<8x4xf8E4M3FN>
    return %g : tensor<8x4xf8E4M3FN>
  })mlir";

/// Lowers kModule with `build` and checks that only LLVM dialect ops remain.
void expectLowersToLLVM(void (*build)(OpPassManager &)) {
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<sp::SPDialect>();
  sp::registerBufferizableOpInterfaceExternalModels(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kModule, &context);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  build(pm);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  bool onlyLLVM = true;
  module->walk([&](Operation *op) {
    if (!isa<ModuleOp>(op) && !isa<LLVM::LLVMDialect>(op->getDialect()))
      onlyLLVM = false;
  });
  EXPECT_TRUE(onlyLLVM);
}
} // namespace

TEST(Pipelines, NothingIsRegisteredByName) {
  EXPECT_FALSE(PassPipelineInfo::lookup("sp-lower-to-cpu"));
  EXPECT_FALSE(PassInfo::lookup("sp-convert-to-cuda-runtime"));
  EXPECT_FALSE(PassInfo::lookup("one-shot-bufferize"));
}

TEST(Pipelines, LowerToCPUFromCreateFunctions) {
  expectLowersToLLVM(sp::buildLowerToCPUPipeline);
}

TEST(Pipelines, LowerToCUDAFromCreateFunctions) {
  expectLowersToLLVM(sp::buildLowerToCUDAPipeline);
}
