//===- ShardToSP.h - upstream shard collectives to sp -----------*- C++ -*-===//

#ifndef SP_CONVERSION_SHARDTOSP_SHARDTOSP_H
#define SP_CONVERSION_SHARDTOSP_SHARDTOSP_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL_SPIMPORTSHARD
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_SHARDTOSP_SHARDTOSP_H
