// Groups with a rank layout through sp-convert-to-cuda-runtime: every call
// that communicates takes its group's descriptor, [ndims, grid..., naxes,
// axes...] (sp/Runtime/RuntimeABI.h), from which the runtime makes the
// group's communicator (ncclCommSplit); sp.all_slice and sp.group_rank use
// the rank's index in the group, computed from the job's rank as on the CPU
// path.
// RUN: sp-opt %s --sp-convert-to-cuda-runtime | FileCheck %s
// RUN: sp-opt %s --sp-convert-to-cuda-runtime --verify-roundtrip -o /dev/null
// RUN: sp-opt %s --sp-lower-to-cuda | FileCheck %s --check-prefix=LLVM

// DP 2 x TP 4 on 8 ranks (rank = 4 * d + t): @tp spans axis 1, @dp axis 0.
sp.group @tp size(4) grid [2, 4] axes [1]
sp.group @dp size(2) grid [2, 4] axes [0]

// CHECK-DAG: memref.global "private" constant @__sp_group_tp : memref<5xi64> = dense<[2, 2, 4, 1, 1]>
// CHECK-DAG: memref.global "private" constant @__sp_group_dp : memref<5xi64> = dense<[2, 2, 4, 1, 0]>
// CHECK-DAG: func.func private @sp_cuda_rt_all_reduce_bf16(memref<*xbf16>, memref<*xbf16>, i32, memref<?xi64>, !llvm.ptr)
// CHECK-DAG: func.func private @sp_cuda_rt_reduce_scatter_bf16(memref<*xbf16>, memref<*xbf16>, i32, memref<?xi64>, i64, !llvm.ptr)
// CHECK-DAG: func.func private @sp_cuda_rt_all_gather_bf16(memref<*xbf16>, memref<*xbf16>, memref<?xi64>, i64, !llvm.ptr)
// CHECK-DAG: func.func private @sp_cuda_rt_ring_shift_start_bf16(memref<*xbf16>, memref<*xbf16>, i64, memref<?xi64>, !llvm.ptr) -> i64
// CHECK-DAG: func.func private @sp_cuda_rt_all_gather_matmul_bf16_f32(memref<*xf32>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<?xi64>, !llvm.ptr)
// CHECK-DAG: func.func private @sp_cuda_rt_matmul_reduce_scatter_bf16_f32(memref<*xf32>, memref<*xbf16>, memref<*xbf16>, memref<?xi64>, !llvm.ptr)
// CHECK-LABEL: func.func @dp_tp(
// CHECK-SAME: %[[X:[^:]*]]: tensor<8x4xbf16>, %[[R:[^:]*]]: tensor<8x4xbf16>, %[[W:[^:]*]]: tensor<4x4xbf16>)
// CHECK: %[[W1:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CHECK: %[[TP1:.*]] = memref.cast %[[W1]] : memref<5xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_all_reduce_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %[[TP1]], %{{.*}})
// CHECK: %[[W2:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CHECK: %[[TP2:.*]] = memref.cast %[[W2]] : memref<5xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_reduce_scatter_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %[[TP2]], %c0_i64, %{{.*}})
// CHECK: %[[W3:.*]] = memref.get_global @__sp_group_dp : memref<5xi64>
// CHECK: %[[DP3:.*]] = memref.cast %[[W3]] : memref<5xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_all_gather_bf16(%{{.*}}, %{{.*}}, %[[DP3]], %c1_i64, %{{.*}})
// all_slice over @tp: rows [t * 2, t * 2 + 2), t = rank mod 4.
// CHECK: %[[RANK:.*]] = call @sp_cuda_rt_rank() : () -> i64
// CHECK: %[[WORLD:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[T:.*]] = arith.remui %[[WORLD]], %c4 : index
// CHECK: %[[OFF:.*]] = arith.muli %[[T]], %c2 : index
// CHECK: tensor.extract_slice %[[R]][%[[OFF]], 0] [2, 4] [1, 1]
// CHECK: %[[W4:.*]] = memref.get_global @__sp_group_dp : memref<5xi64>
// CHECK: %[[DP4:.*]] = memref.cast %[[W4]] : memref<5xi64> to memref<?xi64>
// CHECK: %[[H:.*]] = call @sp_cuda_rt_ring_shift_start_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %[[DP4]], %{{.*}})
// group_rank over @dp: d = rank / 4.
// CHECK: %[[RANK2:.*]] = call @sp_cuda_rt_rank() : () -> i64
// CHECK: %[[WORLD2:.*]] = arith.index_cast %[[RANK2]] : i64 to index
// CHECK: %[[D:.*]] = arith.divui %[[WORLD2]], %c4{{.*}} : index
// CHECK: %[[W5:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CHECK: %[[TP5:.*]] = memref.cast %[[W5]] : memref<5xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_all_gather_matmul_bf16_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[TP5]], %{{.*}})
// CHECK: %[[W6:.*]] = memref.get_global @__sp_group_tp : memref<5xi64>
// CHECK: %[[TP6:.*]] = memref.cast %[[W6]] : memref<5xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_matmul_reduce_scatter_bf16_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[TP6]], %{{.*}})
// CHECK: call @sp_cuda_rt_ring_shift_wait(%[[H]], %{{.*}})
// CHECK: return {{.*}}, %[[D]],

// LLVM-DAG: llvm.mlir.global private constant @__sp_group_tp(dense<[2, 2, 4, 1, 1]> : tensor<5xi64>)
// LLVM-DAG: llvm.mlir.global private constant @__sp_group_dp(dense<[2, 2, 4, 1, 0]> : tensor<5xi64>)
// LLVM-DAG: llvm.func @_mlir_ciface_sp_cuda_rt_all_gather_matmul_bf16_f32(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr)
// LLVM-DAG: llvm.func @_mlir_ciface_sp_cuda_rt_ring_shift_start_bf16(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> i64
// LLVM-NOT: sp.group
func.func @dp_tp(%x: tensor<8x4xbf16>, %r: tensor<8x4xbf16> {sp.replicated}, %w: tensor<4x4xbf16>) -> (tensor<8x4xbf16>, tensor<2x4xbf16>, tensor<8x8xbf16>, tensor<2x4xbf16>, tensor<8x4xbf16>, index, tensor<32x4xf32>, tensor<2x4xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x4xbf16>
  %1 = sp.reduce_scatter %x over @tp : tensor<8x4xbf16> -> tensor<2x4xbf16>
  %2 = sp.all_gather %x over @dp dim 1 : tensor<8x4xbf16> -> tensor<8x8xbf16>
  %3 = sp.all_slice %r over @tp : tensor<8x4xbf16> -> tensor<2x4xbf16>
  %c1 = arith.constant 1 : index
  %4 = sp.ring_shift %x over @dp by %c1 : tensor<8x4xbf16>
  %5 = sp.group_rank @dp
  %6 = sp.all_gather_matmul %x, %w over @tp : tensor<8x4xbf16>, tensor<4x4xbf16> -> tensor<32x4xf32>
  %7 = sp.matmul_reduce_scatter %x, %w over @tp : tensor<8x4xbf16>, tensor<4x4xbf16> -> tensor<2x4xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<8x4xbf16>, tensor<2x4xbf16>, tensor<8x8xbf16>, tensor<2x4xbf16>, tensor<8x4xbf16>, index, tensor<32x4xf32>, tensor<2x4xf32>
}
