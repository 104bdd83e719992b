// Folders and canonicalization patterns of the sp ops.
// RUN: sp-opt %s --split-input-file --canonicalize | FileCheck %s

sp.group @tp size(4)
sp.group @dp size(4)

// all_slice(all_gather(x)) is rank r's own chunk: x.
// CHECK-LABEL: func.func @slice_of_gather
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>)
// CHECK-NEXT: return %[[X]]
func.func @slice_of_gather(%x: tensor<8x16xbf16>) -> tensor<8x16xbf16> {
  %0 = sp.all_gather %x over @tp : tensor<8x16xbf16> -> tensor<32x16xbf16>
  %1 = sp.all_slice %0 over @tp : tensor<32x16xbf16> -> tensor<8x16xbf16>
  return %1 : tensor<8x16xbf16>
}

// The gather stays for its other user; the slice still folds.
// CHECK-LABEL: func.func @slice_of_shared_gather
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>)
// CHECK: %[[G:.*]] = sp.all_gather %[[X]]
// CHECK-NOT: sp.all_slice
// CHECK: return %[[X]], %[[G]]
func.func @slice_of_shared_gather(%x: tensor<8x16xbf16>) -> (tensor<8x16xbf16>, tensor<32x16xbf16>) {
  %0 = sp.all_gather %x over @tp : tensor<8x16xbf16> -> tensor<32x16xbf16>
  %1 = sp.all_slice %0 over @tp : tensor<32x16xbf16> -> tensor<8x16xbf16>
  return %1, %0 : tensor<8x16xbf16>, tensor<32x16xbf16>
}

// Negative: gathered over another group.
// CHECK-LABEL: func.func @slice_of_gather_other_group
// CHECK: sp.all_gather
// CHECK: sp.all_slice
func.func @slice_of_gather_other_group(%x: tensor<8x16xbf16>) -> tensor<8x16xbf16> {
  %0 = sp.all_gather %x over @dp : tensor<8x16xbf16> -> tensor<32x16xbf16>
  %1 = sp.all_slice %0 over @tp : tensor<32x16xbf16> -> tensor<8x16xbf16>
  return %1 : tensor<8x16xbf16>
}

// Negative: gathered along dim 1, sliced along dim 0.
// CHECK-LABEL: func.func @slice_of_gather_other_dim
// CHECK: sp.all_gather
// CHECK: sp.all_slice
func.func @slice_of_gather_other_dim(%x: tensor<8x16xbf16>) -> tensor<2x64xbf16> {
  %0 = sp.all_gather %x over @tp dim 1 : tensor<8x16xbf16> -> tensor<8x64xbf16>
  %1 = sp.all_slice %0 over @tp : tensor<8x64xbf16> -> tensor<2x64xbf16>
  return %1 : tensor<2x64xbf16>
}

// Negative: the slice's type is less static than x's; folding would change
// the result type.
// CHECK-LABEL: func.func @slice_of_gather_type_mismatch
// CHECK: sp.all_slice
func.func @slice_of_gather_type_mismatch(%x: tensor<8x16xbf16>) -> tensor<?x16xbf16> {
  %0 = sp.all_gather %x over @tp : tensor<8x16xbf16> -> tensor<32x16xbf16>
  %1 = sp.all_slice %0 over @tp : tensor<32x16xbf16> -> tensor<?x16xbf16>
  return %1 : tensor<?x16xbf16>
}

// -----

sp.group @tp size(4)

// all_slice(all_reduce(x)) with no other user is a reduce_scatter.
// CHECK-LABEL: func.func @slice_of_all_reduce
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>)
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter %[[X]] over @tp reduction max : tensor<8x16xf32> -> tensor<2x16xf32>
// CHECK-NEXT: return %[[RS]]
func.func @slice_of_all_reduce(%x: tensor<8x16xf32>) -> tensor<2x16xf32> {
  %0 = sp.all_reduce %x over @tp reduction max : tensor<8x16xf32>
  %1 = sp.all_slice %0 over @tp : tensor<8x16xf32> -> tensor<2x16xf32>
  return %1 : tensor<2x16xf32>
}

// Along another dim too.
// CHECK-LABEL: func.func @slice_of_all_reduce_dim1
// CHECK-NEXT: sp.reduce_scatter %{{.*}} over @tp dim 1 : tensor<8x16xf32> -> tensor<8x4xf32>
func.func @slice_of_all_reduce_dim1(%x: tensor<8x16xf32>) -> tensor<8x4xf32> {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.all_slice %0 over @tp dim 1 : tensor<8x16xf32> -> tensor<8x4xf32>
  return %1 : tensor<8x4xf32>
}

// Negative: the all_reduce has another user, so a reduce_scatter would be
// extra traffic.
// CHECK-LABEL: func.func @slice_of_shared_all_reduce
// CHECK: sp.all_reduce
// CHECK: sp.all_slice
// CHECK-NOT: sp.reduce_scatter
func.func @slice_of_shared_all_reduce(%x: tensor<8x16xf32>) -> (tensor<2x16xf32>, tensor<8x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1 = sp.all_slice %0 over @tp : tensor<8x16xf32> -> tensor<2x16xf32>
  return %1, %0 : tensor<2x16xf32>, tensor<8x16xf32>
}

// -----

sp.group @tp size(4)
sp.group @other size(4)

// min/max of a value already identical on every rank is that value.
// CHECK-LABEL: func.func @idempotent_max
// CHECK-SAME: (%[[X:.*]]: tensor<8xf32>, %[[Y:.*]]: tensor<2xf32>)
// CHECK: %[[A:.*]] = sp.all_reduce %[[X]] over @tp reduction max
// CHECK: %[[G:.*]] = sp.all_gather %[[Y]] over @tp
// CHECK-NOT: sp.all_reduce
// CHECK: return %[[A]], %[[G]]
func.func @idempotent_max(%x: tensor<8xf32>, %y: tensor<2xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = sp.all_reduce %x over @tp reduction max : tensor<8xf32>
  %1 = sp.all_reduce %0 over @tp reduction max : tensor<8xf32>
  %2 = sp.all_gather %y over @tp : tensor<2xf32> -> tensor<8xf32>
  %3 = sp.all_reduce %2 over @tp reduction min : tensor<8xf32>
  return %1, %3 : tensor<8xf32>, tensor<8xf32>
}

// Negative: sum and avg of identical values are not identities (they scale
// and round); another group's result is not replicated over this one.
// CHECK-LABEL: func.func @not_idempotent
// CHECK-COUNT-4: sp.all_reduce
func.func @not_idempotent(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8xf32>
  %1 = sp.all_reduce %0 over @tp : tensor<8xf32>
  %2 = sp.all_reduce %x over @other reduction max : tensor<8xf32>
  %3 = sp.all_reduce %2 over @tp reduction max : tensor<8xf32>
  return %1, %3 : tensor<8xf32>, tensor<8xf32>
}

// -----

sp.group @one size(1)

// A group of one rank: every collective is the identity.
// CHECK-LABEL: func.func @single_rank
// CHECK-SAME: (%[[X:.*]]: tensor<8x16xbf16>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @single_rank(%x: tensor<8x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %0 = sp.all_reduce %x over @one reduction avg : tensor<8x16xbf16>
  %1 = sp.reduce_scatter %x over @one : tensor<8x16xbf16> -> tensor<8x16xbf16>
  %2 = sp.all_gather %x over @one : tensor<8x16xbf16> -> tensor<8x16xbf16>
  %3 = sp.all_slice %x over @one : tensor<8x16xbf16> -> tensor<8x16xbf16>
  return %0, %1, %2, %3 : tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>
}

// Negative: the result type differs from the input type (dynamic vs static).
// CHECK-LABEL: func.func @single_rank_type_change
// CHECK: sp.all_gather
func.func @single_rank_type_change(%x: tensor<8x16xbf16>) -> tensor<?x16xbf16> {
  %0 = sp.all_gather %x over @one : tensor<8x16xbf16> -> tensor<?x16xbf16>
  return %0 : tensor<?x16xbf16>
}
