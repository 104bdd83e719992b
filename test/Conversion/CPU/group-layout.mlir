// Groups with a rank layout on the CPU path: every collective names its
// group by a constant descriptor, [ndims, grid..., naxes, axes...]
// (sp/Runtime/RuntimeABI.h), and sp.all_slice / sp.group_rank use the
// rank's index in the group, computed from the job's rank: its grid
// coordinates on the spanned axes, linearized in the order listed.
// RUN: sp-opt %s --split-input-file --sp-prepare-cpu-runtime | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-prepare-cpu-runtime --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=CALLS
// RUN: sp-opt %s --split-input-file --sp-lower-to-cpu | FileCheck %s --check-prefix=LLVM

// DP 2 x TP 4 on 8 ranks (rank = 4 * d + t): @tp spans axis 1, @dp axis 0.
sp.group @tp size(4) grid [2, 4] axes [1]
sp.group @dp size(2) grid [2, 4] axes [0]

// CHECK-DAG: memref.global "private" constant @__sp_group_tp : memref<5xi64> = dense<[2, 2, 4, 1, 1]>
// CHECK-DAG: memref.global "private" constant @__sp_group_dp : memref<5xi64> = dense<[2, 2, 4, 1, 0]>
// CHECK-DAG: func.func private @sp_rt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32, memref<?xi64>) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, memref<?xi64>, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_all_gather_f32(memref<*xf32>, memref<*xf32>, memref<?xi64>, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_rt_ring_shift_start_f32(memref<*xf32>, memref<*xf32>, i64, memref<?xi64>) -> i64 attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @dp_tp(
// CHECK-SAME: %[[X:[^:]*]]: tensor<8x4xf32>, %[[R:[^:]*]]: tensor<8x4xf32>)
// all_slice over @tp: rows [t * 2, t * 2 + 2) with t = rank mod 4, the
// index in @tp (rank * 2 would slice past the end on ranks 4-7).
// CHECK: %[[RANK:.*]] = call @sp_rt_rank() : () -> i64
// CHECK: %[[WORLD:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[T:.*]] = arith.remui %[[WORLD]], %[[C4]] : index
// CHECK: %[[OFF:.*]] = arith.muli %[[T]], %c2
// CHECK: tensor.extract_slice %[[R]][%[[OFF]], 0] [2, 4] [1, 1] : tensor<8x4xf32> to tensor<2x4xf32>
// group_rank over @dp: d = rank / 4.
// CHECK: %[[RANK2:.*]] = call @sp_rt_rank() : () -> i64
// CHECK: %[[WORLD2:.*]] = arith.index_cast %[[RANK2]] : i64 to index
// CHECK: %[[C4B:.*]] = arith.constant 4 : index
// CHECK: %[[D:.*]] = arith.divui %[[WORLD2]], %[[C4B]] : index
// CHECK: return {{.*}}, %[[D]] :

// The calls pass the descriptors as memref<?xi64>.
// CALLS-LABEL: func.func @dp_tp(
// CALLS: %[[TPW:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CALLS: %[[TP:.*]] = memref.cast %[[TPW]] : memref<5xi64> to memref<?xi64>
// CALLS: call @sp_rt_all_reduce_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[TP]]) : (memref<*xf32>, memref<*xf32>, i32, memref<?xi64>) -> ()
// CALLS: %[[TPW2:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CALLS: %[[TP2:.*]] = memref.cast %[[TPW2]] : memref<5xi64> to memref<?xi64>
// CALLS: call @sp_rt_reduce_scatter_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[TP2]], %{{.*}})
// CALLS: %[[DPW:.*]] = memref.get_global @__sp_group_dp : memref<5xi64>
// CALLS: %[[DP:.*]] = memref.cast %[[DPW]] : memref<5xi64> to memref<?xi64>
// CALLS: call @sp_rt_all_gather_f32(%{{.*}}, %{{.*}}, %[[DP]], %c1_i64)
// CALLS: %[[DPW2:.*]] = memref.get_global @__sp_group_dp : memref<5xi64>
// CALLS: %[[DP2:.*]] = memref.cast %[[DPW2]] : memref<5xi64> to memref<?xi64>
// CALLS: call @sp_rt_ring_shift_start_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[DP2]])

// The descriptors become constant LLVM globals, passed by address in the
// memref descriptor of the C interface.
// LLVM-DAG: llvm.mlir.global private constant @__sp_group_tp(dense<[2, 2, 4, 1, 1]> : tensor<5xi64>)
// LLVM-DAG: llvm.mlir.global private constant @__sp_group_dp(dense<[2, 2, 4, 1, 0]> : tensor<5xi64>)
// LLVM-DAG: llvm.func @_mlir_ciface_sp_rt_all_reduce_f32(!llvm.ptr, !llvm.ptr, i32, !llvm.ptr)
// LLVM-DAG: llvm.func @_mlir_ciface_sp_rt_ring_shift_start_f32(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr) -> i64
// LLVM-LABEL: llvm.func @dp_tp(
// LLVM: llvm.mlir.addressof @__sp_group_tp : !llvm.ptr
// LLVM: llvm.call @sp_rt_all_reduce_f32(
// LLVM: llvm.mlir.addressof @__sp_group_dp : !llvm.ptr
// LLVM: llvm.call @sp_rt_all_gather_f32(
func.func @dp_tp(%x: tensor<8x4xf32>, %r: tensor<8x4xf32> {sp.replicated}) -> (tensor<8x4xf32>, tensor<2x4xf32>, tensor<8x8xf32>, tensor<2x4xf32>, tensor<8x4xf32>, index) {
  %0 = sp.all_reduce %x over @tp : tensor<8x4xf32>
  %1 = sp.reduce_scatter %x over @tp : tensor<8x4xf32> -> tensor<2x4xf32>
  %2 = sp.all_gather %x over @dp dim 1 : tensor<8x4xf32> -> tensor<8x8xf32>
  %3 = sp.all_slice %r over @tp : tensor<8x4xf32> -> tensor<2x4xf32>
  %c1 = arith.constant 1 : index
  %4 = sp.ring_shift %x over @dp by %c1 : tensor<8x4xf32>
  %5 = sp.group_rank @dp
  return %0, %1, %2, %3, %4, %5 : tensor<8x4xf32>, tensor<2x4xf32>, tensor<8x8xf32>, tensor<2x4xf32>, tensor<8x4xf32>, index
}

// -----

// Axes linearize in the order listed: on grid [2, 2, 2] spanning [2, 0],
// rank (c0, c1, c2) has index c2 * 2 + c0, i.e. (rank mod 2) * 2 + rank / 4.
// A symbol that already has the descriptor's name is left alone; the
// descriptor takes the next free one.
sp.group @g size(4) grid [2, 2, 2] axes [2, 0]
memref.global "private" constant @__sp_group_g : memref<1xi64> = dense<7>

// CHECK-DAG: memref.global "private" constant @__sp_group_g_0 : memref<7xi64> = dense<[3, 2, 2, 2, 2, 2, 0]>
// CHECK-DAG: memref.global "private" constant @__sp_group_g : memref<1xi64> = dense<7>
// CHECK-LABEL: func.func @order(
// CHECK: %[[RANK:.*]] = call @sp_rt_rank() : () -> i64
// CHECK: %[[WORLD:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[C2:.*]] = arith.remui %[[WORLD]], %c2 : index
// CHECK: %[[C0:.*]] = arith.divui %[[WORLD]], %c4 : index
// CHECK: %[[HIGH:.*]] = arith.muli %[[C2]], %c2{{.*}} : index
// CHECK: %[[INDEX:.*]] = arith.addi %[[HIGH]], %[[C0]] : index
// CHECK: return %{{.*}}, %[[INDEX]]
// CALLS-LABEL: func.func @order(
// CALLS: memref.get_global @__sp_group_g_0 : memref<7xi64>
func.func @order(%x: tensor<4xf32>) -> (tensor<4xf32>, index) {
  %0 = sp.all_reduce %x over @g : tensor<4xf32>
  %1 = sp.group_rank @g
  return %0, %1 : tensor<4xf32>, index
}
