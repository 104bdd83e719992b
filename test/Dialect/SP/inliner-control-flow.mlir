// sp ops are legal to inline: the upstream `inline` pass turns a model with
// one private function per layer into the flat form, which
// sp-sequence-parallelism then rewrites like any flat model (the `inline`
// route for calls, docs/ControlFlow.md).
// RUN: sp-opt %s --split-input-file --inline | FileCheck %s
// RUN: sp-opt %s --split-input-file --inline --sp-sequence-parallelism --canonicalize 2>/dev/null | FileCheck %s --check-prefix=SP

sp.group @tp size(2)

// CHECK-LABEL: func.func @two_layers
// CHECK-NOT: call
// CHECK: sp.all_reduce
// CHECK: sp.rms_norm
// CHECK: sp.all_reduce
// CHECK: sp.rms_norm
// CHECK-NOT: func.func private @layer
// SP-LABEL: func.func @two_layers
// SP-COUNT-2: sp.reduce_scatter
// SP-NOT: sp.all_reduce
func.func @two_layers(%x: tensor<8x16xbf16>, %y: tensor<8x16xbf16>,
    %w0: tensor<16xbf16> {sp.replicated}, %w1: tensor<16xbf16> {sp.replicated})
    -> (tensor<8x16xbf16>, tensor<8x16xbf16>) {
  %h0 = func.call @layer(%x, %w0) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  %h1 = func.call @layer(%y, %w1) : (tensor<8x16xbf16>, tensor<16xbf16>) -> tensor<8x16xbf16>
  return %h0, %h1 : tensor<8x16xbf16>, tensor<8x16xbf16>
}
func.func private @layer(%x: tensor<8x16xbf16>, %w: tensor<16xbf16>) -> tensor<8x16xbf16> {
  %r = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %n = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  return %n : tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// Every sp op inlines, collectives and the per-rank ones alike.
// CHECK-LABEL: func.func @all_kinds
// CHECK-NOT: call
// CHECK: sp.reduce_scatter
// CHECK: sp.all_gather
// CHECK: sp.all_slice
// CHECK: sp.quant
func.func @all_kinds(%x: tensor<8x16xf32>, %s: tensor<f32> {sp.replicated})
    -> (tensor<8x16xf32>, tensor<4x16xf32>, tensor<8x16xf8E4M3FN>) {
  %a, %b, %c = func.call @kinds(%x, %s) : (tensor<8x16xf32>, tensor<f32>) -> (tensor<8x16xf32>, tensor<4x16xf32>, tensor<8x16xf8E4M3FN>)
  return %a, %b, %c : tensor<8x16xf32>, tensor<4x16xf32>, tensor<8x16xf8E4M3FN>
}
func.func private @kinds(%x: tensor<8x16xf32>, %s: tensor<f32>)
    -> (tensor<8x16xf32>, tensor<4x16xf32>, tensor<8x16xf8E4M3FN>) {
  %rs = sp.reduce_scatter %x over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
  %g = sp.all_gather %rs over @tp : tensor<4x16xf32> -> tensor<8x16xf32>
  %l = sp.all_slice %x over @tp : tensor<8x16xf32> -> tensor<4x16xf32>
  %q = sp.quant %g, %s : tensor<8x16xf32> -> tensor<8x16xf8E4M3FN>
  return %g, %l, %q : tensor<8x16xf32>, tensor<4x16xf32>, tensor<8x16xf8E4M3FN>
}
