//===- SPDialect.h - sp dialect ---------------------------------*- C++ -*-===//

#ifndef SP_DIALECT_SP_IR_SPDIALECT_H
#define SP_DIALECT_SP_IR_SPDIALECT_H

#include "mlir/IR/Dialect.h"

#include "sp/Dialect/SP/IR/SPDialect.h.inc"

#endif // SP_DIALECT_SP_IR_SPDIALECT_H
