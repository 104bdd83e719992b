sp.group @tp size(2)
func.func @scatter(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = sp.reduce_scatter %x over @tp : tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}
