// RUN: sp-opt %s --sp-export-shard -split-input-file --verify-diagnostics --verify-roundtrip | FileCheck %s

// A plain group is a 1-D grid of its name, spanned by axis 0; the group goes
// away, norms and sp.replicated stay.

// CHECK-NOT: sp.group
// CHECK: shard.grid @tp(shape = 4)
// CHECK-NOT: sp.group
// CHECK-LABEL: func.func @layer
// CHECK-SAME: %arg1: tensor<64xbf16> {sp.replicated}
// CHECK: %[[R:.*]] = shard.all_reduce %arg0 on @tp grid_axes = [0] : tensor<128x64xbf16> -> tensor<128x64xbf16>
// CHECK: sp.rms_norm %[[R]], %arg1
sp.group @tp size(4)
func.func @layer(%x: tensor<128x64xbf16>, %w: tensor<64xbf16> {sp.replicated}) -> tensor<128x64xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<128x64xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<128x64xbf16>, tensor<64xbf16>
  return %1 : tensor<128x64xbf16>
}

// -----

// Reductions and dims.

// CHECK-LABEL: func.func @collectives
// CHECK: shard.all_reduce %arg0 on @tp grid_axes = [0] reduction = product : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK: shard.all_reduce %arg0 on @tp grid_axes = [0] reduction = average : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK: shard.all_reduce %arg0 on @tp grid_axes = [0] reduction = min : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK: shard.reduce_scatter %arg0 on @tp grid_axes = [0] reduction = max scatter_axis = 1 : tensor<8x16xf32> -> tensor<8x4xf32>
// CHECK: shard.reduce_scatter %arg0 on @tp grid_axes = [0] scatter_axis = 0 : tensor<8x16xf32> -> tensor<2x16xf32>
// CHECK: shard.all_gather %arg0 on @tp grid_axes = [0] gather_axis = 1 : tensor<8x16xf32> -> tensor<8x64xf32>
// CHECK: shard.all_slice %arg0 on @tp grid_axes = [0] slice_axis = 0 : tensor<8x16xf32> -> tensor<2x16xf32>
sp.group @tp size(4)
func.func @collectives(%arg0: tensor<8x16xf32>) {
  %0 = sp.all_reduce %arg0 over @tp reduction prod : tensor<8x16xf32>
  %1 = sp.all_reduce %arg0 over @tp reduction avg : tensor<8x16xf32>
  %2 = sp.all_reduce %arg0 over @tp reduction min : tensor<8x16xf32>
  %3 = sp.reduce_scatter %arg0 over @tp dim 1 reduction max : tensor<8x16xf32> -> tensor<8x4xf32>
  %4 = sp.reduce_scatter %arg0 over @tp : tensor<8x16xf32> -> tensor<2x16xf32>
  %5 = sp.all_gather %arg0 over @tp dim 1 : tensor<8x16xf32> -> tensor<8x64xf32>
  %6 = sp.all_slice %arg0 over @tp : tensor<8x16xf32> -> tensor<2x16xf32>
  return
}

// -----

// Groups with the same layout share one grid, named after the first group
// (@<group>_grid); grid_axes are the groups' axes in order.

// CHECK-NOT: sp.group
// CHECK: shard.grid @tp_grid(shape = 2x4)
// CHECK-NOT: shard.grid
// CHECK-NOT: sp.group
// CHECK-LABEL: func.func @layout
// CHECK: shard.all_reduce %arg0 on @tp_grid grid_axes = [1] : tensor<16x64xf32> -> tensor<16x64xf32>
// CHECK: shard.reduce_scatter %arg0 on @tp_grid grid_axes = [0] scatter_axis = 0 : tensor<16x64xf32> -> tensor<8x64xf32>
// CHECK: shard.all_gather %arg0 on @tp_grid grid_axes = [1, 0] gather_axis = 0 : tensor<16x64xf32> -> tensor<128x64xf32>
sp.group @tp size(4) grid [2, 4] axes [1]
sp.group @dp size(2) grid [2, 4] axes [0]
sp.group @all size(8) grid [2, 4] axes [1, 0]
func.func @layout(%arg0: tensor<16x64xf32>) {
  %0 = sp.all_reduce %arg0 over @tp : tensor<16x64xf32>
  %1 = sp.reduce_scatter %arg0 over @dp : tensor<16x64xf32> -> tensor<8x64xf32>
  %2 = sp.all_gather %arg0 over @all : tensor<16x64xf32> -> tensor<128x64xf32>
  return
}

// -----

// The import's names (@<grid>_axes_<a>_...) give the grid its name back; an
// existing grid of that name and shape is reused.

// CHECK: shard.grid @mesh(shape = 2x4)
// CHECK-NEXT: shard.grid @other(shape = 4)
// CHECK-NEXT: func.func @import_names
// CHECK: shard.all_reduce %arg0 on @mesh grid_axes = [1]
// CHECK: shard.all_reduce %arg0 on @mesh grid_axes = [0]
// CHECK: shard.all_reduce %arg0 on @other grid_axes = [0]
// CHECK: shard.sharding @other
sp.group @mesh_axes_1 size(4) grid [2, 4] axes [1]
sp.group @mesh_axes_0 size(2) grid [2, 4] axes [0]
sp.group @other_axes_0 size(4)
shard.grid @other(shape = 4)
func.func @import_names(%arg0: tensor<16xf32>) {
  %0 = sp.all_reduce %arg0 over @mesh_axes_1 : tensor<16xf32>
  %1 = sp.all_reduce %arg0 over @mesh_axes_0 : tensor<16xf32>
  %2 = sp.all_reduce %arg0 over @other_axes_0 : tensor<16xf32>
  %s = shard.sharding @other split_axes = [[]] : !shard.sharding
  return
}

// -----

// The group rank: the coordinate along a single axis, or the coordinates
// linearized in the order of the group's axes (last fastest).

// CHECK: shard.grid @tp(shape = 4)
// CHECK-NEXT: shard.grid @all_grid(shape = 2x4)
// CHECK-LABEL: func.func @rank
// CHECK: %[[R:.*]] = shard.process_multi_index on @tp axes = [0] : index
// CHECK: %[[C:.*]]:2 = shard.process_multi_index on @all_grid axes = [1, 0] : index, index
// CHECK: %[[TWO:.*]] = arith.constant 2 : index
// CHECK: %[[M:.*]] = arith.muli %[[C]]#0, %[[TWO]] : index
// CHECK: %[[L:.*]] = arith.addi %[[M]], %[[C]]#1 : index
// CHECK: return %[[R]], %[[L]]
sp.group @tp size(4)
sp.group @all size(8) grid [2, 4] axes [1, 0]
func.func @rank() -> (index, index) {
  %0 = sp.group_rank @tp
  %1 = sp.group_rank @all
  return %0, %1 : index, index
}

// -----

// Unused groups go away; a module without collectives is otherwise left as
// it is.

// CHECK-NOT: sp.group
// CHECK-NOT: shard.grid
// CHECK-LABEL: func.func @unused
// CHECK: sp.quant
sp.group @tp size(4)
func.func @unused(%x: tensor<8x16xbf16>, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %0 = sp.quant %x, %s : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
  return %0 : tensor<8x16xf8E4M3FN>
}

// -----

// Ops without a shard equivalent are errors, reported before anything
// changes.

sp.group @tp size(4)
func.func @fused(%x: tensor<32x64xbf16>, %w: tensor<64x16xbf16>, %h: tensor<128x64xbf16>, %off: index) {
  // expected-error @below {{'sp.all_gather_matmul' op has no shard equivalent; run sp-decompose-to-linalg first, which expands it into its collective and linalg.matmul}}
  %0 = sp.all_gather_matmul %x, %w over @tp : tensor<32x64xbf16>, tensor<64x16xbf16> -> tensor<128x16xbf16>
  // expected-error @below {{'sp.matmul_reduce_scatter' op has no shard equivalent; run sp-decompose-to-linalg first}}
  %1 = sp.matmul_reduce_scatter %h, %w over @tp : tensor<128x64xbf16>, tensor<64x16xbf16> -> tensor<32x16xbf16>
  // expected-error @below {{'sp.ring_shift' op has no shard equivalent; export before sp-decompose-collective-matmul}}
  %2 = sp.ring_shift %x over @tp by %off : tensor<32x64xbf16>
  %3 = sp.all_reduce %x over @tp : tensor<32x64xbf16>
  return
}

// -----

// A layout group spanning no axes has one rank: its collectives have empty
// grid_axes (the identity in shard too) and its rank is 0.

// CHECK: shard.grid @one_grid(shape = 2x4)
// CHECK-LABEL: func.func @no_axes
// CHECK: shard.all_reduce %arg0 on @one_grid : tensor<8xf32> -> tensor<8xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: return %{{.*}}, %[[ZERO]]
sp.group @one size(1) grid [2, 4] axes []
func.func @no_axes(%arg0: tensor<8xf32>) -> (tensor<8xf32>, index) {
  %0 = sp.all_reduce %arg0 over @one : tensor<8xf32>
  %1 = sp.group_rank @one
  return %0, %1 : tensor<8xf32>, index
}
