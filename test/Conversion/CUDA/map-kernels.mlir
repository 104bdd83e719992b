// RUN: sp-opt %s --split-input-file --sp-cuda-map-kernels | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-cuda-map-kernels="remarks=true" --verify-diagnostics -o /dev/null

// sp-cuda-map-kernels: linalg ops and copies on buffers become loop nests;
// those whose buffers the GPU can address (only runtime calls and other
// kernels touch them) are tiled by 256 along the innermost dimension and
// mapped to blocks and threads, for convert-parallel-loops-to-gpu.

func.func private @sp_cuda_rt_use(memref<*xf32>) attributes {llvm.emit_c_interface}

// An elementwise op between an argument of a public function and a buffer
// a runtime call reads: one kernel, rows on block y, 256-column tiles on
// block x, a column per thread x (guarded: 300 is not a multiple of 256).
// CHECK-LABEL: func.func @elementwise
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.if
// CHECK: arith.addf
// CHECK: mapping = [#gpu.loop_dim_map<processor = sequential{{.*}}>, #gpu.loop_dim_map<processor = thread_x{{.*}}>]
// CHECK: mapping = [#gpu.loop_dim_map<processor = block_y{{.*}}>, #gpu.loop_dim_map<processor = block_x{{.*}}>]
// CHECK-NOT: linalg.
func.func @elementwise(%a: memref<4x300xf32>) {
  %b = memref.alloc() : memref<4x300xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%a : memref<4x300xf32>) outs(%b : memref<4x300xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  }
  %u = memref.cast %b : memref<4x300xf32> to memref<*xf32>
  call @sp_cuda_rt_use(%u) : (memref<*xf32>) -> ()
  memref.dealloc %b : memref<4x300xf32>
  return
}

// -----

func.func private @sp_cuda_rt_use(memref<*xf32>) attributes {llvm.emit_c_interface}

// A full reduction has no parallel dimension: one thread of one block.
// CHECK-LABEL: func.func @full_reduction
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: arith.addf
// CHECK: mapping = [#gpu.loop_dim_map<processor = thread_x{{.*}}>]
// CHECK: mapping = [#gpu.loop_dim_map<processor = block_x{{.*}}>]
func.func @full_reduction(%a: memref<64xf32>) {
  %b = memref.alloc() : memref<f32>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> ()>], iterator_types = ["reduction"]} ins(%a : memref<64xf32>) outs(%b : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  %u = memref.cast %b : memref<f32> to memref<*xf32>
  call @sp_cuda_rt_use(%u) : (memref<*xf32>) -> ()
  memref.dealloc %b : memref<f32>
  return
}

// -----

func.func private @sp_cuda_rt_use(memref<*xf32>) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)

// Bufferization's copy of a returned view comes after the exit
// synchronization: the synchronization moves to the return, so that the
// copy (now a kernel) runs before it.
// CHECK-LABEL: func.func @returned_copy
// CHECK: scf.parallel
// CHECK: memref.load
// CHECK: memref.store
// CHECK: mapping
// CHECK: call @sp_cuda_rt_function_exit
// CHECK-NEXT: return
func.func @returned_copy(%a: memref<8xf32>, %where: !llvm.ptr) -> memref<4xf32> {
  %b = memref.alloc() : memref<8xf32>
  %u = memref.cast %b : memref<8xf32> to memref<*xf32>
  call @sp_cuda_rt_use(%u) : (memref<*xf32>) -> ()
  %v = memref.subview %b[0] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1]>>
  call @sp_cuda_rt_function_exit(%where) : (!llvm.ptr) -> ()
  %r = memref.alloc() : memref<4xf32>
  memref.copy %v, %r : memref<4xf32, strided<[1]>> to memref<4xf32>
  memref.dealloc %b : memref<8xf32>
  return %r : memref<4xf32>
}

// -----

func.func private @sp_cuda_rt_use(memref<*xf32>) attributes {llvm.emit_c_interface}

// The host reads %b (memref.load at the top level): the loop that writes
// it stays on the host (no mapping), and says why with remarks=true.
// CHECK-LABEL: func.func @host_reader
// CHECK: scf.parallel
// CHECK-NOT: mapping
// CHECK: return
func.func @host_reader(%a: memref<16xf32>) -> f32 {
  %b = memref.alloc() : memref<16xf32>
  // expected-remark @below {{runs on the host: it touches a buffer the GPU cannot address (memref.alloc at}}
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%a : memref<16xf32>) outs(%b : memref<16xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.mulf %x, %x : f32
    linalg.yield %s : f32
  }
  %c0 = arith.constant 0 : index
  %first = memref.load %b[%c0] : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return %first : f32
}

// -----

// A private function's parameters are device memory only when every
// caller passes device memory: here the caller writes %a on the host, so
// the callee's loop over it stays on the host.
// CHECK-LABEL: func.func private @private_callee
// CHECK: scf.parallel
// CHECK-NOT: mapping
// CHECK: return
func.func private @private_callee(%a: memref<16xf32>, %b: memref<16xf32>) {
  // expected-remark @below {{runs on the host: it touches a buffer the GPU cannot address (argument 0)}}
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%a : memref<16xf32>) outs(%b : memref<16xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  return
}
func.func @host_caller(%b: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<16xf32>
  memref.store %one, %a[%c0] : memref<16xf32>
  call @private_callee(%a, %b) : (memref<16xf32>, memref<16xf32>) -> ()
  memref.dealloc %a : memref<16xf32>
  return
}

// -----

// When every caller passes device memory (here: the public function's
// arguments, only used on the device), the callee's loop is a kernel.
// CHECK-LABEL: func.func private @device_callee
// CHECK: mapping
// CHECK: return
func.func private @device_callee(%a: memref<16xf32>, %b: memref<16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%a : memref<16xf32>) outs(%b : memref<16xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  return
}
func.func @device_caller(%a: memref<16xf32>, %b: memref<16xf32>) {
  call @device_callee(%a, %b) : (memref<16xf32>, memref<16xf32>) -> ()
  call @device_callee(%b, %a) : (memref<16xf32>, memref<16xf32>) -> ()
  return
}

// -----

// A constant (memref.get_global) that only the device reads is copied to
// the device once per call (sp-cuda-device-buffers), so its reader is a
// kernel; a group descriptor never is (the runtime reads it on the host).
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func private @sp_cuda_rt_use(memref<*xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @constant_reader
// CHECK: mapping
// CHECK: return
func.func @constant_reader() {
  %t = memref.get_global @table : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%t : memref<4xf32>) outs(%b : memref<4xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  %u = memref.cast %b : memref<4xf32> to memref<*xf32>
  call @sp_cuda_rt_use(%u) : (memref<*xf32>) -> ()
  memref.dealloc %b : memref<4xf32>
  return
}
