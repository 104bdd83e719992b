// sp-convert-to-cuda-runtime on linalg.matmul: one runtime call (a cuBLASLt
// GEMM on the GPU) on a fresh result buffer. An init that is a fill of +0.0
// is not read (sp_cuda_rt_matmul_*, beta 0) and the fill goes away; any
// other init is read (sp_cuda_rt_matmul_accumulate_*: init + lhs x rhs).
// What the runtime cannot multiply stays linalg.matmul.
// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-convert-to-cuda-runtime --verify-roundtrip > /dev/null

// CHECK-DAG: func.func private @sp_cuda_rt_matmul_f32_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-DAG: llvm.mlir.global internal constant @[[LOC:sp_cuda_location[_0-9]*]]("linalg.matmul at {{.*}}matmul-to-cublaslt.mlir:{{[0-9]+}}:8\00")
// CHECK-LABEL: func.func @static_zero_fill
// CHECK-NOT: linalg.fill
// CHECK-NOT: tensor.empty
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<8x4xf32>
// CHECK: %[[O:.*]] = memref.cast %[[OUT]] : memref<8x4xf32> to memref<*xf32>
// CHECK: call @sp_cuda_rt_matmul_f32_f32(%[[O]], %{{.*}}, %{{.*}}, %{{.*}})
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: return %[[R]]
func.func @static_zero_fill(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>) -> tensor<8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %c = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %c : tensor<8x4xf32>
}

// -----

// Dynamic token count and columns: the result's sizes are the init's (here
// the tensor.empty's), which the runtime checks against lhs and rhs.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: %[[A:.*]]: tensor<?x16xbf16>, %[[B:.*]]: tensor<16x?xbf16>, %[[M:.*]]: index, %[[N:.*]]: index
// CHECK-NOT: linalg.fill
// CHECK: %[[OUT:.*]] = memref.alloc(%[[M]], %[[N]]) : memref<?x?xbf16>
// CHECK: bufferization.to_buffer %[[A]] read_only : tensor<?x16xbf16> to memref<?x16xbf16>
// CHECK: bufferization.to_buffer %[[B]] read_only : tensor<16x?xbf16> to memref<16x?xbf16>
// CHECK: call @sp_cuda_rt_matmul_bf16_bf16(
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable : memref<?x?xbf16> to tensor<?x?xbf16>
func.func @dynamic(%a: tensor<?x16xbf16>, %b: tensor<16x?xbf16>, %m: index, %n: index) -> tensor<?x?xbf16> {
  %zero = arith.constant 0.0 : bf16
  %e = tensor.empty(%m, %n) : tensor<?x?xbf16>
  %f = linalg.fill ins(%zero : bf16) outs(%e : tensor<?x?xbf16>) -> tensor<?x?xbf16>
  %c = linalg.matmul ins(%a, %b : tensor<?x16xbf16>, tensor<16x?xbf16>) outs(%f : tensor<?x?xbf16>) -> tensor<?x?xbf16>
  return %c : tensor<?x?xbf16>
}

// -----

// Any other init is read: out = init + lhs x rhs, the init an input of the
// call (sizes from tensor.dim of it).
// CHECK-DAG: func.func private @sp_cuda_rt_matmul_accumulate_bf16_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @accumulate
// CHECK-SAME: %[[A:.*]]: tensor<?x8xbf16>, %[[B:.*]]: tensor<8x4xbf16>, %[[C:.*]]: tensor<?x4xbf16>
// CHECK: %[[M:.*]] = tensor.dim %[[C]], %c0
// CHECK: %[[OUT:.*]] = memref.alloc(%[[M]]) : memref<?x4xbf16>
// CHECK: %[[O:.*]] = memref.cast %[[OUT]]
// CHECK: %[[I:.*]] = bufferization.to_buffer %[[C]] read_only
// CHECK: %[[IC:.*]] = memref.cast %[[I]]
// CHECK: %[[L:.*]] = bufferization.to_buffer %[[A]] read_only
// CHECK: %[[LC:.*]] = memref.cast %[[L]]
// CHECK: %[[R:.*]] = bufferization.to_buffer %[[B]] read_only
// CHECK: %[[RC:.*]] = memref.cast %[[R]]
// CHECK: call @sp_cuda_rt_matmul_accumulate_bf16_bf16(%[[O]], %[[IC]], %[[LC]], %[[RC]], %{{.*}})
func.func @accumulate(%a: tensor<?x8xbf16>, %b: tensor<8x4xbf16>, %c: tensor<?x4xbf16>) -> tensor<?x4xbf16> {
  %r = linalg.matmul ins(%a, %b : tensor<?x8xbf16>, tensor<8x4xbf16>) outs(%c : tensor<?x4xbf16>) -> tensor<?x4xbf16>
  return %r : tensor<?x4xbf16>
}

// -----

// A fill of -0.0 is an init like any other (a sum from -0.0 can end as
// -0.0, one from +0 cannot); so is a fill of another value.
// CHECK-LABEL: func.func @other_fills
// CHECK: linalg.fill
// CHECK: call @sp_cuda_rt_matmul_accumulate_f16_f16(
// CHECK: linalg.fill
// CHECK: call @sp_cuda_rt_matmul_accumulate_f16_f16(
func.func @other_fills(%a: tensor<4x8xf16>, %b: tensor<8x4xf16>) -> (tensor<4x4xf16>, tensor<4x4xf16>) {
  %neg = arith.constant -0.0 : f16
  %one = arith.constant 1.0 : f16
  %e = tensor.empty() : tensor<4x4xf16>
  %f = linalg.fill ins(%neg : f16) outs(%e : tensor<4x4xf16>) -> tensor<4x4xf16>
  %c = linalg.matmul ins(%a, %b : tensor<4x8xf16>, tensor<8x4xf16>) outs(%f : tensor<4x4xf16>) -> tensor<4x4xf16>
  %g = linalg.fill ins(%one : f16) outs(%e : tensor<4x4xf16>) -> tensor<4x4xf16>
  %d = linalg.matmul ins(%a, %b : tensor<4x8xf16>, tensor<8x4xf16>) outs(%g : tensor<4x4xf16>) -> tensor<4x4xf16>
  return %c, %d : tensor<4x4xf16>, tensor<4x4xf16>
}

// -----

// A zero fill that something else also uses stays for that user; the
// GEMM still does not read it.
// CHECK-LABEL: func.func @shared_fill
// CHECK: %[[F:.*]] = linalg.fill
// CHECK: call @sp_cuda_rt_matmul_f32_f32(
// CHECK: return %{{.*}}, %[[F]]
func.func @shared_fill(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %c = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %c, %f : tensor<4x4xf32>, tensor<4x4xf32>
}

// -----

// The model's GEMMs: FP8 operands (k, n multiples of 16) to bf16, and an
// f32 result of bf16 operands; mixed operand and result types keep
// linalg.matmul's numerics (operands converted to the result type).
// CHECK-LABEL: func.func @types
// CHECK: call @sp_cuda_rt_matmul_f8E4M3FN_bf16(
// CHECK: call @sp_cuda_rt_matmul_bf16_f32(
// CHECK: call @sp_cuda_rt_matmul_f32_f16(
// CHECK-NOT: linalg.matmul
func.func @types(%a: tensor<32x128xf8E4M3FN>, %w: tensor<128x96xf8E4M3FN>,
                 %h: tensor<32x96xbf16>, %v: tensor<96x16xbf16>,
                 %x: tensor<4x8xf32>, %y: tensor<8x4xf32>)
    -> (tensor<32x96xbf16>, tensor<32x16xf32>, tensor<4x4xf16>) {
  %zb = arith.constant 0.0 : bf16
  %zf = arith.constant 0.0 : f32
  %zh = arith.constant 0.0 : f16
  %e0 = tensor.empty() : tensor<32x96xbf16>
  %f0 = linalg.fill ins(%zb : bf16) outs(%e0 : tensor<32x96xbf16>) -> tensor<32x96xbf16>
  %r0 = linalg.matmul ins(%a, %w : tensor<32x128xf8E4M3FN>, tensor<128x96xf8E4M3FN>) outs(%f0 : tensor<32x96xbf16>) -> tensor<32x96xbf16>
  %e1 = tensor.empty() : tensor<32x16xf32>
  %f1 = linalg.fill ins(%zf : f32) outs(%e1 : tensor<32x16xf32>) -> tensor<32x16xf32>
  %r1 = linalg.matmul ins(%h, %v : tensor<32x96xbf16>, tensor<96x16xbf16>) outs(%f1 : tensor<32x16xf32>) -> tensor<32x16xf32>
  %e2 = tensor.empty() : tensor<4x4xf16>
  %f2 = linalg.fill ins(%zh : f16) outs(%e2 : tensor<4x4xf16>) -> tensor<4x4xf16>
  %r2 = linalg.matmul ins(%x, %y : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f2 : tensor<4x4xf16>) -> tensor<4x4xf16>
  return %r0, %r1, %r2 : tensor<32x96xbf16>, tensor<32x16xf32>, tensor<4x4xf16>
}

// -----

// What stays linalg.matmul (host loops here, or another GPU lowering), each
// for a reason:
// CHECK-LABEL: func.func @unsupported
// CHECK-NOT: call @sp_cuda_rt_matmul
// CHECK-COUNT-7: linalg.matmul
// CHECK-NOT: call @sp_cuda_rt_matmul
func.func @unsupported(%f16: tensor<4x8xf16>, %f32: tensor<8x4xf32>,
                       %fnuz: tensor<16x16xf8E4M3FNUZ>, %fp8: tensor<16x8xf8E4M3FN>,
                       %i: tensor<4x8xi32>, %j: tensor<8x4xi32>,
                       %d: tensor<4x8xf64>, %d2: tensor<8x4xf64>,
                       %t: tensor<4x8xf32>, %u: tensor<4x8xf32>,
                       %o16: tensor<16x16xbf16>, %o8: tensor<16x8xbf16>,
                       %oi: tensor<4x4xi32>, %od: tensor<4x4xf64>, %of: tensor<4x4xf32>,
                       %ofp8: tensor<4x4xf8E4M3FN>, %q: tensor<4x16xf8E4M3FN>, %q2: tensor<16x4xf8E4M3FN>) {
  // Operands of two types.
  %0 = linalg.matmul ins(%f16, %f32 : tensor<4x8xf16>, tensor<8x4xf32>) outs(%of : tensor<4x4xf32>) -> tensor<4x4xf32>
  // f8E4M3FNUZ: cuBLASLt has no such GEMM.
  %1 = linalg.matmul ins(%fnuz, %fnuz : tensor<16x16xf8E4M3FNUZ>, tensor<16x16xf8E4M3FNUZ>) outs(%o16 : tensor<16x16xbf16>) -> tensor<16x16xbf16>
  // FP8 with n = 8: cuBLASLt's FP8 GEMMs need multiples of 16.
  %2 = linalg.matmul ins(%o16, %fp8 : tensor<16x16xbf16>, tensor<16x8xf8E4M3FN>) outs(%o8 : tensor<16x8xbf16>) -> tensor<16x8xbf16>
  // Integers and f64: not GEMMs of the runtime.
  %3 = linalg.matmul ins(%i, %j : tensor<4x8xi32>, tensor<8x4xi32>) outs(%oi : tensor<4x4xi32>) -> tensor<4x4xi32>
  %4 = linalg.matmul ins(%d, %d2 : tensor<4x8xf64>, tensor<8x4xf64>) outs(%od : tensor<4x4xf64>) -> tensor<4x4xf64>
  // A transposed rhs (user-defined indexing maps).
  %5 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%t, %u : tensor<4x8xf32>, tensor<4x8xf32>) outs(%of : tensor<4x4xf32>) -> tensor<4x4xf32>
  // An FP8 result: the runtime writes f32, f16 and bf16.
  %6 = linalg.matmul ins(%q, %q2 : tensor<4x16xf8E4M3FN>, tensor<16x4xf8E4M3FN>) outs(%ofp8 : tensor<4x4xf8E4M3FN>) -> tensor<4x4xf8E4M3FN>
  return
}

// -----

// On buffers: after bufferization, not this pass's business.
// CHECK-LABEL: func.func @buffers
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : memref<4x8xf32>, memref<8x4xf32>)
func.func @buffers(%a: memref<4x8xf32>, %b: memref<8x4xf32>, %c: memref<4x4xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x4xf32>) outs(%c : memref<4x4xf32>)
  return
}

// -----

// linalg.generics that are linalg.matmul written out (maps (m, k), (k, n)
// -> (m, n); the operands converted to the result type, multiplied, added
// to the output; either order of the commutative mulf and addf) are GEMMs
// too.
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @generics
// CHECK-NOT: linalg.generic
// CHECK-NOT: linalg.fill
// CHECK: call @sp_cuda_rt_matmul_bf16_bf16(
// CHECK: call @sp_cuda_rt_matmul_accumulate_f32_bf16(
// CHECK-NOT: linalg.generic
func.func @generics(%a: tensor<8x16xbf16>, %b: tensor<16x4xbf16>, %x: tensor<8x16xf32>, %y: tensor<16x4xf32>,
                    %c: tensor<8x4xbf16>) -> (tensor<8x4xbf16>, tensor<8x4xbf16>) {
  %zero = arith.constant 0.0 : bf16
  %e = tensor.empty() : tensor<8x4xbf16>
  %f = linalg.fill ins(%zero : bf16) outs(%e : tensor<8x4xbf16>) -> tensor<8x4xbf16>
  %0 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x4xbf16>) outs(%f : tensor<8x4xbf16>) {
  ^bb0(%in: bf16, %in2: bf16, %acc: bf16):
    %p = arith.mulf %in, %in2 : bf16
    %s = arith.addf %acc, %p : bf16
    linalg.yield %s : bf16
  } -> tensor<8x4xbf16>
  %1 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %y : tensor<8x16xf32>, tensor<16x4xf32>) outs(%c : tensor<8x4xbf16>) {
  ^bb0(%in: f32, %in2: f32, %acc: bf16):
    %l = arith.truncf %in : f32 to bf16
    %r = arith.truncf %in2 : f32 to bf16
    %p = arith.mulf %r, %l : bf16
    %s = arith.addf %p, %acc : bf16
    linalg.yield %s : bf16
  } -> tensor<8x4xbf16>
  return %0, %1 : tensor<8x4xbf16>, tensor<8x4xbf16>
}

// -----

// Generics whose numerics or indexing are not linalg.matmul's stay: fast-math
// flags (the CPU path may contract or reassociate), a rounding mode on the
// conversion, one more op in the body, a transposed rhs, a reduction over m.
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#rhsT = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @not_matmuls
// CHECK-NOT: call @sp_cuda_rt_matmul
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: call @sp_cuda_rt_matmul
func.func @not_matmuls(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>, %bt: tensor<4x16xf32>, %c: tensor<8x4xf32>, %h: tensor<8x4xf16>)
    -> (tensor<8x4xf32>, tensor<8x4xf16>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %0 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%c : tensor<8x4xf32>) {
  ^bb0(%in: f32, %in2: f32, %acc: f32):
    %p = arith.mulf %in, %in2 fastmath<contract> : f32
    %s = arith.addf %acc, %p fastmath<contract> : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %1 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%h : tensor<8x4xf16>) {
  ^bb0(%in: f32, %in2: f32, %acc: f16):
    %l = arith.truncf %in toward_zero : f32 to f16
    %r = arith.truncf %in2 : f32 to f16
    %p = arith.mulf %l, %r : f16
    %s = arith.addf %acc, %p : f16
    linalg.yield %s : f16
  } -> tensor<8x4xf16>
  %2 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%c : tensor<8x4xf32>) {
  ^bb0(%in: f32, %in2: f32, %acc: f32):
    %p = arith.mulf %in, %in2 : f32
    %s = arith.addf %acc, %p : f32
    %r = arith.maximumf %s, %acc : f32
    linalg.yield %r : f32
  } -> tensor<8x4xf32>
  %3 = linalg.generic {indexing_maps = [#lhs, #rhsT, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bt : tensor<8x16xf32>, tensor<4x16xf32>) outs(%c : tensor<8x4xf32>) {
  ^bb0(%in: f32, %in2: f32, %acc: f32):
    %p = arith.mulf %in, %in2 : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %4 = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%c : tensor<8x4xf32>) {
  ^bb0(%in: f32, %in2: f32, %acc: f32):
    %p = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  return %0, %1, %2, %3, %4 : tensor<8x4xf32>, tensor<8x4xf16>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}
