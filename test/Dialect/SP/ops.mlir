// Every op in its pretty form; the output must parse again, also from the
// generic form, to the same IR.
// RUN: sp-opt %s --split-input-file --verify-roundtrip | FileCheck %s
// RUN: sp-opt %s --split-input-file --mlir-print-op-generic | sp-opt --split-input-file | FileCheck %s

// CHECK: sp.group @tp size(4)
sp.group @tp size(4)

// CHECK-LABEL: func.func @collectives
func.func @collectives(%x: tensor<128x4096xbf16>) -> (tensor<128x4096xbf16>, tensor<128x4096xbf16>, tensor<32x4096xbf16>, tensor<128x1024xbf16>, tensor<512x4096xbf16>, tensor<128x16384xbf16>, tensor<32x4096xbf16>, tensor<128x1024xbf16>) {
  // CHECK: sp.all_reduce %{{.*}} over @tp : tensor<128x4096xbf16>
  %0 = sp.all_reduce %x over @tp : tensor<128x4096xbf16>
  // CHECK: sp.all_reduce %{{.*}} over @tp reduction max : tensor<128x4096xbf16>
  %1 = sp.all_reduce %x over @tp reduction max : tensor<128x4096xbf16>
  // CHECK: sp.reduce_scatter %{{.*}} over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
  %2 = sp.reduce_scatter %x over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
  // CHECK: sp.reduce_scatter %{{.*}} over @tp dim 1 reduction avg : tensor<128x4096xbf16> -> tensor<128x1024xbf16>
  %3 = sp.reduce_scatter %x over @tp dim 1 reduction avg : tensor<128x4096xbf16> -> tensor<128x1024xbf16>
  // CHECK: sp.all_gather %{{.*}} over @tp : tensor<128x4096xbf16> -> tensor<512x4096xbf16>
  %4 = sp.all_gather %x over @tp : tensor<128x4096xbf16> -> tensor<512x4096xbf16>
  // CHECK: sp.all_gather %{{.*}} over @tp dim 1 : tensor<128x4096xbf16> -> tensor<128x16384xbf16>
  %5 = sp.all_gather %x over @tp dim 1 : tensor<128x4096xbf16> -> tensor<128x16384xbf16>
  // CHECK: sp.all_slice %{{.*}} over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
  %6 = sp.all_slice %x over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
  // CHECK: sp.all_slice %{{.*}} over @tp dim 1 : tensor<128x4096xbf16> -> tensor<128x1024xbf16>
  %7 = sp.all_slice %x over @tp dim 1 : tensor<128x4096xbf16> -> tensor<128x1024xbf16>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<128x4096xbf16>, tensor<128x4096xbf16>, tensor<32x4096xbf16>, tensor<128x1024xbf16>, tensor<512x4096xbf16>, tensor<128x16384xbf16>, tensor<32x4096xbf16>, tensor<128x1024xbf16>
}

// -----

sp.group @tp size(2)

// Every reduction kind prints and parses.
// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  // CHECK: sp.all_reduce %{{.*}} over @tp : tensor<8x4xf32>
  %0 = sp.all_reduce %x over @tp reduction sum : tensor<8x4xf32>
  // CHECK: reduction prod
  %1 = sp.all_reduce %x over @tp reduction prod : tensor<8x4xf32>
  // CHECK: reduction min
  %2 = sp.all_reduce %x over @tp reduction min : tensor<8x4xf32>
  // CHECK: reduction max
  %3 = sp.all_reduce %x over @tp reduction max : tensor<8x4xf32>
  // CHECK: reduction avg
  %4 = sp.all_reduce %x over @tp reduction avg : tensor<8x4xf32>
  return %0, %1, %2, %3, %4 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

sp.group @tp size(2)

// Dynamic dimensions are legal everywhere; the verifier checks what is known.
// CHECK-LABEL: func.func @dynamic
func.func @dynamic(%x: tensor<?x64xf16>, %y: tensor<8x?xf16>) -> (tensor<?x64xf16>, tensor<?x64xf16>, tensor<?x64xf16>, tensor<4x?xf16>, tensor<?x64xf16>) {
  // CHECK: sp.all_reduce %{{.*}} : tensor<?x64xf16>
  %0 = sp.all_reduce %x over @tp : tensor<?x64xf16>
  // CHECK: sp.reduce_scatter %{{.*}} : tensor<?x64xf16> -> tensor<?x64xf16>
  %1 = sp.reduce_scatter %x over @tp : tensor<?x64xf16> -> tensor<?x64xf16>
  // CHECK: sp.all_gather %{{.*}} : tensor<?x64xf16> -> tensor<?x64xf16>
  %2 = sp.all_gather %x over @tp : tensor<?x64xf16> -> tensor<?x64xf16>
  // CHECK: sp.all_slice %{{.*}} : tensor<8x?xf16> -> tensor<4x?xf16>
  %3 = sp.all_slice %y over @tp : tensor<8x?xf16> -> tensor<4x?xf16>
  // CHECK: sp.all_gather %{{.*}} : tensor<?x64xf16> -> tensor<?x64xf16>
  %4 = sp.all_gather %1 over @tp : tensor<?x64xf16> -> tensor<?x64xf16>
  return %0, %1, %2, %3, %4 : tensor<?x64xf16>, tensor<?x64xf16>, tensor<?x64xf16>, tensor<4x?xf16>, tensor<?x64xf16>
}

// -----

// CHECK-LABEL: func.func @norms
// CHECK-SAME: %{{.*}}: tensor<64xbf16> {sp.replicated}
func.func @norms(%x: tensor<16x64xbf16>, %w: tensor<64xbf16> {sp.replicated}, %r: tensor<16x64xbf16>, %d: tensor<2x?x64xf32>, %wd: tensor<?xf32>) -> (tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<2x?x64xf32>) {
  // CHECK: sp.rms_norm %{{.*}}, %{{.*}} epsilon = 9.99999997E-7 : tensor<16x64xbf16>, tensor<64xbf16>
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<16x64xbf16>, tensor<64xbf16>
  // CHECK: %output, %residual_out = sp.fused_add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} epsilon = 9.99999974E-6 : tensor<16x64xbf16>, tensor<64xbf16>
  %1:2 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-5 : tensor<16x64xbf16>, tensor<64xbf16>
  // CHECK: sp.rms_norm %{{.*}}, %{{.*}} epsilon = 1.000000e+00 : tensor<2x?x64xf32>, tensor<?xf32>
  %2 = sp.rms_norm %d, %wd epsilon = 1.0 : tensor<2x?x64xf32>, tensor<?xf32>
  return %0, %1#0, %1#1, %2 : tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<16x64xbf16>, tensor<2x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @quant
func.func @quant(%x: tensor<16x64xbf16>, %y: tensor<?x64xf32>, %s: tensor<f32>) -> (tensor<16x64xf8E4M3FN>, tensor<?x64xf8E4M3FNUZ>) {
  // CHECK: sp.quant %{{.*}}, %{{.*}} : tensor<16x64xbf16> -> tensor<16x64xf8E4M3FN>
  %0 = sp.quant %x, %s : tensor<16x64xbf16> -> tensor<16x64xf8E4M3FN>
  // CHECK: sp.quant %{{.*}}, %{{.*}} : tensor<?x64xf32> -> tensor<?x64xf8E4M3FNUZ>
  %1 = sp.quant %y, %s : tensor<?x64xf32> -> tensor<?x64xf8E4M3FNUZ>
  return %0, %1 : tensor<16x64xf8E4M3FN>, tensor<?x64xf8E4M3FNUZ>
}

// -----

// Groups in a 2-D grid (DP 2 x TP 4 on 8 ranks).
// CHECK: sp.group @tp size(4) grid [2, 4] axes [1]
// CHECK: sp.group @dp size(2) grid [2, 4] axes [0]
// CHECK: sp.group @both size(8) grid [2, 4] axes [1, 0]
sp.group @tp size(4) grid [2, 4] axes [1]
sp.group @dp size(2) grid [2, 4] axes [0]
sp.group @both size(8) grid [2, 4] axes [1, 0]
