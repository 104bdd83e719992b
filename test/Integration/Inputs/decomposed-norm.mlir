// A norm as torch-mlir decomposes it, with its residual add and the next
// layer's residual add: sp-sequence-parallelism sinks the gather through
// every linalg op of the chain (pattern 2d). Used by every-step.test.
sp.group @tp size(2)

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#vec = affine_map<(d0) -> (d0)>

// An RMSNorm as torch-mlir decomposes it, with its residual add: every op of
// the chain runs on this rank's 4 rows; the replicated residual is sliced,
// the weight (broadcast along rows) is read whole, the inits shrink.
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
