sp.group @tp size(2)
func.func @forward(%x: tensor<4x8xf32>, %w: tensor<8xf32> {sp.replicated}) -> tensor<4x8xf32> {
  %0 = sp.all_reduce %x over @tp : tensor<4x8xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<4x8xf32>, tensor<8xf32>
  return %1 : tensor<4x8xf32>
}
func.func private @helper(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  return %x : tensor<4x8xf32>
}
