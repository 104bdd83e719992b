// sp-raise-norms on static FP8 quants: x * (1 / scale), clamped to [-M, M],
// truncated to f8E4M3FN (M = 448) or f8E4M3FNUZ (M = 224), and the
// near-misses it leaves alone.
// RUN: sp-opt %s --split-input-file --sp-raise-norms --verify-diagnostics --verify-roundtrip | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-raise-norms=ignore-nan 2>/dev/null | FileCheck %s --check-prefix=NAN

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// f32, 1 / scale inside the op, maximumf/minimumf.
// CHECK-LABEL: func.func @recip_f32
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[S:.*]]: tensor<f32>)
// CHECK-NEXT: %[[Q:.*]] = sp.quant %[[X]], %[[S]] : tensor<8x16xf32> -> tensor<8x16xf8E4M3FN>
// CHECK-NEXT: return %[[Q]]
func.func @recip_f32(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// bf16 input, 1 / scale as a tensor op broadcast into the generic, a clamp
// of cmpf + select that keeps NaN (ordered predicates: NaN takes the
// value).
// CHECK-LABEL: func.func @select_bf16
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>, %[[S:.*]]: tensor<f32>)
// CHECK-NOT: linalg
// CHECK: %[[Q:.*]] = sp.quant %[[X]], %[[S]] : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
// CHECK-NEXT: return %[[Q]]
func.func @select_bf16(%x: tensor<8x16xbf16>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %ones = arith.constant dense<1.0> : tensor<f32>
  %inv = arith.divf %ones, %s : tensor<f32>
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %inv : tensor<8x16xbf16>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: bf16, %sc: f32, %o: f8E4M3FN):
    %f = arith.extf %a : bf16 to f32
    %v = arith.mulf %f, %sc : f32
    %below = arith.cmpf olt, %v, %lo : f32
    %c0 = arith.select %below, %lo, %v : f32
    %above = arith.cmpf ogt, %c0, %hi : f32
    %c1 = arith.select %above, %hi, %c0 : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// f8E4M3FNUZ clamps to [-224, 224] (vLLM), min before max; the scale is a
// scalar argument, 1 / s computed outside the op.
// CHECK-LABEL: func.func @fnuz_scalar
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[S:.*]]: f32)
// CHECK: %[[T:.*]] = tensor.from_elements %[[S]] : tensor<f32>
// CHECK-NEXT: %[[Q:.*]] = sp.quant %[[X]], %[[T]] : tensor<8x16xf32> -> tensor<8x16xf8E4M3FNUZ>
// CHECK-NEXT: return %[[Q]]
func.func @fnuz_scalar(%x: tensor<8x16xf32>, %s: f32) -> tensor<8x16xf8E4M3FNUZ> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %lo224 = arith.constant -224.0 : f32
  %hi224 = arith.constant 224.0 : f32
  %sc = arith.divf %one, %s : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FNUZ>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf8E4M3FNUZ>) {
  ^bb0(%a: f32, %o: f8E4M3FNUZ):
    %v = arith.mulf %sc, %a : f32
    %c0 = arith.minimumf %hi224, %v : f32
    %c1 = arith.maximumf %c0, %lo224 : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FNUZ
    linalg.yield %t : f8E4M3FNUZ
  } -> tensor<8x16xf8E4M3FNUZ>
  return %q : tensor<8x16xf8E4M3FNUZ>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// Constant scales: x / 0.5 is x * (1 / 0.5) exactly (a power of two); x *
// 3.0 is x * (1.0f / s) for s = 0.333333343.
// CHECK-LABEL: func.func @const_scales
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>)
// CHECK: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT: %[[Q:.*]] = sp.quant %[[X]], %[[S]] : tensor<8x16xf32> -> tensor<8x16xf8E4M3FN>
// CHECK: %[[S3:.*]] = arith.constant dense<0.333333343> : tensor<f32>
// CHECK-NEXT: %[[Q3:.*]] = sp.quant %[[X]], %[[S3]] : tensor<8x16xf32> -> tensor<8x16xf8E4M3FN>
// CHECK-NEXT: return %[[Q]], %[[Q3]]
func.func @const_scales(%x: tensor<8x16xf32>) -> (tensor<8x16xf8E4M3FN>, tensor<8x16xf8E4M3FN>) {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %half = arith.constant 0.5 : f32
  %three = arith.constant 3.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %o: f8E4M3FN):
    %v = arith.divf %a, %half : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  %q3 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %o: f8E4M3FN):
    %v = arith.mulf %a, %three : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q, %q3 : tensor<8x16xf8E4M3FN>, tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// x / s for a runtime scale: not x * (1.0f / s).
// CHECK-LABEL: func.func @divide_runtime
// CHECK-NOT: sp.quant
// CHECK: return
func.func @divide_runtime(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it divides by the scale: x / s rounds differently from sp.quant's x * (1.0f / s) unless 1 / s is exact (a constant power-of-two scale)}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %v = arith.divf %a, %sc : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// torch-mlir's lowering of torch.clamp: ult / ugt selects, which turn NaN
// into the lower bound. Raised only with ignore-nan.
// CHECK-LABEL: func.func @torch_clamp
// CHECK-NOT: sp.quant
// CHECK: return
// NAN-LABEL: func.func @torch_clamp
// NAN-NEXT: %[[Q:.*]] = sp.quant %arg0, %arg1
// NAN-NEXT: return %[[Q]]
func.func @torch_clamp(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: its clamp ('arith.select') turns a NaN into a bound; sp.quant keeps NaN a NaN (ignore-nan raises it anyway)}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %below = arith.cmpf ult, %v, %lo : f32
    %c0 = arith.select %below, %lo, %v : f32
    %above = arith.cmpf ugt, %c0, %hi : f32
    %c1 = arith.select %above, %hi, %c0 : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// minnumf / maxnumf ignore NaN.
// CHECK-LABEL: func.func @minnum
// CHECK-NOT: sp.quant
// CHECK: return
func.func @minnum(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: its clamp ('arith.minnumf') turns a NaN into a bound; sp.quant keeps NaN a NaN (ignore-nan raises it anyway)}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %c0 = arith.maxnumf %v, %lo : f32
    %c1 = arith.minnumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// f8E4M3FNUZ clamped to its format maximum 240, not to sp.quant's 224.
// CHECK-LABEL: func.func @fnuz_240
// CHECK-NOT: sp.quant
// CHECK: return
func.func @fnuz_240(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FNUZ> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %lo240 = arith.constant -240.0 : f32
  %hi240 = arith.constant 240.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FNUZ>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it clamps to [-240, 240]; sp.quant clamps f8E4M3FNUZ to [-224, 224]}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FNUZ>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FNUZ):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %c0 = arith.maximumf %v, %lo240 : f32
    %c1 = arith.minimumf %c0, %hi240 : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FNUZ
    linalg.yield %t : f8E4M3FNUZ
  } -> tensor<8x16xf8E4M3FNUZ>
  return %q : tensor<8x16xf8E4M3FNUZ>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// No clamp: a value beyond 448 becomes NaN instead of saturating.
// CHECK-LABEL: func.func @no_clamp
// CHECK-NOT: sp.quant
// CHECK: return
func.func @no_clamp(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it does not clamp to [-M, M] before the truncation (a value beyond the format's range becomes NaN; sp.quant saturates at 448)}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %t = arith.truncf %v : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// Only an upper bound.
// CHECK-LABEL: func.func @upper_only
// CHECK-NOT: sp.quant
// CHECK: return
func.func @upper_only(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it does not clamp to [-M, M] before the truncation (a value beyond the format's range becomes NaN; sp.quant saturates at 448)}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %c1 = arith.minimumf %v, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// f8E5M2 is not a format of sp.quant.
// CHECK-LABEL: func.func @e5m2
// CHECK-NOT: sp.quant
// CHECK: return
func.func @e5m2(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E5M2> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %lo5 = arith.constant -57344.0 : f32
  %hi5 = arith.constant 57344.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E5M2>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it truncates to f8E5M2; sp.quant produces f8E4M3FN or f8E4M3FNUZ}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xf32>, tensor<f32>) outs(%e : tensor<8x16xf8E5M2>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E5M2):
    %r = arith.divf %one, %sc : f32
    %v = arith.mulf %a, %r : f32
    %c0 = arith.maximumf %v, %lo5 : f32
    %c1 = arith.minimumf %c0, %hi5 : f32
    %t = arith.truncf %c1 : f32 to f8E5M2
    linalg.yield %t : f8E5M2
  } -> tensor<8x16xf8E5M2>
  return %q : tensor<8x16xf8E5M2>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// The scaling in bf16.
// CHECK-LABEL: func.func @bf16_scaling
// CHECK-NOT: sp.quant
// CHECK: return
func.func @bf16_scaling(%x: tensor<8x16xbf16>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %oneb = arith.constant 1.0 : bf16
  %lob = arith.constant -448.0 : bf16
  %hib = arith.constant 448.0 : bf16
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it scales in bf16; sp.quant computes float(x) * (1 / scale) in f32}}
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<8x16xbf16>, tensor<f32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: bf16, %sc: f32, %o: f8E4M3FN):
    %sb = arith.truncf %sc : f32 to bf16
    %r = arith.divf %oneb, %sb : bf16
    %v = arith.mulf %a, %r : bf16
    %c0 = arith.maximumf %v, %lob : bf16
    %c1 = arith.minimumf %c0, %hib : bf16
    %t = arith.truncf %c1 : bf16 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// x * 7.0: no f32 scale s has 1.0f / s == 7.0 (1 / 0.142857149 rounds to
// 6.99999952).
// CHECK-LABEL: func.func @times_seven
// CHECK-NOT: sp.quant
// CHECK: return
func.func @times_seven(%x: tensor<8x16xf32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %seven = arith.constant 7.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  // expected-remark@+1 {{FP8 quant not raised to sp.quant: it multiplies by the constant 7, and no f32 scale s near 1 / 7 has 1.0f / s equal to it}}
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %o: f8E4M3FN):
    %v = arith.mulf %a, %seven : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>

// A plain conversion to fp8 is no quant: no remark.
// CHECK-LABEL: func.func @plain_conversion
// CHECK: arith.truncf
// CHECK-NOT: sp.quant
func.func @plain_conversion(%x: tensor<8x16xf32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xf32>) outs(%e : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: f32, %o: f8E4M3FN):
    %t = arith.truncf %a : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}


// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#s = affine_map<(d0, d1) -> ()>

// Norm then quant (the layer input of an FP8 model): both raised, the quant
// reads the norm's result.
// CHECK-LABEL: func.func @norm_then_quant
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>, %[[W:.*]]: tensor<16xbf16>, %[[S:.*]]: tensor<f32>)
// CHECK-NEXT: %[[Y:.*]] = sp.rms_norm %[[X]], %[[W]]
// CHECK-NEXT: %[[Q:.*]] = sp.quant %[[Y]], %[[S]] : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
// CHECK-NEXT: return %[[Q]]
func.func @norm_then_quant(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>, %scale: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<8xf32>
  %e = tensor.empty() : tensor<8x16xbf16>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<8xf32>) -> tensor<8xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x16xbf16>) outs(%z : tensor<8xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %sq = arith.mulf %f, %f : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<8x16xbf16>, tensor<8xf32>, tensor<16xbf16>) outs(%e : tensor<8x16xbf16>) {
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
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %eq = tensor.empty() : tensor<8x16xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%y, %scale : tensor<8x16xbf16>, tensor<f32>) outs(%eq : tensor<8x16xf8E4M3FN>) {
  ^bb0(%a: bf16, %sc: f32, %o: f8E4M3FN):
    %f = arith.extf %a : bf16 to f32
    %inv = arith.divf %one, %sc : f32
    %v = arith.mulf %f, %inv : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<8x16xf8E4M3FN>
  return %q : tensor<8x16xf8E4M3FN>
}
