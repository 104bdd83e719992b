// RUN: sp-opt %s --split-input-file --sp-expand-fp8 | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-expand-fp8 --convert-math-to-llvm --convert-arith-to-llvm | FileCheck %s --check-prefix=LLVM

// truncf f32 -> f8E4M3FN becomes integer rounding on the f32 bits.
// CHECK-LABEL: func.func @trunc
// CHECK: %[[U:.*]] = arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrui %[[U]]
// CHECK: math.roundeven
// CHECK: arith.fptoui
// CHECK: arith.select
// CHECK: %[[B:.*]] = arith.trunci %{{.*}} : i32 to i8
// CHECK: arith.bitcast %[[B]] : i8 to f8E4M3FN
// CHECK-NOT: arith.truncf
// LLVM-LABEL: func.func @trunc
// LLVM-NOT: f8E4M3FN
// LLVM: return
func.func @trunc(%x: f32) -> i8 {
  %0 = arith.truncf %x : f32 to f8E4M3FN
  %1 = arith.bitcast %0 : f8E4M3FN to i8
  return %1 : i8
}

// -----

// extf from fp8 to bf16 decodes to f32, then rounds (exactly) to bf16.
// CHECK-LABEL: func.func @ext_fnuz
// CHECK: %[[I:.*]] = arith.bitcast %{{.*}} : f8E4M3FNUZ to i8
// CHECK: arith.extui %[[I]] : i8 to i32
// CHECK: arith.cmpi eq, %{{.*}}, %c128
// CHECK: %[[F:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.truncf %[[F]] : f32 to bf16
func.func @ext_fnuz(%x: f8E4M3FNUZ) -> bf16 {
  %0 = arith.extf %x : f8E4M3FNUZ to bf16
  return %0 : bf16
}

// -----

// Other conversions are left alone.
// CHECK-LABEL: func.func @other
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @other(%x: f32) -> bf16 {
  %0 = arith.truncf %x : f32 to bf16
  return %0 : bf16
}
