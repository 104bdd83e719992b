//===- EnumChoiceParser.h - enum options that name their choices -*- C++ -*-===//
//
// A command-line parser for enum options (of tools and of passes): the
// spellings come from one table per enum, `--help` shows them, and a bad
// value is rejected with the list of choices. (LLVM's cl::values parser
// only says "Cannot find option named 'x'!".) Use it by specializing
// llvm::cl::parser for the enum:
//
//   template <> struct mlir::sp::EnumChoices<Backend> {
//     static llvm::ArrayRef<std::pair<llvm::StringLiteral, Backend>> get();
//   };
//   template <>
//   class llvm::cl::parser<Backend> : public mlir::sp::EnumChoiceParser<Backend> {
//   public:
//     using EnumChoiceParser::EnumChoiceParser;
//   };
//
//===----------------------------------------------------------------------===//

#ifndef SP_SUPPORT_ENUMCHOICEPARSER_H
#define SP_SUPPORT_ENUMCHOICEPARSER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <utility>

namespace mlir::sp {

/// The spellings of an enum's values, in the order `--help` lists them.
template <typename T>
struct EnumChoices;

/// The spelling of `value` ("" if the table lacks it).
template <typename T>
llvm::StringRef spellEnumChoice(T value) {
  for (const auto &[name, choice] : EnumChoices<T>::get())
    if (choice == value)
      return name;
  return "";
}

/// The value spelled `name`, if any.
template <typename T>
std::optional<T> parseEnumChoice(llvm::StringRef name) {
  for (const auto &[spelling, choice] : EnumChoices<T>::get())
    if (spelling == name)
      return choice;
  return std::nullopt;
}

/// "a|b|c" (with `separator` "|") of every spelling.
template <typename T>
std::string joinEnumChoices(llvm::StringRef separator) {
  std::string joined;
  for (const auto &[name, choice] : EnumChoices<T>::get()) {
    if (!joined.empty())
      joined += separator;
    joined += name.str();
  }
  return joined;
}

template <typename T>
class EnumChoiceParser : public llvm::cl::basic_parser<T> {
public:
  using llvm::cl::basic_parser<T>::basic_parser;

  /// Returns true on error, as cl parsers do.
  bool parse(llvm::cl::Option &option, llvm::StringRef, llvm::StringRef arg,
             T &value) {
    if (std::optional<T> parsed = parseEnumChoice<T>(arg)) {
      value = *parsed;
      return false;
    }
    return option.error("'" + arg + "' is not one of: " +
                        joinEnumChoices<T>(", "));
  }

  llvm::StringRef getValueName() const override {
    static const std::string names = joinEnumChoices<T>("|");
    return names;
  }

  void printOptionDiff(const llvm::cl::Option &option, T value,
                       const llvm::cl::OptionValue<T> &defaultValue,
                       size_t globalWidth) const {
    this->printOptionName(option, globalWidth);
    llvm::outs() << "= " << spellEnumChoice(value);
    if (defaultValue.hasValue())
      llvm::outs() << " (default: "
                   << spellEnumChoice(defaultValue.getValue()) << ")";
    llvm::outs() << "\n";
  }

  /// How MLIR prints a pass option of this type (e.g. in pipelines).
  static void print(llvm::raw_ostream &os, T value) {
    os << spellEnumChoice(value);
  }
};

} // namespace mlir::sp

#endif // SP_SUPPORT_ENUMCHOICEPARSER_H
