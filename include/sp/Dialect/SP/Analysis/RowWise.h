//===- RowWise.h - which ops compute each row from the same row -*- C++ -*-===//
//
// Sequence parallelism sinks an all_gather along dim 0 (the tokens) through
// an op when the op computes every row of its results from the same row of
// its row-aligned operands (and the whole of the others). Such an op is
// row-wise:
//   * sp's norms and quant, which say so (RowWiseOpInterface);
//   * linalg ops on tensors whose indexing maps read dim 0 of the operand
//     and write dim 0 of every result with the same parallel loop, every
//     other operand either also row-aligned on that loop or not indexed by
//     it at all (broadcast along rows);
//   * elementwise ops (arith, math) on tensors of one shape.
// Anything else stops the sinking: a reduction over the token dim, a matmul
// with the tokens as its contraction dim, a transpose that moves dim 0, a
// reshape, an op with regions or effects that is not linalg.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_ANALYSIS_ROWWISE_H
#define SP_DIALECT_SP_ANALYSIS_ROWWISE_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::sp {

/// How a row-wise op reads each operand.
enum class RowOperand {
  /// Row i of the results needs row i of the operand (its dim 0).
  Aligned,
  /// Every row needs all of the operand (not indexed by the row loop).
  Broadcast,
  /// Not a tensor (a scalar, an index): the same for every row.
  Scalar,
};

/// `op`'s operands, classified, when `op` is row-wise with respect to its
/// operand `rowOperand` (which must be Aligned) and every tensor result is
/// row-aligned; std::nullopt otherwise.
std::optional<SmallVector<RowOperand>> getRowWiseOperands(Operation *op,
                                                          unsigned rowOperand);

/// What operand `index` of `op` is, for messages: "the weight", "operand
/// #2", ...
std::string describeRowWiseOperand(Operation *op, unsigned index);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_ANALYSIS_ROWWISE_H
