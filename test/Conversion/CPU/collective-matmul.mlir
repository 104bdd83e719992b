// The CPU path of the fused collective matmul ops: they expand to their
// collective and GEMM (sp-decompose-to-linalg), the unfused reference.
// RUN: sp-opt %s --split-input-file --sp-decompose-to-linalg | FileCheck %s --check-prefix=EXPAND

sp.group @tp size(4)

// EXPAND-LABEL: func.func @fused
// EXPAND: %[[G:.*]] = sp.all_gather %{{.*}} over @tp : tensor<16x8xbf16> -> tensor<64x8xbf16>
// EXPAND: %[[Y:.*]] = linalg.matmul ins(%[[G]], %{{.*}} : tensor<64x8xbf16>, tensor<8x4xbf16>) outs(%{{.*}} : tensor<64x4xbf16>)
// EXPAND: %[[P:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<64x8xbf16>, tensor<8x4xbf16>) outs(%{{.*}} : tensor<64x4xbf16>)
// EXPAND: %[[Z:.*]] = sp.reduce_scatter %[[P]] over @tp : tensor<64x4xbf16> -> tensor<16x4xbf16>
// EXPAND: return %[[Y]], %[[G]], %[[Z]]
func.func @fused(%x: tensor<16x8xbf16>, %w: tensor<8x4xbf16>, %h: tensor<64x8xbf16>)
    -> (tensor<64x4xbf16>, tensor<64x8xbf16>, tensor<16x4xbf16>) {
  %y, %g = sp.all_gather_matmul %x, %w over @tp : tensor<16x8xbf16>, tensor<8x4xbf16> -> tensor<64x4xbf16>, tensor<64x8xbf16>
  %z = sp.matmul_reduce_scatter %h, %w over @tp : tensor<64x8xbf16>, tensor<8x4xbf16> -> tensor<16x4xbf16>
  return %y, %g, %z : tensor<64x4xbf16>, tensor<64x8xbf16>, tensor<16x4xbf16>
}

