// RUN: sp-opt %s --split-input-file --sp-gpu-launch-twins --verify-diagnostics | FileCheck %s

// sp-gpu-launch-twins: before each launch, the runtime hears of the
// launch's host twin (a packed wrapper reading the launch's argument
// pointers), the kinds of its arguments (bytes, plus 2^32 for pointers)
// and where it is.

// CHECK-LABEL: llvm.func @host(
// CHECK: %[[TWIN:.*]] = llvm.mlir.addressof @__sp_twin_m_k_packed
// CHECK: %[[KINDS:.*]] = llvm.mlir.addressof @__sp_twin_m_k_kinds
// CHECK: %[[COUNT:.*]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: %[[WHERE:.*]] = llvm.mlir.addressof @__sp_launch_location_0
// CHECK: llvm.call @sp_cuda_rt_kernel_twin(%[[TWIN]], %[[KINDS]], %[[COUNT]], %[[WHERE]])
// CHECK-NEXT: gpu.launch_func @m::@k
// CHECK: llvm.func @sp_cuda_rt_kernel_twin(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr)
// CHECK: llvm.mlir.global internal constant @__sp_twin_m_k_kinds(dense<[8, 4294967304, 4, 2]> : tensor<4xi64>)
// CHECK-LABEL: llvm.func @__sp_twin_m_k_packed(
// CHECK-SAME: %[[PARAMS:.*]]: !llvm.ptr, %[[DIMS:.*]]: !llvm.ptr)
// CHECK: %[[S0:.*]] = llvm.getelementptr %[[PARAMS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[P0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> i64
// CHECK: llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.load {{.*}} : !llvm.ptr -> f32
// CHECK: llvm.load {{.*}} : !llvm.ptr -> i16
// CHECK: llvm.getelementptr %[[DIMS]][5] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK: llvm.call @__sp_twin_m_k(%[[A0]],
// CHECK: llvm.mlir.global internal constant @__sp_launch_location_0("gpu.launch_func @m at {{.*}}launch-twins.mlir:[[#@LINE+8]]:5\00")
module attributes {gpu.container_module} {
  gpu.binary @m [#gpu.object<#nvvm.target, "not a cubin">]
  llvm.func @__sp_twin_m_k(%n: i64, %p: !llvm.ptr, %x: f32, %h: i16, %gx: i64, %gy: i64, %gz: i64, %bx: i64, %by: i64, %bz: i64) {
    llvm.return
  }
  llvm.func @host(%n: i64, %p: !llvm.ptr, %x: f32, %h: i16) {
    %one = llvm.mlir.constant(1 : i64) : i64
    gpu.launch_func @m::@k blocks in (%one, %one, %one) threads in (%one, %one, %one) : i64 args(%n : i64, %p : !llvm.ptr, %x : f32, %h : i16)
    llvm.return
  }
}

// -----

// A launch whose kernel has no twin: lowered some other way.
module attributes {gpu.container_module} {
  gpu.binary @m [#gpu.object<#nvvm.target, "not a cubin">]
  llvm.func @host(%n: i64) {
    %one = llvm.mlir.constant(1 : i64) : i64
    // expected-error @below {{has no host twin @__sp_twin_m_k}}
    gpu.launch_func @m::@k blocks in (%one, %one, %one) threads in (%one, %one, %one) : i64 args(%n : i64)
    llvm.return
  }
}

// -----

// A twin whose arguments do not match the launch's.
module attributes {gpu.container_module} {
  gpu.binary @m [#gpu.object<#nvvm.target, "not a cubin">]
  llvm.func @__sp_twin_m_k(%n: i32, %gx: i64, %gy: i64, %gz: i64, %bx: i64, %by: i64, %bz: i64) {
    llvm.return
  }
  llvm.func @host(%n: i64) {
    %one = llvm.mlir.constant(1 : i64) : i64
    // expected-error @below {{argument 0 of type 'i64' does not match its host twin's 'i32'}}
    gpu.launch_func @m::@k blocks in (%one, %one, %one) threads in (%one, %one, %one) : i64 args(%n : i64)
    llvm.return
  }
}
