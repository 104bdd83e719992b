// carry=false keeps every loop and call boundary on full rows, as before
// #15: the scan's residual would be gathered at the yield, so the sites of
// the loop are left alone with their reasons.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism=carry=false --verify-diagnostics | FileCheck %s

sp.group @tp size(2)

// CHECK-LABEL: func.func @scan
// CHECK: sp.all_reduce
// CHECK: scf.for {{.*}} -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
// CHECK: sp.all_reduce
func.func @scan(%x: tensor<8x16xbf16>, %stack: tensor<3x16xbf16> {sp.replicated},
    %wl: tensor<16x16xbf16>, %wf: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{rewrote none of the 2 sp.all_reduce ops}}
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h, %res = scf.for %i = %c0 to %c3 step %c1 iter_args(%hi = %h0, %ri = %zero)
      -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
    %w = tensor.extract_slice %stack[%i, 0] [1, 16] [1, 1] : tensor<3x16xbf16> to tensor<16xbf16>
    %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
        outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
    // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
    %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
    scf.yield %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
  }
  %f, %fr = sp.fused_add_rms_norm %h, %res, %wf epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// CHECK-LABEL: func.func @calls
// CHECK-LABEL: func.func private @layer
// CHECK-SAME: -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
// CHECK: sp.all_reduce
func.func @calls(%x: tensor<8x16xbf16>, %w0: tensor<16xbf16> {sp.replicated},
    %wl0: tensor<16x16xbf16>, %w1: tensor<16xbf16> {sp.replicated},
    %wl1: tensor<16x16xbf16>) -> tensor<8x16xbf16> {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{rewrote none of the 2 sp.all_reduce ops}}
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h1, %r1 = func.call @layer(%h0, %zero, %w0, %wl0) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  %h2, %r2 = func.call @layer(%h1, %r1, %w1, %wl1) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  return %h2 : tensor<8x16xbf16>
}
func.func private @layer(%h: tensor<8x16xbf16>, %res: tensor<8x16xbf16>,
    %w: tensor<16xbf16>, %wl: tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %n, %r = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
      outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
  return %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
}
