// RUN: sp-opt %s --sp-import-shard -split-input-file --verify-diagnostics --verify-roundtrip | FileCheck %s

// What shard-partition emits for a row-parallel GEMM on a 1-D grid: the grid
// becomes the plain group of the same name and goes away.

// CHECK-NOT: shard.grid
// CHECK: sp.group @grid0 size(4)
// CHECK-NOT: shard.grid
// CHECK-LABEL: func.func @all_reduce_1d
// CHECK: %[[R:.*]] = sp.all_reduce %arg0 over @grid0 : tensor<32x64xf32>
// CHECK: return %[[R]]
shard.grid @grid0(shape = 4)
func.func @all_reduce_1d(%arg0: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %0 = shard.all_reduce %arg0 on @grid0 grid_axes = [0] : tensor<32x64xf32> -> tensor<32x64xf32>
  return %0 : tensor<32x64xf32>
}

// -----

// Reductions: sum, max, min, product, average map; bitwise and generic ones
// have no sp counterpart.

// The grid stays for the ops left alone, so the group is @g_axes_0.

// CHECK: sp.group @g_axes_0 size(2)
// CHECK-NEXT: shard.grid @g(shape = 2)
// CHECK-LABEL: func.func @reductions
// CHECK: sp.all_reduce %arg0 over @g_axes_0 : tensor<8xf32>
// CHECK: sp.all_reduce %arg0 over @g_axes_0 reduction max : tensor<8xf32>
// CHECK: sp.all_reduce %arg0 over @g_axes_0 reduction min : tensor<8xf32>
// CHECK: sp.all_reduce %arg0 over @g_axes_0 reduction prod : tensor<8xf32>
// CHECK: sp.reduce_scatter %arg0 over @g_axes_0 reduction avg : tensor<8xf32> -> tensor<4xf32>
// CHECK: shard.all_reduce %arg1 on @g grid_axes = [0] reduction = bitwise_and
// CHECK: shard.reduce_scatter %arg1 on @g grid_axes = [0] reduction = bitwise_xor
// CHECK: shard.all_reduce %arg0 on @g grid_axes = [0] reduction = generic
shard.grid @g(shape = 2)
func.func @reductions(%arg0: tensor<8xf32>, %arg1: tensor<8xi32>) {
  %0 = shard.all_reduce %arg0 on @g grid_axes = [0] reduction = sum : tensor<8xf32> -> tensor<8xf32>
  %1 = shard.all_reduce %arg0 on @g grid_axes = [0] reduction = max : tensor<8xf32> -> tensor<8xf32>
  %2 = shard.all_reduce %arg0 on @g grid_axes = [0] reduction = min : tensor<8xf32> -> tensor<8xf32>
  %3 = shard.all_reduce %arg0 on @g grid_axes = [0] reduction = product : tensor<8xf32> -> tensor<8xf32>
  %4 = shard.reduce_scatter %arg0 on @g grid_axes = [0] reduction = average scatter_axis = 0 : tensor<8xf32> -> tensor<4xf32>
  // expected-remark @below {{'shard.all_reduce' left alone: reduction bitwise_and has no sp equivalent (sp reduces with sum, prod, min, max, avg)}}
  %5 = shard.all_reduce %arg1 on @g grid_axes = [0] reduction = bitwise_and : tensor<8xi32> -> tensor<8xi32>
  // expected-remark @below {{'shard.reduce_scatter' left alone: reduction bitwise_xor has no sp equivalent}}
  %6 = shard.reduce_scatter %arg1 on @g grid_axes = [0] reduction = bitwise_xor scatter_axis = 0 : tensor<8xi32> -> tensor<4xi32>
  // expected-remark @below {{'shard.all_reduce' left alone: reduction generic has no sp equivalent}}
  %7 = shard.all_reduce %arg0 on @g grid_axes = [0] reduction = generic : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

// The axes of the tensor: scatter_axis, gather_axis and slice_axis are dim.

// CHECK-LABEL: func.func @dims
// CHECK: sp.reduce_scatter %arg0 over @grid dim 1 : tensor<8x16xf32> -> tensor<8x4xf32>
// CHECK: sp.all_gather %arg0 over @grid dim 1 : tensor<8x16xf32> -> tensor<8x64xf32>
// CHECK: sp.all_slice %arg0 over @grid : tensor<8x16xf32> -> tensor<2x16xf32>
// CHECK: sp.all_gather %arg0 over @grid : tensor<8x16xf32> -> tensor<32x16xf32>
shard.grid @grid(shape = 4)
func.func @dims(%arg0: tensor<8x16xf32>) {
  %0 = shard.reduce_scatter %arg0 on @grid grid_axes = [0] scatter_axis = 1 : tensor<8x16xf32> -> tensor<8x4xf32>
  %1 = shard.all_gather %arg0 on @grid grid_axes = [0] gather_axis = 1 : tensor<8x16xf32> -> tensor<8x64xf32>
  %2 = shard.all_slice %arg0 on @grid grid_axes = [0] slice_axis = 0 : tensor<8x16xf32> -> tensor<2x16xf32>
  %3 = shard.all_gather %arg0 on @grid grid_axes = [0] gather_axis = 0 : tensor<8x16xf32> -> tensor<32x16xf32>
  return
}

// -----

// A 2-D grid (DP 2 x TP 4): one group per grid_axes, with the grid's shape
// and the axes in the op's order, created where the grid was.

// CHECK-NOT: shard.grid
// CHECK: sp.group @mesh_axes_1 size(4) grid [2, 4] axes [1]
// CHECK-NEXT: sp.group @mesh_axes_0 size(2) grid [2, 4] axes [0]
// CHECK-NEXT: sp.group @mesh_axes_1_0 size(8) grid [2, 4] axes [1, 0]
// CHECK-NOT: shard.grid
// CHECK-LABEL: func.func @grid_2d
// CHECK: sp.all_reduce %arg0 over @mesh_axes_1 : tensor<16x64xf32>
// CHECK: sp.reduce_scatter %arg0 over @mesh_axes_0 : tensor<16x64xf32> -> tensor<8x64xf32>
// CHECK: sp.all_gather %arg0 over @mesh_axes_1_0 : tensor<16x64xf32> -> tensor<128x64xf32>
// CHECK: sp.all_slice %arg0 over @mesh_axes_1 dim 1 : tensor<16x64xf32> -> tensor<16x16xf32>
shard.grid @mesh(shape = 2x4)
func.func @grid_2d(%arg0: tensor<16x64xf32>) {
  %0 = shard.all_reduce %arg0 on @mesh grid_axes = [1] : tensor<16x64xf32> -> tensor<16x64xf32>
  %1 = shard.reduce_scatter %arg0 on @mesh grid_axes = [0] scatter_axis = 0 : tensor<16x64xf32> -> tensor<8x64xf32>
  %2 = shard.all_gather %arg0 on @mesh grid_axes = [1, 0] gather_axis = 0 : tensor<16x64xf32> -> tensor<128x64xf32>
  %3 = shard.all_slice %arg0 on @mesh grid_axes = [1] slice_axis = 1 : tensor<16x64xf32> -> tensor<16x16xf32>
  return
}

// -----

// Empty grid_axes: every rank is its own group, the op is the identity.

// CHECK-NOT: sp.group
// CHECK-NOT: shard.grid
// CHECK-LABEL: func.func @no_axes
// CHECK-NEXT: return %arg0 : tensor<8xf32>
shard.grid @grid(shape = 4)
func.func @no_axes(%arg0: tensor<8xf32>) -> tensor<8xf32> {
  %0 = shard.all_reduce %arg0 on @grid : tensor<8xf32> -> tensor<8xf32>
  %1 = shard.all_gather %0 on @grid gather_axis = 0 : tensor<8xf32> -> tensor<8xf32>
  %2 = shard.reduce_scatter %1 on @grid scatter_axis = 0 : tensor<8xf32> -> tensor<8xf32>
  %3 = shard.all_slice %2 on @grid slice_axis = 0 : tensor<8xf32> -> tensor<8xf32>
  return %3 : tensor<8xf32>
}

// -----

// A dynamic extent has no sp.group; the grid stays for the op left alone.

// CHECK: shard.grid @dyn(shape = 2x?)
// CHECK-NOT: sp.group
// CHECK-LABEL: func.func @dynamic_grid
// CHECK: shard.all_reduce %arg0 on @dyn grid_axes = [0]
// CHECK-NEXT: return %arg0
shard.grid @dyn(shape = 2x?)
func.func @dynamic_grid(%arg0: tensor<8xf32>) -> tensor<8xf32> {
  // expected-remark @below {{'shard.all_reduce' left alone: grid @dyn has a dynamic extent (shape = 2x?); sp groups have static sizes}}
  %0 = shard.all_reduce %arg0 on @dyn grid_axes = [0] : tensor<8xf32> -> tensor<8xf32>
  // Still the identity.
  %1 = shard.all_reduce %arg0 on @dyn : tensor<8xf32> -> tensor<8xf32>
  return %1 : tensor<8xf32>
}

// -----

// Ops left alone keep their grid; the plain group then cannot take the
// grid's name.

// CHECK: sp.group @grid_axes_0 size(4)
// CHECK-NEXT: shard.grid @grid(shape = 4)
// CHECK-LABEL: func.func @left_alone
// CHECK: shard.all_reduce %arg0 on @grid grid_axes = [0] : tensor<8xf32> -> tensor<8xf64>
// CHECK: shard.all_to_all %arg1 on @grid grid_axes = [0] split_axis = 1 concat_axis = 0
// CHECK: shard.all_reduce %arg2 on @grid grid_axes = [0] : memref<8xf32> -> memref<8xf32>
// CHECK: sp.all_reduce %arg0 over @grid_axes_0 : tensor<8xf32>
shard.grid @grid(shape = 4)
func.func @left_alone(%arg0: tensor<8xf32>, %arg1: tensor<8x16xf32>, %arg2: memref<8xf32>) {
  // expected-remark @below {{'shard.all_reduce' left alone: it accumulates in 'tensor<8xf64>' while its input is 'tensor<8xf32>'; sp.all_reduce keeps its input's type}}
  %0 = shard.all_reduce %arg0 on @grid grid_axes = [0] : tensor<8xf32> -> tensor<8xf64>
  // expected-remark @below {{'shard.all_to_all' left alone: sp has no equivalent collective}}
  %1 = shard.all_to_all %arg1 on @grid grid_axes = [0] split_axis = 1 concat_axis = 0 : tensor<8x16xf32> -> tensor<32x4xf32>
  // expected-remark @below {{'shard.all_reduce' left alone: sp collectives take ranked tensors, not 'memref<8xf32>'}}
  %2 = shard.all_reduce %arg2 on @grid grid_axes = [0] : memref<8xf32> -> memref<8xf32>
  %3 = shard.all_reduce %arg0 on @grid grid_axes = [0] : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

// The coordinate along one grid axis is that axis' group rank.

// CHECK: sp.group @grid size(4)
// CHECK-NEXT: sp.group @mesh_axes_1 size(4) grid [2, 4] axes [1]
// CHECK-NEXT: shard.grid @mesh(shape = 2x4)
// CHECK-LABEL: func.func @rank
// CHECK: %[[R0:.*]] = sp.group_rank @grid
// CHECK: %[[R1:.*]] = sp.group_rank @grid
// CHECK: %[[R2:.*]] = sp.group_rank @mesh_axes_1
// CHECK: shard.process_multi_index on @mesh : index, index
// CHECK: return %[[R0]], %[[R1]], %[[R2]]
shard.grid @grid(shape = 4)
shard.grid @mesh(shape = 2x4)
func.func @rank() -> (index, index, index) {
  %0 = shard.process_multi_index on @grid axes = [0] : index
  %1 = shard.process_multi_index on @grid : index
  %2 = shard.process_multi_index on @mesh axes = [1] : index
  // expected-remark @below {{'shard.process_multi_index' left alone: it returns 2 coordinates, and sp.group_rank one group's index}}
  %3:2 = shard.process_multi_index on @mesh : index, index
  return %0, %1, %2 : index, index, index
}

// -----

// Arguments annotated as replicated on every device become sp.replicated;
// the annotations stay. Split shardings, offsets and annotations for the
// users do not count.

// CHECK: shard.grid @grid(shape = 4)
// CHECK-LABEL: func.func @replicated
// CHECK-SAME: (%arg0: tensor<8x16xf32> {sp.replicated}, %arg1: tensor<8x16xf32>, %arg2: tensor<8x16xf32>, %arg3: tensor<16xf32> {sp.replicated}, %arg4: tensor<16xf32>)
// CHECK: shard.sharding @grid split_axes = {{\[\[\]\]}}
// CHECK: shard.shard %arg0 to
// CHECK: shard.shard %arg4 to
shard.grid @grid(shape = 4)
func.func @replicated(%arg0: tensor<8x16xf32>, %arg1: tensor<8x16xf32>, %arg2: tensor<8x16xf32>,
                      %arg3: tensor<16xf32> {sp.replicated}, %arg4: tensor<16xf32>) {
  %rep = shard.sharding @grid split_axes = [[]] : !shard.sharding
  %rep2 = shard.sharding @grid split_axes = [[], []] : !shard.sharding
  %split = shard.sharding @grid split_axes = [[0]] : !shard.sharding
  %offsets = shard.sharding @grid split_axes = [[]] sharded_dims_offsets = [0, 16] : !shard.sharding
  %0 = shard.shard %arg0 to %rep2 : tensor<8x16xf32>
  %1 = shard.shard %arg1 to %split : tensor<8x16xf32>
  %2 = shard.shard %arg2 to %rep annotate_for_users : tensor<8x16xf32>
  %3 = shard.shard %arg4 to %offsets : tensor<16xf32>
  return
}

// -----

// Group names that clash with other symbols get SymbolTable's numeric
// suffix (here _0: the group still spans axis 1 only).

// CHECK: sp.group @mesh_axes_1_0 size(4) grid [2, 4] axes [1]
// CHECK-LABEL: func.func @mesh_axes_1
// CHECK: sp.all_reduce %arg0 over @mesh_axes_1_0 : tensor<8xf32>
shard.grid @mesh(shape = 2x4)
func.func @mesh_axes_1(%arg0: tensor<8xf32>) {
  %0 = shard.all_reduce %arg0 on @mesh grid_axes = [1] : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

// Nothing to import: the module is left as it is, unused grids included.

// CHECK: shard.grid @unused(shape = 4)
// CHECK-LABEL: func.func @nothing
shard.grid @unused(shape = 4)
func.func @nothing(%arg0: tensor<8xf32>) -> tensor<8xf32> {
  return %arg0 : tensor<8xf32>
}

// -----

// A group an earlier import made is reused, not duplicated.

// CHECK: sp.group @mesh_axes_1 size(4) grid [2, 4] axes [1]
// CHECK-NEXT: sp.group @mesh_axes_0 size(2) grid [2, 4] axes [0]
// CHECK-NOT: sp.group
// CHECK-LABEL: func.func @partly_imported
// CHECK: sp.all_reduce %arg0 over @mesh_axes_1 : tensor<8xf32>
// CHECK: sp.all_reduce %arg0 over @mesh_axes_1 : tensor<8xf32>
// CHECK: sp.all_reduce %arg0 over @mesh_axes_0 : tensor<8xf32>
sp.group @mesh_axes_1 size(4) grid [2, 4] axes [1]
shard.grid @mesh(shape = 2x4)
func.func @partly_imported(%arg0: tensor<8xf32>) {
  %0 = sp.all_reduce %arg0 over @mesh_axes_1 : tensor<8xf32>
  %1 = shard.all_reduce %arg0 on @mesh grid_axes = [1] : tensor<8xf32> -> tensor<8xf32>
  %2 = shard.all_reduce %arg0 on @mesh grid_axes = [0] : tensor<8xf32> -> tensor<8xf32>
  return
}
