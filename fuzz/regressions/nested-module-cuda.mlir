module {
  sp.group @tp size(2)
  func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %r = sp.all_reduce %x over @tp : tensor<4x8xf32>
    return %r : tensor<4x8xf32>
  }
  module @inner {
    func.func @g(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
      return %x : tensor<4x8xf32>
    }
  }
}
