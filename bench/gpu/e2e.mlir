// The end-to-end check of bench/gpu/check.sh: every sp op through
// sp-lower-to-cuda on one GPU (--ranks=1, so the collectives are
// single-rank NCCL calls), at sizes where the kernels take their vectorized
// paths. check.sh runs it with --backend=cpu and --backend=cuda and compares
// the outputs (compare_outputs.py): collectives and the fused residual
// bitwise, norms within 1 ulp (the GPU sums squares in a different order),
// fp8 within one code of each other. Where sp-run cannot run (no MLIR on the
// GPU machine), prepare-e2e.sh compiles it ahead of time into sp-gpu-e2e.
sp.group @one size(1)

func.func @e2e(%x: tensor<4096x4096xbf16>, %r: tensor<4096x4096xbf16>,
               %w: tensor<4096xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated},
               %x32: tensor<1024x8192xf32>, %w32: tensor<8192xf32> {sp.replicated},
               %h: tensor<512x16384xf16>, %hr: tensor<512x16384xf16>,
               %wh: tensor<16384xf16> {sp.replicated})
    -> (tensor<4096x4096xbf16>, tensor<4096x4096xf8E4M3FN>, tensor<4096x4096xbf16>,
        tensor<4096x4096xf8E4M3FN>, tensor<4096x4096xbf16>, tensor<4096x4096xf8E4M3FN>,
        tensor<4096x4096xbf16>, tensor<1024x8192xf32>, tensor<512x16384xf16>,
        tensor<512x16384xf16>) attributes {llvm.emit_c_interface} {
  %ar = sp.all_reduce %x over @one : tensor<4096x4096xbf16>
  // A norm with two users: a norm kernel, then a quant kernel.
  %n = sp.rms_norm %ar, %w epsilon = 1.0e-06 : tensor<4096x4096xbf16>, tensor<4096xbf16>
  %q = sp.quant %n, %s : tensor<4096x4096xbf16> -> tensor<4096x4096xf8E4M3FN>
  // Fused add + norm + quant: one kernel.
  %o, %res = sp.fused_add_rms_norm %ar, %r, %w epsilon = 1.0e-06 : tensor<4096x4096xbf16>, tensor<4096xbf16>
  %oq = sp.quant %o, %s : tensor<4096x4096xbf16> -> tensor<4096x4096xf8E4M3FN>
  // Collectives along dim 1 (packed through device copies).
  %rs = sp.reduce_scatter %res over @one dim 1 : tensor<4096x4096xbf16> -> tensor<4096x4096xbf16>
  %ag = sp.all_gather %oq over @one dim 1 : tensor<4096x4096xf8E4M3FN> -> tensor<4096x4096xf8E4M3FN>
  // f32 and f16 at the largest hidden size.
  %n32 = sp.rms_norm %x32, %w32 epsilon = 1.0e-05 : tensor<1024x8192xf32>, tensor<8192xf32>
  %ho, %hres = sp.fused_add_rms_norm %h, %hr, %wh epsilon = 1.0e-05 : tensor<512x16384xf16>, tensor<16384xf16>
  return %n, %q, %res, %oq, %rs, %ag, %ar, %n32, %ho, %hres
      : tensor<4096x4096xbf16>, tensor<4096x4096xf8E4M3FN>, tensor<4096x4096xbf16>,
        tensor<4096x4096xf8E4M3FN>, tensor<4096x4096xbf16>, tensor<4096x4096xf8E4M3FN>,
        tensor<4096x4096xbf16>, tensor<1024x8192xf32>, tensor<512x16384xf16>,
        tensor<512x16384xf16>
}
