//===- CPUCodegen.h - tiled, vectorized CPU code for linalg -----*- C++ -*-===//
//
// The CPU codegen path of sp-lower-to-cpu: linalg ops on tensors are split
// into static tiles and vectorized across independent outputs (never within a
// reduction), and the vector code is lowered to 1-D vectors of the host's
// width after bufferization. Results are bit-identical to the scalar loops of
// convert-linalg-to-loops.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_CPUCODEGEN_CPUCODEGEN_H
#define SP_CONVERSION_CPUCODEGEN_CPUCODEGEN_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL_SPCPUVECTORIZE
#define GEN_PASS_DECL_SPCPULOWERVECTORS
#include "sp/Conversion/Passes.h.inc"

/// Bits of the widest vector register of the host (512 with AVX-512, 256
/// with AVX, else 128).
unsigned hostVectorBits();

} // namespace mlir::sp

#endif // SP_CONVERSION_CPUCODEGEN_CPUCODEGEN_H
