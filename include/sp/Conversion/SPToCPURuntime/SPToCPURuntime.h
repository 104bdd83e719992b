//===- SPToCPURuntime.h - sp ops to calls of the CPU runtime ----*- C++ -*-===//
//
// The CPU path in two parts: sp-prepare-cpu-runtime (before bufferization:
// all_slice at this rank's offset, runtime declarations) and the
// collectives' BufferizableOpInterface models
// (sp/Dialect/SP/Transforms/BufferizableOpInterfaceImpl.h), which turn them
// into the calls during one-shot bufferization.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_SPTOCPURUNTIME_SPTOCPURUNTIME_H
#define SP_CONVERSION_SPTOCPURUNTIME_SPTOCPURUNTIME_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL_SPPREPARECPURUNTIME
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOCPURUNTIME_SPTOCPURUNTIME_H
