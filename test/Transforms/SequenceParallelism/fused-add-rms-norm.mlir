// Pattern 2b: all_reduce -> fused_add_rms_norm (vLLM's "middle" pattern).
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --canonicalize 2>/dev/null | FileCheck %s --check-prefix=CANON

sp.group @tp size(2)

// The residual enters from outside (prompt embeddings, replicated): each
// rank slices its own rows of it (the rank offset lives in all_slice), and
// the residual result is dead so its gather disappears.
// CHECK-LABEL: func.func @residual_from_outside
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>, %[[R:.*]]: tensor<8x16xbf16> {sp.replicated}, %[[W:.*]]: tensor<16xbf16> {sp.replicated})
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter %[[X]] over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK-NEXT: %[[SL:.*]] = sp.all_slice %[[R]] over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK-NEXT: %[[OUT:.*]], %{{.*}} = sp.fused_add_rms_norm %[[RS]], %[[SL]], %[[W]] epsilon = 9.99999974E-6 : tensor<4x16xbf16>, tensor<16xbf16>
// CHECK-NEXT: %[[G:.*]] = sp.all_gather %[[OUT]] over @tp : tensor<4x16xbf16> -> tensor<8x16xbf16>
// CHECK-NEXT: return %[[G]]
func.func @residual_from_outside(%x: tensor<8x16xbf16>, %r: tensor<8x16xbf16> {sp.replicated}, %w: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xbf16>, tensor<16xbf16>
  return %1#0 : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// The residual result is live: it feeds the next layer's fused add, which is
// a site too, so the residual stream stays on local rows (no gather of it).
// CANON-LABEL: func.func @residual_live
// CANON-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[Y:.*]]: tensor<8x16xf32>, %[[R:.*]]: tensor<8x16xf32> {sp.replicated}
// CANON: %[[RS0:.*]] = sp.reduce_scatter %[[X]]
// CANON: %[[SL:.*]] = sp.all_slice %[[R]]
// CANON: %[[O0:.*]], %[[R0:.*]] = sp.fused_add_rms_norm %[[RS0]], %[[SL]]
// CANON: %[[G0:.*]] = sp.all_gather %[[O0]]
// CANON: %[[RS1:.*]] = sp.reduce_scatter %[[Y]]
// CANON: %[[O1:.*]], %{{.*}} = sp.fused_add_rms_norm %[[RS1]], %[[R0]]
// CANON: %[[G1:.*]] = sp.all_gather %[[O1]]
// CANON-NOT: sp.all_gather
// CANON: return %[[G0]], %[[G1]]
func.func @residual_live(%x: tensor<8x16xf32>, %y: tensor<8x16xf32>, %r: tensor<8x16xf32> {sp.replicated}, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  %2 = sp.all_reduce %y over @tp : tensor<8x16xf32>
  %3:2 = sp.fused_add_rms_norm %2, %1#1, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0, %3#0 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Every step alone is valid: the unsimplified output still has the gathers
// and slices that canonicalization removes, and it verifies.
// CHECK-LABEL: func.func @intermediate_form
// CHECK: %[[RS0:.*]] = sp.reduce_scatter
// CHECK: sp.fused_add_rms_norm %[[RS0]]
// CHECK: sp.reduce_scatter
// CHECK-NOT: sp.all_reduce
func.func @intermediate_form(%x: tensor<8x16xf32>, %y: tensor<8x16xf32>, %r: tensor<8x16xf32> {sp.replicated}, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  %2 = sp.all_reduce %y over @tp : tensor<8x16xf32>
  %3:2 = sp.fused_add_rms_norm %2, %1#1, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0, %3#0 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Negative: the residual is a per-rank value; slicing it would mix rows of
// different ranks' residuals.
// CHECK-LABEL: func.func @residual_not_replicated
// CHECK: sp.all_reduce
// CHECK-NOT: sp.all_slice
func.func @residual_not_replicated(%x: tensor<8x16xf32>, %r: tensor<8x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> tensor<8x16xf32> {
  // expected-remark @below {{none of its users can run on local rows: the residual (argument #1) of 'sp.fused_add_rms_norm'}}
  // expected-warning @below {{rewrote none}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0 : tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// Negative: the residual result leaves the function, so it would need its
// own gather on top of the output's: more traffic than the all_reduce.
func.func @residual_returned(%x: tensor<8x16xf32>, %r: tensor<8x16xf32> {sp.replicated}, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  // expected-remark @below {{all_reduce left alone: rewriting it would add 256 bytes per rank of communication (the residual result feeds 'func.return'}}
  // expected-warning @below {{rewrote none}}
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0, %1#1 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(2)

// An all_reduce feeding the residual operand (not the input) is a site too:
// the fused add runs on local rows of both, nothing is sliced, and only the
// output is gathered.
// CHECK-LABEL: func.func @all_reduce_as_residual
// CHECK: %[[R:.*]] = sp.reduce_scatter %{{.*}} over @tp
// CHECK: %[[X:.*]] = sp.reduce_scatter %{{.*}} over @tp
// CHECK-NOT: sp.all_slice
// CHECK: %[[OUT:.*]], %{{.*}} = sp.fused_add_rms_norm %[[X]], %[[R]], %{{.*}} : tensor<4x16xf32>
// CHECK: sp.all_gather %[[OUT]]
func.func @all_reduce_as_residual(%x: tensor<8x16xf32>, %y: tensor<8x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> tensor<8x16xf32> {
  %r = sp.all_reduce %y over @tp : tensor<8x16xf32>
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0 : tensor<8x16xf32>
}
