// The forms sp-raise-norms raises, one public function each (taken from
// test/Transforms/RaiseNorms/*.mlir, with static shapes and tensor
// arguments so that sp-run can generate the inputs). raise-norms.test runs
// each before and after the pass and compares the outputs bit for bit.

#col = affine_map<(d0, d1) -> (d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>
#id1 = affine_map<(d0) -> (d0)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0, d1) -> (d0)>
#row3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>
#w3 = affine_map<(d0, d1, d2) -> (0, 0, d2)>

func.func @norm_torch_f32(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
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

func.func @norm_torch_bf16(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
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

func.func @norm_fused_f16(%x: tensor<8x16xf16>, %w: tensor<16xf16>) -> tensor<8x16xf16> {
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

func.func @norm_named_ops(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
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

func.func @norm_rank3(%x: tensor<2x4x16xf32>, %w: tensor<1x1x16xf32>) -> tensor<2x4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %h = arith.constant 16.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %er = tensor.empty() : tensor<2x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%er : tensor<2x4xf32>) -> tensor<2x4xf32>
  %ss = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x4x16xf32>) outs(%z : tensor<2x4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.mulf %a, %a : f32
    %t = arith.addf %s, %acc : f32
    linalg.yield %t : f32
  } -> tensor<2x4xf32>
  %e = tensor.empty() : tensor<2x4x16xf32>
  %y = linalg.generic {indexing_maps = [#id3, #row3, #w3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %ss, %w : tensor<2x4x16xf32>, tensor<2x4xf32>, tensor<1x1x16xf32>) outs(%e : tensor<2x4x16xf32>) {
  ^bb0(%a: f32, %s: f32, %g: f32, %o: f32):
    %m = arith.divf %s, %h : f32
    %v = arith.addf %eps, %m : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %r, %a : f32
    %p = arith.mulf %g, %n : f32
    linalg.yield %p : f32
  } -> tensor<2x4x16xf32>
  return %y : tensor<2x4x16xf32>
}

func.func @norm_round_once(%x: tensor<8x16xbf16>, %w: tensor<16xf32>) -> tensor<8x16xbf16> {
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

func.func @norm_template(%x: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
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

func.func @fused_torch_bf16(%res: tensor<8x16xbf16>, %hidden: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
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

func.func @fused_two_layers(%res: tensor<8x16xbf16>, %h1: tensor<8x16xbf16>, %h2: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) {
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

func.func @fused_bias_add(%x: tensor<8x16xf32>, %bias: tensor<16xf32>, %w: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
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

func.func @fused_late_weight(%res: tensor<8x16xf32>, %hidden: tensor<8x16xf32>, %wb: tensor<16xbf16>) -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
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

func.func @quant_recip_f32(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
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

func.func @quant_select_bf16(%x: tensor<8x16xbf16>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
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

func.func @quant_fnuz_scalar(%x: tensor<8x16xf32>, %st: tensor<f32>) -> tensor<8x16xf8E4M3FNUZ> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %lo224 = arith.constant -224.0 : f32
  %hi224 = arith.constant 224.0 : f32
  %s = tensor.extract %st[] : tensor<f32>
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

func.func @quant_const_scales(%x: tensor<8x16xf32>) -> (tensor<8x16xf8E4M3FN>, tensor<8x16xf8E4M3FN>) {
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

func.func @quant_torch_clamp(%x: tensor<8x16xf32>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %lo = arith.constant -448.0 : f32
  %hi = arith.constant 448.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf8E4M3FN>
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

func.func @quant_norm_then_quant(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>, %scale: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
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
