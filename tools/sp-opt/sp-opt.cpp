//===- sp-opt.cpp - mlir-opt with the sp dialect and passes ---------------===//
//
// Every upstream dialect, extension and pass, plus sp's, so that a user can
// go from a model to LLVM IR with one tool.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Registration/Registration.h"
#include "sp/Support/NestingDepth.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"

// A tool-level spelling of sp-sequence-parallelism's `report` option, so that
// `--sp-report=FILE` works with pass flags and pipelines alike.
static llvm::cl::opt<std::string> spReport(
    "sp-report",
    llvm::cl::desc("Write sp-sequence-parallelism's JSON report (sites, "
                   "reasons, collective counts and bytes) to FILE ('-' for "
                   "stdout) unless the pass's own report= option is set"),
    llvm::cl::value_desc("FILE"), llvm::cl::init(""),
    llvm::cl::callback(
        [](const std::string &path) { mlir::sp::setDefaultReportFile(path); }));

namespace mlir::sp::test {
void registerSPTestPasses();
} // namespace mlir::sp::test

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::sp::test::registerSPTestPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::sp::registerAllSP(registry);
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "sp optimizer driver (sequence parallelism)\n", registry);
  // Input nested too deep for MLIR's parser: a located error, not a crash.
  if (mlir::sp::refuseExcessiveNesting(inputFilename))
    return 1;
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
}
