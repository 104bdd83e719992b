// Carrying local rows across loop and call boundaries (docs/ControlFlow.md):
// a loop-carried residual and hidden state become N/TP rows (the iter_arg
// type changes, the init is sliced on entry, gathers move to where a value
// is used on full rows after the loop); a private layer function's
// arguments and results likewise, at every call. Negative cases: a
// boundary whose gathers would add communication, a public callee, a
// trip count that differs by rank (carry-off.mlir: the option off).
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics | FileCheck %s

sp.group @tp size(2)

// CHECK-LABEL: func.func @scan
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<4x16xbf16>
// CHECK-DAG: %[[H0:.*]] = sp.reduce_scatter %{{.*}} over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK: %[[OUT:.*]]:2 = scf.for %{{.*}} iter_args(%[[H:.*]] = %[[H0]], %[[R:.*]] = %[[ZERO]]) -> (tensor<4x16xbf16>, tensor<4x16xbf16>)
// CHECK: %[[N:.*]], %[[RO:.*]] = sp.fused_add_rms_norm %[[H]], %[[R]], %{{.*}} : tensor<4x16xbf16>
// CHECK-NEXT: %[[G:.*]] = sp.all_gather %[[N]] over @tp : tensor<4x16xbf16> -> tensor<8x16xbf16>
// CHECK-NEXT: %[[P:.*]] = linalg.matmul ins(%[[G]],
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter %[[P]] over @tp : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK-NEXT: scf.yield %[[RS]], %[[RO]] : tensor<4x16xbf16>, tensor<4x16xbf16>
// CHECK: %[[F:.*]], %{{.*}} = sp.fused_add_rms_norm %[[OUT]]#0, %[[OUT]]#1, %{{.*}} : tensor<4x16xbf16>
// CHECK-NEXT: %[[FG:.*]] = sp.all_gather %[[F]] over @tp : tensor<4x16xbf16> -> tensor<8x16xbf16>
// CHECK-NEXT: return %[[FG]]
// CHECK-NOT: sp.all_reduce
// CHECK-NOT: sp.all_slice
func.func @scan(%x: tensor<8x16xbf16>, %stack: tensor<3x16xbf16> {sp.replicated},
    %wl: tensor<16x16xbf16>, %wf: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  // expected-remark-re @below {{iter_arg #0 of 'scf.for' at {{.*}} carried on local rows: 'tensor<8x16xbf16>' -> 'tensor<4x16xbf16>' over @tp; the init is sliced on entry and the value yielded is sliced before the yield; the iter_arg is gathered in the body and the loop result after the loop where they are used on full rows; 3 iterations}}
  // expected-remark-re @below {{iter_arg #1 of 'scf.for' at {{.*}} carried on local rows: 'tensor<8x16xbf16>' -> 'tensor<4x16xbf16>' over @tp; {{.*}}; 3 iterations}}
  %h, %res = scf.for %i = %c0 to %c3 step %c1 iter_args(%hi = %h0, %ri = %zero)
      -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
    %w = tensor.extract_slice %stack[%i, 0] [1, 16] [1, 1] : tensor<3x16xbf16> to tensor<16xbf16>
    %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
        outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
    %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
    scf.yield %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
  }
  %f, %fr = sp.fused_add_rms_norm %h, %res, %wf epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// A public layer function that the module calls twice: a private copy
// takes the module's calls and crosses them on local rows; the public
// original stays for callers outside the module (its arguments are not
// known to be replicated there, so its site is left alone).
// CHECK-LABEL: func.func @calls_public_copy
// CHECK: %[[L0:.*]]:2 = call @public_layer_local_rows(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<4x16xbf16>, tensor<4x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<4x16xbf16>, tensor<4x16xbf16>)
// CHECK: call @public_layer_local_rows(%[[L0]]#0, %[[L0]]#1
// CHECK-LABEL: func.func @public_layer(
// CHECK-SAME: tensor<8x16xbf16>
// CHECK: sp.all_reduce
// CHECK-LABEL: func.func private @public_layer_local_rows(
// CHECK-SAME: tensor<4x16xbf16>, %{{.*}}: tensor<4x16xbf16>
// CHECK-NOT: sp.all_reduce
// CHECK: sp.reduce_scatter
// CHECK-NOT: sp.all_reduce
// CHECK: return
func.func @calls_public_copy(%x: tensor<8x16xbf16>, %w0: tensor<16xbf16> {sp.replicated},
    %wl0: tensor<16x16xbf16>, %w1: tensor<16xbf16> {sp.replicated},
    %wl1: tensor<16x16xbf16>, %wf: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h1, %r1 = func.call @public_layer(%h0, %zero, %w0, %wl0) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  %h2, %r2 = func.call @public_layer(%h1, %r1, %w1, %wl1) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  %f, %fr = sp.fused_add_rms_norm %h2, %r2, %wf epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}
// expected-remark @below {{@public_layer_local_rows is a private copy of @public_layer for its 2 calls in the module, which it changes to local rows; @public_layer stays as it was for callers outside the module}}
// expected-remark @below {{argument #0 of @public_layer_local_rows carried on local rows}}
// expected-remark @below {{argument #1 of @public_layer_local_rows carried on local rows}}
// expected-remark @below {{result #0 of @public_layer_local_rows carried on local rows}}
// expected-remark @below {{result #1 of @public_layer_local_rows carried on local rows}}
func.func @public_layer(%h: tensor<8x16xbf16>, %res: tensor<8x16xbf16>,
    %w: tensor<16xbf16> {sp.replicated}, %wl: tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %n, %r = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
      outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
  return %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// A trip count known only at run time (the same on every rank: the bound
// is replicated): the loop is carried all the same.
// CHECK-LABEL: func.func @scan_runtime_trip_count
// CHECK: scf.for {{.*}} -> (tensor<4x16xbf16>, tensor<4x16xbf16>)
func.func @scan_runtime_trip_count(%x: tensor<8x16xbf16>, %layers: index {sp.replicated},
    %w: tensor<16xbf16> {sp.replicated}, %wl: tensor<16x16xbf16>) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  // expected-remark @below {{iter_arg #0 of 'scf.for'}}
  // expected-remark @below {{a trip count known at run time}}
  %h, %res = scf.for %i = %c0 to %layers step %c1 iter_args(%hi = %h0, %ri = %zero)
      -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
    %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
        outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
    %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
    scf.yield %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
  }
  %f, %fr = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// The loop's bound differs by rank: the carried values differ by rank, so
// neither iter_arg may be sliced, and the site inside is left alone.
// CHECK-LABEL: func.func @scan_per_rank_trip_count
// CHECK: scf.for {{.*}} -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
// CHECK: sp.all_reduce
func.func @scan_per_rank_trip_count(%x: tensor<8x16xbf16>, %layers: index,
    %w: tensor<16xbf16> {sp.replicated}, %wl: tensor<16x16xbf16>) -> tensor<8x16xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows}}
  // expected-warning @below {{rewrote none of the 2 sp.all_reduce ops}}
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h, %res = scf.for %i = %c0 to %layers step %c1 iter_args(%hi = %h0, %ri = %zero)
      -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
    %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
    %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
        outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
    // expected-remark @below {{all_reduce left alone: none of its users can run on local rows}}
    %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
    scf.yield %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
  }
  %f, %fr = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// One function per layer, called twice: the hidden state and the residual
// cross every call on local rows; @layer's signature changes in place
// (every caller is in the module).
// CHECK-LABEL: func.func @calls
// CHECK: %[[H0:.*]] = sp.reduce_scatter %{{.*}} : tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK: %[[L0:.*]]:2 = call @layer(%[[H0]], %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<4x16xbf16>, tensor<4x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<4x16xbf16>, tensor<4x16xbf16>)
// CHECK: %[[L1:.*]]:2 = call @layer(%[[L0]]#0, %[[L0]]#1, %{{.*}}, %{{.*}})
// CHECK: sp.fused_add_rms_norm %[[L1]]#0, %[[L1]]#1, {{.*}} : tensor<4x16xbf16>
// CHECK-NEXT: sp.all_gather
// CHECK-LABEL: func.func private @layer
// CHECK-SAME: (%[[H:.*]]: tensor<4x16xbf16>, %[[R:.*]]: tensor<4x16xbf16>, %{{.*}}: tensor<16xbf16>, %{{.*}}: tensor<16x16xbf16>) -> (tensor<4x16xbf16>, tensor<4x16xbf16>)
// CHECK: %[[N:.*]], %[[RO:.*]] = sp.fused_add_rms_norm %[[H]], %[[R]]
// CHECK-NEXT: sp.all_gather %[[N]]
// CHECK-NEXT: linalg.matmul
// CHECK-NEXT: %[[RS:.*]] = sp.reduce_scatter
// CHECK-NEXT: return %[[RS]], %[[RO]] : tensor<4x16xbf16>, tensor<4x16xbf16>
func.func @calls(%x: tensor<8x16xbf16>, %w0: tensor<16xbf16> {sp.replicated},
    %wl0: tensor<16x16xbf16>, %w1: tensor<16xbf16> {sp.replicated},
    %wl1: tensor<16x16xbf16>, %wf: tensor<16xbf16> {sp.replicated}) -> tensor<8x16xbf16> {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h1, %r1 = func.call @layer(%h0, %zero, %w0, %wl0) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  %h2, %r2 = func.call @layer(%h1, %r1, %w1, %wl1) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  %f, %fr = sp.fused_add_rms_norm %h2, %r2, %wf epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %f : tensor<8x16xbf16>
}
// expected-remark @below {{argument #0 of @layer carried on local rows: 'tensor<8x16xbf16>' -> 'tensor<4x16xbf16>' over @tp; each of the 2 calls slices what it passes; the argument is gathered in the callee where it is used on full rows (the function is changed in place: every caller is in the module)}}
// expected-remark @below {{argument #1 of @layer carried on local rows}}
// expected-remark @below {{result #0 of @layer carried on local rows: 'tensor<8x16xbf16>' -> 'tensor<4x16xbf16>' over @tp; each return slices it; each of the 2 calls gathers it where it is used on full rows}}
// expected-remark @below {{result #1 of @layer carried on local rows}}
func.func private @layer(%h: tensor<8x16xbf16>, %res: tensor<8x16xbf16>,
    %w: tensor<16xbf16>, %wl: tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %n, %r = sp.fused_add_rms_norm %h, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %p = linalg.matmul ins(%n, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
      outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
  %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
  return %o, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// A public layer function may be called from outside the module with full
// rows: its signature stays. Its private copy for the module's call would
// gain nothing (the residual and the output it returns would be gathered
// after the call, as the all_reduce is the first thing it does), so no copy
// is kept, and the site is left alone.
// CHECK-NOT: _local_rows
// CHECK-LABEL: func.func @calls_public
// CHECK: sp.all_reduce
// CHECK-LABEL: func.func @public_layer
// CHECK-SAME: -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
// CHECK: sp.all_reduce
func.func @calls_public(%x: tensor<8x16xbf16>, %w0: tensor<16xbf16> {sp.replicated},
    %wl0: tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  // expected-remark @below {{all_reduce left alone: none of its users can run on local rows: no user is row-wise along the token dimension}}
  // expected-warning @below {{rewrote none of the 2 sp.all_reduce ops}}
  %h0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %h1, %r1 = func.call @public_layer(%h0, %zero, %w0, %wl0) : (tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<16xbf16>, tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>)
  return %h1, %r1 : tensor<8x16xbf16>, tensor<8x16xbf16>
}
func.func @public_layer(%h: tensor<8x16xbf16>, %res: tensor<8x16xbf16> {sp.replicated},
    %w: tensor<16xbf16> {sp.replicated}, %wl: tensor<16x16xbf16>) -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %zero = arith.constant dense<0.0> : tensor<8x16xbf16>
  %p = linalg.matmul ins(%h, %wl : tensor<8x16xbf16>, tensor<16x16xbf16>)
      outs(%zero : tensor<8x16xbf16>) -> tensor<8x16xbf16>
  // expected-remark-re @below {{all_reduce left alone: rewriting it would add 128 bytes per rank of communication (the residual result feeds 'func.return' at {{.*}}; the result of 'sp.fused_add_rms_norm' at {{.*}} feeds 'func.return' at {{.*}})}}
  %o = sp.all_reduce %p over @tp : tensor<8x16xbf16>
  %n, %r = sp.fused_add_rms_norm %o, %res, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n, %r : tensor<8x16xbf16>, tensor<8x16xbf16>
}
