//===- Passes.h - sp passes -------------------------------------*- C++ -*-===//

#ifndef SP_DIALECT_SP_TRANSFORMS_PASSES_H
#define SP_DIALECT_SP_TRANSFORMS_PASSES_H

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/PDL/IR/PDL.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/PDLInterp/IR/PDLInterp.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <optional>
#include <string>

namespace mlir::sp {

#define GEN_PASS_DECL
#include "sp/Dialect/SP/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sp/Dialect/SP/Transforms/Passes.h.inc"

/// vLLM's minimum token count for sequence parallelism on `device` ("sm90"
/// or "sm100"): floor(MB * 2^20 * tp / (hidden * elementBytes)) with 8 MB on
/// sm90 (only for hidden >= 8192) and 32 MB on sm100. std::nullopt means no
/// threshold applies (unknown device, or sm90 with hidden < 8192).
std::optional<int64_t> vllmMinTokens(llvm::StringRef device, int64_t hidden,
                                     int64_t tp, int64_t elementBytes);

/// Registers the `sp-lower-to-cpu` and `sp-lower-to-cuda` pipelines. CPU: decomposition, bufferization
/// (with the collectives' BufferizableOpInterface models), and lowering to
/// the LLVM dialect with calls into the CPU runtime.
void registerSPPipelines();

/// Adds the `sp-lower-to-cpu` pipeline to `pm`.
void buildLowerToCPUPipeline(OpPassManager &pm);

/// Adds the `sp-lower-to-cuda` pipeline to `pm`: sp-convert-to-cuda-runtime,
/// then the same bufferization and LLVM lowering as the CPU pipeline.
void buildLowerToCUDAPipeline(OpPassManager &pm);

/// Attaches BufferizableOpInterface models to sp.all_reduce,
/// sp.reduce_scatter and sp.all_gather (they call the CPU runtime).
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);

/// Name of the CPU runtime function implementing `collective` for its
/// element type, e.g. "sp_rt_all_reduce_bf16"; empty if unsupported.
std::string getCPURuntimeFunctionName(Operation *collective);

/// Element-type suffix of runtime function names ("bf16", "f8E4M3FN",
/// "i32", ...), shared by the CPU and CUDA runtimes; empty if unsupported.
/// Reductions (`reduces`) need arithmetic: f32, f16, bf16, f64; gathers
/// also move fp8 and i8..i64.
std::string getRuntimeTypeSuffix(Type element, bool reduces);

/// Removes `sp.replicated` argument attributes (meaningless to LLVM) from
/// every function of `module`.
void dropReplicatedArgAttrs(ModuleOp module);

/// The dynamic sizes of `collective`'s result, read from `source` (its
/// input as a tensor or a buffer): the input's, with the split dim divided
/// (reduce_scatter) or multiplied (all_gather) by the group size.
SmallVector<Value> getCollectiveResultDynamicSizes(OpBuilder &b, Location loc,
                                                   Operation *collective,
                                                   Value source);

/// Replaces `slice` with a tensor.extract_slice of its input at offset
/// `rankIndex * chunk` along its dim (chunk = size / group size): what every
/// backend does with all_slice once it knows its rank.
void lowerAllSliceAtRank(AllSliceOp slice, Value rankIndex);

/// Default for the pass's `report` option when it is empty; sp-opt sets it
/// from `--sp-report=FILE`.
void setDefaultReportFile(std::string path);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_PASSES_H
