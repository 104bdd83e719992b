//===- StrictFloatCasts.cpp - keep the roundings the IR asks for ----------===//
//
// arith-emulate-unsupported-floats marks the casts it inserts `contract`,
// which lets arith.extf fold extf(truncf(x)) -> x and so drop a rounding to
// bf16 between two emulated ops. sp's CPU backend is the oracle of its
// differential tests, so it keeps every rounding the IR specifies.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/Arith/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPSTRICTFLOATCASTS
#include "sp/Dialect/Arith/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;

namespace {
template <typename CastOp>
void dropContract(CastOp cast) {
  std::optional<arith::FastMathFlags> flags = cast.getFastmath();
  if (!flags ||
      !arith::bitEnumContainsAny(*flags, arith::FastMathFlags::contract))
    return;
  arith::FastMathFlags rest = *flags & ~arith::FastMathFlags::contract;
  if (rest == arith::FastMathFlags::none)
    cast.removeFastmathAttr();
  else
    cast.setFastmathAttr(
        arith::FastMathFlagsAttr::get(cast.getContext(), rest));
}

struct StrictFloatCastsPass
    : public sp::impl::SPStrictFloatCastsBase<StrictFloatCastsPass> {
  void runOnOperation() override {
    getOperation()->walk([](Operation *op) {
      if (auto ext = dyn_cast<arith::ExtFOp>(op))
        dropContract(ext);
      else if (auto trunc = dyn_cast<arith::TruncFOp>(op))
        dropContract(trunc);
    });
  }
};
} // namespace
