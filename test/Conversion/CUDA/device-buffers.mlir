// RUN: sp-opt %s --sp-cuda-device-buffers --split-input-file | FileCheck %s

// sp-cuda-device-buffers, on what bufferization leaves of
// sp-convert-to-cuda-runtime's calls: a buffer lives in device memory only
// when nothing but runtime calls (and its dealloc, memref.dim, views, or
// the return of a public function) touches it; everything a host loop
// touches stays in host memory.

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// CHECK-LABEL: func.func @chain(
// CHECK-SAME: %[[X:.*]]: memref<4x8xf32>, %[[W:.*]]: memref<8xf32>, %[[H:.*]]: memref<8xf32>)
// %x and %w only feed runtime calls: read on the device, once per call.
// CHECK: %[[XP:.*]] = memref.extract_aligned_pointer_as_index %[[X]]
// CHECK: %[[XI:.*]] = arith.index_cast %[[XP]] : index to i64
// CHECK: %[[XB:.*]] = arith.constant 128 : index
// CHECK: %[[XRAW:.*]] = call @sp_cuda_rt_argument_to_device(%[[XI]], %{{.*}}, %{{.*}}) : (i64, i64, !llvm.ptr) -> memref<?xi8>
// CHECK: %[[XD:.*]] = memref.view %[[XRAW]][%{{.*}}][] : memref<?xi8> to memref<4x8xf32>
// CHECK: %[[WRAW:.*]] = call @sp_cuda_rt_argument_to_device(
// CHECK: %[[WD:.*]] = memref.view %[[WRAW]]
// %h is read by a host loop: no device copy.
// CHECK-NOT: sp_cuda_rt_argument_to_device
// The first norm's output only feeds the second norm: device memory.
// CHECK: %[[ARAW:.*]] = call @sp_cuda_rt_device_alloc(%{{.*}}, %{{.*}}) : (i64, !llvm.ptr) -> memref<?xi8>
// CHECK: %[[A:.*]] = memref.view %[[ARAW]][%{{.*}}][] : memref<?xi8> to memref<4x8xf32>
// CHECK: memref.cast %[[XD]]
// CHECK: memref.cast %[[WD]]
// CHECK: call @sp_cuda_rt_rms_norm_f32(
// The second norm's output is returned: device memory, copied to a host
// buffer before the exit's synchronization.
// CHECK: %[[BRAW:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: call @sp_cuda_rt_rms_norm_f32(
// The third norm's output is read by a host loop: host memory (the runtime
// stages it).
// CHECK: %[[C:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: call @sp_cuda_rt_rms_norm_f32(
// CHECK: linalg.generic
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: %[[OP:.*]] = memref.extract_aligned_pointer_as_index %[[OUT]]
// CHECK: %[[OI:.*]] = arith.index_cast %[[OP]] : index to i64
// CHECK: call @sp_cuda_rt_result_to_host(%[[OI]], %[[BRAW]], %{{.*}}) : (i64, memref<?xi8>, !llvm.ptr) -> ()
// CHECK: call @sp_cuda_rt_device_free(%[[BRAW]], %{{.*}})
// CHECK: call @sp_cuda_rt_function_exit(
// CHECK: call @sp_cuda_rt_device_free(%[[ARAW]], %{{.*}})
// CHECK-NOT: memref.dealloc
// CHECK: call @sp_cuda_rt_argument_release(%{{.*}}, %[[WRAW]], %{{.*}})
// CHECK: call @sp_cuda_rt_argument_release(%[[XI]], %[[XRAW]], %{{.*}})
// CHECK: return %[[OUT]], %[[C]]
func.func @chain(%x: memref<4x8xf32>, %w: memref<8xf32>, %h: memref<8xf32>) -> (memref<4x8xf32>, memref<4x8xf32>) {
  %eps = arith.constant 1.0e-05 : f32
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %a = memref.alloc() : memref<4x8xf32>
  %xu = memref.cast %x : memref<4x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %au = memref.cast %a : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%au, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  %b = memref.alloc() : memref<4x8xf32>
  %bu = memref.cast %b : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%bu, %au, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  %c = memref.alloc() : memref<4x8xf32>
  %cu = memref.cast %c : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%cu, %au, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%h : memref<8xf32>) outs(%c : memref<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  }
  call @sp_cuda_rt_function_exit(%loc) : (!llvm.ptr) -> ()
  memref.dealloc %a : memref<4x8xf32>
  return %b, %c : memref<4x8xf32>, memref<4x8xf32>
}

// -----

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
func.func private @consume(memref<?x8xf32>)
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// Dynamic sizes: the byte count and the view take them.
// CHECK-LABEL: func.func @dynamic(
// CHECK-SAME: %[[X:.*]]: memref<?x8xf32>, %[[W:.*]]: memref<8xf32>)
// CHECK: %[[N:.*]] = memref.dim %[[X]], %{{.*}} : memref<?x8xf32>
// CHECK: %[[ROW:.*]] = arith.constant 32 : index
// CHECK: %[[XBYTES:.*]] = arith.muli %[[ROW]], %[[N]] : index
// CHECK: %[[XB:.*]] = arith.index_cast %[[XBYTES]] : index to i64
// CHECK: %[[XRAW:.*]] = call @sp_cuda_rt_argument_to_device(%{{.*}}, %[[XB]], %{{.*}})
// CHECK: memref.view %[[XRAW]][%{{.*}}][%[[N]]] : memref<?xi8> to memref<?x8xf32>
// CHECK: %[[M:.*]] = memref.dim
// CHECK: %[[BYTES:.*]] = arith.muli %{{.*}}, %[[M]] : index
// CHECK: %[[RAW:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: memref.view %[[RAW]][%{{.*}}][%[[M]]] : memref<?xi8> to memref<?x8xf32>
// A buffer passed to another function stays in host memory.
// CHECK: %[[HOST:.*]] = memref.alloc(%{{.*}}) : memref<?x8xf32>
// CHECK: call @consume(%[[HOST]])
func.func @dynamic(%x: memref<?x8xf32>, %w: memref<8xf32>) {
  %eps = arith.constant 1.0e-05 : f32
  %c0 = arith.constant 0 : index
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%n) : memref<?x8xf32>
  %xu = memref.cast %x : memref<?x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %au = memref.cast %a : memref<?x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%au, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  %b = memref.alloc(%n) : memref<?x8xf32>
  %bu = memref.cast %b : memref<?x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%bu, %au, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  call @consume(%b) : (memref<?x8xf32>) -> ()
  call @sp_cuda_rt_function_exit(%loc) : (!llvm.ptr) -> ()
  memref.dealloc %a : memref<?x8xf32>
  memref.dealloc %b : memref<?x8xf32>
  return
}

// -----

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// A private function whose caller reads its result on the host (a load):
// the result stays a host buffer, and so does the parameter the caller
// passes a host buffer for (%x: the caller's alloc that the host writes);
// only its own temporaries and %w (the caller's argument, only used on
// the device) are device memory.
// CHECK-LABEL: func.func private @layer(
// CHECK-NOT: sp_cuda_rt_argument_to_device
// CHECK: call @sp_cuda_rt_device_alloc(
// CHECK: %[[R:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK-NOT: sp_cuda_rt_result_to_host
// CHECK: return %[[R]]
func.func private @layer(%x: memref<4x8xf32>, %w: memref<8xf32>) -> memref<4x8xf32> {
  %eps = arith.constant 1.0e-05 : f32
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %a = memref.alloc() : memref<4x8xf32>
  %xu = memref.cast %x : memref<4x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %au = memref.cast %a : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%au, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  %b = memref.alloc() : memref<4x8xf32>
  %bu = memref.cast %b : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%bu, %au, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  memref.dealloc %a : memref<4x8xf32>
  return %b : memref<4x8xf32>
}
// CHECK-LABEL: func.func @caller(
// CHECK: call @sp_cuda_rt_argument_to_device(
// CHECK: memref.store
// CHECK: call @layer(
// CHECK: memref.load
func.func @caller(%w: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %x = memref.alloc() : memref<4x8xf32>
  memref.store %one, %x[%c0, %c0] : memref<4x8xf32>
  %y = call @layer(%x, %w) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %v = memref.load %y[%c0, %c0] : memref<4x8xf32>
  memref.dealloc %x : memref<4x8xf32>
  memref.dealloc %y : memref<4x8xf32>
  return %v : f32
}

// -----

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// A private layer function whose every caller keeps its buffers on the
// device (interprocedural): its parameters are the callers' device
// buffers (no copy), its result a device allocation the caller frees in
// stream order by address (sp_cuda_rt_device_free_pointer).
// CHECK-LABEL: func.func private @device_layer(
// CHECK-NOT: sp_cuda_rt_argument_to_device
// CHECK: %[[RAW:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: %[[R:.*]] = memref.view %[[RAW]]
// CHECK-NOT: memref.alloc
// CHECK: return %[[R]]
func.func private @device_layer(%x: memref<4x8xf32>, %w: memref<8xf32>) -> memref<4x8xf32> {
  %eps = arith.constant 1.0e-05 : f32
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %xu = memref.cast %x : memref<4x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %b = memref.alloc() : memref<4x8xf32>
  %bu = memref.cast %b : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%bu, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  return %b : memref<4x8xf32>
}
// CHECK-LABEL: func.func @two_layers(
// CHECK-COUNT-2: call @sp_cuda_rt_argument_to_device(
// CHECK: %[[Y:.*]] = call @device_layer(
// CHECK: %[[Z:.*]] = call @device_layer(%[[Y]],
// CHECK: call @sp_cuda_rt_result_to_host(
// CHECK: call @sp_cuda_rt_function_exit(
// CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[Y]]
// CHECK: %[[I:.*]] = arith.index_cast %[[P]] : index to i64
// CHECK: call @sp_cuda_rt_device_free_pointer(%[[I]],
func.func @two_layers(%x: memref<4x8xf32>, %w: memref<8xf32>) -> memref<4x8xf32> {
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %y = call @device_layer(%x, %w) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %z = call @device_layer(%y, %w) : (memref<4x8xf32>, memref<8xf32>) -> memref<4x8xf32>
  %r = memref.alloc() : memref<4x8xf32>
  %zu = memref.cast %z : memref<4x8xf32> to memref<*xf32>
  %ru = memref.cast %r : memref<4x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %eps = arith.constant 1.0e-05 : f32
  call @sp_cuda_rt_rms_norm_f32(%ru, %zu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  call @sp_cuda_rt_function_exit(%loc) : (!llvm.ptr) -> ()
  memref.dealloc %y : memref<4x8xf32>
  memref.dealloc %z : memref<4x8xf32>
  return %r : memref<4x8xf32>
}

// -----

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// A buffer returned twice (what canonicalization leaves of a gather over a
// group of one, found by sp-smith): one host copy for both results, the
// device buffer freed once.
// CHECK-LABEL: func.func @twice(
// CHECK: %[[RAW:.*]] = call @sp_cuda_rt_device_alloc(
// CHECK: %[[HOST:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: call @sp_cuda_rt_result_to_host(%{{.*}}, %[[RAW]], %{{.*}})
// CHECK-NOT: sp_cuda_rt_result_to_host
// CHECK: call @sp_cuda_rt_device_free(%[[RAW]], %{{.*}})
// CHECK-NOT: sp_cuda_rt_device_free
// CHECK: call @sp_cuda_rt_function_exit(
// CHECK-NOT: sp_cuda_rt_device_free(%[[RAW]]
// CHECK: return %[[HOST]], %[[HOST]]
func.func @twice(%x: memref<4x8xf32>, %w: memref<8xf32>) -> (memref<4x8xf32>, memref<4x8xf32>) {
  %eps = arith.constant 1.0e-05 : f32
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %a = memref.alloc() : memref<4x8xf32>
  %xu = memref.cast %x : memref<4x8xf32> to memref<*xf32>
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %au = memref.cast %a : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%au, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  call @sp_cuda_rt_function_exit(%loc) : (!llvm.ptr) -> ()
  %b = memref.alloc() : memref<4x8xf32>
  return %a, %a : memref<4x8xf32>, memref<4x8xf32>
}

// -----

func.func private @sp_cuda_rt_rms_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) attributes {llvm.emit_c_interface}
func.func private @sp_cuda_rt_function_exit(!llvm.ptr)
llvm.mlir.global internal constant @loc("sp.rms_norm at m.mlir:1:1\00") {addr_space = 0 : i32}

// A scan loop carrying a buffer that only runtime calls touch: the init,
// each iteration's fresh buffer and the loop's result are device memory;
// the previous iteration's buffer is freed by address in stream order.
// CHECK-LABEL: func.func @scan(
// CHECK: call @sp_cuda_rt_argument_to_device(
// CHECK: scf.for
// CHECK: call @sp_cuda_rt_device_alloc(
// CHECK: call @sp_cuda_rt_rms_norm_f32(
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: call @sp_cuda_rt_device_free_pointer(
// CHECK: scf.yield
// CHECK-NOT: memref.dealloc
// CHECK: call @sp_cuda_rt_result_to_host(
func.func @scan(%x: memref<4x8xf32>, %w: memref<8xf32>) -> memref<4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %eps = arith.constant 1.0e-05 : f32
  %loc = llvm.mlir.addressof @loc : !llvm.ptr
  %wu = memref.cast %w : memref<8xf32> to memref<*xf32>
  %init = memref.alloc() : memref<4x8xf32>
  %xu = memref.cast %x : memref<4x8xf32> to memref<*xf32>
  %iu = memref.cast %init : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%iu, %xu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  %last = scf.for %i = %c0 to %c3 step %c1 iter_args(%h = %init) -> (memref<4x8xf32>) {
    %next = memref.alloc() : memref<4x8xf32>
    %hu = memref.cast %h : memref<4x8xf32> to memref<*xf32>
    %nu = memref.cast %next : memref<4x8xf32> to memref<*xf32>
    func.call @sp_cuda_rt_rms_norm_f32(%nu, %hu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
    memref.dealloc %h : memref<4x8xf32>
    scf.yield %next : memref<4x8xf32>
  }
  %out = memref.alloc() : memref<4x8xf32>
  %lu = memref.cast %last : memref<4x8xf32> to memref<*xf32>
  %ou = memref.cast %out : memref<4x8xf32> to memref<*xf32>
  call @sp_cuda_rt_rms_norm_f32(%ou, %lu, %wu, %eps, %loc) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, f32, !llvm.ptr) -> ()
  call @sp_cuda_rt_function_exit(%loc) : (!llvm.ptr) -> ()
  memref.dealloc %last : memref<4x8xf32>
  return %out : memref<4x8xf32>
}
