sp.group @tp size(2)
func.func @forward(%x: tensor<64x32xf32>) -> tensor<64x32xf32> {
  %0 = sp.all_reduce %x over @tp : tensor<64x32xf32>
  %1 = sp.reduce_scatter %0 over @tp : tensor<64x32xf32> -> tensor<32x32xf32>
  %2 = sp.all_gather %1 over @tp : tensor<32x32xf32> -> tensor<64x32xf32>
  return %2 : tensor<64x32xf32>
}
