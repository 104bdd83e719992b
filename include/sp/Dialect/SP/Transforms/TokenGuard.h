//===- TokenGuard.h - multiversioning on a dynamic token count --*- C++ -*-===//
//
// In serving the token dimension is dynamic. sp-sequence-parallelism
// (dynamic=guard, the default) then versions a function on its token count
// n: one copy runs sequence-parallel when n is a multiple of the group size
// and lies in a token range where the rewrite pays, the original runs
// otherwise:
//
//   %n = tensor.dim %hidden, 0
//   %ok = (n % tp == 0) && (lo0 <= n <= hi0 || ...)
//   %r = scf.if %ok -> (...) { <body, rewritten> } else { <body> }
//        {sp.token_guard = {tp = 2 : i64, tokens = 256 : i64}}
//
// `tokens` is the smallest token count of the guarded ranges: the planner
// evaluates the then-branch's sites at it (byte budget, thresholds, cost
// model). dynamic=pad instead pads the token rows to a multiple of tp with
// zero rows, runs the rewritten body and slices the results back.
//
//===----------------------------------------------------------------------===//

#ifndef SP_DIALECT_SP_TRANSFORMS_TOKENGUARD_H
#define SP_DIALECT_SP_TRANSFORMS_TOKENGUARD_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace mlir::sp {

/// sp-sequence-parallelism's `dynamic` option: what to do with a dynamic
/// token dim.
enum class DynamicTokens { off, guard, pad };

/// The discardable attribute on the scf.if a guard inserts.
inline constexpr llvm::StringLiteral kTokenGuardAttrName = "sp.token_guard";

/// A closed range of token counts; `hi` is kUnbounded for "and above".
struct TokenRange {
  static constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
  int64_t lo = 1, hi = kUnbounded;
  bool bounded() const { return hi != kUnbounded; }
  bool contains(int64_t n) const { return lo <= n && n <= hi; }
  std::string str() const;
};

/// Parses `ranges=` ("1-255,256-4095,4096-": ascending, disjoint, each
/// LO-HI or LO- for no upper bound). Returns an explanation on bad input.
std::optional<std::string> parseTokenRanges(llvm::StringRef text,
                                            SmallVectorImpl<TokenRange> &out);

/// Where `value`'s dim 0 comes from by construction: a function argument,
/// or a tensor.pad (dynamic=pad's padded rows), followed through sp's ops
/// (their input), elementwise ops (operand 0), destination-style ops (the
/// init of the result) and tensor.empty sized by `tensor.dim %x, 0`. Null
/// when the chain leaves these ops.
Value traceTokenRoot(Value value);

/// Whether `op`'s dynamic token rows are covered by its enclosing guard:
/// they come from an argument the guard checks, or from a row padding
/// inside it. `assumedScope` (a what-if evaluation) covers every function
/// argument of the function it is.
bool isCoveredByTokenGuard(Operation *site, Value rows,
                           Operation *assumedScope);

/// The scf.if guard whose then-region holds `op`, if any.
scf::IfOp getEnclosingTokenGuard(Operation *op);

/// The token count the planner evaluates `op` at: the `tokens` of its
/// enclosing guard, else `assumed` (a what-if evaluation), else none.
std::optional<int64_t> getPlanningTokens(Operation *op,
                                         std::optional<int64_t> assumed);

/// Versions `func` on the dim 0 of `tokenArgs`: the body moves to the else
/// branch of a new scf.if, a clone of it to the then branch, which runs
/// when every dim 0 is a multiple of `tp` and inside one of `ranges`.
/// `planningTokens` goes into the guard's attribute. With `pad`, the then
/// branch instead runs whenever n is inside `ranges`, on the token
/// arguments padded with zero rows to a multiple of `tp`, and slices every
/// result whose dim 0 is traced to a token argument back to n rows.
/// Fails (and changes nothing) when the body is not one block ending in
/// func.return, or, with `pad`, when a result's rows cannot be traced.
FailureOr<scf::IfOp> insertTokenGuard(func::FuncOp func,
                                      ArrayRef<BlockArgument> tokenArgs,
                                      int64_t tp, ArrayRef<TokenRange> ranges,
                                      int64_t planningTokens, bool pad,
                                      std::string &why);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_TOKENGUARD_H
