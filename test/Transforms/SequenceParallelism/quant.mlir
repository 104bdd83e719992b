// Pattern 2c: the gather sinks below a static FP8 quant, so the wire carries
// 1-byte elements.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --verify-diagnostics --canonicalize | FileCheck %s

sp.group @tp size(4)

// First pattern + quant.
// CHECK-LABEL: func.func @norm_quant
// CHECK: %[[RS:.*]] = sp.reduce_scatter %{{.*}} over @tp : tensor<64x32xbf16> -> tensor<16x32xbf16>
// CHECK: %[[N:.*]] = sp.rms_norm %[[RS]]
// CHECK: %[[Q:.*]] = sp.quant %[[N]], %{{.*}} : tensor<16x32xbf16> -> tensor<16x32xf8E4M3FN>
// CHECK: %[[G:.*]] = sp.all_gather %[[Q]] over @tp : tensor<16x32xf8E4M3FN> -> tensor<64x32xf8E4M3FN>
// CHECK: return %[[G]]
func.func @norm_quant(%x: tensor<64x32xbf16>, %w: tensor<32xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}) -> tensor<64x32xf8E4M3FN> {
  %0 = sp.all_reduce %x over @tp : tensor<64x32xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<64x32xbf16>, tensor<32xbf16>
  %2 = sp.quant %1, %s : tensor<64x32xbf16> -> tensor<64x32xf8E4M3FN>
  return %2 : tensor<64x32xf8E4M3FN>
}

// -----

sp.group @tp size(2)

// Middle pattern + quant, FNUZ flavour, residual result live in the next
// layer.
// CHECK-LABEL: func.func @fused_quant
// CHECK: %[[O:.*]], %[[R:.*]] = sp.fused_add_rms_norm
// CHECK: %[[Q:.*]] = sp.quant %[[O]], %{{.*}} : tensor<4x16xf16> -> tensor<4x16xf8E4M3FNUZ>
// CHECK: sp.all_gather %[[Q]] over @tp : tensor<4x16xf8E4M3FNUZ> -> tensor<8x16xf8E4M3FNUZ>
// CHECK: sp.fused_add_rms_norm %{{.*}}, %[[R]]
// CHECK-NOT: sp.all_slice
func.func @fused_quant(%x: tensor<8x16xf16>, %y: tensor<8x16xf16>, %r: tensor<8x16xf16> {sp.replicated}, %w: tensor<16xf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}) -> (tensor<8x16xf8E4M3FNUZ>, tensor<8x16xf16>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf16>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf16>, tensor<16xf16>
  %2 = sp.quant %1#0, %s : tensor<8x16xf16> -> tensor<8x16xf8E4M3FNUZ>
  %3 = sp.all_reduce %y over @tp : tensor<8x16xf16>
  %4:2 = sp.fused_add_rms_norm %3, %1#1, %w epsilon = 1.0e-5 : tensor<8x16xf16>, tensor<16xf16>
  return %2, %4#0 : tensor<8x16xf8E4M3FNUZ>, tensor<8x16xf16>
}

// -----

sp.group @tp size(2)

// Negative for the quant only: its scale is per-rank, so the bf16 norm output
// is gathered and quantized after the gather.
// CHECK-LABEL: func.func @scale_not_replicated
// CHECK: %[[N:.*]] = sp.rms_norm
// CHECK: %[[G:.*]] = sp.all_gather %[[N]] {{.*}} -> tensor<8x16xbf16>
// CHECK: sp.quant %[[G]]
func.func @scale_not_replicated(%x: tensor<8x16xbf16>, %w: tensor<16xbf16> {sp.replicated}, %s: tensor<f32>) -> tensor<8x16xf8E4M3FN> {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %2 = sp.quant %1, %s : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
  return %2 : tensor<8x16xf8E4M3FN>
}

// -----

sp.group @tp size(2)

// Negative for the quant only: the norm output has a user besides the quant,
// so it is gathered in bf16 anyway; gathering the fp8 copy too would add
// traffic.
// CHECK-LABEL: func.func @norm_output_shared
// CHECK: %[[N:.*]] = sp.rms_norm
// CHECK-NEXT: %[[G:.*]] = sp.all_gather %[[N]]
// CHECK-NEXT: sp.quant %[[G]]
// CHECK-NOT: sp.all_gather
// CHECK: return
func.func @norm_output_shared(%x: tensor<8x16xbf16>, %w: tensor<16xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}) -> (tensor<8x16xf8E4M3FN>, tensor<8x16xbf16>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %2 = sp.quant %1, %s : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
  return %2, %1 : tensor<8x16xf8E4M3FN>, tensor<8x16xbf16>
}

// -----

sp.group @tp size(2)

// Two quants of the same norm output (two GEMMs with their own scales): both
// move below the gather.
// CHECK-LABEL: func.func @two_quants
// CHECK-COUNT-2: sp.all_gather %{{.*}} : tensor<4x16xf8E4M3FN> -> tensor<8x16xf8E4M3FN>
func.func @two_quants(%x: tensor<8x16xbf16>, %w: tensor<16xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}, %t: tensor<f32> {sp.replicated}) -> (tensor<8x16xf8E4M3FN>, tensor<8x16xf8E4M3FN>) {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %2 = sp.quant %1, %s : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
  %3 = sp.quant %1, %t : tensor<8x16xbf16> -> tensor<8x16xf8E4M3FN>
  return %2, %3 : tensor<8x16xf8E4M3FN>, tensor<8x16xf8E4M3FN>
}
