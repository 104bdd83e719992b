// The public contract: outside tests write the ops in generic form with the
// inherent attributes in the attribute dictionary and defaults left out.
// RUN: sp-opt %s --split-input-file | FileCheck %s
// RUN: sp-opt %s --split-input-file --verify-roundtrip

// CHECK: sp.group @tp size(4)
"sp.group"() {sym_name = "tp", size = 4 : i64} : () -> ()

// CHECK-LABEL: func.func @contract
func.func @contract(%x: tensor<128x4096xbf16>, %w: tensor<4096xbf16>, %s: tensor<f32>) -> tensor<128x4096xf8E4M3FN> {
  // CHECK: %[[AR:.*]] = sp.all_reduce %{{.*}} over @tp : tensor<128x4096xbf16>
  %0 = "sp.all_reduce"(%x) {group = @tp} : (tensor<128x4096xbf16>) -> tensor<128x4096xbf16>
  // CHECK: %[[RS:.*]] = sp.reduce_scatter %[[AR]] over @tp reduction max : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
  %1 = "sp.reduce_scatter"(%0) {group = @tp, dim = 0 : i64, reduction = #sp<reduction max>} : (tensor<128x4096xbf16>) -> tensor<32x4096xbf16>
  // CHECK: %[[AG:.*]] = sp.all_gather %[[RS]] over @tp : tensor<32x4096xbf16> -> tensor<128x4096xbf16>
  %2 = "sp.all_gather"(%1) {group = @tp} : (tensor<32x4096xbf16>) -> tensor<128x4096xbf16>
  // CHECK: sp.all_slice %[[AG]] over @tp dim 1 : tensor<128x4096xbf16> -> tensor<128x1024xbf16>
  %3 = "sp.all_slice"(%2) {group = @tp, dim = 1 : i64} : (tensor<128x4096xbf16>) -> tensor<128x1024xbf16>
  // CHECK: %[[N:.*]] = sp.rms_norm %[[AG]], %{{.*}} epsilon = 9.99999997E-7
  %4 = "sp.rms_norm"(%2, %w) {epsilon = 1.0e-6 : f32} : (tensor<128x4096xbf16>, tensor<4096xbf16>) -> tensor<128x4096xbf16>
  // CHECK: sp.fused_add_rms_norm %[[N]], %[[AG]], %{{.*}} epsilon = 9.99999974E-6
  %5:2 = "sp.fused_add_rms_norm"(%4, %2, %w) {epsilon = 1.0e-5 : f32} : (tensor<128x4096xbf16>, tensor<128x4096xbf16>, tensor<4096xbf16>) -> (tensor<128x4096xbf16>, tensor<128x4096xbf16>)
  // CHECK: sp.quant %{{.*}}, %{{.*}} : tensor<128x4096xbf16> -> tensor<128x4096xf8E4M3FN>
  %6 = "sp.quant"(%5#0, %s) : (tensor<128x4096xbf16>, tensor<f32>) -> tensor<128x4096xf8E4M3FN>
  return %6 : tensor<128x4096xf8E4M3FN>
}
