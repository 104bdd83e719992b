// RUN: sp-opt %s --sp-expand-fp8 | FileCheck %s

// The CPU codegen path converts fp8 in vector form: the same integer code as
// for scalars, on vectors of i32 (splat constants).
// CHECK-LABEL: func.func @trunc
// CHECK: arith.bitcast %{{.*}} : vector<16xf32> to vector<16xi32>
// CHECK: math.roundeven %{{.*}} : vector<16xf32>
// CHECK: arith.trunci %{{.*}} : vector<16xi32> to vector<16xi8>
// CHECK: arith.bitcast %{{.*}} : vector<16xi8> to vector<16xf8E4M3FN>
// CHECK-NOT: arith.truncf
func.func @trunc(%x: vector<16xf32>) -> vector<16xf8E4M3FN> {
  %0 = arith.truncf %x : vector<16xf32> to vector<16xf8E4M3FN>
  return %0 : vector<16xf8E4M3FN>
}

// CHECK-LABEL: func.func @ext
// CHECK: arith.constant dense<{{.*}}> : vector<4x8xi32>
// CHECK: arith.bitcast %{{.*}} : vector<4x8xf8E4M3FNUZ> to vector<4x8xi8>
// CHECK: arith.extui %{{.*}} : vector<4x8xi8> to vector<4x8xi32>
// CHECK: arith.truncf %{{.*}} : vector<4x8xf32> to vector<4x8xbf16>
// CHECK-NOT: arith.extf
func.func @ext(%x: vector<4x8xf8E4M3FNUZ>) -> vector<4x8xbf16> {
  %0 = arith.extf %x : vector<4x8xf8E4M3FNUZ> to vector<4x8xbf16>
  return %0 : vector<4x8xbf16>
}
