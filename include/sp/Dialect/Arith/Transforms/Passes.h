//===- Passes.h - sp's transforms of the arith dialect ----------*- C++ -*-===//

#ifndef SP_DIALECT_ARITH_TRANSFORMS_PASSES_H
#define SP_DIALECT_ARITH_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL
#include "sp/Dialect/Arith/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sp/Dialect/Arith/Transforms/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_DIALECT_ARITH_TRANSFORMS_PASSES_H
