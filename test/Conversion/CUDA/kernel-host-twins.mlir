// RUN: sp-opt %s --split-input-file --sp-gpu-kernel-host-twins --verify-diagnostics | FileCheck %s

// sp-gpu-kernel-host-twins: each kernel's body again as a host function
// (its arguments, then the grid's and the block's x, y, z sizes) run for
// every block and thread in turn, for runtimes without a GPU.

// CHECK-LABEL: gpu.module @m
// CHECK: gpu.func @k
// CHECK-LABEL: func.func @__sp_twin_m_k(
// CHECK-SAME: %[[N:.*]]: index, %[[OUT:.*]]: memref<?xf32>, %[[GX:.*]]: index, %[[GY:.*]]: index, %[[GZ:.*]]: index, %[[BX:.*]]: index, %[[BY:.*]]: index, %[[BZ:.*]]: index)
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[GZ]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[GY]]
// CHECK: scf.for %[[BIDX:.*]] = %{{.*}} to %[[GX]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[BZ]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[BY]]
// CHECK: scf.for %[[TIDX:.*]] = %{{.*}} to %[[BX]]
// CHECK: %[[ROW:.*]] = arith.muli %[[BIDX]], %[[BX]]
// CHECK: %[[I:.*]] = arith.addi %[[ROW]], %[[TIDX]]
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[I]]]
// CHECK-NOT: gpu.
// CHECK: return
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%n: index, %out: memref<?xf32>) kernel {
      %b = gpu.block_id x
      %t = gpu.thread_id x
      %d = gpu.block_dim x
      %row = arith.muli %b, %d : index
      %i = arith.addi %row, %t : index
      %in = arith.cmpi ult, %i, %n : index
      scf.if %in {
        %v = arith.index_cast %i : index to i32
        %f = arith.sitofp %v : i32 to f32
        memref.store %f, %out[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}

// -----

// Threads that synchronize cannot run one after another.
module attributes {gpu.container_module} {
  gpu.module @m {
    // expected-error @below {{synchronizes its threads}}
    gpu.func @k(%out: memref<?xf32>) kernel {
      gpu.barrier
      gpu.return
    }
  }
}

// -----

// Shared memory: no twin.
module attributes {gpu.container_module} {
  gpu.module @m {
    // expected-error @below {{has memory attributions or more than one block: no host twin}}
    gpu.func @k(%out: memref<?xf32>) workgroup(%tile: memref<32xf32, #gpu.address_space<workgroup>>) kernel {
      gpu.return
    }
  }
}

// -----

// Device functions that are not kernels get no twin.
// CHECK-LABEL: gpu.module @helpers
// CHECK-NOT: func.func @__sp_twin
module attributes {gpu.container_module} {
  gpu.module @helpers {
    gpu.func @helper(%x: f32) {
      gpu.return
    }
  }
}
