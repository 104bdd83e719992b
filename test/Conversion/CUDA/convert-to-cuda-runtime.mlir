// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime --verify-diagnostics | FileCheck %s
// The converted IR is valid and prints/parses back identically.
// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime --verify-roundtrip --verify-diagnostics -o /dev/null

// Collectives: operands read through to_buffer, results in fresh buffers,
// one runtime call with the reduction, the group's descriptor (a group of
// every one of 2 ranks: grid [2] spanned along axis 0), dim and the op's
// location.
// CHECK: memref.global "private" constant @__sp_group_tp : memref<4xi64> = dense<[1, 2, 1, 0]>
// CHECK: llvm.mlir.global internal constant @[[LOC_AR:.*]]("sp.all_reduce at {{.*}}convert-to-cuda-runtime.mlir:[[#@LINE+28]]:8\00")
// CHECK: func.func private @sp_cuda_rt_all_reduce_bf16(memref<*xbf16>, memref<*xbf16>, i32, memref<?xi64>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK: func.func private @sp_cuda_rt_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, memref<?xi64>, i64, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK: func.func private @sp_cuda_rt_all_gather_f8E4M3FN(memref<*xf8E4M3FN>, memref<*xf8E4M3FN>, memref<?xi64>, i64, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @collectives(
// CHECK-SAME: %[[A:[^:]*]]: tensor<8x4xbf16>, %[[B:[^:]*]]: tensor<8x4xf32>, %[[C:[^:]*]]: tensor<2x4xf8E4M3FN>)
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<8x4xbf16>
// CHECK: %[[IN:.*]] = bufferization.to_buffer %[[A]] read_only : tensor<8x4xbf16> to memref<8x4xbf16>
// CHECK: %[[UIN:.*]] = memref.cast %[[IN]] : memref<8x4xbf16> to memref<*xbf16>
// CHECK: %[[UOUT:.*]] = memref.cast %[[OUT]] : memref<8x4xbf16> to memref<*xbf16>
// CHECK: %[[SUM:.*]] = arith.constant 0 : i32
// CHECK: %[[WORDS:.*]] = memref.get_global @__sp_group_tp : memref<4xi64>
// CHECK: %[[TP:.*]] = memref.cast %[[WORDS]] : memref<4xi64> to memref<?xi64>
// CHECK: %[[LOC:.*]] = llvm.mlir.addressof @[[LOC_AR]] : !llvm.ptr
// CHECK: call @sp_cuda_rt_all_reduce_bf16(%[[UIN]], %[[UOUT]], %[[SUM]], %[[TP]], %[[LOC]])
// CHECK: %[[R0:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<8x4xbf16> to tensor<8x4xbf16>
// reduce_scatter along dim 1 with avg (= 4):
// CHECK: memref.alloc() : memref<8x2xf32>
// CHECK: %[[AVG:.*]] = arith.constant 4 : i32
// CHECK: %[[DIM1:.*]] = arith.constant 1 : i64
// CHECK: call @sp_cuda_rt_reduce_scatter_f32(%{{.*}}, %{{.*}}, %[[AVG]], %{{.*}}, %[[DIM1]], %{{.*}})
// fp8 gathers (bytes on the wire):
// CHECK: memref.alloc() : memref<4x4xf8E4M3FN>
// CHECK: call @sp_cuda_rt_all_gather_f8E4M3FN(
// CHECK-NOT: = sp.
// CHECK: return %[[R0]],
sp.group @tp size(2)
func.func @collectives(%a: tensor<8x4xbf16>, %b: tensor<8x4xf32>, %c: tensor<2x4xf8E4M3FN>) -> (tensor<8x4xbf16>, tensor<8x2xf32>, tensor<4x4xf8E4M3FN>) {
  %0 = sp.all_reduce %a over @tp : tensor<8x4xbf16>
  %1 = sp.reduce_scatter %b over @tp dim 1 reduction avg : tensor<8x4xf32> -> tensor<8x2xf32>
  %2 = sp.all_gather %c over @tp : tensor<2x4xf8E4M3FN> -> tensor<4x4xf8E4M3FN>
  return %0, %1, %2 : tensor<8x4xbf16>, tensor<8x2xf32>, tensor<4x4xf8E4M3FN>
}

// -----

// Dynamic sizes: the result buffers are sized at run time, the split dim
// divided or multiplied by the group size.
// CHECK-LABEL: func.func @dynamic(
// CHECK: %[[D0:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[N:.*]] = arith.constant 4 : index
// CHECK: %[[CHUNK:.*]] = arith.divui %[[D0]], %[[N]] : index
// CHECK: memref.alloc(%[[CHUNK]]) : memref<?x16xbf16>
// CHECK: call @sp_cuda_rt_reduce_scatter_bf16(
// CHECK: %[[E0:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[M:.*]] = arith.constant 4 : index
// CHECK: %[[ROWS:.*]] = arith.muli %[[E0]], %[[M]] : index
// CHECK: memref.alloc(%[[ROWS]]) : memref<?x16xbf16>
// CHECK: call @sp_cuda_rt_all_gather_bf16(
sp.group @tp size(4)
func.func @dynamic(%x: tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  %0 = sp.reduce_scatter %x over @tp : tensor<?x16xbf16> -> tensor<?x16xbf16>
  %1 = sp.all_gather %0 over @tp : tensor<?x16xbf16> -> tensor<?x16xbf16>
  return %1 : tensor<?x16xbf16>
}

// -----

// all_slice is this rank's rows: no communication, the rank from the runtime;
// sp.replicated is dropped.
// CHECK: func.func private @sp_cuda_rt_rank() -> i64
// CHECK-LABEL: func.func @slice(
// CHECK-SAME: %[[R:[^:]*]]: tensor<8x4xf32>) -> tensor<4x4xf32> {
// CHECK: %[[RANK:.*]] = call @sp_cuda_rt_rank() : () -> i64
// CHECK: %[[IDX:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[OFF:.*]] = arith.muli %[[IDX]], %c4
// CHECK: tensor.extract_slice %[[R]][%[[OFF]], 0] [4, 4] [1, 1] : tensor<8x4xf32> to tensor<4x4xf32>
sp.group @tp size(2)
func.func @slice(%r: tensor<8x4xf32> {sp.replicated}) -> tensor<4x4xf32> {
  %0 = sp.all_slice %r over @tp : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// Norms: kernels take (outputs..., inputs..., epsilon, location).
// CHECK-LABEL: func.func @norms(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x64xf32>, %[[W:[^:]*]]: tensor<64xf32>, %[[H:[^:]*]]: tensor<2x3x64xf16>, %[[RES:[^:]*]]: tensor<2x3x64xf16>, %[[WH:[^:]*]]: tensor<64xf16>)
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4x64xf32>
// CHECK: %[[UOUT:.*]] = memref.cast %[[OUT]]
// CHECK: bufferization.to_buffer %[[X]] read_only
// CHECK: bufferization.to_buffer %[[W]] read_only
// CHECK: %[[EPS:.*]] = arith.constant 9.99999997E-7 : f32
// CHECK: call @sp_cuda_rt_rms_norm_f32(%[[UOUT]], %{{.*}}, %{{.*}}, %[[EPS]], %{{.*}}) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
// CHECK: %[[NOUT:.*]] = memref.alloc() : memref<2x3x64xf16>
// CHECK: %[[ROUT:.*]] = memref.alloc() : memref<2x3x64xf16>
// CHECK: call @sp_cuda_rt_fused_add_rms_norm_f16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf16>, memref<*xf16>, memref<*xf16>, memref<*xf16>, memref<*xf16>, f32, !llvm.ptr) -> ()
// CHECK-DAG: bufferization.to_tensor %[[NOUT]] restrict writable
// CHECK-DAG: bufferization.to_tensor %[[ROUT]] restrict writable
func.func @norms(%x: tensor<4x64xf32>, %w: tensor<64xf32>, %h: tensor<2x3x64xf16>, %r: tensor<2x3x64xf16>, %wh: tensor<64xf16>) -> (tensor<4x64xf32>, tensor<2x3x64xf16>, tensor<2x3x64xf16>) {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-06 : tensor<4x64xf32>, tensor<64xf32>
  %1, %2 = sp.fused_add_rms_norm %h, %r, %wh epsilon = 1.0e-05 : tensor<2x3x64xf16>, tensor<64xf16>
  return %0, %1, %2 : tensor<4x64xf32>, tensor<2x3x64xf16>, tensor<2x3x64xf16>
}

// -----

// A quant of anything but a norm's sole output is its own kernel.
// CHECK-LABEL: func.func @quant(
// CHECK: memref.alloc() : memref<4x64xf8E4M3FNUZ>
// CHECK: call @sp_cuda_rt_quant_bf16_f8E4M3FNUZ(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf8E4M3FNUZ>, memref<*xbf16>, memref<*xf32>, !llvm.ptr) -> ()
func.func @quant(%x: tensor<4x64xbf16>, %s: tensor<f32>) -> tensor<4x64xf8E4M3FNUZ> {
  %0 = sp.quant %x, %s : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FNUZ>
  return %0 : tensor<4x64xf8E4M3FNUZ>
}

// -----

// rms_norm whose only user is a quant: one kernel, the normalized values
// never reach memory.
// CHECK-LABEL: func.func @norm_quant(
// CHECK-NOT: sp_cuda_rt_rms_norm_bf16(
// CHECK: call @sp_cuda_rt_rms_norm_quant_bf16_f8E4M3FN(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf8E4M3FN>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, f32, !llvm.ptr) -> ()
// CHECK-NOT: call
// CHECK: call @sp_cuda_rt_function_exit(%{{.*}}) : (!llvm.ptr) -> ()
// CHECK-NOT: call
// CHECK: return
func.func @norm_quant(%x: tensor<4x64xbf16>, %w: tensor<64xbf16>, %s: tensor<f32>) -> tensor<4x64xf8E4M3FN> {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %1 = sp.quant %0, %s : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  return %1 : tensor<4x64xf8E4M3FN>
}

// -----

// The norm's output has another user: norm and quant stay two kernels.
// CHECK-LABEL: func.func @norm_two_users(
// CHECK-NOT: rms_norm_quant
// CHECK: call @sp_cuda_rt_rms_norm_bf16(
// CHECK-NOT: rms_norm_quant
// CHECK: call @sp_cuda_rt_quant_bf16_f8E4M3FN(
// CHECK-NOT: rms_norm_quant
// CHECK: return
func.func @norm_two_users(%x: tensor<4x64xbf16>, %w: tensor<64xbf16>, %s: tensor<f32>) -> (tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>) {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %1 = sp.quant %0, %s : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  return %1, %0 : tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>
}

// -----

// Fused add + norm + quant in one kernel; the residual is still produced,
// and the call sits at the norm so that a user of the residual placed
// before the quant still sees it defined.
// CHECK-LABEL: func.func @fused_quant(
// CHECK: %[[Q:.*]] = memref.alloc() : memref<4x64xf8E4M3FN>
// CHECK: %[[RO:.*]] = memref.alloc() : memref<4x64xbf16>
// CHECK: call @sp_cuda_rt_fused_add_rms_norm_quant_bf16_f8E4M3FN(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf8E4M3FN>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, f32, !llvm.ptr) -> ()
// CHECK-DAG: %[[QT:.*]] = bufferization.to_tensor %[[Q]] restrict writable
// CHECK-DAG: %[[RT:.*]] = bufferization.to_tensor %[[RO]] restrict writable
// CHECK: %[[USE:.*]] = arith.addf %[[RT]], %[[RT]]
// CHECK: return %[[QT]], %[[USE]]
func.func @fused_quant(%x: tensor<4x64xbf16>, %r: tensor<4x64xbf16>, %w: tensor<64xbf16>, %s: tensor<f32>) -> (tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>) {
  %0, %1 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %2 = arith.addf %1, %1 : tensor<4x64xbf16>
  %3 = sp.quant %0, %s : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  return %3, %2 : tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>
}

// -----

// The scale is computed after a user of the residual: fusing would need the
// residual before it exists, so norm and quant stay apart.
// CHECK-LABEL: func.func @fused_quant_late_scale(
// CHECK-NOT: rms_norm_quant
// CHECK: call @sp_cuda_rt_fused_add_rms_norm_bf16(
// CHECK: arith.addf
// CHECK: call @sp_cuda_rt_quant_bf16_f8E4M3FN(
// CHECK-NOT: rms_norm_quant
// CHECK: return
func.func @fused_quant_late_scale(%x: tensor<4x64xbf16>, %r: tensor<4x64xbf16>, %w: tensor<64xbf16>, %s: tensor<f32>) -> (tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>) {
  %0, %1 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %2 = arith.addf %1, %1 : tensor<4x64xbf16>
  %s2 = arith.addf %s, %s : tensor<f32>
  %3 = sp.quant %0, %s2 : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  return %3, %2 : tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>
}

// -----

// Late scale, but nothing uses the residual before the quant: fused at the
// quant.
// CHECK-LABEL: func.func @fused_quant_at_quant(
// CHECK: arith.addf
// CHECK: call @sp_cuda_rt_fused_add_rms_norm_quant_bf16_f8E4M3FN(
func.func @fused_quant_at_quant(%x: tensor<4x64xbf16>, %r: tensor<4x64xbf16>, %w: tensor<64xbf16>, %s: tensor<f32>) -> (tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>) {
  %0, %1 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  %s2 = arith.addf %s, %s : tensor<f32>
  %3 = sp.quant %0, %s2 : tensor<4x64xbf16> -> tensor<4x64xf8E4M3FN>
  return %3, %1 : tensor<4x64xf8E4M3FN>, tensor<4x64xbf16>
}

// -----

// The exit of every public function of a module that calls the runtime is
// a synchronization point (sp_cuda_rt_function_exit: a no-op unless calls
// left work enqueued, SP_CUDA_SYNC=explicit); private functions (a layer
// called from the entry) are not, so that enqueued work flows across them.
// CHECK-LABEL: func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
// CHECK-NOT: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func private @layer(
// CHECK: call @sp_cuda_rt_rms_norm_bf16(
// CHECK-NOT: sp_cuda_rt_function_exit
// CHECK: return
// CHECK-LABEL: func.func @entry(
// CHECK: call @layer(
// CHECK: %[[LOC:.*]] = llvm.mlir.addressof @[[EXIT:sp_cuda_location[_0-9]*]] : !llvm.ptr
// CHECK-NEXT: call @sp_cuda_rt_function_exit(%[[LOC]]) : (!llvm.ptr) -> ()
// CHECK-NEXT: return
// CHECK-LABEL: func.func @no_runtime_call(
// CHECK: call @sp_cuda_rt_function_exit(
// CHECK-NEXT: return
func.func private @layer(%x: tensor<4x64xbf16>, %w: tensor<64xbf16>) -> tensor<4x64xbf16> {
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-06 : tensor<4x64xbf16>, tensor<64xbf16>
  return %0 : tensor<4x64xbf16>
}
func.func @entry(%x: tensor<4x64xbf16>, %w: tensor<64xbf16>) -> tensor<4x64xbf16> {
  %0 = call @layer(%x, %w) : (tensor<4x64xbf16>, tensor<64xbf16>) -> tensor<4x64xbf16>
  return %0 : tensor<4x64xbf16>
}
func.func @no_runtime_call(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// A module without runtime calls gets no synchronization.
// CHECK-LABEL: func.func @plain(
// CHECK-NOT: sp_cuda_rt_function_exit
// CHECK: return
func.func @plain(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = arith.addf %x, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Element types without a CUDA implementation are reported at the op, and
// the module is left as it was.
sp.group @tp size(2)
func.func @int_reduce(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{'sp.all_reduce' op has no CUDA runtime implementation for element type 'i32' (NCCL reductions here support f32, f16, bf16, f64)}}
  %0 = sp.all_reduce %x over @tp : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

sp.group @tp size(2)
func.func @bool_gather(%x: tensor<4xi1>) -> tensor<8xi1> {
  // expected-error @+1 {{'sp.all_gather' op has no CUDA runtime implementation for element type 'i1' (gathers move floats, fp8 and i8..i64)}}
  %0 = sp.all_gather %x over @tp : tensor<4xi1> -> tensor<8xi1>
  return %0 : tensor<8xi1>
}

// -----

func.func @f64_norm(%x: tensor<4x8xf64>, %w: tensor<8xf64>) -> tensor<4x8xf64> {
  // expected-error @+1 {{'sp.rms_norm' op has no CUDA runtime implementation for element type 'f64' (the kernels take f32, f16 and bf16)}}
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-06 : tensor<4x8xf64>, tensor<8xf64>
  return %0 : tensor<4x8xf64>
}

// -----

// A nested module gets its own declarations and location strings: a symbol
// reference resolves in the nearest symbol table, so the inner module's
// calls cannot name the outer module's (a fuzzer finding: the outer module's
// location global was referenced from a nested public function's exit).
// CHECK-LABEL: module @outer
// CHECK:   func.func private @sp_cuda_rt_all_reduce_f32
// CHECK:   func.func @f(
// CHECK:     call @sp_cuda_rt_all_reduce_f32
// CHECK:     call @sp_cuda_rt_function_exit
// CHECK:   module @inner
// CHECK:     func.func private @sp_cuda_rt_all_reduce_f32
// CHECK:     func.func private @sp_cuda_rt_function_exit
// CHECK:     func.func @g(
// CHECK:       llvm.mlir.addressof @[[LOC:sp_cuda_location[_0-9]*]]
// CHECK:       call @sp_cuda_rt_all_reduce_f32
// CHECK:       call @sp_cuda_rt_function_exit
// CHECK:   module @empty
// CHECK-NOT:   sp_cuda_rt
// CHECK:     func.func @h(
// CHECK-NEXT:  return
module @outer {
  sp.group @tp size(2)
  func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %r = sp.all_reduce %x over @tp : tensor<4x8xf32>
    return %r : tensor<4x8xf32>
  }
  module @inner {
    sp.group @tp size(2)
    func.func @g(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %r = sp.all_reduce %x over @tp : tensor<4x8xf32>
      return %r : tensor<4x8xf32>
    }
  }
  module @empty {
    func.func @h(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      return %x : tensor<4x8xf32>
    }
  }
}
