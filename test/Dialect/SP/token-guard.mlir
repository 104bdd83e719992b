// The one discardable op attribute of the dialect: sp.token_guard, which
// sp-sequence-parallelism puts on the scf.if it versions a function with.
// RUN: sp-opt %s --split-input-file --verify-diagnostics --verify-roundtrip | FileCheck %s

// CHECK-LABEL: func.func @guarded
// CHECK: sp.token_guard = {args = array<i64: 0>, tokens = 4 : i64, tp = 4 : i64}
func.func @guarded(%x: tensor<?x8xf32>, %ok: i1) -> tensor<?x8xf32> {
  %r = scf.if %ok -> (tensor<?x8xf32>) {
    scf.yield %x : tensor<?x8xf32>
  } else {
    scf.yield %x : tensor<?x8xf32>
  } {sp.token_guard = {args = array<i64: 0>, tokens = 4 : i64, tp = 4 : i64}}
  return %r : tensor<?x8xf32>
}

// -----

func.func @not_on_if(%x: f32) -> f32 {
  // expected-error @+1 {{'sp.token_guard' belongs on an scf.if}}
  %y = arith.addf %x, %x {sp.token_guard = {args = array<i64: 0>, tokens = 4 : i64, tp = 4 : i64}} : f32
  return %y : f32
}

// -----

func.func @zero_tp(%x: tensor<?x8xf32>, %ok: i1) -> tensor<?x8xf32> {
  // expected-error @+1 {{with N >= 1, got {args = array<i64: 0>, tokens = 4 : i64, tp = 0 : i64}}}
  %r = scf.if %ok -> (tensor<?x8xf32>) {
    scf.yield %x : tensor<?x8xf32>
  } else {
    scf.yield %x : tensor<?x8xf32>
  } {sp.token_guard = {args = array<i64: 0>, tokens = 4 : i64, tp = 0 : i64}}
  return %r : tensor<?x8xf32>
}

// -----

func.func @not_a_dict(%x: tensor<?x8xf32>, %ok: i1) -> tensor<?x8xf32> {
  // expected-error @+1 {{'sp.token_guard' belongs on an scf.if and is a dictionary}}
  %r = scf.if %ok -> (tensor<?x8xf32>) {
    scf.yield %x : tensor<?x8xf32>
  } else {
    scf.yield %x : tensor<?x8xf32>
  } {sp.token_guard = 4 : i64}
  return %r : tensor<?x8xf32>
}
