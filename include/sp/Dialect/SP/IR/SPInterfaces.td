//===- SPInterfaces.td - sp op interfaces -----------------*- tablegen -*-===//
//
// Questions several sp ops answer the same way, asked through interfaces
// instead of attribute names.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_IR_SPINTERFACES_TD
#define SP_DIALECT_SP_IR_SPINTERFACES_TD

include "mlir/IR/OpBase.td"

def SP_CollectiveOpInterface : OpInterface<"CollectiveOpInterface"> {
  let cppNamespace = "::mlir::sp";
  let description = [{
    An SPMD collective over an `sp.group`: every rank of the group executes
    the op on its own value of the operand. The interface answers which
    group, along which dimension the value is split or gathered (none for
    `sp.all_reduce`), and how contributions are combined (none for ops that
    only move data).
  }];
  let methods = [
    InterfaceMethod<
      "The symbol of the sp.group the op runs over.",
      "::mlir::FlatSymbolRefAttr", "getGroupAttr">,
    InterfaceMethod<
      "The value the op communicates.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getInput">,
    InterfaceMethod<
      "The dimension the op splits (reduce_scatter, all_slice) or "
      "concatenates (all_gather) along; std::nullopt when the result has the "
      "input's shape (all_reduce).",
      "std::optional<int64_t>", "getCollectiveDim", (ins), [{}],
      [{ return $_op.getDimAttr().getInt(); }]>,
    InterfaceMethod<
      "How the ranks' contributions combine; std::nullopt for ops that only "
      "move or select data (all_gather, all_slice).",
      "std::optional<::mlir::sp::ReductionKind>", "getReductionKind", (ins),
      [{}], [{ return std::nullopt; }]>,
    InterfaceMethod<
      "True when the result along the collective dim is the input's divided "
      "by the group size (reduce_scatter, all_slice); false when it is "
      "multiplied (all_gather) or unchanged (all_reduce).",
      "bool", "splitsAlongDim", (ins), [{}], [{ return false; }]>,
  ];
  let extraClassDeclaration = [{
    /// The sp.group the op runs over, or null when the symbol does not
    /// resolve (only possible in unverified IR).
    ::mlir::sp::GroupOp getGroupOp();
    /// The number of ranks of the op's group, or std::nullopt when the
    /// group does not resolve.
    std::optional<int64_t> getGroupSize();
  }];
}

def SP_RowWiseOpInterface : OpInterface<"RowWiseOpInterface"> {
  let cppNamespace = "::mlir::sp";
  let description = [{
    An op that computes each row of its results (dim 0, the tokens) from
    the same row of its row-aligned operands and from the whole of its other
    operands (which are broadcast along rows: a norm's weight, a quant's
    scale). Sequence parallelism runs such an op on this rank's rows when
    its broadcast operands are the same on every rank.
  }];
  let methods = [
    InterfaceMethod<
      "True when operand `index` is broadcast along rows (the op reads all "
      "of it for every row); false when it is row-aligned.",
      "bool", "isBroadcastAlongRows", (ins "unsigned":$index)>,
    InterfaceMethod<
      "What operand `index` is, for messages (\"weight\", \"scale\").",
      "::llvm::StringRef", "getOperandRole", (ins "unsigned":$index), [{}],
      [{ return "operand"; }]>,
  ];
}

#endif // SP_DIALECT_SP_IR_SPINTERFACES_TD
