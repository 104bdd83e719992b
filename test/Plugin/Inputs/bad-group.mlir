sp.group @tp size(2)
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sp.all_reduce %x over @nope : tensor<4xf32>
  return %0 : tensor<4xf32>
}
