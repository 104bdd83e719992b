// Fuzzer finding (session 2): a group of 24444444444444444 ranks made the
// communication census overflow int64 (UBSan: 2048 * 24444444444444443).


sp.group @tp size(24444444444444444)

func.func @f16(%x: tensor<4x8x32xf16>, %w: tensor<32xf16> {sp.replicated}) -> tensor<4x8x32xf16> {
  %0 = sp.all_reduce %x over @tp : tensor<4x8x32xf16>
  %1 = sp.rms_norm %0, %w epsilon = 0.1 : tensor<4x8x32xf16>, tensor<32xf16>
  return %0 : tensor<4x8x32xf16>
}
