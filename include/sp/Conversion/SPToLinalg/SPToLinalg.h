//===- SPToLinalg.h - sp's row-wise ops to linalg ---------------*- C++ -*-===//

#ifndef SP_CONVERSION_SPTOLINALG_SPTOLINALG_H
#define SP_CONVERSION_SPTOLINALG_SPTOLINALG_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace mlir::sp {

#define GEN_PASS_DECL_SPDECOMPOSETOLINALG
#include "sp/Conversion/Passes.h.inc"

/// Patterns that rewrite sp.rms_norm, sp.fused_add_rms_norm and sp.quant
/// into linalg.generic on tensors with the numerics of
/// sp/Runtime/Numerics.h.
void populateSPToLinalgPatterns(RewritePatternSet &patterns);

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOLINALG_SPTOLINALG_H
