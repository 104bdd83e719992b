// RUN: sp-opt %s -split-input-file --sp-cpu-vectorize=vector-bits=256 | FileCheck %s

// What sp-cpu-vectorize leaves to the scalar loops, beside one form it does
// vectorize. Each case is one op on tensors.

#id = affine_map<(d0, d1) -> (d0, d1)>

// An elementwise f32 op: vectorized (4 registers of 8 lanes).
// CHECK-LABEL: func.func @elementwise_f32
// CHECK: vector.transfer_read {{.*}} vector<32xf32>
// CHECK: arith.addf {{.*}} : vector<32xf32>
// CHECK-NOT: linalg.generic
func.func @elementwise_f32(%a: tensor<8x64xf32>, %b: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %init = tensor.empty() : tensor<8x64xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<8x64xf32>, tensor<8x64xf32>) outs(%init : tensor<8x64xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<8x64xf32>
  return %r : tensor<8x64xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// An i1 result (torch-mlir's causal mask): LLVM would store vector<Nxi1> as
// packed bits into a byte-per-element buffer. Left alone.
// CHECK-LABEL: func.func @mask_i1_result
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @mask_i1_result(%a: tensor<32x32xi64>) -> tensor<32x32xi1> {
  %c0 = arith.constant 0 : i64
  %init = tensor.empty() : tensor<32x32xi1>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<32x32xi64>) outs(%init : tensor<32x32xi1>) {
  ^bb0(%x: i64, %o: i1):
    %c = arith.cmpi sgt, %x, %c0 : i64
    linalg.yield %c : i1
  } -> tensor<32x32xi1>
  return %r : tensor<32x32xi1>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// An i1 operand (the mask selecting -inf): left alone.
// CHECK-LABEL: func.func @mask_i1_operand
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @mask_i1_operand(%m: tensor<32x32xi1>, %a: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %init = tensor.empty() : tensor<32x32xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m, %a : tensor<32x32xi1>, tensor<32x32xf32>) outs(%init : tensor<32x32xf32>) {
  ^bb0(%c: i1, %x: f32, %o: f32):
    %s = arith.select %c, %ninf, %x : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32>
  return %r : tensor<32x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// A body with math.exp (its vector form is not checked to round like the
// scalar one): left alone.
// CHECK-LABEL: func.func @exp_body
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK-NOT: vector.
func.func @exp_body(%a: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %init = tensor.empty() : tensor<8x64xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<8x64xf32>) outs(%init : tensor<8x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  } -> tensor<8x64xf32>
  return %r : tensor<8x64xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>

// A transposed read: left alone.
// CHECK-LABEL: func.func @transpose
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @transpose(%a: tensor<64x8xf32>) -> tensor<8x64xf32> {
  %init = tensor.empty() : tensor<8x64xf32>
  %r = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<64x8xf32>) outs(%init : tensor<8x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    linalg.yield %x : f32
  } -> tensor<8x64xf32>
  return %r : tensor<8x64xf32>
}
