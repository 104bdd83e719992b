// Collectives and norms declare no side effects, so the generic CSE and DCE
// apply: identical collectives merge, unused ones disappear.
// RUN: sp-opt %s --cse --canonicalize | FileCheck %s

sp.group @tp size(2)

// CHECK-LABEL: func.func @pure
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>
// CHECK-NEXT: %[[A:.*]] = sp.all_reduce %[[X]] over @tp
// CHECK-NEXT: return %[[A]], %[[A]]
func.func @pure(%x: tensor<8x16xf32>, %w: tensor<16xf32>, %s: tensor<f32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %2 = sp.all_gather %x over @tp : tensor<8x16xf32> -> tensor<16x16xf32>
  %3 = sp.reduce_scatter %x over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
  %4 = sp.all_slice %x over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
  %5 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<8x16xf32>, tensor<16xf32>
  %6:2 = sp.fused_add_rms_norm %x, %x, %w epsilon = 1.0e-6 : tensor<8x16xf32>, tensor<16xf32>
  %7 = sp.quant %x, %s : tensor<8x16xf32> -> tensor<8x16xf8E4M3FN>
  return %0, %1 : tensor<8x16xf32>, tensor<8x16xf32>
}
