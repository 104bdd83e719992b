// RUN: sp-opt %s --split-input-file --sp-decompose-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @rms_norm_bf16
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xbf16>, %[[W:.*]]: tensor<8xbf16>)
// Sum of squares in f32, reduced over the last dimension:
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[SS:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[X]] : tensor<4x8xbf16>) outs(%[[ZERO]] : tensor<4xf32>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK:   arith.mulf
// CHECK:   arith.addf
// inv = 1 / sqrt(ss / 8 + eps):
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[SS]] : tensor<4xf32>)
// CHECK:   arith.divf %{{.*}}, %cst{{.*}} : f32
// CHECK:   arith.addf
// CHECK:   math.sqrt
// CHECK:   arith.divf
// out = bf16(bf16(x * inv) * w): two roundings.
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[INV]], %[[W]] : tensor<4x8xbf16>, tensor<4xf32>, tensor<8xbf16>)
// CHECK:   arith.mulf
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK:   arith.extf
// CHECK:   arith.mulf
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK-NOT: sp.rms_norm
func.func @rms_norm_bf16(%x: tensor<4x8xbf16>, %w: tensor<8xbf16>) -> tensor<4x8xbf16> {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<4x8xbf16>, tensor<8xbf16>
  return %0 : tensor<4x8xbf16>
}

// -----

// f32 needs no conversions; a dynamic hidden size is read at run time.
// CHECK-LABEL: func.func @rms_norm_dynamic_f32
// CHECK: linalg.generic
// CHECK: %[[H:.*]] = tensor.dim %{{.*}}, %c1
// CHECK-NEXT: arith.index_castui %[[H]] : index to i64
// CHECK: arith.uitofp
// CHECK-NOT: arith.extf
// CHECK-NOT: arith.truncf
func.func @rms_norm_dynamic_f32(%x: tensor<?x?xf32>, %w: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-5 : tensor<?x?xf32>, tensor<?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// The fused add rounds x + r to the activation type first; that rounded sum
// is both the norm's input and the residual result.
// CHECK-LABEL: func.func @fused_f16
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x8xf16>, tensor<2x8xf16>)
// CHECK:   arith.addf %{{.*}}, %{{.*}} : f32
// CHECK:   arith.truncf %{{.*}} : f32 to f16
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x8xf16>)
// CHECK: linalg.generic
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[SUM]],
// CHECK: return %[[OUT]], %[[SUM]]
func.func @fused_f16(%x: tensor<2x8xf16>, %r: tensor<2x8xf16>, %w: tensor<8xf16>) -> (tensor<2x8xf16>, tensor<2x8xf16>) {
  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-5 : tensor<2x8xf16>, tensor<8xf16>
  return %o, %res : tensor<2x8xf16>, tensor<2x8xf16>
}

// -----

// quant: 1/scale once, x * inv, clamp to +-448, round to fp8, NaN -> 0x7F.
// CHECK-LABEL: func.func @quant
// CHECK-DAG: %[[LO:.*]] = arith.constant -4.480000e+02 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 4.480000e+02 : f32
// CHECK-DAG: %[[NAN:.*]] = arith.constant 0x7F : f8E4M3FN
// CHECK: %[[S:.*]] = tensor.extract %{{.*}}[] : tensor<f32>
// CHECK: %[[INV:.*]] = arith.divf %cst{{.*}}, %[[S]] : f32
// CHECK: linalg.generic
// CHECK:   %[[V:.*]] = arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:   %[[MAX:.*]] = arith.maximumf %[[V]], %[[LO]]
// CHECK:   %[[MIN:.*]] = arith.minimumf %[[MAX]], %[[HI]]
// CHECK:   %[[Q:.*]] = arith.truncf %[[MIN]] : f32 to f8E4M3FN
// CHECK:   %[[ISNAN:.*]] = arith.cmpf uno, %[[V]], %[[V]]
// CHECK:   arith.select %[[ISNAN]], %[[NAN]], %[[Q]]
func.func @quant(%x: tensor<4x8xbf16>, %s: tensor<f32>) -> tensor<4x8xf8E4M3FN> {
  %0 = sp.quant %x, %s : tensor<4x8xbf16> -> tensor<4x8xf8E4M3FN>
  return %0 : tensor<4x8xf8E4M3FN>
}

// -----

// f8E4M3FNUZ clamps to +-224 (vLLM) and its NaN is 0x80.
// CHECK-LABEL: func.func @quant_fnuz
// CHECK-DAG: arith.constant -2.240000e+02 : f32
// CHECK-DAG: arith.constant 2.240000e+02 : f32
// CHECK-DAG: arith.constant 0x80 : f8E4M3FNUZ
func.func @quant_fnuz(%x: tensor<4x8xf16>, %s: tensor<f32>) -> tensor<4x8xf8E4M3FNUZ> {
  %0 = sp.quant %x, %s : tensor<4x8xf16> -> tensor<4x8xf8E4M3FNUZ>
  return %0 : tensor<4x8xf8E4M3FNUZ>
}

// -----

// Collectives are left for bufferization.
// CHECK-LABEL: func.func @collectives_untouched
// CHECK: sp.all_reduce
sp.group @tp size(2)
func.func @collectives_untouched(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = sp.all_reduce %x over @tp : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
