//===- Passes.h - sp conversion passes --------------------------*- C++ -*-===//
//
// Every lowering of the sp dialect (see Passes.td), for registration.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_PASSES_H
#define SP_CONVERSION_PASSES_H

#include "sp/Conversion/CPUCodegen/CPUCodegen.h"
#include "sp/Conversion/SPToCPURuntime/SPToCPURuntime.h"
#include "sp/Conversion/SPToCUDA/SPToCUDA.h"
#include "sp/Conversion/SPToCUDA/GPUKernels.h"
#include "sp/Conversion/SPToLinalg/SPToLinalg.h"
#include "sp/Conversion/SPToShard/SPToShard.h"
#include "sp/Conversion/ShardToSP/ShardToSP.h"

namespace mlir::sp {

#define GEN_PASS_REGISTRATION
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_PASSES_H
