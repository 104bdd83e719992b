//===- sp-opt.cpp - mlir-opt with the sp dialect and passes ---------------===//
//
// Every upstream dialect, extension and pass, plus sp's, so that a user can
// go from a model to LLVM IR with one tool.
//
//===----------------------------------------------------------------------===//

#include "sp/Registration/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::sp::registerAllSP(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "sp optimizer driver (sequence parallelism)\n", registry));
}
