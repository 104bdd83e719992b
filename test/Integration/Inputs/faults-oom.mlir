sp.group @tp size(2)
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = sp.group_rank @tp
  %big = arith.constant 1099511627776 : index
  %n = arith.muli %r, %big : index
  %c4 = arith.constant 4 : index
  %m = arith.addi %n, %c4 : index
  %cst = arith.constant 1.0 : f32
  %e = tensor.empty(%m) : tensor<?xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %s = tensor.extract_slice %f[0] [4] [1] : tensor<?xf32> to tensor<4xf32>
  %e2 = tensor.empty() : tensor<4xf32>
  %y = linalg.add ins(%x, %s : tensor<4xf32>, tensor<4xf32>) outs(%e2 : tensor<4xf32>) -> tensor<4xf32>
  %0 = sp.all_reduce %y over @tp : tensor<4xf32>
  return %0 : tensor<4xf32>
}
