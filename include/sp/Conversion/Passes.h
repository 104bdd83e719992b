//===- Passes.h - sp conversion passes --------------------------*- C++ -*-===//

#ifndef SP_CONVERSION_PASSES_H
#define SP_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::sp {

#define GEN_PASS_DECL
#include "sp/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sp/Conversion/Passes.h.inc"

} // namespace mlir::sp

#endif // SP_CONVERSION_PASSES_H
