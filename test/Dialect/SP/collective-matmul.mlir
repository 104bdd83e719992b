// The collective matmul ops and the point-to-point ops: custom form, generic
// form, folds.
// RUN: sp-opt %s --split-input-file --verify-roundtrip | FileCheck %s
// RUN: sp-opt %s --split-input-file --mlir-print-op-generic | sp-opt --split-input-file | FileCheck %s
// RUN: sp-opt %s --split-input-file --canonicalize | FileCheck %s --check-prefix=FOLD

sp.group @tp size(4)

// CHECK-LABEL: func.func @all_gather_matmul
// CHECK: = sp.all_gather_matmul %{{.*}}, %{{.*}} over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>
// CHECK: = sp.all_gather_matmul %{{.*}}, %{{.*}} over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xf32>, tensor<64x32xbf16>
func.func @all_gather_matmul(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>)
    -> (tensor<64x8xbf16>, tensor<64x8xf32>, tensor<64x32xbf16>) {
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>
  %z, %g = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xf32>, tensor<64x32xbf16>
  return %y, %z, %g : tensor<64x8xbf16>, tensor<64x8xf32>, tensor<64x32xbf16>
}

// -----

sp.group @tp size(4)

// The FP8 form: per-tensor scales of lhs and rhs.
// CHECK-LABEL: func.func @scaled
// CHECK: sp.all_gather_matmul %{{.*}}, %{{.*}} scales(%{{.*}}, %{{.*}}) over @tp : tensor<16x32xf8E4M3FN>, tensor<32x8xf8E4M3FN> -> tensor<64x8xbf16>
// CHECK: sp.matmul_reduce_scatter %{{.*}}, %{{.*}} scales(%{{.*}}, %{{.*}}) over @tp : tensor<64x32xf8E4M3FNUZ>, tensor<32x8xf8E4M3FN> -> tensor<16x8xf16>
func.func @scaled(%x: tensor<16x32xf8E4M3FN>, %w: tensor<32x8xf8E4M3FN>, %h: tensor<64x32xf8E4M3FNUZ>,
                  %sx: tensor<f32>, %sw: tensor<f32>) -> (tensor<64x8xbf16>, tensor<16x8xf16>) {
  %y = sp.all_gather_matmul %x, %w scales(%sx, %sw) over @tp : tensor<16x32xf8E4M3FN>, tensor<32x8xf8E4M3FN> -> tensor<64x8xbf16>
  %z = sp.matmul_reduce_scatter %h, %w scales(%sx, %sw) over @tp : tensor<64x32xf8E4M3FNUZ>, tensor<32x8xf8E4M3FN> -> tensor<16x8xf16>
  return %y, %z : tensor<64x8xbf16>, tensor<16x8xf16>
}

// -----

sp.group @tp size(4)

// CHECK-LABEL: func.func @matmul_reduce_scatter
// CHECK: sp.matmul_reduce_scatter %{{.*}}, %{{.*}} over @tp : tensor<64x8xf32>, tensor<8x16xf32> -> tensor<16x16xf32>
// CHECK: sp.matmul_reduce_scatter %{{.*}}, %{{.*}} over @tp : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
func.func @matmul_reduce_scatter(%h: tensor<64x8xf32>, %d: tensor<?x8xf32>, %w: tensor<8x16xf32>)
    -> (tensor<16x16xf32>, tensor<?x16xf32>) {
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<64x8xf32>, tensor<8x16xf32> -> tensor<16x16xf32>
  %z = sp.matmul_reduce_scatter %d, %w over @tp reduction sum : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return %y, %z : tensor<16x16xf32>, tensor<?x16xf32>
}

// -----

sp.group @tp size(4)
sp.group @one size(1)

// CHECK-LABEL: func.func @point_to_point
// CHECK: %[[R:.*]] = sp.group_rank @tp
// CHECK: sp.ring_shift %{{.*}} over @tp by %[[R]] : tensor<16x32xbf16>
// FOLD-LABEL: func.func @point_to_point
// FOLD-DAG: %[[ZERO:.*]] = arith.constant 0 : index
// FOLD-DAG: %[[R:.*]] = sp.group_rank @tp
// FOLD: %[[S:.*]] = sp.ring_shift %[[X:.*]] over @tp by %[[R]]
// FOLD-NOT: sp.ring_shift
// FOLD-NOT: sp.group_rank @one
// FOLD: return %[[S]], %[[X]], %[[X]], %[[R]], %[[ZERO]]
func.func @point_to_point(%x: tensor<16x32xbf16>)
    -> (tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>, index, index) {
  %r = sp.group_rank @tp
  %c4 = arith.constant 4 : index
  %a = sp.ring_shift %x over @tp by %r : tensor<16x32xbf16>
  // A shift by a multiple of the group size, or in a group of one, is the
  // identity.
  %b = sp.ring_shift %x over @tp by %c4 : tensor<16x32xbf16>
  %c = sp.ring_shift %x over @one by %r : tensor<16x32xbf16>
  %o = sp.group_rank @one
  return %a, %b, %c, %r, %o : tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<16x32xbf16>, index, index
}

// -----

// The generic form outside tests use (no segment sizes: one variadic group).
// CHECK-LABEL: func.func @generic
// CHECK: sp.all_gather_matmul %{{.*}}, %{{.*}} over @tp : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<4x3xf32>
// CHECK: sp.matmul_reduce_scatter %{{.*}}, %{{.*}} over @tp : tensor<4x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
"sp.group"() {sym_name = "tp", size = 2 : i64} : () -> ()
func.func @generic(%x: tensor<2x4xf32>, %h: tensor<4x4xf32>, %w: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>) {
  %y = "sp.all_gather_matmul"(%x, %w) {group = @tp} : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %z = "sp.matmul_reduce_scatter"(%h, %w) {group = @tp} : (tensor<4x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  return %y, %z : tensor<4x3xf32>, tensor<2x3xf32>
}
