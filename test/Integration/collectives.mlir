// The CPU runtime's collectives on 2 ranks with known per-rank inputs:
// element i of %x on rank r is r * 100 + i.
// RUN: rm -rf %t && %python %S/Inputs/rank_inputs.py %t 2
// RUN: sp-run %s --ranks=2 --inputs=%t --entry=known --print | FileCheck %s
// RUN: sp-run %s --ranks=2 --entry=bitwise | FileCheck %s --check-prefix=BITWISE

sp.group @tp size(2)

// CHECK: output 0: tensor<4x2xf32>
// CHECK: rank 0 values: 100 102 104 106 108 110 112 114
// CHECK: rank 1 values: 100 102 104 106 108 110 112 114
// CHECK: output 1: tensor<2x2xf32>
// CHECK: rank 0 values: 100 102 104 106
// CHECK: rank 1 values: 108 110 112 114
// CHECK: output 2: tensor<8x2xf32>
// CHECK: rank 0 values: 0 1 2 3 4 5 6 7 100 101 102 103 104 105 106 107
// CHECK: rank 1 values: 0 1 2 3 4 5 6 7 100 101 102 103 104 105 106 107
// CHECK: output 3: tensor<4x4xf32>
// CHECK: rank 0 values: 0 1 100 101 2 3 102 103 4 5 104 105 6 7 106 107
// CHECK: output 4: tensor<2x2xf32>
// CHECK: rank 0 values: 0 1 2 3
// CHECK: rank 1 values: 104 105 106 107
// CHECK: output 5: tensor<4x1xf32>
// CHECK: rank 0 values: 100 104 108 112
// CHECK: rank 1 values: 102 106 110 114
// CHECK: output 6: tensor<4x2xf32>
// CHECK: rank 0 values: 100 101 102 103 104 105 106 107
// CHECK: output 7: tensor<4x2xf32>
// CHECK: rank 1 values: 50 51 52 53 54 55 56 57
// CHECK: output 8: tensor<4x1xf32>
// CHECK: rank 0 values: 0 2 4 6
// CHECK: rank 1 values: 101 103 105 107
func.func @known(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<2x2xf32>, tensor<8x2xf32>, tensor<4x4xf32>, tensor<2x2xf32>, tensor<4x1xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x1xf32>) {
  %ar = sp.all_reduce %x over @tp : tensor<4x2xf32>
  %rs = sp.reduce_scatter %x over @tp : tensor<4x2xf32> -> tensor<2x2xf32>
  %ag = sp.all_gather %x over @tp : tensor<4x2xf32> -> tensor<8x2xf32>
  %ag1 = sp.all_gather %x over @tp dim 1 : tensor<4x2xf32> -> tensor<4x4xf32>
  %sl = sp.all_slice %x over @tp : tensor<4x2xf32> -> tensor<2x2xf32>
  %rs1 = sp.reduce_scatter %x over @tp dim 1 : tensor<4x2xf32> -> tensor<4x1xf32>
  %mx = sp.all_reduce %x over @tp reduction max : tensor<4x2xf32>
  %avg = sp.all_reduce %x over @tp reduction avg : tensor<4x2xf32>
  %sl1 = sp.all_slice %x over @tp dim 1 : tensor<4x2xf32> -> tensor<4x1xf32>
  return %ar, %rs, %ag, %ag1, %sl, %rs1, %mx, %avg, %sl1 : tensor<4x2xf32>, tensor<2x2xf32>, tensor<8x2xf32>, tensor<4x4xf32>, tensor<2x2xf32>, tensor<4x1xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x1xf32>
}

// all_reduce == all_gather(reduce_scatter) bit for bit, in bf16 where the
// rounding of the rank-order f32 sum matters, along dim 0 and dim 1.
// BITWISE: output 0: tensor<8x16xbf16>
// BITWISE-NEXT: rank 0: fnv1a [[AR:0x[0-9a-f]+]]
// BITWISE-NEXT: rank 1: fnv1a [[AR]]
// BITWISE-NEXT: output 1: tensor<8x16xbf16>
// BITWISE-NEXT: rank 0: fnv1a [[AR]]
// BITWISE-NEXT: rank 1: fnv1a [[AR]]
// BITWISE-NEXT: output 2: tensor<8x16xbf16>
// BITWISE-NEXT: rank 0: fnv1a [[AR]]
// BITWISE-NEXT: rank 1: fnv1a [[AR]]
func.func @bitwise(%x: tensor<8x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %ar = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %rs = sp.reduce_scatter %x over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
  %ag = sp.all_gather %rs over @tp : tensor<4x16xbf16> -> tensor<8x16xbf16>
  %rs1 = sp.reduce_scatter %x over @tp dim 1 : tensor<8x16xbf16> -> tensor<8x8xbf16>
  %ag1 = sp.all_gather %rs1 over @tp dim 1 : tensor<8x8xbf16> -> tensor<8x16xbf16>
  return %ar, %ag, %ag1 : tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>
}

// Seeded inputs: a replicated argument holds the same values on every rank,
// a plain one differs per rank.
// RUN: sp-run %s --ranks=2 --entry=seeded | FileCheck %s --check-prefix=SEEDED
// SEEDED: output 0: tensor<4x8xbf16>
// SEEDED-NEXT: rank 0: fnv1a [[REP:0x[0-9a-f]+]]
// SEEDED-NEXT: rank 1: fnv1a [[REP]]
// SEEDED-NEXT: output 1: tensor<4x8xbf16>
// SEEDED-NEXT: rank 0: fnv1a [[MINE:0x[0-9a-f]+]]
// SEEDED-NOT: rank 1: fnv1a [[MINE]]
func.func @seeded(%r: tensor<4x8xbf16> {sp.replicated}, %p: tensor<4x8xbf16>) -> (tensor<4x8xbf16>, tensor<4x8xbf16>) {
  return %r, %p : tensor<4x8xbf16>, tensor<4x8xbf16>
}
