//===- SPBase.td - sp dialect definition ------------------*- tablegen -*-===//
//
// The sp dialect: collectives over groups of ranks and the row-wise ops
// (RMSNorm, fused add + RMSNorm, static FP8 quant) that sequence parallelism
// moves across them.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_IR_SPBASE_TD
#define SP_DIALECT_SP_IR_SPBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def SP_Dialect : Dialect {
  let name = "sp";
  let cppNamespace = "::mlir::sp";
  let summary = "Sequence parallelism for tensor-parallel transformer graphs";
  let description = [{
    The `sp` dialect models the communication of a tensor-parallel (TP)
    transformer and the row-wise ops around it, so that the sequence-parallel
    rewrite can turn every all-reduce that feeds an RMSNorm into
    reduce-scatter -> local norm on N/TP rows -> all-gather.

    * `sp.group` declares a group of ranks at module level (a symbol with a
      size).
    * `sp.all_reduce`, `sp.reduce_scatter`, `sp.all_gather` and
      `sp.all_slice` are SPMD collectives over a group: every rank of the
      group executes the same op on its own value of the operand. They are
      pure (no side effects), so CSE and DCE apply to them as to any other
      value computation.
    * `sp.rms_norm`, `sp.fused_add_rms_norm` and `sp.quant` are the row-wise
      ops with the exact numerics of vLLM's CUDA kernels.

    Function arguments may carry the unit attribute `sp.replicated`, which
    states that the argument holds the same value on every rank.
  }];
  let hasRegionArgAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let useDefaultAttributePrinterParser = 1;
  // Folds to constants (sp.group_rank of a single-rank group) become
  // arith.constant.
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let extraClassDeclaration = [{
    /// Name of the unit attribute that marks a function argument as holding
    /// the same value on every rank.
    static constexpr ::llvm::StringLiteral getReplicatedAttrName() {
      return ::llvm::StringLiteral("sp.replicated");
    }
    /// Name of the array attribute (DenseI64ArrayAttr) that marks a function
    /// argument as the same on every rank whose grid coordinates differ only
    /// along these axes of the groups' grid: under DP x TP on grid [dp, tp],
    /// the activations split over dp are `sp.replicated_axes = array<i64: 1>`.
    static constexpr ::llvm::StringLiteral getReplicatedAxesAttrName() {
      return ::llvm::StringLiteral("sp.replicated_axes");
    }
  }];
}

def SP_ReductionKind : I32EnumAttr<"ReductionKind",
    "how a collective combines the contributions of the ranks", [
      I32EnumAttrCase<"sum", 0>,
      I32EnumAttrCase<"prod", 1>,
      I32EnumAttrCase<"min", 2>,
      I32EnumAttrCase<"max", 3>,
      I32EnumAttrCase<"avg", 4>
    ]> {
  let cppNamespace = "::mlir::sp";
  let genSpecializedAttr = 0;
}

def SP_ReductionKindAttr : EnumAttr<SP_Dialect, SP_ReductionKind, "reduction"> {
  let summary = "reduction applied by all_reduce / reduce_scatter";
}

class SP_Op<string mnemonic, list<Trait> traits = []>
    : Op<SP_Dialect, mnemonic, traits>;

#endif // SP_DIALECT_SP_IR_SPBASE_TD
