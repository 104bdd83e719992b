//===- SPToCUDA.h - sp ops to calls of the CUDA runtime ---------*- C++ -*-===//
//
// The compiled-code ABI these calls follow is runtime/cuda-abi/CompiledABI.h.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_SPTOCUDA_SPTOCUDA_H
#define SP_CONVERSION_SPTOCUDA_SPTOCUDA_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL_SPCONVERTTOCUDARUNTIME
#define GEN_PASS_DECL_SPCUDADEVICEBUFFERS
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOCUDA_SPTOCUDA_H
