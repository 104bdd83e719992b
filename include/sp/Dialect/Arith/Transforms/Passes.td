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

def SPStrictFloatCasts : Pass<"sp-strict-float-casts"> {
  let summary = "Drop the `contract` flag from arith.extf / arith.truncf so "
                "that every rounding the IR asks for is kept";
  let description = [{
    `arith-emulate-unsupported-floats` widens bf16 and fp8 arithmetic to f32
    and marks the casts it inserts `fastmath<contract>`; `arith.extf` folds
    `extf(truncf(x))` to `x` when both carry that flag. So a bf16 product
    feeding a bf16 add (every step of a bf16 `linalg.matmul`) would be added
    unrounded: `acc + a*b` rounded once, where the IR says
    `bf16(acc + bf16(a*b))`. This pass, run right after the emulation,
    removes `contract` from every extf/truncf so that sp's CPU backend (the
    oracle of the differential tests) computes the IR's roundings exactly.
    `contract` is a permission, never an obligation, so dropping it keeps
    the program's meaning.
  }];
}

#endif // SP_DIALECT_ARITH_TRANSFORMS_PASSES_TD
