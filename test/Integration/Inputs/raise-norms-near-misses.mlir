// Near-misses of sp-raise-norms next to the sp op they resemble, to show
// that they are not bitwise equal (raise-norms.test runs each pair on the
// same inputs and expects the outputs to differ). Same signatures within a
// pair, so sp-run generates the same inputs for both.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#s = affine_map<(d0, d1) -> ()>

// The mean as sum * (1/96): 1/96 is not exact in f32.
func.func @mean_times_inverse(%x: tensor<64x96xf32>, %w: tensor<96xf32>) -> tensor<64x96xf32> {
  %zero = arith.constant 0.0 : f32
  %inv96 = arith.constant 0.010416667 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<64xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<64xf32>) -> tensor<64xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<64x96xf32>) outs(%z : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<64xf32>
  %e = tensor.empty() : tensor<64x96xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<64x96xf32>, tensor<64xf32>, tensor<96xf32>) outs(%e : tensor<64x96xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.mulf %s, %inv96 : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<64x96xf32>
  return %y : tensor<64x96xf32>
}
func.func @mean_times_inverse_sp(%x: tensor<64x96xf32>, %w: tensor<96xf32>) -> tensor<64x96xf32> {
  %y = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<64x96xf32>, tensor<96xf32>
  return %y : tensor<64x96xf32>
}

// x / sqrt(v) instead of x * (1 / sqrt(v)).
func.func @divide_by_root(%x: tensor<64x96xf32>, %w: tensor<96xf32>) -> tensor<64x96xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 96.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<64xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<64xf32>) -> tensor<64xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<64x96xf32>) outs(%z : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<64xf32>
  %e = tensor.empty() : tensor<64x96xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<64x96xf32>, tensor<64xf32>, tensor<96xf32>) outs(%e : tensor<64x96xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %m, %eps : f32
    %q = math.sqrt %v : f32
    %n = arith.divf %a, %q : f32
    %p = arith.mulf %n, %g : f32
    linalg.yield %p : f32
  } -> tensor<64x96xf32>
  return %y : tensor<64x96xf32>
}
func.func @divide_by_root_sp(%x: tensor<64x96xf32>, %w: tensor<96xf32>) -> tensor<64x96xf32> {
  %y = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<64x96xf32>, tensor<96xf32>
  return %y : tensor<64x96xf32>
}

// bf16 rounded once: T(float(x) * inv * float(w)).
func.func @round_once(%x: tensor<64x96xbf16>, %w: tensor<96xbf16>) -> tensor<64x96xbf16> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 96.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %er = tensor.empty() : tensor<64xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<64xf32>) -> tensor<64xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<64x96xbf16>) outs(%z : tensor<64xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %s = arith.mulf %f, %f : f32
    %t = arith.addf %acc, %s : f32
    linalg.yield %t : f32
  } -> tensor<64xf32>
  %e = tensor.empty() : tensor<64x96xbf16>
  %y = linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w : tensor<64x96xbf16>, tensor<64xf32>, tensor<96xbf16>) outs(%e : tensor<64x96xbf16>) {
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
  } -> tensor<64x96xbf16>
  return %y : tensor<64x96xbf16>
}
func.func @round_once_sp(%x: tensor<64x96xbf16>, %w: tensor<96xbf16>) -> tensor<64x96xbf16> {
  %y = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<64x96xbf16>, tensor<96xbf16>
  return %y : tensor<64x96xbf16>
}

// The quant as x / scale for a runtime scale.
func.func @quant_divide(%x: tensor<64x96xf32>, %s: tensor<f32>) -> tensor<64x96xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %e = tensor.empty() : tensor<64x96xf8E4M3FN>
  %q = linalg.generic {indexing_maps = [#id, #s, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<64x96xf32>, tensor<f32>) outs(%e : tensor<64x96xf8E4M3FN>) {
  ^bb0(%a: f32, %sc: f32, %o: f8E4M3FN):
    %v = arith.divf %a, %sc : f32
    %c0 = arith.maximumf %v, %lo : f32
    %c1 = arith.minimumf %c0, %hi : f32
    %t = arith.truncf %c1 : f32 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  } -> tensor<64x96xf8E4M3FN>
  return %q : tensor<64x96xf8E4M3FN>
}
func.func @quant_divide_sp(%x: tensor<64x96xf32>, %s: tensor<f32>) -> tensor<64x96xf8E4M3FN> {
  %q = sp.quant %x, %s : tensor<64x96xf32> -> tensor<64x96xf8E4M3FN>
  return %q : tensor<64x96xf8E4M3FN>
}
