//===- CollectiveMatmul.cpp - the sp-collective-matmul pass ---------------===//
//
// Plans which GEMM + collective pairs to fuse (every all_gather and
// reduce_scatter is either fused or gets a reason), then applies the PDLL
// patterns of CollectiveMatmul.pdll to the planned roots only.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/CollectiveMatmul.h"

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Dialect/SP/Utils/MatmulUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/PDL/IR/PDL.h"
#include "mlir/Dialect/PDLInterp/IR/PDLInterp.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPCOLLECTIVEMATMUL
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

#include "CollectiveMatmul.pdll.h.inc"

//===----------------------------------------------------------------------===//
// The planner
//===----------------------------------------------------------------------===//

static std::string describe(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "'" << op->getName() << "' at " << op->getLoc();
  return text;
}

static bool isQuantFP8(Type type) {
  return isa<Float8E4M3FNType, Float8E4M3FNUZType>(type);
}

/// The FP8 form's epilogue after `matmul`, if the matmul multiplies fp8
/// operands and its only user is a scale epilogue.
static std::optional<ScaleEpilogue> scaledEpilogueOf(linalg::MatmulOp matmul) {
  Value result = matmul->getResult(0);
  if (!result.hasOneUse())
    return std::nullopt;
  std::optional<ScaleEpilogue> epilogue =
      matchScaleEpilogue(*result.getUsers().begin());
  if (!epilogue || epilogue->accumulator != result)
    return std::nullopt;
  auto element = [](Value v) {
    return cast<ShapedType>(v.getType()).getElementType();
  };
  Type out = element(epilogue->op->getResult(0));
  if (!isQuantFP8(element(matmul.getDpsInputs()[0])) ||
      !isQuantFP8(element(matmul.getDpsInputs()[1])) ||
      !(out.isBF16() || out.isF16() || out.isF32()))
    return std::nullopt;
  return epilogue;
}

namespace {
class Planner {
public:
  Planner(ModuleOp module, const CollectiveMatmulPlanOptions &options)
      : dominance(module), minRows(options.minRows) {}

  CollectiveMatmulPlan plan(ModuleOp module) {
    module.walk([&](Operation *op) {
      std::string reason;
      if (auto gather = dyn_cast<AllGatherOp>(op))
        reason = planGather(gather);
      else if (auto scatter = dyn_cast<ReduceScatterOp>(op))
        reason = planScatter(scatter);
      else
        return;
      ++result.candidates;
      if (!reason.empty())
        result.leftAlone[op] = std::move(reason);
    });
    return std::move(result);
  }

private:
  /// Why `op` (a collective) can never be fused, or "".
  std::string checkCollective(CollectiveOpInterface op) {
    std::optional<int64_t> size = op.getGroupSize();
    if (!size)
      return "its group does not resolve";
    if (*size <= 1)
      return "group @" + op.getGroupAttr().getValue().str() +
             " has a single rank";
    if (op.getInput().getType().getRank() != 2)
      return "its value has rank " +
             std::to_string(op.getInput().getType().getRank()) +
             "; the fused GEMM takes 2-D (rows x hidden) operands";
    if (op.getCollectiveDim() != 0)
      return "it works along dim " + std::to_string(*op.getCollectiveDim()) +
             ", not the token dim 0";
    return "";
  }

  /// Why chunks of `rows` rows are too small, or "".
  std::string checkRows(int64_t rows) {
    if (ShapedType::isDynamic(rows))
      return "the token dimension (0) is dynamic";
    if (rows < minRows)
      return std::to_string(rows) + " rows per rank are below min-rows=" +
             std::to_string(minRows);
    return "";
  }

  std::string planGather(AllGatherOp gather) {
    if (std::string why = checkCollective(gather); !why.empty())
      return why;
    SmallVector<linalg::MatmulOp> matmuls;
    for (OpOperand &use : gather->getUses())
      if (auto matmul = dyn_cast<linalg::MatmulOp>(use.getOwner()))
        if (use.getOperandNumber() == 0)
          matmuls.push_back(matmul);
    if (matmuls.empty())
      return "no linalg.matmul uses it as its lhs";
    if (std::string why = checkRows(gather.getInput().getType().getDimSize(0));
        !why.empty())
      return why;
    // The first plain GEMM in program order gets the gather; the others
    // read its gathered result.
    llvm::sort(matmuls, [&](linalg::MatmulOp a, linalg::MatmulOp b) {
      return dominance.properlyDominates(a.getOperation(), b.getOperation());
    });
    std::string firstReason;
    for (linalg::MatmulOp matmul : matmuls) {
      std::string why = whyNotPlainMatmul(matmul);
      if (!why.empty()) {
        if (firstReason.empty())
          firstReason = "its GEMM " + describe(matmul) + " is not fusable: " + why;
        continue;
      }
      std::optional<ScaleEpilogue> epilogue = scaledEpilogueOf(matmul);
      Operation *root = epilogue ? epilogue->op.getOperation()
                                 : matmul.getOperation();
      bool others = false;
      for (Operation *user : gather->getUsers()) {
        if (user == matmul)
          continue;
        if (!dominance.properlyDominates(root, user))
          return "the gathered value is used by " + describe(user) +
                 " before its GEMM";
        others = true;
      }
      result.roots.insert(root);
      if (others)
        result.keepGathered.insert(root);
      return "";
    }
    return firstReason;
  }

  std::string planScatter(ReduceScatterOp scatter) {
    if (std::string why = checkCollective(scatter); !why.empty())
      return why;
    if (scatter.getReduction() != ReductionKind::sum)
      return "it reduces with " +
             stringifyReductionKind(scatter.getReduction()).str() +
             "; only sum fuses with a GEMM";
    Value input = scatter.getInput();
    Operation *producer = input.getDefiningOp();
    linalg::MatmulOp matmul = dyn_cast_or_null<linalg::MatmulOp>(producer);
    if (!matmul) {
      std::optional<ScaleEpilogue> epilogue = matchScaleEpilogue(producer);
      if (epilogue)
        if (auto inner =
                epilogue->accumulator.getDefiningOp<linalg::MatmulOp>();
            inner && scaledEpilogueOf(inner))
          matmul = inner;
      if (!matmul)
        return producer ? "its input is not a GEMM result (it is the result "
                          "of " +
                              describe(producer) + ")"
                        : std::string("its input is a block argument, not "
                                      "a GEMM result");
    }
    if (!input.hasOneUse())
      return "the GEMM's result has other users; fusing would compute it twice";
    if (std::string why = whyNotPlainMatmul(matmul); !why.empty())
      return "its GEMM " + describe(matmul) + " is not fusable: " + why;
    // One fusion per GEMM: a GEMM that reads an all-gather is already
    // planned with it (gathers come first in program order).
    if (result.roots.contains(matmul.getOperation()) ||
        result.roots.contains(producer))
      return "its GEMM " + describe(matmul) +
             " is already fused with the all_gather before it";
    int64_t rows = scatter.getInput().getType().getDimSize(0);
    if (!ShapedType::isDynamic(rows))
      rows /= *CollectiveOpInterface(scatter).getGroupSize();
    if (std::string why = checkRows(rows); !why.empty())
      return why;
    result.roots.insert(scatter);
    return "";
  }

  DominanceInfo dominance;
  int64_t minRows;
  CollectiveMatmulPlan result;
};
} // namespace

CollectiveMatmulPlan
mlir::sp::planCollectiveMatmul(ModuleOp module,
                               const CollectiveMatmulPlanOptions &options) {
  return Planner(module, options).plan(module);
}

void mlir::sp::populateCollectiveMatmulPatterns(RewritePatternSet &patterns,
                                                CollectiveMatmulPlan &plan) {
  populateGeneratedPDLLPatterns(patterns);
  PDLPatternModule &pdl = patterns.getPDLPatterns();
  pdl.registerConstraintFunction(
      "IsPlannedFusion", [&plan](PatternRewriter &, Operation *root) {
        return success(plan.roots.contains(root));
      });
  pdl.registerConstraintFunction(
      "KeepsGathered", [&plan](PatternRewriter &, Operation *root) {
        return success(plan.keepGathered.contains(root));
      });
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
/// Keeps the plan free of dangling pointers (see SequenceParallelism.cpp).
struct FusionListener : public RewriterBase::Listener {
  explicit FusionListener(CollectiveMatmulPlan &plan) : plan(plan) {}
  void notifyOperationErased(Operation *op) override {
    if (plan.roots.erase(op))
      ++fused;
    plan.keepGathered.erase(op);
  }
  CollectiveMatmulPlan &plan;
  int64_t fused = 0;
};

struct CollectiveMatmulPass
    : public sp::impl::SPCollectiveMatmulBase<CollectiveMatmulPass> {
  using SPCollectiveMatmulBase::SPCollectiveMatmulBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (minRows < 1) {
      module.emitError() << "sp-collective-matmul: min-rows must be >= 1, got "
                         << static_cast<int64_t>(minRows);
      return signalPassFailure();
    }
    CollectiveCensus before = CollectiveCensus::of(module);
    CollectiveMatmulPlanOptions options;
    options.minRows = minRows;
    CollectiveMatmulPlan plan = planCollectiveMatmul(module, options);
    for (auto &[op, reason] : plan.leftAlone)
      mlir::emitRemark(op->getLoc())
          << op->getName().stripDialect() << " left alone: " << reason;
    int64_t planned = plan.roots.size();
    if (planned != 0) {
      RewritePatternSet patterns(&getContext());
      populateCollectiveMatmulPatterns(patterns, plan);
      FusionListener listener(plan);
      GreedyRewriteConfig config;
      config.setListener(&listener);
      config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
      // Only the fusions and erasing what they leave dead: no folding or
      // constant CSE of the ops around them.
      config.enableFolding(false);
      config.enableConstantCSE(false);
      // The roots and what feeds them (gather, GEMM, epilogue, fill), so
      // that the driver also erases what the fusion leaves dead.
      llvm::SetVector<Operation *> ops;
      SmallVector<Operation *> frontier(plan.roots.begin(), plan.roots.end());
      for (int depth = 0; depth < 6 && !frontier.empty(); ++depth) {
        SmallVector<Operation *> next;
        for (Operation *op : frontier) {
          if (!ops.insert(op))
            continue;
          for (Value operand : op->getOperands())
            if (Operation *def = operand.getDefiningOp())
              next.push_back(def);
        }
        frontier = std::move(next);
      }
      if (failed(applyOpPatternsGreedily(
              ops.getArrayRef(), FrozenRewritePatternSet(std::move(patterns)),
              config))) {
        module.emitError("sp-collective-matmul: rewriting did not converge");
        return signalPassFailure();
      }
      if (!plan.roots.empty()) {
        (*plan.roots.begin())
            ->emitError("sp-collective-matmul: internal error: a planned "
                        "fusion was not applied");
        return signalPassFailure();
      }
    }
    CollectiveCensus after = CollectiveCensus::of(module);
    numGatherFused += after.allGatherMatmul - before.allGatherMatmul;
    numScatterFused += after.matmulReduceScatter - before.matmulReduceScatter;
    numLeftAlone += plan.leftAlone.size();
    if (plan.candidates == 0)
      mlir::emitWarning(module.getLoc())
          << "sp-collective-matmul found no sp.all_gather or "
             "sp.reduce_scatter to fuse";
    // Fusing moves the same bytes; more would be a bug.
    if (after.bytesPerRank != before.bytesPerRank) {
      module.emitError() << "sp-collective-matmul: internal error: collective "
                            "bytes per rank changed from "
                         << before.bytesPerRank << " to "
                         << after.bytesPerRank;
      return signalPassFailure();
    }
    writeReport(plan, before, after);
  }

  void writeReport(const CollectiveMatmulPlan &plan,
                   const CollectiveCensus &before,
                   const CollectiveCensus &after) {
    if (reportFile.empty())
      return;
    std::error_code error;
    std::unique_ptr<llvm::raw_fd_ostream> file;
    llvm::raw_ostream *os = &llvm::outs();
    if (reportFile != "-") {
      file = std::make_unique<llvm::raw_fd_ostream>(reportFile, error,
                                                    llvm::sys::fs::OF_Text);
      if (error) {
        getOperation().emitError()
            << "sp-collective-matmul: cannot write report '" << reportFile
            << "': " << error.message();
        return signalPassFailure();
      }
      os = file.get();
    }
    llvm::json::OStream json(*os, /*IndentSize=*/2);
    json.object([&] {
      json.attribute("pass", "sp-collective-matmul");
      json.attributeObject("options",
                           [&] { json.attribute("min_rows", int64_t(minRows)); });
      json.attributeObject("sites", [&] {
        json.attribute("collectives", plan.candidates);
        json.attribute("all_gather_matmul",
                       after.allGatherMatmul - before.allGatherMatmul);
        json.attribute("matmul_reduce_scatter",
                       after.matmulReduceScatter - before.matmulReduceScatter);
        json.attribute("left_alone", int64_t(plan.leftAlone.size()));
      });
      json.attributeArray("left_alone", [&] {
        for (const auto &[op, reason] : plan.leftAlone)
          json.object([&] {
            std::string loc;
            llvm::raw_string_ostream locStream(loc);
            locStream << op->getLoc();
            json.attribute("op", op->getName().getStringRef());
            json.attribute("loc", loc);
            json.attribute("reason", reason);
          });
      });
      json.attributeObject("before", [&] { before.writeJSON(json); });
      json.attributeObject("after", [&] { after.writeJSON(json); });
    });
    *os << "\n";
  }
};
} // namespace
