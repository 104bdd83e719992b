// The CPU path of the point-to-point ops: sp.group_rank becomes the
// runtime's rank; sp.ring_shift is started at the op and waited for just
// before the first use of its result (sp-prepare-cpu-runtime declares, the
// bufferization model calls).
// RUN: sp-opt %s --split-input-file --sp-prepare-cpu-runtime --one-shot-bufferize="bufferize-function-boundaries allow-return-allocs-from-loops" | FileCheck %s

sp.group @tp size(4)

// CHECK-DAG: func.func private @sp_rt_ring_shift_start_bf16(memref<*xbf16>, memref<*xbf16>, i64, memref<?xi64>) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG: memref.global "private" constant @__sp_group_tp : memref<4xi64> = dense<[1, 4, 1, 0]>
// CHECK-DAG: func.func private @sp_rt_ring_shift_wait(i64)
// CHECK-DAG: func.func private @sp_rt_rank() -> i64
// CHECK-LABEL: func.func @shift
// CHECK: %[[RANK:.*]] = call @sp_rt_rank() : () -> i64
// CHECK: %[[R:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[OFF:.*]] = arith.index_cast %[[R]] : index to i64
// CHECK: %[[WORDS:.*]] = memref.get_global @__sp_group_tp : memref<4xi64>
// CHECK: %[[TP:.*]] = memref.cast %[[WORDS]] : memref<4xi64> to memref<?xi64>
// CHECK: %[[H:.*]] = call @sp_rt_ring_shift_start_bf16(%{{.*}}, %{{.*}}, %[[OFF]], %[[TP]])
// The work between the op and the first use overlaps with the transfer.
// CHECK: arith.addf
// CHECK: call @sp_rt_ring_shift_wait(%[[H]]) : (i64) -> ()
// CHECK-NEXT: linalg.map
func.func @shift(%x: tensor<16x8xbf16>, %a: tensor<16x8xf32>) -> (tensor<16x8xbf16>, tensor<16x8xf32>) {
  %r = sp.group_rank @tp
  %s = sp.ring_shift %x over @tp by %r : tensor<16x8xbf16>
  %ea = tensor.empty() : tensor<16x8xf32>
  %b = linalg.map { arith.addf } ins(%a, %a : tensor<16x8xf32>, tensor<16x8xf32>) outs(%ea : tensor<16x8xf32>)
  %e = tensor.empty() : tensor<16x8xbf16>
  %c = linalg.map { arith.negf } ins(%s : tensor<16x8xbf16>) outs(%e : tensor<16x8xbf16>)
  return %c, %b : tensor<16x8xbf16>, tensor<16x8xf32>
}

// -----

sp.group @tp size(2)

// A result used only inside a loop: the wait comes before the loop. A
// result nobody uses is still waited for, before the terminator.
// CHECK-LABEL: func.func @nested
// CHECK: %[[H1:.*]] = call @sp_rt_ring_shift_start_f32
// CHECK: %[[H2:.*]] = call @sp_rt_ring_shift_start_f32
// CHECK: call @sp_rt_ring_shift_wait(%[[H1]])
// CHECK-NEXT: scf.for
// CHECK: call @sp_rt_ring_shift_wait(%[[H2]])
// CHECK-NEXT: return
func.func @nested(%x: tensor<4xf32>, %o: index) -> tensor<4xf32> {
  %s = sp.ring_shift %x over @tp by %o : tensor<4xf32>
  %unused = sp.ring_shift %x over @tp by %o : tensor<4xf32>
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %x) -> tensor<4xf32> {
    %e = tensor.empty() : tensor<4xf32>
    %n = linalg.map { arith.addf } ins(%acc, %s : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>)
    scf.yield %n : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}
