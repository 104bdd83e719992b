// The collectives' bufferization needs the group descriptors that
// sp-prepare-cpu-runtime declares; without them it says so at the op.
// RUN: sp-opt %s --one-shot-bufferize="bufferize-function-boundaries" --verify-diagnostics -o /dev/null

sp.group @tp size(4) grid [2, 4] axes [1]
func.func private @sp_rt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32, memref<?xi64>) attributes {llvm.emit_c_interface}

func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @below {{'sp.all_reduce' op the descriptor of group @tp is not declared; run sp-prepare-cpu-runtime first}}
  // expected-error @below {{failed to bufferize op}}
  %0 = sp.all_reduce %x over @tp : tensor<8xf32>
  return %0 : tensor<8xf32>
}
