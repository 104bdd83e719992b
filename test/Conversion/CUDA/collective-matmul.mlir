// sp-convert-to-cuda-runtime on the collective matmul and point-to-point
// ops: one pipelined runtime call per fused op (the gathered lhs always has
// a buffer), a ring_shift's start at the op and its wait before the first
// use, the group rank from the runtime; unsupported types are located
// errors.
// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime --verify-diagnostics | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime --verify-roundtrip --verify-diagnostics > /dev/null

sp.group @tp size(4)

// CHECK-DAG: func.func private @sp_cuda_rt_all_gather_matmul_f8E4M3FN_bf16(memref<*xbf16>, memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<?xi64>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_cuda_rt_matmul_reduce_scatter_bf16_f32(memref<*xf32>, memref<*xbf16>, memref<*xbf16>, memref<?xi64>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_cuda_rt_all_gather_matmul_scaled_f8E4M3FN_f16(memref<*xf16>, memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<*xf32>, memref<*xf32>, memref<?xi64>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-DAG: memref.global "private" constant @__sp_group_tp : memref<4xi64> = dense<[1, 4, 1, 0]>
// CHECK-LABEL: func.func @fused
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<64x4xbf16>
// CHECK: %[[GAT:.*]] = memref.alloc() : memref<64x8xf8E4M3FN>
// CHECK: %[[WORDS:.*]] = memref.get_global @__sp_group_tp : memref<4xi64>
// CHECK: %[[TP:.*]] = memref.cast %[[WORDS]] : memref<4xi64> to memref<?xi64>
// CHECK: call @sp_cuda_rt_all_gather_matmul_f8E4M3FN_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[TP]], %{{.*}})
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[G:.*]] = bufferization.to_tensor %[[GAT]] restrict writable
// CHECK: call @sp_cuda_rt_matmul_reduce_scatter_bf16_f32(
// CHECK: call @sp_cuda_rt_all_gather_matmul_scaled_f8E4M3FN_f16(
// CHECK: return %[[Y]], %[[G]],
func.func @fused(%x: tensor<16x8xf8E4M3FN>, %w: tensor<8x4xf8E4M3FN>, %h: tensor<64x8xbf16>, %v: tensor<8x4xbf16>,
                 %sa: tensor<f32>, %sw: tensor<f32>)
    -> (tensor<64x4xbf16>, tensor<64x8xf8E4M3FN>, tensor<16x4xf32>, tensor<64x4xf16>) {
  %y, %g = sp.all_gather_matmul %x, %w over @tp : tensor<16x8xf8E4M3FN>, tensor<8x4xf8E4M3FN> -> tensor<64x4xbf16>, tensor<64x8xf8E4M3FN>
  %z = sp.matmul_reduce_scatter %h, %v over @tp : tensor<64x8xbf16>, tensor<8x4xbf16> -> tensor<16x4xf32>
  %s = sp.all_gather_matmul %x, %w scales(%sa, %sw) over @tp : tensor<16x8xf8E4M3FN>, tensor<8x4xf8E4M3FN> -> tensor<64x4xf16>
  return %y, %g, %z, %s : tensor<64x4xbf16>, tensor<64x8xf8E4M3FN>, tensor<16x4xf32>, tensor<64x4xf16>
}

// -----

sp.group @tp size(2)

// Dynamic row counts: the result's rows are the lhs's divided by the group.
// CHECK-LABEL: func.func @dynamic
// CHECK: %[[ROWS:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[N:.*]] = arith.divui %[[ROWS]], %c2
// CHECK: memref.alloc(%[[N]]) : memref<?x4xf32>
// CHECK: call @sp_cuda_rt_matmul_reduce_scatter_f32_f32(
func.func @dynamic(%h: tensor<?x8xf32>, %w: tensor<8x4xf32>) -> tensor<?x4xf32> {
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

sp.group @tp size(2)

// CHECK-DAG: func.func private @sp_cuda_rt_ring_shift_start_bf16(memref<*xbf16>, memref<*xbf16>, i64, memref<?xi64>, !llvm.ptr) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @sp_cuda_rt_ring_shift_wait(i64, !llvm.ptr){{$}}
// CHECK-DAG: func.func private @sp_cuda_rt_rank() -> i64
// CHECK-LABEL: func.func @shift
// CHECK: %[[RANK:.*]] = call @sp_cuda_rt_rank() : () -> i64
// CHECK: %[[R:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[OFF:.*]] = arith.index_cast %[[R]] : index to i64
// CHECK: %[[H:.*]] = call @sp_cuda_rt_ring_shift_start_bf16(%{{.*}}, %{{.*}}, %[[OFF]], %{{.*}}, %[[LOC:.*]]) : (memref<*xbf16>, memref<*xbf16>, i64, memref<?xi64>, !llvm.ptr) -> i64
// CHECK: %[[T:.*]] = bufferization.to_tensor
// CHECK: arith.addf
// CHECK: call @sp_cuda_rt_ring_shift_wait(%[[H]], %[[LOC]])
// CHECK-NEXT: arith.negf %[[T]]
func.func @shift(%x: tensor<16x8xbf16>, %a: tensor<4xf32>) -> (tensor<16x8xbf16>, tensor<4xf32>) {
  %r = sp.group_rank @tp
  %s = sp.ring_shift %x over @tp by %r : tensor<16x8xbf16>
  %b = arith.addf %a, %a : tensor<4xf32>
  %n = arith.negf %s : tensor<16x8xbf16>
  return %n, %b : tensor<16x8xbf16>, tensor<4xf32>
}

// -----

sp.group @tp size(2)

func.func @mixed(%x: tensor<8x8xbf16>, %w: tensor<8x4xf16>) -> tensor<16x4xf32> {
  // expected-error @below {{'sp.all_gather_matmul' op has no CUDA runtime implementation for operands of different types ('bf16' and 'f16')}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<8x8xbf16>, tensor<8x4xf16> -> tensor<16x4xf32>
  return %y : tensor<16x4xf32>
}

// -----

sp.group @tp size(2)

func.func @f64(%x: tensor<8x8xf64>, %w: tensor<8x4xf64>) -> tensor<16x4xf64> {
  // expected-error @below {{'sp.all_gather_matmul' op has no CUDA runtime implementation for operands of type 'f64' (GEMMs take f32, f16, bf16 and fp8)}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<8x8xf64>, tensor<8x4xf64> -> tensor<16x4xf64>
  return %y : tensor<16x4xf64>
}

// -----

sp.group @tp size(2)

func.func @fp8_result(%h: tensor<8x8xf32>, %w: tensor<8x4xf32>) -> tensor<4x4xf8E4M3FN> {
  // expected-error @below {{'sp.matmul_reduce_scatter' op has no CUDA runtime implementation for results of type 'f8E4M3FN' (f32, f16 and bf16)}}
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<8x8xf32>, tensor<8x4xf32> -> tensor<4x4xf8E4M3FN>
  return %y : tensor<4x4xf8E4M3FN>
}

// -----

sp.group @tp size(2)

func.func @shift_type(%x: tensor<4xi1>, %o: index) -> tensor<4xi1> {
  // expected-error @below {{'sp.ring_shift' op has no CUDA runtime implementation for element type 'i1' (transfers move floats, fp8 and i8..i64)}}
  %y = sp.ring_shift %x over @tp by %o : tensor<4xi1>
  return %y : tensor<4xi1>
}
