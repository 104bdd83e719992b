//===- SPPlugin.cpp - sp as a dialect and pass plugin for mlir-opt --------===//

#include "sp/Registration/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Compiler.h"

extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SP", LLVM_VERSION_STRING,
          [](mlir::DialectRegistry *registry) {
            mlir::sp::registerSPDialects(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SPPasses", LLVM_VERSION_STRING,
          []() { mlir::sp::registerSPPasses(); }};
}
