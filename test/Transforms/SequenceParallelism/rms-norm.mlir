// Pattern 1 + 2a: all_reduce -> rms_norm (vLLM's "first" pattern, where the
// all_reduce result is also the residual of the next fused add).
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --canonicalize --verify-roundtrip 2>/dev/null | FileCheck %s --check-prefix=CANON

sp.group @tp size(4)

// CHECK-LABEL: func.func @first
// CHECK-SAME: (%[[X:.*]]: tensor<128x64xbf16>, %[[W:.*]]: tensor<64xbf16> {sp.replicated})
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter %[[X]] over @tp : tensor<128x64xbf16> -> tensor<32x64xbf16>
// CHECK-NEXT: %[[N:.*]] = sp.rms_norm %[[RS]], %[[W]] epsilon = 9.99999997E-7 : tensor<32x64xbf16>, tensor<64xbf16>
// CHECK-NEXT: %[[G:.*]] = sp.all_gather %[[N]] over @tp : tensor<32x64xbf16> -> tensor<128x64xbf16>
// CHECK-NEXT: return %[[G]]
func.func @first(%x: tensor<128x64xbf16>, %w: tensor<64xbf16> {sp.replicated}) -> tensor<128x64xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<128x64xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<128x64xbf16>, tensor<64xbf16>
  return %1 : tensor<128x64xbf16>
}

// -----

sp.group @tp size(2)

// The all_reduce result is also the residual of the next layer's fused add,
// whose input is another site: that use costs nothing (its all_slice folds).
// CHECK-LABEL: func.func @first_with_residual
// CHECK-NOT: sp.all_reduce
// CANON-LABEL: func.func @first_with_residual
// CANON-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[Y:.*]]: tensor<8x16xf32>,
// CANON: %[[RS0:.*]] = sp.reduce_scatter %[[X]] over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
// CANON: %[[N0:.*]] = sp.rms_norm %[[RS0]]
// CANON: %[[G0:.*]] = sp.all_gather %[[N0]]
// CANON: %[[RS1:.*]] = sp.reduce_scatter %[[Y]]
// CANON: %[[OUT:.*]], %{{.*}} = sp.fused_add_rms_norm %[[RS1]], %[[RS0]], %{{.*}} : tensor<4x16xf32>
// CANON: %[[G1:.*]] = sp.all_gather %[[OUT]]
// CANON-NOT: sp.all_slice
// CANON: return %[[G0]], %[[G1]]
func.func @first_with_residual(%x: tensor<8x16xf32>, %y: tensor<8x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  %2 = sp.all_reduce %y over @tp : tensor<8x16xf32>
  %3:2 = sp.fused_add_rms_norm %2, %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1, %3#0 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Any epsilon, any float type, rank 3 (batch x seq x hidden): the token dim
// is dim 0.
// CHECK-LABEL: func.func @rank3_f16
// CHECK: sp.reduce_scatter %{{.*}} over @tp : tensor<4x8x32xf16> -> tensor<2x8x32xf16>
// CHECK: sp.rms_norm %{{.*}}, %{{.*}} epsilon = 1.000000e-01 : tensor<2x8x32xf16>
// CHECK: sp.all_gather %{{.*}} over @tp : tensor<2x8x32xf16> -> tensor<4x8x32xf16>
func.func @rank3_f16(%x: tensor<4x8x32xf16>, %w: tensor<32xf16> {sp.replicated}) -> tensor<4x8x32xf16> {
  %0 = sp.all_reduce %x over @tp : tensor<4x8x32xf16>
  %1 = sp.rms_norm %0, %w epsilon = 0.1 : tensor<4x8x32xf16>, tensor<32xf16>
  return %1 : tensor<4x8x32xf16>
}

// -----

sp.group @tp size(2)

// Negative: the weight is a per-rank value (not known to be replicated), so
// the norm's rows cannot be computed on another rank.
// CHECK-LABEL: func.func @weight_not_replicated
// CHECK: sp.all_reduce
// CHECK-NOT: sp.reduce_scatter
func.func @weight_not_replicated(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: the weight (argument #1) of 'sp.rms_norm'}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// A weight computed from replicated values (a constant scaled by a
// replicated argument) is replicated too.
// CHECK-LABEL: func.func @weight_derived
// CHECK: sp.reduce_scatter
func.func @weight_derived(%x: tensor<8x16xf32>, %a: tensor<16xf32> {sp.replicated}) -> tensor<8x16xf32> {
  %c = arith.constant dense<2.0> : tensor<16xf32>
  %w = arith.mulf %a, %c : tensor<16xf32>
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Negative: a weight derived from a rank-dependent value (a reduce_scatter
// result) is not replicated.
// CHECK-LABEL: func.func @weight_rank_dependent
// CHECK: sp.all_reduce
func.func @weight_rank_dependent(%x: tensor<8x16xf32>, %a: tensor<32xf32> {sp.replicated}) -> tensor<8x16xf32> {
  %w = sp.reduce_scatter %a over @tp : tensor<32xf32> -> tensor<16xf32>
  // expected-remark @below {{none of its users can run on local rows: the weight (the result of 'sp.reduce_scatter'}}
  // expected-warning @below {{rewrote none}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Negative (the extra-user case): the all_reduce result also feeds another
// op whose result leaves the function; its gather would be added to the
// norm's.
// CHECK-LABEL: func.func @extra_user
// CHECK: sp.all_reduce
// CHECK-NOT: sp.reduce_scatter
func.func @extra_user(%x: tensor<8x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  // expected-remark @below {{all_reduce left alone: rewriting it would add 256 bytes per rank of communication (the result of 'arith.negf'}}
  // expected-warning @below {{rewrote none}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  %2 = arith.negf %0 : tensor<8x16xf32>
  return %1, %2 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(4)

// Negative: token dim not divisible, rank 1, no row-wise user (a sum over
// the tokens needs every row). A dynamic token dim is versioned on n
// instead: dynamic-tokens.mlir.
func.func @not_divisible(%x: tensor<6x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> tensor<6x16xf32> {
  // expected-remark @below {{all_reduce left alone: 6 tokens are not divisible by the group size 4}}
  // expected-warning @below {{rewrote none of the 3 sp.all_reduce ops}}
  %0 = sp.all_reduce %x over @tp : tensor<6x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<6x16xf32>, tensor<16xf32>
  return %1 : tensor<6x16xf32>
}
func.func @rank1(%x: tensor<16xf32>, %w: tensor<16xf32> {sp.replicated}) -> tensor<16xf32> {
  // expected-remark @below {{all_reduce left alone: its value has rank 1; it needs a token dimension (0) besides the hidden dimension}}
  %0 = sp.all_reduce %x over @tp : tensor<16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<16xf32>, tensor<16xf32>
  return %1 : tensor<16xf32>
}
func.func @no_row_wise_user(%x: tensor<8x16xf32>, %init: tensor<16xf32>) -> tensor<16xf32> {
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = linalg.reduce ins(%0 : tensor<8x16xf32>) outs(%init : tensor<16xf32>) dimensions = [0]
    (%a: f32, %b: f32) {
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  return %1 : tensor<16xf32>
}

// -----

sp.group @one size(1)

// Negative: a single-rank group has nothing to split.
func.func @single_rank(%x: tensor<8x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> tensor<8x16xf32> {
  // expected-remark @below {{all_reduce left alone: group @one has a single rank}}
  // expected-warning @below {{rewrote none}}
  %0 = sp.all_reduce %x over @one : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

// expected-warning @below {{sp-sequence-parallelism found no sp.all_reduce to rewrite}}
module {
  func.func @nothing(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
    return %x : tensor<8x16xf32>
  }
}
