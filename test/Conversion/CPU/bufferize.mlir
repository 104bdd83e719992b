// The collectives' BufferizableOpInterface models: one-shot bufferization
// turns them into runtime calls on contiguous buffers.
// RUN: sp-opt %s --sp-prepare-cpu-runtime --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s

sp.group @tp size(4)

// The group's descriptor (sp/Runtime/RuntimeABI.h): a group of every one of
// 4 ranks is the grid [4] spanned along axis 0.
// CHECK: memref.global "private" constant @__sp_group_tp : memref<4xi64> = dense<[1, 4, 1, 0]>
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[X:.*]]: memref<8x16xbf16>, %[[Y:.*]]: memref<?x16xf32>)
// CHECK: %[[OUT:.*]] = memref.alloc() {{.*}}: memref<8x16xbf16>
// CHECK: %[[IN_U:.*]] = memref.cast %[[X]] : memref<8x16xbf16> to memref<*xbf16>
// CHECK: %[[OUT_U:.*]] = memref.cast %[[OUT]] : memref<8x16xbf16> to memref<*xbf16>
// CHECK: %[[SUM:.*]] = arith.constant 0 : i32
// CHECK: %[[WORDS:.*]] = memref.get_global @__sp_group_tp : memref<4xi64>
// CHECK: %[[TP:.*]] = memref.cast %[[WORDS]] : memref<4xi64> to memref<?xi64>
// CHECK: call @sp_rt_all_reduce_bf16(%[[IN_U]], %[[OUT_U]], %[[SUM]], %[[TP]])
// A dynamic row count: the output's is the input's / 4.
// CHECK: %[[D:.*]] = memref.dim %[[Y]], %c0
// CHECK: %[[ROWS:.*]] = arith.divui %[[D]], %c4
// CHECK: memref.alloc(%[[ROWS]]) {{.*}}: memref<?x16xf32>
// CHECK: call @sp_rt_reduce_scatter_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf32>, memref<*xf32>, i32, memref<?xi64>, i64) -> ()
func.func @f(%x: tensor<8x16xbf16>, %y: tensor<?x16xf32>) -> (tensor<8x16xbf16>, tensor<?x16xf32>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1 = sp.reduce_scatter %y over @tp : tensor<?x16xf32> -> tensor<?x16xf32>
  return %0, %1 : tensor<8x16xbf16>, tensor<?x16xf32>
}
