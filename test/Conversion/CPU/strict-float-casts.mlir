// RUN: sp-opt %s -split-input-file --sp-strict-float-casts | FileCheck %s
// RUN: sp-opt %s -split-input-file --sp-strict-float-casts --verify-roundtrip -o /dev/null

// The casts arith-emulate-unsupported-floats inserts lose `contract`; other
// flags stay; casts without flags are untouched.
// CHECK-LABEL: func.func @casts
// CHECK:      arith.extf %{{.*}} : bf16 to f32
// CHECK-NEXT: arith.mulf %{{.*}} : f32
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: arith.extf %{{.*}} fastmath<nnan> : bf16 to f32
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: arith.addf %{{.*}} fastmath<contract> : f32
func.func @casts(%a: bf16, %b: f32) -> (bf16, f32, bf16, f32) {
  %0 = arith.extf %a fastmath<contract> : bf16 to f32
  %1 = arith.mulf %0, %b : f32
  %2 = arith.truncf %1 fastmath<contract> : f32 to bf16
  %3 = arith.extf %2 fastmath<contract, nnan> : bf16 to f32
  %4 = arith.truncf %3 : f32 to bf16
  %5 = arith.addf %3, %b fastmath<contract> : f32
  return %2, %3, %4, %5 : bf16, f32, bf16, f32
}

// -----

// Why: with `contract` on both, canonicalization folds extf(truncf(x)) to x,
// dropping the rounding of the bf16 product; without it the pair stays.
// RUN: sp-opt %s -split-input-file --canonicalize | FileCheck %s --check-prefix=FOLDED
// RUN: sp-opt %s -split-input-file --sp-strict-float-casts --canonicalize | FileCheck %s --check-prefix=KEPT
// FOLDED-LABEL: func.func @product_then_add
// FOLDED-NOT:   arith.truncf %[[P:.*]] fastmath<contract> : f32 to bf16
// FOLDED:       %[[P:.*]] = arith.mulf
// FOLDED-NEXT:  arith.addf %{{.*}}, %[[P]] : f32
// KEPT-LABEL:   func.func @product_then_add
// KEPT:         %[[P:.*]] = arith.mulf
// KEPT-NEXT:    %[[R:.*]] = arith.truncf %[[P]] : f32 to bf16
// KEPT-NEXT:    %[[E:.*]] = arith.extf %[[R]] : bf16 to f32
// KEPT-NEXT:    arith.addf %{{.*}}, %[[E]] : f32
func.func @product_then_add(%a: f32, %b: f32, %acc: f32) -> bf16 {
  %p = arith.mulf %a, %b : f32
  %r = arith.truncf %p fastmath<contract> : f32 to bf16
  %e = arith.extf %r fastmath<contract> : bf16 to f32
  %s = arith.addf %acc, %e : f32
  %t = arith.truncf %s fastmath<contract> : f32 to bf16
  return %t : bf16
}
