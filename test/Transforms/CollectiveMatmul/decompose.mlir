// sp-decompose-collective-matmul: the pipelined loops. In each step the
// transfer (sp.ring_shift) starts before the chunk's GEMM and its result is
// first used after it.
// RUN: sp-opt %s --split-input-file --sp-decompose-collective-matmul --cse --verify-diagnostics | FileCheck %s

sp.group @tp size(4)

// all_gather_matmul: step s multiplies the chunk of rank r - s into its rows
// while the chunk of rank r - s - 1 arrives; the last chunk after the loop.
// CHECK-LABEL: func.func @gather
// CHECK-SAME: (%[[X:.*]]: tensor<16x8xbf16>, %[[W:.*]]: tensor<8x4xbf16>)
// CHECK: %[[R:.*]] = sp.group_rank @tp
// CHECK: %[[LOOP:.*]]:3 = scf.for %[[S:.*]] = %c0 to %c3 step %c1 iter_args(%[[CHUNK:.*]] = %[[X]], %[[OUT:.*]] = %{{.*}}, %[[GAT:.*]] = %{{.*}})
// CHECK: %[[S1:.*]] = arith.addi %[[S]], %c1
// CHECK: %[[NEXT:.*]] = sp.ring_shift %[[X]] over @tp by %[[S1]] : tensor<16x8xbf16>
// CHECK: %[[A:.*]] = arith.addi %[[R]], %c4
// CHECK: %[[B:.*]] = arith.subi %[[A]], %[[S]]
// CHECK: %[[SRC:.*]] = arith.remui %[[B]], %c4
// CHECK: %[[ROW:.*]] = arith.muli %[[SRC]], %c16
// CHECK: %[[P:.*]] = linalg.matmul ins(%[[CHUNK]], %[[W]] :
// CHECK: %[[OUT1:.*]] = tensor.insert_slice %[[P]] into %[[OUT]][%[[ROW]], 0] [16, 4]
// CHECK: %[[GAT1:.*]] = tensor.insert_slice %[[CHUNK]] into %[[GAT]][%[[ROW]], 0] [16, 8]
// CHECK: scf.yield %[[NEXT]], %[[OUT1]], %[[GAT1]]
// CHECK: linalg.matmul ins(%[[LOOP]]#0, %[[W]]
// CHECK: tensor.insert_slice {{.*}} into %[[LOOP]]#1
// CHECK: tensor.insert_slice %[[LOOP]]#0 into %[[LOOP]]#2
func.func @gather(%x: tensor<16x8xbf16>, %w: tensor<8x4xbf16>) -> (tensor<64x4xbf16>, tensor<64x8xbf16>) {
  %y, %g = sp.all_gather_matmul %x, %w over @tp : tensor<16x8xbf16>, tensor<8x4xbf16> -> tensor<64x4xbf16>, tensor<64x8xbf16>
  return %y, %g : tensor<64x4xbf16>, tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)

// matmul_reduce_scatter: the partial for rank r + 1 first; step s sends the
// partial for rank r + s, computes the one for r + s + 1 (the own rows last)
// and files what rank r - s computed for us; then the rank-order sum in f32.
// CHECK-LABEL: func.func @scatter
// CHECK-SAME: (%[[H:.*]]: tensor<64x8xbf16>, %[[W:.*]]: tensor<8x4xbf16>)
// CHECK: %[[R:.*]] = sp.group_rank @tp
// CHECK: %[[FIRST:.*]] = linalg.matmul
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[S:.*]] = %c1 to %c4 step %c1 iter_args(%[[P:.*]] = %[[FIRST]], %[[PARTS:.*]] = %{{.*}})
// CHECK-NEXT: %[[RECV:.*]] = sp.ring_shift %[[P]] over @tp by %[[S]] : tensor<16x4xbf16>
// CHECK: %[[NEXT:.*]] = linalg.matmul
// CHECK: %[[FILED:.*]] = tensor.insert_slice %[[RECV]] into %[[PARTS]]
// CHECK: scf.yield %[[NEXT]], %[[FILED]]
// CHECK: %[[ALL:.*]] = tensor.insert_slice %[[LOOP]]#0 into %[[LOOP]]#1[%[[R]], 0, 0] [1, 16, 4]
// CHECK: arith.extf
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.addf
// CHECK: arith.truncf
func.func @scatter(%h: tensor<64x8xbf16>, %w: tensor<8x4xbf16>) -> tensor<16x4xbf16> {
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<64x8xbf16>, tensor<8x4xbf16> -> tensor<16x4xbf16>
  return %y : tensor<16x4xbf16>
}

// -----

sp.group @tp size(2)

// The FP8 form keeps its scale epilogue per chunk.
// CHECK-LABEL: func.func @scaled
// CHECK: scf.for
// CHECK: linalg.matmul ins({{.*}} : tensor<8x8xf8E4M3FN>, tensor<8x4xf8E4M3FN>) outs({{.*}} : tensor<8x4xf32>)
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: arith.mulf
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @scaled(%x: tensor<8x8xf8E4M3FN>, %w: tensor<8x4xf8E4M3FN>, %sa: tensor<f32>, %sw: tensor<f32>) -> tensor<16x4xbf16> {
  %y = sp.all_gather_matmul %x, %w scales(%sa, %sw) over @tp : tensor<8x8xf8E4M3FN>, tensor<8x4xf8E4M3FN> -> tensor<16x4xbf16>
  return %y : tensor<16x4xbf16>
}

// -----

sp.group @tp size(2)

// Dynamic row counts stay fused.
// CHECK-LABEL: func.func @dynamic
// CHECK: sp.matmul_reduce_scatter
func.func @dynamic(%h: tensor<?x8xf32>, %w: tensor<8x4xf32>) -> tensor<?x4xf32> {
  // expected-remark @below {{sp.matmul_reduce_scatter left fused: its row count is dynamic}}
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
