// sp-raise-norms on a residual add followed by an RMSNorm of its result:
// sp.fused_add_rms_norm, whose residual_out replaces the later uses of the
// sum; and the adds it does not fuse.
// RUN: sp-opt %s --split-input-file --sp-raise-norms --verify-diagnostics --verify-roundtrip | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
// torch-mlir's form: a bf16 add generic (residual first), its sum
// normalized and returned as the next residual.
// CHECK-LABEL: func.func @torch_bf16
// CHECK-SAME: (%[[R:.*]]: tensor<8x16xbf16>, %[[H:.*]]: tensor<8x16xbf16>, %[[W:.*]]: tensor<16xbf16>)
// CHECK-NEXT: %[[Y:.*]], %[[Z:.*]] = sp.fused_add_rms_norm %[[H]], %[[R]], %[[W]] epsilon = 9.99999997E-7 : tensor<8x16xbf16>, tensor<16xbf16>
// CHECK-NEXT: return %[[Y]], %[[Z]]
func.func @torch_bf16(%res: tensor<8x16xbf16>, %hidden: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xbf16>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%res, %hidden : tensor<8x16xbf16>, tensor<8x16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: bf16):
    %0 = arith.addf %in, %in_0 : bf16
    linalg.yield %0 : bf16
  } -> tensor<8x16xbf16>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<8x16xbf16>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %sq = arith.mulf %f, %f : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %ss, %w : tensor<8x16xbf16>, tensor<8xf32>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%a: bf16, %s: f32, %g: bf16, %o: bf16):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %f = arith.extf %a : bf16 to f32
    %n = arith.mulf %f, %r : f32
    %nt = arith.truncf %n : f32 to bf16
    %p = arith.mulf %nt, %g : bf16
    linalg.yield %p : bf16
  } -> tensor<8x16xbf16>
  return %y, %sum : tensor<8x16xbf16>, tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
sp.group @tp size(2)

// The all_reduce result is the input (what sp-sequence-parallelism
// scatters), wherever it stands in the add; an elementwise add on tensors.
// CHECK-LABEL: func.func @after_all_reduce
// CHECK-SAME: (%[[P:.*]]: tensor<8x16xf32>, %[[R:.*]]: tensor<8x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[A:.*]] = sp.all_reduce %[[P]] over @tp
// CHECK-NEXT: %[[Y:.*]], %[[Z:.*]] = sp.fused_add_rms_norm %[[A]], %[[R]], %[[W]] epsilon = 9.99999997E-7 : tensor<8x16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[Y]], %[[Z]]
func.func @after_all_reduce(%partial: tensor<8x16xf32>, %res: tensor<8x16xf32>, %w: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %reduced = sp.all_reduce %partial over @tp : tensor<8x16xf32>
  %sum = arith.addf %reduced, %res : tensor<8x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y, %sum : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
// The bf16 add spelled out, T(float(a) + float(b)), and two layers: the
// second residual add reads the first one's residual_out.
// CHECK-LABEL: func.func @two_layers
// CHECK-SAME: (%[[R:.*]]: tensor<8x16xbf16>, %[[H1:.*]]: tensor<8x16xbf16>, %[[H2:.*]]: tensor<8x16xbf16>, %[[W:.*]]: tensor<16xbf16>)
// CHECK-NEXT: %[[Y1:.*]], %[[Z1:.*]] = sp.fused_add_rms_norm %[[H1]], %[[R]], %[[W]]
// CHECK-NEXT: %[[Y2:.*]], %[[Z2:.*]] = sp.fused_add_rms_norm %[[H2]], %[[Z1]], %[[W]]
// CHECK-NEXT: return %[[Y1]], %[[Y2]], %[[Z2]]
func.func @two_layers(%res: tensor<8x16xbf16>, %h1: tensor<8x16xbf16>, %h2: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xbf16>
  %sum1 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%res, %h1 : tensor<8x16xbf16>, tensor<8x16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.addf %0, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    linalg.yield %3 : bf16
  } -> tensor<8x16xbf16>
  %z_1 = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss_1 = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum1 : tensor<8x16xbf16>) outs(%z_1 : tensor<8xf32>) {
  ^bb0(%a_1: bf16, %acc_1: f32):
    %f_1 = arith.extf %a_1 : bf16 to f32
    %sq_1 = arith.mulf %f_1, %f_1 : f32
    %t_1 = arith.addf %acc_1, %sq_1 : f32
    linalg.yield %t_1 : f32
  } -> tensor<8xf32>
  %y1 = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum1, %ss_1, %w : tensor<8x16xbf16>, tensor<8xf32>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%a_1: bf16, %s_1: f32, %g_1: bf16, %o_1: bf16):
    %m_1 = arith.divf %s_1, %h : f32
    %v_1 = arith.addf %m_1, %eps : f32
    %r_1 = math.rsqrt %v_1 : f32
    %f_1 = arith.extf %a_1 : bf16 to f32
    %n_1 = arith.mulf %f_1, %r_1 : f32
    %nt_1 = arith.truncf %n_1 : f32 to bf16
    %p_1 = arith.mulf %nt_1, %g_1 : bf16
    linalg.yield %p_1 : bf16
  } -> tensor<8x16xbf16>
  %sum2 = arith.addf %sum1, %h2 : tensor<8x16xbf16>
  %z_2 = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss_2 = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum2 : tensor<8x16xbf16>) outs(%z_2 : tensor<8xf32>) {
  ^bb0(%a_2: bf16, %acc_2: f32):
    %f_2 = arith.extf %a_2 : bf16 to f32
    %sq_2 = arith.mulf %f_2, %f_2 : f32
    %t_2 = arith.addf %acc_2, %sq_2 : f32
    linalg.yield %t_2 : f32
  } -> tensor<8xf32>
  %y2 = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum2, %ss_2, %w : tensor<8x16xbf16>, tensor<8xf32>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%a_2: bf16, %s_2: f32, %g_2: bf16, %o_2: bf16):
    %m_2 = arith.divf %s_2, %h : f32
    %v_2 = arith.addf %m_2, %eps : f32
    %r_2 = math.rsqrt %v_2 : f32
    %f_2 = arith.extf %a_2 : bf16 to f32
    %n_2 = arith.mulf %f_2, %r_2 : f32
    %nt_2 = arith.truncf %n_2 : f32 to bf16
    %p_2 = arith.mulf %nt_2, %g_2 : bf16
    linalg.yield %p_2 : bf16
  } -> tensor<8x16xbf16>
  return %y1, %y2, %sum2 : tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
// An add of a broadcast bias is no residual add: a plain rms_norm of its
// result.
// CHECK-LABEL: func.func @bias_add
// CHECK: %[[S:.*]] = linalg.generic
// CHECK: arith.addf
// CHECK: %[[Y:.*]] = sp.rms_norm %[[S]], %arg2
// CHECK-NEXT: return %[[Y]], %[[S]]
func.func @bias_add(%x: tensor<8x16xf32>, %bias: tensor<16xf32>, %w: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %sum = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %bias : tensor<8x16xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.addf %in, %in_0 : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y, %sum : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
// The weight is computed after the add and the sum is used in between: the
// fused op goes before the norm's last op, the use before it keeps the add,
// the uses after it read residual_out.
// CHECK-LABEL: func.func @late_weight
// CHECK: %[[S:.*]] = arith.addf %arg0, %arg1 : tensor<8x16xf32>
// CHECK: %[[NEG:.*]] = arith.negf %[[S]]
// CHECK: %[[W:.*]] = arith.extf %arg2
// CHECK: %[[Y:.*]], %[[Z:.*]] = sp.fused_add_rms_norm %arg1, %arg0, %[[W]]
// CHECK-NEXT: return %[[Y]], %[[NEG]], %[[Z]]
func.func @late_weight(%res: tensor<8x16xf32>, %hidden: tensor<8x16xf32>, %wb: tensor<16xbf16>) -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %sum = arith.addf %res, %hidden : tensor<8x16xf32>
  %neg = arith.negf %sum : tensor<8x16xf32>
  %w = arith.extf %wb : tensor<16xbf16> to tensor<16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sum : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%sum, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y, %neg, %sum : tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}

