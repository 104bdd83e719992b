// Single-op execution with known values through sp-run (1 rank, no MPI
// launcher).
// RUN: sp-run %s --entry=bf16_norm --print | FileCheck %s --check-prefix=NORM
// RUN: sp-run %s --entry=fused --print | FileCheck %s --check-prefix=FUSED
// RUN: sp-run %s --entry=quant --print | FileCheck %s --check-prefix=QUANT

// bf16 rms_norm of [1, 2, 3, 4], w = 1, eps = 1e-6.
// NORM: output 0: tensor<1x4xbf16>
// NORM: rank 0 values: 0.365234375 0.73046875 1.09375 1.4609375
func.func @bf16_norm() -> tensor<1x4xbf16> {
  %x = arith.constant dense<[[1.0, 2.0, 3.0, 4.0]]> : tensor<1x4xbf16>
  %w = arith.constant dense<1.0> : tensor<4xbf16>
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<1x4xbf16>, tensor<4xbf16>
  return %0 : tensor<1x4xbf16>
}

// z = bf16(x + r): 1 + 2^-9 rounds to 1; the norm reads the rounded sum,
// so both rows of the first column equal the all-ones row's value 1.
// FUSED: output 0: tensor<2x2xbf16>
// FUSED-NEXT: rank 0
// FUSED-NEXT: rank 0 values: 1 1 1 1
// FUSED: output 1: tensor<2x2xbf16>
// FUSED-NEXT: rank 0
// FUSED-NEXT: rank 0 values: 1 1 1 1
func.func @fused() -> (tensor<2x2xbf16>, tensor<2x2xbf16>) {
  %x = arith.constant dense<[[1.0, 1.0], [1.0, 1.0]]> : tensor<2x2xbf16>
  %r = arith.constant dense<[[0.001953125, 0.0], [0.0, 0.0]]> : tensor<2x2xbf16>
  %w = arith.constant dense<1.0> : tensor<2xbf16>
  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-6 : tensor<2x2xbf16>, tensor<2xbf16>
  return %o, %res : tensor<2x2xbf16>, tensor<2x2xbf16>
}

// Static FP8 quant with scale 0.5 (x * 2): saturation at 448, ties to even
// (0.53125 * 2 = 1.0625 lies halfway between 1.0 and 1.125: even is 1.0),
// subnormals (2^-9), and NaN.
// QUANT: output 0: tensor<6xf8E4M3FN>
// QUANT: rank 0 values: 448 -448 1 0.001953125 nan 3
func.func @quant() -> tensor<6xf8E4M3FN> {
  %x = arith.constant dense<[300.0, -1.0e30, 0.53125, 0.0009765625, 0x7FC00000, 1.5]> : tensor<6xf32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %0 = sp.quant %x, %s : tensor<6xf32> -> tensor<6xf8E4M3FN>
  return %0 : tensor<6xf8E4M3FN>
}

// Results that are an argument (twice) or a constant are not freed by
// sp-run (it owns only what the compiled code allocated); --repeat calls the
// function again on the same buffers.
// RUN: sp-run %s --entry=aliases --repeat=3 --print | FileCheck %s --check-prefix=ALIAS
// ALIAS: output 0: tensor<4xf32>
// ALIAS-NEXT: rank 0: fnv1a [[X:0x[0-9a-f]+]]
// ALIAS: output 1: tensor<4xf32>
// ALIAS-NEXT: rank 0: fnv1a [[X]]
// ALIAS: output 2: tensor<2xf32>
// ALIAS: rank 0 values: 1 2
// ALIAS: sp-run: time per call:
func.func @aliases(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) {
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %x, %x, %c : tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
}
