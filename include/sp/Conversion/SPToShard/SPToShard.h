//===- SPToShard.h - sp collectives to upstream shard -----------*- C++ -*-===//

#ifndef SP_CONVERSION_SPTOSHARD_SPTOSHARD_H
#define SP_CONVERSION_SPTOSHARD_SPTOSHARD_H

#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL_SPEXPORTSHARD
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOSHARD_SPTOSHARD_H
