// RUN: sp-opt %s --sp-convert-to-cuda-runtime --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --sp-cuda-device-buffers | FileCheck %s

// The matmul calls' buffers are runtime-call operands like the others:
// sp-cuda-device-buffers keeps the weights, the lhs and the results in
// device memory (a norm feeding a GEMM feeding a GEMM), and the returned
// result is copied to the host once, before the exit's synchronization.

// CHECK-LABEL: func.func @chain
// CHECK-COUNT-5: call @sp_cuda_rt_argument_to_device(
// CHECK-NOT: memref.alloc
// CHECK: %[[N:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: %[[NV:.*]] = memref.view %[[N]]
// CHECK: call @sp_cuda_rt_rms_norm_bf16(
// CHECK: %[[H:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: %[[HV:.*]] = memref.view %[[H]]
// CHECK: %[[HC:.*]] = memref.cast %[[HV]]
// CHECK: %[[NC:.*]] = memref.cast %[[NV]]
// CHECK: call @sp_cuda_rt_matmul_bf16_bf16(%[[HC]], %[[NC]],
// CHECK: %[[Y:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK-NOT: memref.alloc
// CHECK: call @sp_cuda_rt_matmul_accumulate_bf16_f32(
// CHECK: %[[HOST:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: call @sp_cuda_rt_result_to_host(%{{.*}}, %[[Y]],
// CHECK: call @sp_cuda_rt_function_exit(
// CHECK: return %[[HOST]]
func.func @chain(%x: tensor<?x16xbf16>, %w: tensor<16xbf16>, %a: tensor<16x32xbf16>, %b: tensor<32x16xbf16>, %init: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : bf16
  %n = sp.rms_norm %x, %w epsilon = 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  %m = tensor.dim %x, %c0 : tensor<?x16xbf16>
  %e = tensor.empty(%m) : tensor<?x32xbf16>
  %f = linalg.fill ins(%zero : bf16) outs(%e : tensor<?x32xbf16>) -> tensor<?x32xbf16>
  %h = linalg.matmul ins(%n, %a : tensor<?x16xbf16>, tensor<16x32xbf16>) outs(%f : tensor<?x32xbf16>) -> tensor<?x32xbf16>
  %y = linalg.matmul ins(%h, %b : tensor<?x32xbf16>, tensor<32x16xbf16>) outs(%init : tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
