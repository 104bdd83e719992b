// RUN: sp-opt %s --split-input-file --sp-prepare-cpu-runtime --verify-diagnostics | FileCheck %s

// CHECK-DAG: func.func private @sp_rt_all_reduce_bf16(memref<*xbf16>, memref<*xbf16>, i32, memref<?xi64>) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, memref<?xi64>, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_all_gather_f8E4M3FN(memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<?xi64>, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_rank() -> i64
// One descriptor per group the collectives use (all_slice needs none).
// CHECK-DAG: memref.global "private" constant @__sp_group_tp : memref<4xi64> = dense<[1, 2, 1, 0]>
// The replicated attribute is dropped (LLVM would warn about it).
// CHECK-LABEL: func.func @f(
// CHECK-SAME: %{{.*}}: tensor<8x4xbf16>, %{{.*}}: tensor<8x4xf32>, %{{.*}}: tensor<2x4xf8E4M3FN>, %[[R:.*]]: tensor<8x4xf32>)
// all_slice: rows [rank * 4, rank * 4 + 4) of the replicated value (a group
// of every rank: its index is the rank).
// CHECK: %[[RANK:.*]] = call @sp_rt_rank() : () -> i64
// CHECK: %[[IDX:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[OFF:.*]] = arith.muli %[[IDX]], %c4
// CHECK: tensor.extract_slice %[[R]][%[[OFF]], 0] [4, 4] [1, 1] : tensor<8x4xf32> to tensor<4x4xf32>
sp.group @tp size(2)
func.func @f(%a: tensor<8x4xbf16>, %b: tensor<8x4xf32>, %c: tensor<2x4xf8E4M3FN>, %r: tensor<8x4xf32> {sp.replicated}) -> (tensor<8x4xbf16>, tensor<4x4xf32>, tensor<4x4xf8E4M3FN>, tensor<4x4xf32>) {
  %0 = sp.all_reduce %a over @tp : tensor<8x4xbf16>
  %1 = sp.reduce_scatter %b over @tp : tensor<8x4xf32> -> tensor<4x4xf32>
  %2 = sp.all_gather %c over @tp : tensor<2x4xf8E4M3FN> -> tensor<4x4xf8E4M3FN>
  %3 = sp.all_slice %r over @tp : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0, %1, %2, %3 : tensor<8x4xbf16>, tensor<4x4xf32>, tensor<4x4xf8E4M3FN>, tensor<4x4xf32>
}

// -----

// A dynamic split dimension: the chunk is computed at run time.
// CHECK-LABEL: func.func @dynamic_slice
// CHECK: %[[D:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[CHUNK:.*]] = arith.divui %[[D]], %c2
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 0] [%[[CHUNK]], 4]
sp.group @tp size(2)
func.func @dynamic_slice(%r: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = sp.all_slice %r over @tp : tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

sp.group @tp size(2)
func.func @unsupported(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @below {{'sp.all_reduce' op has no CPU runtime implementation for element type 'i32' (reductions support f32, f16, bf16, f64)}}
  %0 = sp.all_reduce %x over @tp : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

// sp.replicated_axes is dropped too.
// CHECK-LABEL: func.func @replicated_axes(
// CHECK-SAME: %{{.*}}: tensor<8x4xf32>) -> tensor<4x4xf32>
// CHECK-NOT: sp.replicated
sp.group @tp size(2) grid [2, 2] axes [1]
func.func @replicated_axes(%r: tensor<8x4xf32> {sp.replicated_axes = array<i64: 1>}) -> tensor<4x4xf32> {
  %0 = sp.all_slice %r over @tp : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}
