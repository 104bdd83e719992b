//===- Passes.td - sp's transforms of the arith dialect ----*- tablegen -*-===//
//
// Transforms of upstream's arith dialect that sp's lowerings need and that
// are not specific to sp (they would sit beside arith-expand upstream).
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_ARITH_TRANSFORMS_PASSES_TD
#define SP_DIALECT_ARITH_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SPExpandFP8 : Pass<"sp-expand-fp8"> {
  let summary = "Expand arith.extf / arith.truncf on f8E4M3FN(UZ) into "
                "integer arithmetic";
  let description = [{
    LLVM has no fp8 types, so conversions to and from f8E4M3FN and
    f8E4M3FNUZ become bit manipulation on i8/i32 (round to nearest even,
    NaN and overflow as documented in include/sp/Runtime/Numerics.h).
    Arithmetic on fp8 values should first be widened with
    `arith-emulate-unsupported-floats`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

#endif // SP_DIALECT_ARITH_TRANSFORMS_PASSES_TD
