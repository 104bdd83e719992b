// Sites over groups that are part of the world (DP 2 x TP 2): what must be
// replicated is replicated within the site's group, which
// `sp.replicated_axes` says for values split over another axis.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s

sp.group @tp size(2) grid [2, 2] axes [1]

// The residual is split over dp (axis 0) and the same within each tp group:
// this rank's rows within the tp group are a slice over @tp.
// CHECK-LABEL: func.func @residual_split_over_dp
// CHECK-SAME: (%[[P:.*]]: tensor<16x8xf32>, %[[R:.*]]: tensor<16x8xf32> {sp.replicated_axes = array<i64: 1>}
// CHECK: %[[RS:.*]] = sp.reduce_scatter %[[P]] over @tp : tensor<16x8xf32> -> tensor<8x8xf32>
// CHECK: %[[RL:.*]] = sp.all_slice %[[R]] over @tp : tensor<16x8xf32> -> tensor<8x8xf32>
// CHECK: %[[OUT:.*]], %{{.*}} = sp.fused_add_rms_norm %[[RS]], %[[RL]], %{{.*}} epsilon
// CHECK: sp.all_gather %[[OUT]] over @tp : tensor<8x8xf32> -> tensor<16x8xf32>
func.func @residual_split_over_dp(%partial: tensor<16x8xf32>, %residual: tensor<16x8xf32> {sp.replicated_axes = array<i64: 1>},
                                  %w: tensor<8xf32> {sp.replicated}) -> tensor<16x8xf32> {
  %0 = sp.all_reduce %partial over @tp : tensor<16x8xf32>
  %1:2 = sp.fused_add_rms_norm %0, %residual, %w epsilon = 1.0e-6 : tensor<16x8xf32>, tensor<8xf32>
  return %1#0 : tensor<16x8xf32>
}

// -----

sp.group @tp size(2) grid [2, 2] axes [1]
sp.group @dp size(2) grid [2, 2] axes [0]

// Over @dp the same value varies: its rows cannot be sliced.
func.func @residual_varies_within_group(%partial: tensor<16x8xf32>, %residual: tensor<16x8xf32> {sp.replicated_axes = array<i64: 1>},
                                        %w: tensor<8xf32> {sp.replicated}) -> tensor<16x8xf32> {
  // expected-remark-re @below {{all_reduce left alone: none of its users can run on local rows: the residual (argument #1) of 'sp.fused_add_rms_norm' at {{.*}} is not known to be replicated, so its rows cannot be sliced; mark the function argument `sp.replicated` (or `sp.replicated_axes = array<i64: 0>` if it is the same only within each @dp group), or pass assume-replicated}}
  // expected-warning @below {{sp-sequence-parallelism rewrote none of the 1 sp.all_reduce ops (see the remarks)}}
  %0 = sp.all_reduce %partial over @dp : tensor<16x8xf32>
  %1:2 = sp.fused_add_rms_norm %0, %residual, %w epsilon = 1.0e-6 : tensor<16x8xf32>, tensor<8xf32>
  return %1#0 : tensor<16x8xf32>
}

// -----

sp.group @tp size(2) grid [2, 2] axes [1]
sp.group @dp size(2) grid [2, 2] axes [0]

// An all-reduce over @tp makes a value the same within each tp group, not
// within a dp group.
// CHECK-LABEL: func.func @replicated_by_another_site
// CHECK: sp.reduce_scatter %{{.*}} over @tp
// CHECK: sp.all_reduce %{{.*}} over @dp
func.func @replicated_by_another_site(%a: tensor<16x8xf32>, %b: tensor<16x8xf32>) -> (tensor<16x8xf32>, tensor<16x8xf32>) {
  %0 = sp.all_reduce %a over @tp : tensor<16x8xf32>
  %1 = sp.all_reduce %b over @tp : tensor<16x8xf32>
  %2 = arith.addf %0, %1 : tensor<16x8xf32>
  // expected-remark-re @below {{all_reduce left alone: none of its users can run on local rows: operand #1 (the result of 'sp.all_reduce' at {{.*}}) of 'arith.addf' at {{.*}} is split into rows over another group, tp}}
  %3 = sp.all_reduce %b over @dp : tensor<16x8xf32>
  %4 = arith.addf %3, %1 : tensor<16x8xf32>
  return %2, %4 : tensor<16x8xf32>, tensor<16x8xf32>
}
