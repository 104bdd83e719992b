// Two dependent runtime calls on one rank (test/CUDA/mock-counts.test).
sp.group @one size(1)
func.func @two_norms(%x: tensor<8x64xbf16>, %w: tensor<64xbf16> {sp.replicated})
    -> (tensor<8x64xbf16>, tensor<8x64xbf16>) {
  %n = sp.rms_norm %x, %w epsilon = 1.0e-05 : tensor<8x64xbf16>, tensor<64xbf16>
  %m = sp.rms_norm %n, %w epsilon = 1.0e-05 : tensor<8x64xbf16>, tensor<64xbf16>
  return %n, %m : tensor<8x64xbf16>, tensor<8x64xbf16>
}
