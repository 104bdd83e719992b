// RUN: sp-opt %s --sp-lower-to-cuda | FileCheck %s

// The whole pipeline: one layer of a sequence-parallel model down to the
// LLVM dialect. Each sp op is one call of the CUDA runtime's C interface
// (memref descriptors by pointer, then the attributes and the location;
// the group as its descriptor, a constant global); nothing of sp, tensors
// or bufferization is left.
// CHECK-NOT: sp.group
// CHECK-DAG: llvm.mlir.global private constant @__sp_group_tp(dense<[1, 2, 1, 0]> : tensor<4xi64>)
// CHECK-DAG: llvm.mlir.global internal constant @{{.*}}("sp.reduce_scatter at {{.*}}lower-to-cuda.mlir:[[#@LINE+32]]:8\00")
// CHECK-DAG: llvm.func @_mlir_ciface_sp_cuda_rt_reduce_scatter_bf16(!llvm.ptr, !llvm.ptr, i32, !llvm.ptr, i64, !llvm.ptr)
// CHECK-DAG: llvm.func @_mlir_ciface_sp_cuda_rt_fused_add_rms_norm_quant_bf16_f8E4M3FN(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, f32, !llvm.ptr)
// CHECK-DAG: llvm.func @_mlir_ciface_sp_cuda_rt_all_gather_f8E4M3FN(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, !llvm.ptr)
// CHECK-LABEL: llvm.func @layer(
// CHECK-DAG: %[[EPS:.*]] = llvm.mlir.constant(9.99999997E-7 : f32) : f32
// CHECK-DAG: %[[SUM:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-DAG: %[[DIM:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK-DAG: %[[TP:.*]] = llvm.mlir.addressof @__sp_group_tp : !llvm.ptr
// Every argument and buffer here only runtime calls touch: the arguments
// are brought to the device once (sp-cuda-device-buffers), the buffers are
// stream-ordered device allocations.
// CHECK-COUNT-4: llvm.call @sp_cuda_rt_argument_to_device(
// CHECK: llvm.call @sp_cuda_rt_device_alloc(
// CHECK: llvm.call @sp_cuda_rt_reduce_scatter_bf16({{.*}}, %[[SUM]], {{.*}}, %[[DIM]], %{{.*}}) : (i64, !llvm.ptr, i64, !llvm.ptr, i32, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, !llvm.ptr) -> ()
// CHECK: llvm.call @sp_cuda_rt_fused_add_rms_norm_quant_bf16_f8E4M3FN({{.*}}, %[[EPS]], %{{.*}}) : (i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, f32, !llvm.ptr) -> ()
// CHECK: llvm.call @sp_cuda_rt_all_gather_f8E4M3FN({{.*}}, %[[DIM]], %{{.*}}) : (i64, !llvm.ptr, i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, !llvm.ptr) -> ()
// The reduce_scatter's buffer dies after the norm: freed (in stream order).
// CHECK: llvm.call @sp_cuda_rt_device_free(
// Each result is copied once to a fresh host buffer before the exit's
// synchronization.
// CHECK: llvm.call @malloc
// CHECK: llvm.call @sp_cuda_rt_result_to_host(
// CHECK: llvm.call @malloc
// CHECK: llvm.call @sp_cuda_rt_result_to_host(
// CHECK: llvm.call @sp_cuda_rt_function_exit(
// CHECK-COUNT-4: llvm.call @sp_cuda_rt_argument_release(
// CHECK: llvm.return
// CHECK-NOT: bufferization.
// CHECK-NOT: tensor<
sp.group @tp size(2)
func.func @layer(%x: tensor<8x64xbf16>, %r: tensor<4x64xbf16>, %w: tensor<64xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}) -> (tensor<8x64xf8E4M3FN>, tensor<4x64xbf16>) {
  %0 = sp.reduce_scatter %x over @tp : tensor<8x64xbf16> -> tensor<4x64xbf16>
  %1, %2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %3 = sp.quant %1, %s : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  %4 = sp.all_gather %3 over @tp : tensor<4x64xf8E4M3FN> -> tensor<8x64xf8E4M3FN>
  return %4, %2 : tensor<8x64xf8E4M3FN>, tensor<4x64xbf16>
}
