// Embedding sp in another compiler: register sp's dialects and passes with
// the one entry point, build a pipeline in C++, run it, inspect the result.
//
//   embed-sp            # runs the built-in two-layer example
//   embed-sp model.mlir # or a file

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Registration/Registration.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

static const char *kExample = R"mlir(
  sp.group @tp size(2)
  func.func @layer(%x: tensor<8x16xbf16>, %y: tensor<8x16xbf16>,
                   %w: tensor<16xbf16> {sp.replicated})
      -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
    %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
    %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %2 = sp.all_reduce %y over @tp : tensor<8x16xbf16>
    %3:2 = sp.fused_add_rms_norm %2, %0, %w epsilon = 1.0e-6
        : tensor<8x16xbf16>, tensor<16xbf16>
    return %1, %3#0 : tensor<8x16xbf16>, tensor<8x16xbf16>
  })mlir";

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::sp::registerAllSP(registry);
  mlir::MLIRContext context(registry);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      argc > 1 ? mlir::parseSourceFile<mlir::ModuleOp>(argv[1], &context)
               : mlir::parseSourceString<mlir::ModuleOp>(kExample, &context);
  if (!module)
    return 1;

  mlir::PassManager pm(&context);
  mlir::sp::SPSequenceParallelismOptions options;
  options.minTokens = 0;
  pm.addPass(mlir::sp::createSPSequenceParallelism(options));
  pm.addPass(mlir::createCanonicalizerPass());
  if (mlir::failed(pm.run(*module)))
    return 1;

  int reduceScatters = 0, allReduces = 0;
  module->walk([&](mlir::Operation *op) {
    reduceScatters += mlir::isa<mlir::sp::ReduceScatterOp>(op);
    allReduces += mlir::isa<mlir::sp::AllReduceOp>(op);
  });
  module->print(llvm::outs());
  llvm::outs() << "reduce_scatter: " << reduceScatters
               << ", all_reduce: " << allReduces << "\n";
  return 0;
}
