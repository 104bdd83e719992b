//===- MatmulUtils.h - the GEMMs the collective matmul ops fuse -*- C++ -*-===//
//
// The linalg forms of the GEMMs that sp.all_gather_matmul and
// sp.matmul_reduce_scatter stand for, shared by the pass that fuses them
// (to recognize them), the lowering that expands the fused ops (to write
// them back) and the decomposition that pipelines them (to compute a chunk):
//
//   plain:  %acc = linalg.matmul ins(%lhs, %rhs) outs(<+0 of T>) -> T
//   scaled: %acc = linalg.matmul ins(%lhs, %rhs : fp8, fp8) outs(<+0 of f32>)
//           %out = linalg.generic ins(%acc, %lhs_scale, %rhs_scale)
//                    { T(acc * (lhs_scale * rhs_scale)) }   (the epilogue)
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_UTILS_MATMULUTILS_H
#define SP_DIALECT_SP_UTILS_MATMULUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::sp {

/// True if `value` is a tensor of +0.0: a linalg.fill of +0.0 or a dense
/// splat constant of +0.0.
bool isPositiveZeroTensor(Value value);

/// Why `matmul` is not a plain 2-D float GEMM from +0 (default indexing
/// maps, no transposes, zero-filled init), or "" if it is.
std::string whyNotPlainMatmul(linalg::MatmulOp matmul);

/// The scale epilogue of vLLM's per-tensor FP8 scaled mm:
/// `out = T(acc * (lhsScale * rhsScale))` elementwise, with acc f32 and the
/// scales 0-d f32 tensors (T f32 without the truncation).
struct ScaleEpilogue {
  linalg::GenericOp op;
  Value accumulator, lhsScale, rhsScale;
};
std::optional<ScaleEpilogue> matchScaleEpilogue(Operation *op);

/// Builds the GEMM of the fused ops on `lhs` x `rhs` (2-D tensors): the
/// plain form into `resultElement` without scales, the scaled form with
/// `scales` (lhs scale, rhs scale).
Value buildCollectiveGemm(OpBuilder &b, Location loc, Value lhs, Value rhs,
                          ValueRange scales, Type resultElement);

/// Sums `partials` ([n, rows, cols] of T) over dim 0 in index order as
/// reduce_scatter combines ranks: in f32 (f64 for f64) from partials[0],
/// rounded to T once. Returns [rows, cols] of T.
Value buildRankOrderSum(OpBuilder &b, Location loc, Value partials);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_UTILS_MATMULUTILS_H
