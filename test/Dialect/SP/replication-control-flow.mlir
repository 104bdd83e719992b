// The replication analysis through scf regions and calls, as the
// sequence-parallel rewrite sees it: a norm weight sliced from a replicated
// stack at a loop's induction variable, or passed to a private function by
// callers that all pass replicated values, is replicated, so the site is
// rewritten. The traps (a weight that differs by rank on one path, or that
// the loop updates from a per-rank value) are left alone with a remark.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s

sp.group @tp size(2)

// CHECK-LABEL: func.func @weight_sliced_at_the_induction_variable
// CHECK: scf.for %[[I:.*]] = {{.*}} iter_args(%[[H:.*]] = {{.*}}) -> (tensor<8x16xbf16>)
// CHECK-NEXT: %[[W:.*]] = tensor.extract_slice %{{.*}}[%[[I]], 0] [1, 16] [1, 1]
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[H]], %[[H]]
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter %[[P]] over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK-NEXT: %[[N:.*]] = sp.rms_norm %[[RS]], %[[W]] {{.*}} : tensor<4x16xbf16>, tensor<16xbf16>
// CHECK-NEXT: %[[G:.*]] = sp.all_gather %[[N]] over @tp : tensor<4x16xbf16> -> tensor<8x16xbf16>
// CHECK-NEXT: scf.yield %[[G]]
func.func @weight_sliced_at_the_induction_variable(
    %h0: tensor<8x16xbf16> {sp.replicated},
    %stack: tensor<3x16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  // The iter_arg stays on full rows: on local rows, the loop would gather
  // the squares before the all_reduce and the result after the loop.
  // expected-remark-re @below {{iter_arg #0 of 'scf.for' at {{.*}} kept on full rows: carrying it on local rows, the site at {{.*}} would add 128 bytes per rank (the result of 'arith.mulf' at {{.*}} feeds 'sp.all_reduce' at {{.*}}; the result of 'scf.for' at {{.*}} feeds 'func.return'}}
  %out = scf.for %i = %c0 to %c3 step %c1 iter_args(%h = %h0) -> (tensor<8x16xbf16>) {
    %w = tensor.extract_slice %stack[%i, 0] [1, 16] [1, 1] : tensor<3x16xbf16> to tensor<16xbf16>
    %p = arith.mulf %h, %h : tensor<8x16xbf16>
    %r = sp.all_reduce %p over @tp : tensor<8x16xbf16>
    %n = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    scf.yield %n : tensor<8x16xbf16>
  }
  return %out : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// The weight is replicated on entry, but the loop adds a per-rank value to
// it on every iteration.
func.func @iter_arg_updated_per_rank(%x: tensor<8x16xbf16>,
    %w0: tensor<16xbf16> {sp.replicated}, %d: tensor<16xbf16>)
    -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %out, %wl = scf.for %i = %c0 to %c3 step %c1 iter_args(%h = %x, %w = %w0)
      -> (tensor<8x16xbf16>, tensor<16xbf16>) {
    // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: the weight (argument #2) of 'sp.rms_norm'}}
    // expected-warning @below {{rewrote none of the 1 sp.all_reduce ops}}
    %r = sp.all_reduce %h over @tp : tensor<8x16xbf16>
    %n = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %w2 = arith.addf %w, %d : tensor<16xbf16>
    scf.yield %n, %w2 : tensor<8x16xbf16>, tensor<16xbf16>
  }
  return %out : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// On one path of the scf.if the weight is a per-rank value.
func.func @weight_differs_on_one_path(%x: tensor<8x16xbf16>, %p: i1 {sp.replicated},
    %w: tensor<16xbf16> {sp.replicated}, %v: tensor<16xbf16>)
    -> tensor<8x16xbf16> {
  %wi = scf.if %p -> tensor<16xbf16> {
    scf.yield %w : tensor<16xbf16>
  } else {
    scf.yield %v : tensor<16xbf16>
  }
  // expected-remark-re @below {{the weight (the result of 'scf.if' at {{.*}}) of 'sp.rms_norm' at {{.*}} is not known to be replicated}}
  // expected-warning @below {{rewrote none of the 1 sp.all_reduce ops}}
  %r = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %n = sp.rms_norm %r, %wi epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// Both paths yield a replicated weight, but which path a rank takes depends
// on its rank.
func.func @branch_on_the_rank(%x: tensor<8x16xbf16>,
    %w: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %k = sp.group_rank @tp
  %first = arith.cmpi eq, %k, %c0 : index
  %wi = scf.if %first -> tensor<16xbf16> {
    scf.yield %w : tensor<16xbf16>
  } else {
    %one = arith.constant dense<1.0> : tensor<16xbf16>
    scf.yield %one : tensor<16xbf16>
  }
  // expected-remark-re @below {{the weight (the result of 'scf.if' at {{.*}}) of 'sp.rms_norm' at {{.*}} is not known to be replicated}}
  // expected-warning @below {{rewrote none of the 1 sp.all_reduce ops}}
  %r = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %n = sp.rms_norm %r, %wi epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// Every caller of the private @layer passes a replicated weight: the site
// in its body is rewritten. The signature stays on full rows: @two_calls
// passes %x, which is not known to be replicated, so the argument cannot
// be sliced, and a result on local rows would be gathered after each call.
// CHECK-LABEL: func.func @two_calls
// CHECK-COUNT-2: call @layer
// CHECK-LABEL: func.func private @layer
// CHECK-NEXT: sp.reduce_scatter
// CHECK-NEXT: sp.rms_norm {{.*}} : tensor<4x16xbf16>
// CHECK-NEXT: sp.all_gather
func.func @two_calls(%x: tensor<8x16xbf16>, %w0: tensor<16xbf16> {sp.replicated},
    %w1: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %h0 = func.call @layer(%x, %w0) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  %h1 = func.call @layer(%h0, %w1) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  return %h1 : tensor<8x16xbf16>
}
// expected-remark @below {{result #0 of @layer kept on full rows: carrying it on local rows, the site at}}
func.func private @layer(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  %r = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %n = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// One caller passes a per-rank weight: the callee's weight is not known to
// be replicated.
func.func @one_caller_per_rank(%x: tensor<8x16xbf16>,
    %w0: tensor<16xbf16> {sp.replicated}, %v: tensor<16xbf16>)
    -> tensor<8x16xbf16> {
  %h0 = func.call @layer(%x, %w0) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  %h1 = func.call @layer(%h0, %v) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  return %h1 : tensor<8x16xbf16>
}
func.func private @layer(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  // expected-remark @below {{the weight (argument #1) of 'sp.rms_norm'}}
  // expected-warning @below {{rewrote none of the 1 sp.all_reduce ops}}
  %r = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %n = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n : tensor<8x16xbf16>
}
