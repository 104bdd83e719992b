// Pattern 2d: the gather sinks through any row-wise op (RowWise.h), not only
// sp's norms and quant: linalg ops whose indexing maps keep the tokens in a
// parallel dim 0, and elementwise ops on tensors. Cross-row ops stop it.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --canonicalize --cse --verify-roundtrip 2>/dev/null | FileCheck %s --check-prefix=CANON

sp.group @tp size(2)

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#vec = affine_map<(d0) -> (d0)>

// An RMSNorm as torch-mlir decomposes it, with its residual add: every op of
// the chain runs on this rank's 4 rows; the replicated residual is sliced,
// the weight (broadcast along rows) is read whole, the inits shrink.
// CHECK-LABEL: func.func @decomposed_rms_norm
// CHECK-SAME: (%[[P:.*]]: tensor<8x16xf32>, %[[R:.*]]: tensor<8x16xf32> {sp.replicated}, %[[W:.*]]: tensor<16xf32> {sp.replicated}, %[[NEXT:.*]]: tensor<8x16xf32>)
// CHECK: %[[RS:.*]] = sp.reduce_scatter %[[P]] over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: %[[RL:.*]] = sp.all_slice %[[R]] over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: %[[ADD:.*]] = linalg.generic {{.*}} ins(%[[RL]], %[[RS]] : tensor<4x16xf32>, tensor<4x16xf32>)
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}} ins(%[[ADD]] : tensor<4x16xf32>)
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[SQ]] : tensor<4x16xf32>) outs(%[[FILL]] : tensor<4xf32>)
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<4xf32>)
// CHECK: %[[RSQ:.*]] = linalg.generic {{.*}} ins(%[[MEAN]] : tensor<4xf32>)
// CHECK: %[[NORM:.*]] = linalg.generic {{.*}} ins(%[[ADD]], %[[RSQ]] : tensor<4x16xf32>, tensor<4xf32>)
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[W]], %[[NORM]] : tensor<16xf32>, tensor<4x16xf32>)
// CHECK: %[[G0:.*]] = sp.all_gather %[[OUT]] over @tp : tensor<4x16xf32> -> tensor<8x16xf32>
// CHECK: %[[RS2:.*]] = sp.reduce_scatter %[[NEXT]] over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: %[[ADD2:.*]] = arith.addf %[[ADD]], %[[RS2]] : tensor<4x16xf32>
// CHECK: %[[G1:.*]] = sp.all_gather %[[ADD2]] over @tp : tensor<4x16xf32> -> tensor<8x16xf32>
// CHECK: return %[[G0]], %[[G1]]
// No slice of an empty tensor or of a fill is left once canonicalized.
// CANON-LABEL: func.func @decomposed_rms_norm
// CANON-COUNT-1: sp.all_slice
// CANON-NOT: sp.all_slice
// CANON: return
func.func @decomposed_rms_norm(%partial: tensor<8x16xf32>, %residual: tensor<8x16xf32> {sp.replicated},
                               %w: tensor<16xf32> {sp.replicated}, %next: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f64
  %empty = tensor.empty() : tensor<8x16xf32>
  %empty_rows = tensor.empty() : tensor<8xf32>
  %ar = sp.all_reduce %partial over @tp : tensor<8x16xf32>
  %h = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%residual, %ar : tensor<8x16xf32>, tensor<8x16xf32>) outs(%empty : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<8x16xf32>
  %sq = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<8x16xf32>) outs(%empty : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<8x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty_rows : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<8x16xf32>) outs(%acc : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %mean = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]}
      ins(%sum : tensor<8xf32>) outs(%empty_rows : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.divf %a, %n : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  %inv = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]}
      ins(%mean : tensor<8xf32>) outs(%empty_rows : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = arith.truncf %eps : f64 to f32
    %s = arith.addf %a, %e : f32
    %r = math.rsqrt %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %normed = linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%h, %inv : tensor<8x16xf32>, tensor<8xf32>) outs(%empty : tensor<8x16xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %m = arith.mulf %a, %r : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32>
  %out = linalg.generic {indexing_maps = [#col, #rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%w, %normed : tensor<16xf32>, tensor<8x16xf32>) outs(%empty : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32>
  // The next layer's residual add (another site) reads %h on local rows too.
  %ar2 = sp.all_reduce %next over @tp : tensor<8x16xf32>
  %h2 = arith.addf %h, %ar2 : tensor<8x16xf32>
  return %out, %h2 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(4)

// Elementwise arith on tensors, a named linalg op and a splat constant: the
// constant's slice folds to a smaller splat; the bf16 result is what is
// gathered (half the bytes of the f32 all_reduce).
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[RS:.*]] = sp.reduce_scatter %{{.*}} over @tp : tensor<64x8xf32> -> tensor<16x8xf32>
// CHECK: %[[C:.*]] = arith.constant dense<2.000000e+00> : tensor<16x8xf32>
// CHECK: %[[M:.*]] = arith.mulf %[[RS]], %[[C]] : tensor<16x8xf32>
// CHECK: %[[E:.*]] = math.exp %[[M]] : tensor<16x8xf32>
// CHECK: %[[A:.*]] = linalg.add ins(%[[E]], %{{.*}} : tensor<16x8xf32>, tensor<16x8xf32>)
// CHECK: %[[T:.*]] = arith.truncf %[[A]] : tensor<16x8xf32> to tensor<16x8xbf16>
// CHECK: %[[G:.*]] = sp.all_gather %[[T]] over @tp : tensor<16x8xbf16> -> tensor<64x8xbf16>
// CHECK: return %[[G]]
func.func @elementwise(%x: tensor<64x8xf32>, %b: tensor<64x8xf32> {sp.replicated}) -> tensor<64x8xbf16> {
  %two = arith.constant dense<2.0> : tensor<64x8xf32>
  %0 = sp.all_reduce %x over @tp : tensor<64x8xf32>
  %1 = arith.mulf %0, %two : tensor<64x8xf32>
  %2 = math.exp %1 : tensor<64x8xf32>
  %empty = tensor.empty() : tensor<64x8xf32>
  %3 = linalg.add ins(%2, %b : tensor<64x8xf32>, tensor<64x8xf32>) outs(%empty : tensor<64x8xf32>) -> tensor<64x8xf32>
  %4 = arith.truncf %3 : tensor<64x8xf32> to tensor<64x8xbf16>
  return %4 : tensor<64x8xbf16>
}

// -----

sp.group @tp size(2)

#rows = affine_map<(d0, d1) -> (d0, d1)>
#cols = affine_map<(d0, d1) -> (d1)>

// Cross-row ops stop the sinking. A sum over the token dim needs every row.
func.func @token_reduction(%x: tensor<8x16xf32>) -> tensor<16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<16xf32>) -> tensor<16xf32>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = linalg.generic {indexing_maps = [#rows, #cols], iterator_types = ["reduction", "parallel"]}
      ins(%0 : tensor<8x16xf32>) outs(%acc : tensor<16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<16xf32>
  return %1 : tensor<16xf32>
}

// -----

sp.group @tp size(2)

// A matmul whose contraction dim is the tokens (x^T-style weight gradient:
// %w x %ar contracts the 8 rows of %ar).
func.func @tokens_contracted(%x: tensor<8x16xf32>, %w: tensor<4x8xf32> {sp.replicated}) -> tensor<4x16xf32> {
  %zero = arith.constant dense<0.0> : tensor<4x16xf32>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = linalg.matmul ins(%w, %0 : tensor<4x8xf32>, tensor<8x16xf32>) outs(%zero : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %1 : tensor<4x16xf32>
}

// -----

sp.group @tp size(2)

// A transpose that moves the tokens out of dim 0.
func.func @transposed(%x: tensor<8x16xf32>) -> tensor<16x8xf32> {
  %e = tensor.empty() : tensor<16x8xf32>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = linalg.transpose ins(%0 : tensor<8x16xf32>) outs(%e : tensor<16x8xf32>) permutation = [1, 0]
  return %1 : tensor<16x8xf32>
}

// -----

sp.group @tp size(2)

// A reshape is not row-wise either (it may merge the tokens with other dims).
func.func @reshaped(%x: tensor<8x16xf32>) -> tensor<128xf32> {
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = tensor.collapse_shape %0 [[0, 1]] : tensor<8x16xf32> into tensor<128xf32>
  return %1 : tensor<128xf32>
}

// -----

sp.group @tp size(2)

// The other operand of a row-wise op differs between ranks (a weight shard,
// say): its rows cannot be taken by slicing.
func.func @not_replicated(%x: tensor<8x16xf32>, %shard: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: operand #1 (argument #1) of 'arith.addf' at}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = arith.addf %0, %shard : tensor<8x16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Row-wise, but widening: gathering the f32 result would send twice the bytes
// of the bf16 all_reduce it replaces.
func.func @widening(%x: tensor<8x16xbf16>) -> tensor<8x16xf32> {
  // expected-remark @below {{all_reduce left alone: rewriting it would add 128 bytes per rank of communication (the result of 'arith.extf' at}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1 = arith.extf %0 : tensor<8x16xbf16> to tensor<8x16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// A linalg op whose body depends on the rank is not replicated, so it cannot
// be sliced to feed a local op.
func.func @rank_dependent_body(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %v = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      outs(%e : tensor<8x16xf32>) {
  ^bb0(%o: f32):
    %r = sp.group_rank @tp
    %i = arith.index_cast %r : index to i64
    %f = arith.sitofp %i : i64 to f32
    linalg.yield %f : f32
  } -> tensor<8x16xf32>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: operand #1 (the result of 'linalg.generic' at}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = arith.addf %0, %v : tensor<8x16xf32>
  return %1 : tensor<8x16xf32>
}
