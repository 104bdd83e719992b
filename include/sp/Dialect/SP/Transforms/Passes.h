//===- Passes.h - transforms of the sp dialect ------------------*- C++ -*-===//

#ifndef SP_DIALECT_SP_TRANSFORMS_PASSES_H
#define SP_DIALECT_SP_TRANSFORMS_PASSES_H

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"
#include "sp/Dialect/SP/Transforms/TokenGuard.h"
#include "sp/Support/EnumChoiceParser.h"

#include "mlir/Pass/Pass.h"

#include <optional>
#include <string>

/// sp-sequence-parallelism's `device` option: none, sm90 or sm100.
template <>
struct mlir::sp::EnumChoices<mlir::sp::GPUGeneration> {
  static llvm::ArrayRef<std::pair<llvm::StringLiteral, GPUGeneration>> get() {
    static const std::pair<llvm::StringLiteral, GPUGeneration> choices[] = {
        {"none", GPUGeneration::none},
        {"sm90", GPUGeneration::sm90},
        {"sm100", GPUGeneration::sm100}};
    return choices;
  }
};
template <>
class llvm::cl::parser<mlir::sp::GPUGeneration>
    : public mlir::sp::EnumChoiceParser<mlir::sp::GPUGeneration> {
public:
  using EnumChoiceParser::EnumChoiceParser;
};

/// sp-sequence-parallelism's `dynamic` option: off, guard or pad.
template <>
struct mlir::sp::EnumChoices<mlir::sp::DynamicTokens> {
  static llvm::ArrayRef<std::pair<llvm::StringLiteral, DynamicTokens>> get() {
    static const std::pair<llvm::StringLiteral, DynamicTokens> choices[] = {
        {"off", DynamicTokens::off},
        {"guard", DynamicTokens::guard},
        {"pad", DynamicTokens::pad}};
    return choices;
  }
};
template <>
class llvm::cl::parser<mlir::sp::DynamicTokens>
    : public mlir::sp::EnumChoiceParser<mlir::sp::DynamicTokens> {
public:
  using EnumChoiceParser::EnumChoiceParser;
};

namespace mlir::sp {

#define GEN_PASS_DECL
#include "sp/Dialect/SP/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sp/Dialect/SP/Transforms/Passes.h.inc"

/// Default for the pass's `report` option when it is empty; sp-opt sets it
/// from `--sp-report=FILE`.
void setDefaultReportFile(std::string path);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_PASSES_H
