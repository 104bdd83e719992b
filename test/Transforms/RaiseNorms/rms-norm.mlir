// sp-raise-norms on RMSNorm chains: every form it raises, and every
// near-miss it leaves alone with a remark. The forms and why each is
// bit-identical to sp.rms_norm: docs/RaiseNorms.md.
// RUN: sp-opt %s --split-input-file --sp-raise-norms --verify-diagnostics --verify-roundtrip | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#col = affine_map<(d0, d1) -> (d1)>

// torch-mlir's f32 form, as exported (keepdim row sums 8x1 read as
// (d0, 0)): fpowi by 2, sum, / H, + truncf(f64 eps), rsqrt, * x, w *.
// CHECK-LABEL: func.func @torch_f32
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W]] epsilon = 9.99999997E-7 : tensor<8x16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @torch_f32(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %c2 = arith.constant 2 : i64
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 9.9999999999999995E-7 : f64
  %e = tensor.empty() : tensor<8x16xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.fpowi %in, %c2 : f32, i64
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %er = tensor.empty() : tensor<8x1xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8x1xf32>) -> tensor<8x1xf32>
  %ss = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]} ins(%sq : tensor<8x16xf32>) outs(%z : tensor<8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  } -> tensor<8x1xf32>
  %mean = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ss : tensor<8x1xf32>) outs(%er : tensor<8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.divf %in, %h : f32
    linalg.yield %0 : f32
  } -> tensor<8x1xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%mean : tensor<8x1xf32>) outs(%er : tensor<8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.truncf %eps : f64 to f32
    %1 = arith.addf %in, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<8x1xf32>
  %inv = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%shifted : tensor<8x1xf32>) outs(%er : tensor<8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.rsqrt %in : f32
    linalg.yield %0 : f32
  } -> tensor<8x1xf32>
  %n = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %inv : tensor<8x16xf32>, tensor<8x1xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %n : tensor<16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id1 = affine_map<(d0) -> (d0)>

// torch-mlir's bf16 form after linalg-fold-unit-extent-dims (the tp2
// fixtures): extf to f32, the norm in f32, truncf to bf16, then w * in
// bf16. Raised on the bf16 input.
// CHECK-LABEL: func.func @torch_bf16
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>, %[[W:.*]]: tensor<16xbf16>)
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W]] epsilon = 9.99999997E-7 : tensor<8x16xbf16>, tensor<16xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @torch_bf16(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  %c2 = arith.constant 2 : i64
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 9.9999999999999995E-7 : f64
  %e = tensor.empty() : tensor<8x16xf32>
  %xf = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xbf16>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%xf : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.fpowi %in, %c2 : f32, i64
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%sq : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  } -> tensor<8xf32>
  %mean = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%ss : tensor<8xf32>) outs(%er : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.divf %in, %h : f32
    linalg.yield %0 : f32
  } -> tensor<8xf32>
  %shifted = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%mean : tensor<8xf32>) outs(%er : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.truncf %eps : f64 to f32
    %1 = arith.addf %in, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<8xf32>
  %inv = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%shifted : tensor<8xf32>) outs(%er : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.rsqrt %in : f32
    linalg.yield %0 : f32
  } -> tensor<8xf32>
  %n = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%xf, %inv : tensor<8x16xf32>, tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %eb = tensor.empty() : tensor<8x16xbf16>
  %nb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%n : tensor<8x16xf32>) outs(%eb : tensor<8x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %0 = arith.truncf %in : f32 to bf16
    linalg.yield %0 : bf16
  } -> tensor<8x16xbf16>
  %y = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %nb : tensor<16xbf16>, tensor<8x16xbf16>) outs(%eb : tensor<8x16xbf16>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: bf16):
    %0 = arith.mulf %in, %in_0 : bf16
    linalg.yield %0 : bf16
  } -> tensor<8x16xbf16>
  return %y : tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The same norm fused into two generics (linalg-fuse-elementwise-ops), f16,
// the extf inside both bodies and the weight multiply spelled out in f32
// with a rounding to f16 on each side.
// CHECK-LABEL: func.func @fused_f16
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf16>, %[[W:.*]]: tensor<16xf16>)
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W]] epsilon = 9.99999974E-6 : tensor<8x16xf16>, tensor<16xf16>
// CHECK-NEXT: return %[[Y]]
func.func @fused_f16(%x: tensor<8x16xf16>, %w: tensor<16xf16>) -> tensor<8x16xf16> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf16>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f16, %acc: f32):
    %f = arith.extf %a : f16 to f32
    %s = arith.mulf %f, %f : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf16>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf16>, tensor<8xf32>, tensor<16xf16>) outs(%e : tensor<8x16xf16>) {
  ^bb0(%a: f16, %s: f32, %g: f16, %o: f16):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %f = arith.extf %a : f16 to f32
    %n = arith.mulf %f, %r : f32
    %nt = arith.truncf %n : f32 to f16
    %nf = arith.extf %nt : f16 to f32
    %gf = arith.extf %g : f16 to f32
    %p = arith.mulf %nf, %gf : f32
    %pt = arith.truncf %p : f32 to f16
    linalg.yield %pt : f16
  } -> tensor<8x16xf16>
  return %y : tensor<8x16xf16>
}

// -----

// Named linalg ops and elementwise arith/math on tensors: x * x, a
// linalg.reduce, * 0.0625 (exactly 1/16), + eps, 1 / sqrt, broadcasts,
// powf by 2 in a second norm of the same input.
// CHECK-LABEL: func.func @named_ops
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W]] epsilon = 9.99999974E-6 : tensor<8x16xf32>, tensor<16xf32>
// CHECK-NEXT: %[[Y2:.*]] = sp.rms_norm %[[X]], %[[W]] epsilon = 9.99999974E-6 : tensor<8x16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[Y]], %[[Y2]]
func.func @named_ops(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %factor = arith.constant dense<0.0625> : tensor<8xf32>
  %eps = arith.constant dense<1.0e-5> : tensor<8xf32>
  %one = arith.constant dense<1.0> : tensor<8xf32>
  %sq = arith.mulf %x, %x : tensor<8x16xf32>
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.reduce ins(%sq : tensor<8x16xf32>) outs(%z : tensor<8xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %0 = arith.addf %in, %init : f32
      linalg.yield %0 : f32
    }
  %mean = arith.mulf %ss, %factor : tensor<8xf32>
  %v = arith.addf %mean, %eps : tensor<8xf32>
  %root = math.sqrt %v : tensor<8xf32>
  %inv = arith.divf %one, %root : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %invb = linalg.broadcast ins(%inv : tensor<8xf32>) outs(%e : tensor<8x16xf32>) dimensions = [1]
  %n = linalg.mul ins(%x, %invb : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  %wb = linalg.broadcast ins(%w : tensor<16xf32>) outs(%e : tensor<8x16xf32>) dimensions = [0]
  %y = arith.mulf %n, %wb : tensor<8x16xf32>

  %two = arith.constant dense<2.0> : tensor<8x16xf32>
  %sq2 = math.powf %x, %two : tensor<8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss2 = linalg.reduce ins(%sq2 : tensor<8x16xf32>) outs(%z2 : tensor<8xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %0 = arith.addf %in, %init : f32
      linalg.yield %0 : f32
    }
  %mean2 = arith.mulf %ss2, %factor : tensor<8xf32>
  %v2 = arith.addf %mean2, %eps : tensor<8xf32>
  %inv2 = math.rsqrt %v2 : tensor<8xf32>
  %invb2 = linalg.broadcast ins(%inv2 : tensor<8xf32>) outs(%e : tensor<8x16xf32>) dimensions = [1]
  %n2 = arith.mulf %x, %invb2 : tensor<8x16xf32>
  %y2 = linalg.mul ins(%n2, %wb : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) -> tensor<8x16xf32>
  return %y, %y2 : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#w3 = affine_map<(d0, d1, d2) -> (0, 0, d2)>

// Batch x tokens x hidden, a 1x1x16 weight (collapsed to 1-D), dynamic
// batch.
// CHECK-LABEL: func.func @rank3
// CHECK-SAME: (%[[X:.*]]: tensor<?x4x16xf32>, %[[W:.*]]: tensor<1x1x16xf32>)
// CHECK-NEXT: %[[W1:.*]] = tensor.collapse_shape %[[W]] {{\[\[}}0, 1, 2]] : tensor<1x1x16xf32> into tensor<16xf32>
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W1]] epsilon = 9.99999974E-6 : tensor<?x4x16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rank3(%x: tensor<?x4x16xf32>, %w: tensor<1x1x16xf32>) -> tensor<?x4x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = tensor.dim %x, %c0 : tensor<?x4x16xf32>
  %er = tensor.empty(%b) : tensor<?x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<?x4xf32>) -> tensor<?x4xf32>
  %ss = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<?x4x16xf32>) outs(%z : tensor<?x4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %s, %acc : f32
    linalg.yield %t : f32
  } -> tensor<?x4xf32>
  %e = tensor.empty(%b) : tensor<?x4x16xf32>
  %y = linalg.generic {indexing_maps = [#id3, #row3, #w3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %ss, %w : tensor<?x4x16xf32>, tensor<?x4xf32>, tensor<1x1x16xf32>) outs(%e : tensor<?x4x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %eps, %m : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %r, %a : f32
    %p = arith.mulf %g, %n : f32
    linalg.yield %p : f32
  } -> tensor<?x4x16xf32>
  return %y : tensor<?x4x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// bf16 input, f32 weight, rounded once at the end: T(float(x) * inv * w)
// is not sp.rms_norm on bf16 (it rounds twice), but the f32 value of x is
// a tensor, so the norm is raised in f32 on it and the final truncf stays.
// CHECK-LABEL: func.func @round_once
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>, %[[W:.*]]: tensor<16xf32>)
// CHECK: %[[XF:.*]] = linalg.generic
// CHECK: arith.extf
// CHECK: %[[Y:.*]] = sp.rms_norm %[[XF]], %[[W]] epsilon = 9.99999974E-6 : tensor<8x16xf32>, tensor<16xf32>
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[Y]] : tensor<8x16xf32>)
// CHECK: arith.truncf
// CHECK: return %[[T]]
func.func @round_once(%x: tensor<8x16xbf16>, %w: tensor<16xf32>) -> tensor<8x16xbf16> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %e = tensor.empty() : tensor<8x16xf32>
  %xf = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xbf16>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%xf : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %n = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%xf, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %nn = arith.mulf %a, %r : f32
    %p = arith.mulf %nn, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  %eb = tensor.empty() : tensor<8x16xbf16>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%n : tensor<8x16xf32>) outs(%eb : tensor<8x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %0 = arith.truncf %in : f32 to bf16
    linalg.yield %0 : bf16
  } -> tensor<8x16xbf16>
  return %y : tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The template of the near-misses below, raised: the norm fused into two
// generics (sum of squares; everything else).
// CHECK-LABEL: func.func @template
// CHECK-NOT: linalg
// CHECK: %[[Y:.*]] = sp.rms_norm %arg0, %arg1 epsilon = 9.99999974E-6 : tensor<8x16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @template(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// Epsilon added to the sum of squares, then divided.
// CHECK-LABEL: func.func @eps_before_mean
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @eps_before_mean(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: epsilon is added to the sum of squares before the division by the hidden size; sp.rms_norm adds it to the mean}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %v0 = arith.addf %s, %eps : f32
    %m = arith.divf %v0, %h : f32
    %r = math.rsqrt %m : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// Epsilon added to the square root: 1 / (sqrt(mean) + eps).
// CHECK-LABEL: func.func @eps_after_sqrt
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @eps_after_sqrt(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: epsilon is added to the square root, not to the mean under it}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %q = math.sqrt %m : f32
    %v = arith.addf %q, %eps : f32
    %r = arith.divf %one, %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// No epsilon at all (sp.rms_norm needs a positive one).
// CHECK-LABEL: func.func @no_eps
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @no_eps(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: no epsilon is added to the mean before the square root}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %r = math.rsqrt %m : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// Epsilon 0.
// CHECK-LABEL: func.func @zero_eps
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @zero_eps(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: epsilon is 0; sp.rms_norm needs a positive one}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %zero : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The mean over the rows (dim 0) instead of the hidden dim.
// CHECK-LABEL: func.func @mean_over_rows
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @mean_over_rows(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<16xf32>) -> tensor<16xf32>
  // expected-remark@+1 {{RMSNorm not raised: it sums the squares over dim 0 of its input, not over the last (hidden) dim 1 that sp.rms_norm normalizes}}
  %ss = linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<16xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #col, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The sum divided by 8, not by the hidden size.
// CHECK-LABEL: func.func @wrong_divisor
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @wrong_divisor(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %eight = arith.constant 8.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the sum of squares is divided by 8, not by the hidden size 16}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %eight : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The mean as sum * (1/24) with H = 24: 1/24 is not exact in f32, so
// sum * c differs from sum / 24 (it is bitwise only for powers of two).
// CHECK-LABEL: func.func @inexact_reciprocal_mean
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @inexact_reciprocal_mean(%x: tensor<8x24xf32>, %w: tensor<24xf32>) -> tensor<8x24xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 24.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %inv24 = arith.constant 0.0416666679 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x24xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x24xf32>
  // expected-remark@+1 {{RMSNorm not raised: the mean is the sum times 0.0416666679, which is not exactly 1/24: it rounds differently from sum / 24 (bitwise only when the hidden size is a power of two)}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x24xf32>, tensor<8xf32>, tensor<24xf32>) outs(%e : tensor<8x24xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.mulf %s, %inv24 : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x24xf32>
  return %y : tensor<8x24xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// x / sqrt(v) instead of x * (1 / sqrt(v)).
// CHECK-LABEL: func.func @divide_by_root
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @divide_by_root(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: x is divided by the square root: x / sqrt(v) rounds differently from sp.rms_norm's x * (1 / sqrt(v))}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %q = math.sqrt %v : f32
    %n = arith.divf %a, %q : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// x * (inv * w): the weight multiplies the inverse root first.
// CHECK-LABEL: func.func @weight_first
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @weight_first(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the inverse square root multiplies a value other than the one whose squares were summed}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %rw = arith.mulf %r, %g : f32
    %p = arith.mulf %a, %rw : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A weight with a value per element, not broadcast along the rows.
// CHECK-LABEL: func.func @weight_per_element
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @weight_per_element(%x: tensor<8x16xf32>, %w: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the weight has a value per element (it is read with the input's map), not one per column broadcast along the rows}}
  %y = linalg.generic {indexing_maps = [#id, #row, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A weight indexed by the row.
// CHECK-LABEL: func.func @weight_per_row
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @weight_per_row(%x: tensor<8x16xf32>, %w: tensor<8xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the weight is read with the map (d0, d1) -> (d0), not broadcast along the rows (it must vary with the last dim only)}}
  %y = linalg.generic {indexing_maps = [#id, #row, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The inverse root of the rows read along the columns.
// CHECK-LABEL: func.func @inv_transposed
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @inv_transposed(%x: tensor<8x8xf32>, %w: tensor<8xf32>) -> tensor<8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 8.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x8xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x8xf32>
  // expected-remark@+1 {{RMSNorm not raised: the row sums are read with the map (d0, d1) -> (d1) here, not along the rows ((d0, d1) -> (d0))}}
  %y = linalg.generic {indexing_maps = [#id, #col, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x8xf32>
  return %y : tensor<8x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The normalized value is another tensor than the one whose squares were
// summed.
// CHECK-LABEL: func.func @other_x
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @other_x(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the inverse square root multiplies a value other than the one whose squares were summed}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %g, %r : f32
    %p = arith.mulf %n, %a : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// fastmath flags on the sum let the lowering contract x * x + acc into an
// FMA.
// CHECK-LABEL: func.func @fastmath
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @fastmath(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  // expected-remark@+1 {{RMSNorm not raised: the sum of squares carries fastmath flags, which let the lowering contract or reorder it}}
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a fastmath<contract> : f32
    %t = arith.addf %acc, %s fastmath<contract> : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A sum that starts at 1.
// CHECK-LABEL: func.func @init_one
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @init_one(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 1.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  // expected-remark@+1 {{RMSNorm not raised: it starts the sum at 1, not at 0}}
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// The normalized value is not a tensor: the op goes on adding to it.
// CHECK-LABEL: func.func @fused_beyond
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @fused_beyond(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %one = arith.constant 1.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  // expected-remark@+1 {{RMSNorm not raised: the normalized value is not a tensor of its own: 'linalg.generic' goes on computing with it}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xf32>, tensor<8xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    %q = arith.addf %p, %one : f32
    linalg.yield %q : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}


// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// bf16 without the f32 upcast: the squares are summed in bf16.
// CHECK-LABEL: func.func @bf16_no_upcast
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @bf16_no_upcast(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  %zero = arith.constant 0.0 : bf16
  %h = arith.constant 16.0 : bf16
  %eps = arith.constant 1.0e-5 : bf16
  %er = tensor.empty() : tensor<8xbf16>
  %z = linalg.fill ins(%zero : bf16) outs(%er : tensor<8xbf16>) -> tensor<8xbf16>
  // expected-remark@+1 {{RMSNorm not raised: it accumulates the sum of squares in bf16; sp.rms_norm accumulates in f32}}
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xbf16>) outs(%z : tensor<8xbf16>) {
  ^bb0(%a: bf16, %acc: bf16):
    %s = arith.mulf %a, %a : bf16
    %t = arith.addf %acc, %s : bf16
    linalg.yield %t : bf16
  } -> tensor<8xbf16>
  %e = tensor.empty() : tensor<8x16xbf16>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xbf16>, tensor<8xbf16>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%a: bf16, %s: bf16, %g: bf16, %o: bf16):
    %m = arith.divf %s, %h : bf16
    %v = arith.addf %m, %eps : bf16
    %r = math.rsqrt %v : bf16
    %n = arith.mulf %a, %r : bf16
    %p = arith.mulf %n, %g : bf16
    linalg.yield %p : bf16
  } -> tensor<8x16xbf16>
  return %y : tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// bf16 rounded once, T(float(x) * inv * float(w)), with float(x) computed
// inside the ops: neither the bf16 norm (two roundings) nor an f32 one (no
// f32 tensor of x to normalize).
// CHECK-LABEL: func.func @bf16_round_once
// CHECK-NOT: sp.rms_norm
// CHECK: return
func.func @bf16_round_once(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xbf16>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %s = arith.mulf %f, %f : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xbf16>
  // expected-remark@+1 {{RMSNorm not raised: x * inv * w is computed in f32 and rounded once, which sp.rms_norm does not do (it rounds x * inv to the input type first); and the f32 value of x is not a tensor, so the norm cannot be raised in f32 either}}
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xbf16>, tensor<8xf32>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
  ^bb0(%a: bf16, %s: f32, %g: bf16, %o: bf16):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %f = arith.extf %a : bf16 to f32
    %n = arith.mulf %f, %r : f32
    %gf = arith.extf %g : bf16 to f32
    %p = arith.mulf %n, %gf : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x16xbf16>
  return %y : tensor<8x16xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// A sum of squares that no square root follows is no norm: no remark.
// CHECK-LABEL: func.func @sum_of_squares_only
// CHECK: linalg.generic
// CHECK: return
func.func @sum_of_squares_only(%x: tensor<8x16xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %er = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xf32>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  return %ss : tensor<8xf32>
}
