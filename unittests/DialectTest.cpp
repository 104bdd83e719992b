//===- DialectTest.cpp - the C++ API of the sp dialect --------------------===//
//
// What an embedding compiler relies on: building ops with the generated
// builders, default attribute values, group lookup and folding.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Registration/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {
struct DialectTest : public ::testing::Test {
  DialectTest() {
    DialectRegistry registry;
    sp::registerSPDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }
  MLIRContext context;
};
} // namespace

TEST_F(DialectTest, BuildVerifyAndFold) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto group = sp::GroupOp::create(b, loc, "tp", 4);
  EXPECT_EQ(group.getSizeAttr().getInt(), 4);

  auto type = RankedTensorType::get({8, 16}, b.getBF16Type());
  auto local = RankedTensorType::get({2, 16}, b.getBF16Type());
  auto func = func::FuncOp::create(b, loc, "f",
                                   b.getFunctionType({local}, {local}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  auto groupRef = FlatSymbolRefAttr::get(&context, "tp");
  auto gather = sp::AllGatherOp::create(b, loc, type, body->getArgument(0),
                                        groupRef, /*dim=*/0);
  auto slice =
      sp::AllSliceOp::create(b, loc, local, gather.getResult(), groupRef, 0);
  func::ReturnOp::create(b, loc, slice.getResult());

  ASSERT_TRUE(succeeded(verify(*module)));
  EXPECT_EQ(sp::getGroupSize(gather), 4);
  EXPECT_EQ(cast<sp::CollectiveOpInterface>(gather.getOperation()).getGroupOp(),
            group);
  EXPECT_TRUE(isa<sp::CollectiveOpInterface>(slice.getOperation()));

  // all_slice(all_gather(x)) folds to x.
  SmallVector<OpFoldResult> folded;
  ASSERT_TRUE(succeeded(slice->fold(folded)));
  ASSERT_EQ(folded.size(), 1u);
  EXPECT_EQ(dyn_cast<Value>(folded[0]), body->getArgument(0));
}

TEST_F(DialectTest, DefaultsAreFilledIn) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  sp::GroupOp::create(b, loc, "tp", 2);
  auto type = RankedTensorType::get({8, 16}, b.getF32Type());
  auto func =
      func::FuncOp::create(b, loc, "f", b.getFunctionType({type}, {type}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  auto reduce = sp::AllReduceOp::create(b, loc, body->getArgument(0),
                                        FlatSymbolRefAttr::get(&context, "tp"));
  func::ReturnOp::create(b, loc, reduce.getResult());
  ASSERT_TRUE(succeeded(verify(*module)));
  EXPECT_EQ(reduce.getReduction(), sp::ReductionKind::sum);
  EXPECT_EQ(sp::stringifyReductionKind(sp::ReductionKind::avg), "avg");
}

TEST_F(DialectTest, UnknownGroupFailsVerification) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto type = RankedTensorType::get({8, 16}, b.getF32Type());
  auto func =
      func::FuncOp::create(b, loc, "f", b.getFunctionType({type}, {type}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  auto reduce = sp::AllReduceOp::create(
      b, loc, body->getArgument(0), FlatSymbolRefAttr::get(&context, "nope"));
  func::ReturnOp::create(b, loc, reduce.getResult());
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_TRUE(failed(verify(*module)));
  EXPECT_EQ(message, "'sp.all_reduce' op refers to unknown group @nope");
  EXPECT_EQ(sp::getGroupSize(reduce), std::nullopt);
}
