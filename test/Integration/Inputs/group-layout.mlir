// DP 2 x TP 4 on 8 ranks (test/Integration/group-layout.test): the job's
// ranks form the grid [2, 4], rank R = 4 * d + t; @tp spans axis 1 (ranks
// {0-3} and {4-7}), @dp axis 0 ({0, 4}, {1, 5}, ...), @world every rank.
sp.group @tp size(4) grid [2, 4] axes [1]
sp.group @dp size(2) grid [2, 4] axes [0]
sp.group @world size(8)

func.func @layout(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<1x2xf32>, tensor<16x2xf32>, tensor<4x4xf32>, tensor<1x2xf32>, tensor<4x1xf32>, tensor<2xi64>, tensor<4x2xf32>, tensor<16x2xf32>, tensor<1x2xf32>) {
  // Sums within a row of the grid, then within a column: the whole job's.
  %tp_sum = sp.all_reduce %x over @tp : tensor<4x2xf32>
  %both = sp.all_reduce %tp_sum over @dp : tensor<4x2xf32>
  %job = sp.all_reduce %x over @world : tensor<4x2xf32>
  %rs = sp.reduce_scatter %x over @tp : tensor<4x2xf32> -> tensor<1x2xf32>
  %ag = sp.all_gather %x over @tp : tensor<4x2xf32> -> tensor<16x2xf32>
  %ag_dp = sp.all_gather %x over @dp dim 1 : tensor<4x2xf32> -> tensor<4x4xf32>
  // This rank's rows in @tp (its index there, not its rank in the job) and
  // its column in @dp.
  %slice = sp.all_slice %both over @tp : tensor<4x2xf32> -> tensor<1x2xf32>
  %slice_dp = sp.all_slice %tp_sum over @dp dim 1 : tensor<4x2xf32> -> tensor<4x1xf32>
  %t = sp.group_rank @tp
  %d = sp.group_rank @dp
  %ti = arith.index_cast %t : index to i64
  %di = arith.index_cast %d : index to i64
  %ranks = tensor.from_elements %ti, %di : tensor<2xi64>
  // The previous rank of the row.
  %c1 = arith.constant 1 : index
  %shifted = sp.ring_shift %x over @tp by %c1 : tensor<4x2xf32>
  // Collective matmuls with the identity: the gather and the scatter again.
  %id = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %agm = sp.all_gather_matmul %x, %id over @tp : tensor<4x2xf32>, tensor<2x2xf32> -> tensor<16x2xf32>
  %mrs = sp.matmul_reduce_scatter %x, %id over @tp : tensor<4x2xf32>, tensor<2x2xf32> -> tensor<1x2xf32>
  return %tp_sum, %both, %job, %rs, %ag, %ag_dp, %slice, %slice_dp, %ranks, %shifted, %agm, %mrs : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<1x2xf32>, tensor<16x2xf32>, tensor<4x4xf32>, tensor<1x2xf32>, tensor<4x1xf32>, tensor<2xi64>, tensor<4x2xf32>, tensor<16x2xf32>, tensor<1x2xf32>
}
