// Every sp op and runtime entry point that sp-convert-to-cuda-runtime
// produces, with collectives along inner dims, dynamic sizes, unfused and
// fused norm + quant, both fp8 formats and all activation types.
sp.group @g size(2)

func.func @ops(%a: tensor<4x6x8xf32>, %h: tensor<4x16xf16>, %r: tensor<4x16xf16>,
               %w16: tensor<16xf16> {sp.replicated}, %s: tensor<f32> {sp.replicated},
               %b: tensor<6x32xbf16>, %wb: tensor<32xbf16> {sp.replicated},
               %f: tensor<4x8xf64>, %i: tensor<2x3xi32>)
    -> (tensor<4x3x8xf32>, tensor<4x12x8xf32>, tensor<4x6x8xf32>,
        tensor<4x16xf16>, tensor<4x16xf8E4M3FNUZ>, tensor<4x16xf16>, tensor<4x16xf8E4M3FN>,
        tensor<?x32xf8E4M3FN>, tensor<6x16xbf16>, tensor<4x8xf64>, tensor<2x6xi32>,
        tensor<4x16xf16>, tensor<6x32xbf16>, tensor<12x32xf8E4M3FNUZ>) {
  // Collectives along dim 1 of a 3-D tensor (outer > 1), and a max.
  %rs = sp.reduce_scatter %a over @g dim 1 : tensor<4x6x8xf32> -> tensor<4x3x8xf32>
  %ag = sp.all_gather %a over @g dim 1 : tensor<4x6x8xf32> -> tensor<4x12x8xf32>
  %mx = sp.all_reduce %a over @g reduction max : tensor<4x6x8xf32>

  // f16: a norm with two users (not fused), then fused add + norm + quant.
  %n = sp.rms_norm %h, %w16 epsilon = 1.0e-05 : tensor<4x16xf16>, tensor<16xf16>
  %nq = sp.quant %n, %s : tensor<4x16xf16> -> tensor<4x16xf8E4M3FNUZ>
  %o, %res = sp.fused_add_rms_norm %h, %r, %w16 epsilon = 1.0e-06 : tensor<4x16xf16>, tensor<16xf16>
  %oq = sp.quant %o, %s : tensor<4x16xf16> -> tensor<4x16xf8E4M3FN>

  // bf16 with a dynamic row count: norm + quant in one kernel, then an fp8
  // gather of dynamic size.
  %dyn = tensor.cast %b : tensor<6x32xbf16> to tensor<?x32xbf16>
  %dn = sp.rms_norm %dyn, %wb epsilon = 1.0e-06 : tensor<?x32xbf16>, tensor<32xbf16>
  %dq = sp.quant %dn, %s : tensor<?x32xbf16> -> tensor<?x32xf8E4M3FN>
  %sl = sp.all_slice %b over @g dim 1 : tensor<6x32xbf16> -> tensor<6x16xbf16>

  // f64 average and an integer gather along the last dim.
  %fa = sp.all_reduce %f over @g reduction avg : tensor<4x8xf64>
  %ig = sp.all_gather %i over @g dim 1 : tensor<2x3xi32> -> tensor<2x6xi32>

  // The fused add alone (no quant), bf16 quant alone, and fp8 gather.
  %o2, %res2 = sp.fused_add_rms_norm %h, %r, %w16 epsilon = 1.0e-05 : tensor<4x16xf16>, tensor<16xf16>
  %plain = sp.rms_norm %b, %wb epsilon = 1.0e-05 : tensor<6x32xbf16>, tensor<32xbf16>
  %bq = sp.quant %b, %s : tensor<6x32xbf16> -> tensor<6x32xf8E4M3FNUZ>
  %bqg = sp.all_gather %bq over @g : tensor<6x32xf8E4M3FNUZ> -> tensor<12x32xf8E4M3FNUZ>
  return %rs, %ag, %mx, %n, %nq, %res, %oq, %dq, %sl, %fa, %ig, %o2, %plain, %bqg
      : tensor<4x3x8xf32>, tensor<4x12x8xf32>, tensor<4x6x8xf32>,
        tensor<4x16xf16>, tensor<4x16xf8E4M3FNUZ>, tensor<4x16xf16>, tensor<4x16xf8E4M3FN>,
        tensor<?x32xf8E4M3FN>, tensor<6x16xbf16>, tensor<4x8xf64>, tensor<2x6xi32>,
        tensor<4x16xf16>, tensor<6x32xbf16>, tensor<12x32xf8E4M3FNUZ>
}
