// RUN: sp-opt %s --sp-decompose-to-linalg --sp-cpu-vectorize=vector-bits=256 --canonicalize | FileCheck %s
// RUN: sp-opt %s "--sp-lower-to-cpu=codegen=vector vector-bits=256" | FileCheck %s --check-prefix=LLVM
// RUN: sp-opt %s "--sp-lower-to-cpu=codegen=vector vector-bits=256" | mlir-translate --mlir-to-llvmir | llc -O2 -mattr=+avx2,+fma | FileCheck %s --check-prefix=ASM

// A GEMM: 4-row x 16-column register tiles (2 vectors of 8 lanes at 256
// bits) stepping through K one element at a time, multiply then add; never
// a vector.contract (whose lowering contracts to FMAs). 38 rows: the last 2
// are split off and tiled as a 2-row tile.
// CHECK-LABEL: func.func @gemm
// CHECK: scf.for {{.*}} step %c4
// CHECK:   scf.for {{.*}} step %c16
// CHECK:     scf.for {{.*}} step %c1
// CHECK:       vector.transfer_read {{.*}} vector<4x16xf32>
// CHECK:       %[[P:.*]] = arith.mulf {{.*}} : vector<4x16xf32>
// CHECK:       arith.addf {{.*}}, %[[P]] : vector<4x16xf32>
// CHECK: vector<2x16xf32>
// CHECK-NOT: vector.contract
// CHECK-NOT: vector.fma

// LLVM-LABEL: llvm.func @gemm
// LLVM: llvm.fmul {{.*}} : vector<16xf32>
// LLVM: llvm.fadd {{.*}} : vector<16xf32>
// LLVM-NOT: fma
// LLVM-NOT: contract
// LLVM-LABEL: llvm.func @norm

// ASM-LABEL: gemm:
// ASM-NOT: vfmadd
// ASM: vmulps
// ASM-NOT: vfmadd
// ASM: vaddps
// ASM-NOT: vfmadd
// ASM-LABEL: norm:
func.func @gemm(%a: tensor<38x24xf32>, %b: tensor<24x32xf32>) -> tensor<38x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<38x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<38x32xf32>) -> tensor<38x32xf32>
  %m = linalg.matmul ins(%a, %b : tensor<38x24xf32>, tensor<24x32xf32>) outs(%z : tensor<38x32xf32>) -> tensor<38x32xf32>
  return %m : tensor<38x32xf32>
}


// A row-wise sum of squares: 8 rows in the lanes, 8 steps of the reduction
// per tile, reduced in order (a multi_reduction whose lowering adds one
// step at a time across the rows). 11 rows: 8 + a 3-row tile.
// CHECK-LABEL: func.func @norm
// CHECK: scf.for {{.*}} step %c8
// CHECK:   vector.transfer_read {{.*}} vector<8x8xbf16>
// CHECK:   vector.multi_reduction <add>, {{.*}} [1] : vector<8x8xf32> to vector<8xf32>
// CHECK: vector.multi_reduction <add>, {{.*}} [1] : vector<3x8xf32> to vector<3xf32>
// CHECK-NOT: vector.contract
// LLVM-NOT: llvm.intr.vector.reduce.fadd
// ASM-NOT: vfmadd
func.func @norm(%x: tensor<11x64xbf16>, %w: tensor<64xbf16>) -> tensor<11x64xbf16> {
  %n = sp.rms_norm %x, %w epsilon = 1.0e-05 : tensor<11x64xbf16>, tensor<64xbf16>
  return %n : tensor<11x64xbf16>
}
