//===- SequenceParallelism.cpp - the sp-sequence-parallelism pass ---------===//
//
// Two phases:
//  1. Plan. Decide, on the unmodified IR, which all_reduce sites to split and
//     which row-wise ops (norms, quants) to run on local rows. A site must be
//     legal (group > 1, static divisible token dim >= threshold, replicated
//     weights/residuals/scales) and must not add communication. Sites that
//     fail get a remark saying why.
//  2. Rewrite. The PDLL patterns of SequenceParallelism.pdll apply the plan
//     one small step at a time; every intermediate program is valid and
//     equivalent, and AllSliceOp's folder removes the no-op slices.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/PatternHygiene.h"
#include "sp/Dialect/SP/Transforms/Replication.h"

#include "mlir/Dialect/PDL/IR/PDL.h"
#include "mlir/Dialect/PDLInterp/IR/PDLInterp.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

namespace mlir::sp {
#define GEN_PASS_DEF_SPSEQUENCEPARALLELISM
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

#include "SequenceParallelism.pdll.h.inc"

//===----------------------------------------------------------------------===//
// Thresholds and report defaults
//===----------------------------------------------------------------------===//

std::optional<int64_t> mlir::sp::vllmMinTokens(StringRef device,
                                               int64_t hidden, int64_t tp,
                                               int64_t elementBytes) {
  if (hidden <= 0 || tp <= 0 || elementBytes <= 0)
    return std::nullopt;
  int64_t megabytes;
  if (device == "sm90") {
    if (hidden < 8192)
      return std::nullopt;
    megabytes = 8;
  } else if (device == "sm100") {
    megabytes = 32;
  } else {
    return std::nullopt;
  }
  // In 128 bits: absurd group sizes or hidden sizes must not wrap around.
  __int128 numerator = __int128(megabytes) * (int64_t(1) << 20) * tp;
  __int128 tokens = numerator / (__int128(hidden) * elementBytes);
  return tokens > std::numeric_limits<int64_t>::max()
             ? std::numeric_limits<int64_t>::max()
             : int64_t(tokens);
}

static std::string &defaultReportFile() {
  static std::string path;
  return path;
}

void mlir::sp::setDefaultReportFile(std::string path) {
  defaultReportFile() = std::move(path);
}

//===----------------------------------------------------------------------===//
// Communication accounting (ring model, bytes sent per rank)
//===----------------------------------------------------------------------===//

/// Bytes of a statically shaped tensor; std::nullopt if any dim is dynamic.
static std::optional<int64_t> tensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return std::nullopt;
  int64_t bytes = (tensor.getElementTypeBitWidth() + 7) / 8;
  for (int64_t extent : tensor.getShape())
    if (llvm::MulOverflow(bytes, extent, bytes))
      return std::nullopt; // no real tensor is this large: size unknown
  return bytes;
}

/// a + b clamped to int64's range: byte counts of absurd shapes or group
/// sizes must not wrap around and invert the pass's decisions (a fuzzer
/// finding: group size 24444444444444444).
static int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (llvm::AddOverflow(a, b, sum))
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  return sum;
}

/// bytes * (n - 1) / n, what each rank sends of `bytes` in a ring of n,
/// rounded toward zero like that expression, without its overflow.
static int64_t ringShare(int64_t bytes, int64_t n) {
  if (n <= 1)
    return 0;
  bool negative = bytes < 0;
  int64_t magnitude = !negative ? bytes
                      : bytes == std::numeric_limits<int64_t>::min()
                          ? std::numeric_limits<int64_t>::max()
                          : -bytes;
  int64_t share = magnitude - (magnitude / n + (magnitude % n != 0));
  return negative ? -share : share;
}

namespace {
/// Counts and per-rank bytes of the collectives in a module. In a ring,
/// all_reduce sends 2(n-1)/n of the tensor per rank, reduce_scatter (n-1)/n
/// of its input, all_gather (n-1)/n of its output; all_slice sends nothing.
struct CollectiveCensus {
  int64_t allReduce = 0, reduceScatter = 0, allGather = 0, allSlice = 0;
  int64_t bytesPerRank = 0;
  int64_t unknownSize = 0;

  static CollectiveCensus of(Operation *root) {
    CollectiveCensus census;
    root->walk([&](Operation *op) {
      if (!isCollective(op))
        return;
      std::optional<int64_t> size = getGroupSize(op);
      std::optional<int64_t> bytes;
      int64_t factor = 1;
      if (isa<AllReduceOp>(op)) {
        ++census.allReduce;
        bytes = tensorBytes(op->getOperand(0).getType());
        factor = 2;
      } else if (isa<ReduceScatterOp>(op)) {
        ++census.reduceScatter;
        bytes = tensorBytes(op->getOperand(0).getType());
      } else if (isa<AllGatherOp>(op)) {
        ++census.allGather;
        bytes = tensorBytes(op->getResult(0).getType());
      } else {
        ++census.allSlice;
        return;
      }
      if (!bytes || !size) {
        ++census.unknownSize;
        return;
      }
      int64_t share = ringShare(*bytes, *size);
      census.bytesPerRank = saturatingAdd(census.bytesPerRank, share);
      if (factor == 2)
        census.bytesPerRank = saturatingAdd(census.bytesPerRank, share);
    });
    return census;
  }

  void writeJSON(llvm::json::OStream &json) const {
    json.attribute("all_reduce", allReduce);
    json.attribute("reduce_scatter", reduceScatter);
    json.attribute("all_gather", allGather);
    json.attribute("all_slice", allSlice);
    json.attribute("bytes_per_rank", bytesPerRank);
    json.attribute("unknown_size", unknownSize);
  }
};

//===----------------------------------------------------------------------===//
// The planner
//===----------------------------------------------------------------------===//

struct Plan {
  /// all_reduce ops to split into reduce_scatter + all_gather.
  llvm::DenseSet<Operation *> sites;
  /// Row-wise ops (rms_norm, fused_add_rms_norm, quant) to run on local rows.
  llvm::DenseSet<Operation *> localOps;
  /// Why each all_reduce that is not a site was left alone, in IR order.
  llvm::MapVector<Operation *, std::string> leftAlone;
};

/// The outcome of evaluating one site against the current set of sites.
struct SiteEvaluation {
  /// Bytes of the tensors the rewrite still has to gather (before the ring
  /// factor, which is the same for every collective over the site's group).
  int64_t gatheredBytes = 0;
  SmallVector<Operation *> localOps;
  /// Uses that need the full value, explained for remarks.
  SmallVector<std::string> fullUses;
  /// Why a norm user could not run on local rows.
  SmallVector<std::string> blockedNorms;
};

class Planner {
public:
  Planner(ReplicationAnalysis &replication, int64_t minTokens,
          StringRef device)
      : replication(replication), minTokens(minTokens), device(device) {}

  Plan plan(ModuleOp module);

private:
  /// Returns an explanation if `site` can never be split, or "" if it can.
  std::string checkLegality(AllReduceOp site);
  SiteEvaluation evaluate(AllReduceOp site,
                          const llvm::DenseSet<Operation *> &chosen);
  bool isLocalFusedAdd(FusedAddRMSNormOp op, std::string *why);
  int64_t outputGatherBytes(Value output, SiteEvaluation &eval);
  int64_t residualGatherBytes(Value residualOut,
                              const llvm::DenseSet<Operation *> &chosen,
                              SiteEvaluation &eval);
  bool isChosenSiteValue(Value value,
                         const llvm::DenseSet<Operation *> &chosen) {
    Operation *def = value.getDefiningOp();
    return def && chosen.contains(def);
  }

  ReplicationAnalysis &replication;
  int64_t minTokens;
  std::string device;
};
} // namespace

static std::string describe(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "'" << op->getName() << "' at " << op->getLoc();
  return text;
}

static std::string describeValue(Value value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto arg = dyn_cast<BlockArgument>(value))
    os << "argument #" << arg.getArgNumber();
  else
    os << "the result of " << describe(value.getDefiningOp());
  return text;
}

static constexpr StringLiteral kReplicationHint =
    "mark the function argument `sp.replicated`, or pass assume-replicated";

std::string Planner::checkLegality(AllReduceOp site) {
  std::string reason;
  llvm::raw_string_ostream os(reason);
  std::optional<int64_t> size = getGroupSize(site);
  if (!size) {
    os << "its group does not resolve";
    return reason;
  }
  if (*size <= 1) {
    os << "group " << site.getGroupAttr() << " has a single rank";
    return reason;
  }
  auto type = cast<RankedTensorType>(site.getType());
  if (type.getRank() < 2) {
    os << "its value has rank " << type.getRank()
       << "; it needs a token dimension (0) besides the hidden dimension";
    return reason;
  }
  int64_t tokens = type.getDimSize(0);
  if (ShapedType::isDynamic(tokens)) {
    os << "the token dimension (0) is dynamic";
    return reason;
  }
  if (tokens % *size != 0) {
    os << tokens << " tokens are not divisible by the group size " << *size;
    return reason;
  }
  int64_t hidden = type.getDimSize(type.getRank() - 1);
  int64_t elementBytes = (type.getElementTypeBitWidth() + 7) / 8;
  std::optional<int64_t> deviceMin =
      ShapedType::isDynamic(hidden)
          ? std::nullopt
          : vllmMinTokens(device, hidden, *size, elementBytes);
  if (tokens < minTokens) {
    os << tokens << " tokens are below min-tokens=" << minTokens;
    return reason;
  }
  if (deviceMin && tokens < *deviceMin) {
    os << tokens << " tokens are below vLLM's threshold of " << *deviceMin
       << " for device=" << device << " (hidden " << hidden << ", tp "
       << *size << ", " << elementBytes << "-byte elements)";
    return reason;
  }
  bool feedsNorm = llvm::any_of(site->getUses(), [](OpOperand &use) {
    return use.getOperandNumber() == 0 &&
           isa<RMSNormOp, FusedAddRMSNormOp>(use.getOwner());
  });
  if (!feedsNorm) {
    os << "it does not feed the input of an sp.rms_norm or "
          "sp.fused_add_rms_norm";
    return reason;
  }
  return "";
}

bool Planner::isLocalFusedAdd(FusedAddRMSNormOp op, std::string *why) {
  if (!replication.isReplicated(op.getWeight())) {
    if (why)
      *why = "the weight (" + describeValue(op.getWeight()) + ") of " +
             describe(op) + " is not known to be replicated; " +
             kReplicationHint.str();
    return false;
  }
  if (!replication.isReplicated(op.getResidual())) {
    if (why)
      *why = "the residual (" + describeValue(op.getResidual()) + ") of " +
             describe(op) +
             " is not known to be replicated, so its rows cannot be sliced; " +
             kReplicationHint.str();
    return false;
  }
  return true;
}

/// Bytes to gather for a norm output that now lives on local rows: nothing
/// if unused, the FP8 results if every user is a quant that can move below
/// the gather, the output itself otherwise.
int64_t Planner::outputGatherBytes(Value output, SiteEvaluation &eval) {
  if (output.use_empty())
    return 0;
  SmallVector<Operation *> quants;
  for (Operation *user : output.getUsers()) {
    auto quant = dyn_cast<QuantOp>(user);
    if (!quant || quant.getInput() != output ||
        !replication.isReplicated(quant.getScale())) {
      quants.clear();
      break;
    }
    quants.push_back(quant);
  }
  if (quants.empty())
    return tensorBytes(output.getType()).value_or(0);
  int64_t bytes = 0;
  for (Operation *quant : quants) {
    eval.localOps.push_back(quant);
    if (!quant->use_empty())
      bytes += tensorBytes(quant->getResult(0).getType()).value_or(0);
  }
  return bytes;
}

/// A residual_out costs nothing when all its users are the residual operand
/// of norms that run locally for another site: their all_slice folds away.
int64_t
Planner::residualGatherBytes(Value residualOut,
                             const llvm::DenseSet<Operation *> &chosen,
                             SiteEvaluation &eval) {
  for (OpOperand &use : residualOut.getUses()) {
    auto next = dyn_cast<FusedAddRMSNormOp>(use.getOwner());
    if (next && use.getOperandNumber() == 1 &&
        isChosenSiteValue(next.getInput(), chosen) &&
        isLocalFusedAdd(next, nullptr))
      continue;
    eval.fullUses.push_back("the residual result feeds " +
                            describe(use.getOwner()));
    return tensorBytes(residualOut.getType()).value_or(0);
  }
  return 0;
}

SiteEvaluation Planner::evaluate(AllReduceOp site,
                                 const llvm::DenseSet<Operation *> &chosen) {
  SiteEvaluation eval;
  bool needsFullValue = false;
  for (OpOperand &use : site->getUses()) {
    Operation *user = use.getOwner();
    unsigned operand = use.getOperandNumber();
    if (auto norm = dyn_cast<RMSNormOp>(user); norm && operand == 0) {
      if (replication.isReplicated(norm.getWeight())) {
        eval.localOps.push_back(norm);
        eval.gatheredBytes = saturatingAdd(
            eval.gatheredBytes, outputGatherBytes(norm.getResult(), eval));
        continue;
      }
      eval.blockedNorms.push_back("the weight (" +
                                  describeValue(norm.getWeight()) + ") of " +
                                  describe(norm) +
                                  " is not known to be replicated; " +
                                  kReplicationHint.str());
    } else if (auto fused = dyn_cast<FusedAddRMSNormOp>(user)) {
      std::string why;
      if (operand == 0 && isLocalFusedAdd(fused, &why)) {
        eval.localOps.push_back(fused);
        eval.gatheredBytes = saturatingAdd(
            eval.gatheredBytes, outputGatherBytes(fused.getOutput(), eval));
        eval.gatheredBytes = saturatingAdd(
            eval.gatheredBytes,
            residualGatherBytes(fused.getResidualOut(), chosen, eval));
        continue;
      }
      // The residual of a norm run locally for another site: its all_slice
      // of this site's gathered value folds to the local rows.
      if (operand == 1 && fused.getInput() != site.getResult() &&
          isChosenSiteValue(fused.getInput(), chosen) &&
          isLocalFusedAdd(fused, nullptr))
        continue;
      if (operand == 0)
        eval.blockedNorms.push_back(why);
    }
    needsFullValue = true;
    eval.fullUses.push_back("its result feeds " + describe(user));
  }
  if (needsFullValue)
    eval.gatheredBytes = saturatingAdd(eval.gatheredBytes,
                                       tensorBytes(site.getType()).value_or(0));
  return eval;
}

Plan Planner::plan(ModuleOp module) {
  // Why each all_reduce that does not become a site is left alone.
  llvm::DenseMap<Operation *, std::string> reasons;
  SmallVector<AllReduceOp> candidates;
  module.walk([&](AllReduceOp site) {
    std::string reason = checkLegality(site);
    if (reason.empty())
      candidates.push_back(site);
    else
      reasons[site] = std::move(reason);
  });

  // A site whose norms cannot run on local rows gains nothing: splitting it
  // would only trade one collective for two.
  llvm::DenseSet<Operation *> chosen;
  for (AllReduceOp site : candidates) {
    SiteEvaluation eval = evaluate(site, chosen);
    bool hasLocalNorm = llvm::any_of(eval.localOps, [](Operation *op) {
      return isa<RMSNormOp, FusedAddRMSNormOp>(op);
    });
    if (hasLocalNorm) {
      chosen.insert(site);
      continue;
    }
    reasons[site] = "none of its norms can run on local rows: " +
                    (eval.blockedNorms.empty() ? std::string("no norm user")
                                               : eval.blockedNorms.front());
  }

  // Communication must not grow in total. Each gather the rewrite leaves is
  // attributed to exactly one site, so the growth is the sum over sites of
  // (gathered - all-gather half of the all_reduce) * (n-1)/n. While that sum
  // is positive, drop the site that adds the most; dropping a site can make
  // a neighbour's residual need a gather, hence the re-evaluation. The last
  // round's evaluations are those of the final set of sites.
  SmallVector<std::pair<AllReduceOp, SiteEvaluation>> evaluations;
  while (true) {
    evaluations.clear();
    int64_t totalExcess = 0, worstExcess = 0;
    size_t worst = 0;
    for (AllReduceOp site : candidates) {
      if (!chosen.contains(site))
        continue;
      SiteEvaluation eval = evaluate(site, chosen);
      int64_t size = *getGroupSize(site);
      int64_t excess = ringShare(
          saturatingAdd(eval.gatheredBytes,
                        -tensorBytes(site.getType()).value_or(0)),
          size);
      totalExcess = saturatingAdd(totalExcess, excess);
      if (evaluations.empty() || excess > worstExcess) {
        worst = evaluations.size();
        worstExcess = excess;
      }
      evaluations.emplace_back(site, std::move(eval));
    }
    if (evaluations.empty() || totalExcess <= 0)
      break;
    auto &[site, eval] = evaluations[worst];
    std::string reason;
    llvm::raw_string_ostream os(reason);
    os << "rewriting it would add " << worstExcess
       << " bytes per rank of communication (";
    llvm::interleave(eval.fullUses, os, "; ");
    os << ")";
    chosen.erase(site);
    reasons[site] = std::move(reason);
  }

  Plan result;
  for (auto &[site, eval] : evaluations) {
    result.sites.insert(site);
    result.localOps.insert(eval.localOps.begin(), eval.localOps.end());
  }
  // Remarks in IR order.
  module.walk([&](AllReduceOp site) {
    auto it = reasons.find(site);
    if (it != reasons.end())
      result.leftAlone[site] = std::move(it->second);
  });
  return result;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
/// Keeps the plan free of dangling pointers: an erased op's address may be
/// reused by a new op, which must not inherit the old op's plan.
struct PlanListener : public RewriterBase::Listener {
  explicit PlanListener(Plan &plan) : plan(plan) {}
  void notifyOperationErased(Operation *op) override {
    plan.sites.erase(op);
    plan.localOps.erase(op);
  }
  Plan &plan;
};

struct SequenceParallelismPass
    : public sp::impl::SPSequenceParallelismBase<SequenceParallelismPass> {
  using SPSequenceParallelismBase::SPSequenceParallelismBase;

  void runOnOperation() override;

private:
  RewritePatternSet buildPatterns(Plan &plan);
  void writeReport(const Plan &plan, const CollectiveCensus &before,
                   const CollectiveCensus &after, int64_t planned,
                   int64_t rewritten);
};
} // namespace

namespace {
/// A pattern that consults the plan, with the PDLL pattern's benefit.
template <typename OpTy, unsigned Benefit>
struct PlannedPattern : OpRewritePattern<OpTy> {
  PlannedPattern(MLIRContext *context, Plan &plan)
      : OpRewritePattern<OpTy>(context, Benefit), plan(plan) {}
  Plan &plan;
};

/// The rewrites of SequenceParallelism.pdll as C++ patterns (patterns=cpp).
/// They create the same ops in the same order, so both sets give identical
/// IR; the PDLL set is the default, this one measures what interpreting PDL
/// costs and cross-checks the PDLL patterns.
struct SplitAllReduceCpp : PlannedPattern<AllReduceOp, 1> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    if (!plan.sites.contains(op))
      return failure();
    auto type = cast<RankedTensorType>(op.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[0] /= *getGroupSize(op);
    IntegerAttr dim = rewriter.getI64IntegerAttr(0);
    Value scatter = ReduceScatterOp::create(
        rewriter, op.getLoc(), type.clone(shape), op.getInput(),
        op.getGroupAttr(), dim, op.getReductionAttr());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, type, scatter,
                                             op.getGroupAttr(), dim);
    return success();
  }
};

/// The planned op's operand 0 as an all_gather along dim 0, if it is one.
static AllGatherOp plannedGather(Operation *op, Plan &plan) {
  auto gather = op->getOperand(0).getDefiningOp<AllGatherOp>();
  if (!gather || !plan.localOps.contains(op) ||
      gather.getDimAttr().getInt() != 0)
    return nullptr;
  return gather;
}

struct SinkGatherThroughRMSNormCpp : PlannedPattern<RMSNormOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Value local = gather.getInput();
    Value norm = RMSNormOp::create(rewriter, op.getLoc(), local.getType(),
                                   local, op.getWeight(), op.getEpsilonAttr());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, op.getType(), norm,
                                             gather.getGroupAttr(),
                                             gather.getDimAttr());
    return success();
  }
};

struct SinkGatherThroughFusedAddRMSNormCpp
    : PlannedPattern<FusedAddRMSNormOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(FusedAddRMSNormOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Location loc = op.getLoc();
    Value local = gather.getInput();
    Type localType = local.getType();
    Value slice = AllSliceOp::create(rewriter, loc, localType,
                                     op.getResidual(), gather.getGroupAttr(),
                                     gather.getDimAttr());
    auto norm = FusedAddRMSNormOp::create(rewriter, loc, localType, localType,
                                          local, slice, op.getWeight(),
                                          op.getEpsilonAttr());
    Value output = AllGatherOp::create(rewriter, loc, op.getOutput().getType(),
                                       norm.getOutput(), gather.getGroupAttr(),
                                       gather.getDimAttr());
    Value residual = AllGatherOp::create(
        rewriter, loc, op.getResidualOut().getType(), norm.getResidualOut(),
        gather.getGroupAttr(), gather.getDimAttr());
    rewriter.replaceOp(op, {output, residual});
    return success();
  }
};

struct SinkGatherThroughQuantCpp : PlannedPattern<QuantOp, 2> {
  using PlannedPattern::PlannedPattern;
  LogicalResult matchAndRewrite(QuantOp op,
                                PatternRewriter &rewriter) const override {
    AllGatherOp gather = plannedGather(op, plan);
    if (!gather)
      return failure();
    Value local = gather.getInput();
    auto localType = cast<RankedTensorType>(local.getType())
                         .clone(op.getType().getElementType());
    Value quant = QuantOp::create(rewriter, op.getLoc(), localType, local,
                                  op.getScale());
    rewriter.replaceOpWithNewOp<AllGatherOp>(op, op.getType(), quant,
                                             gather.getGroupAttr(),
                                             gather.getDimAttr());
    return success();
  }
};
} // namespace

RewritePatternSet SequenceParallelismPass::buildPatterns(Plan &plan) {
  MLIRContext *context = &getContext();
  RewritePatternSet patterns(context);
  if (patternKind == "cpp") {
    patterns.add<SplitAllReduceCpp, SinkGatherThroughRMSNormCpp,
                 SinkGatherThroughFusedAddRMSNormCpp, SinkGatherThroughQuantCpp>(
        context, plan);
    return patterns;
  }
  populateGeneratedPDLLPatterns(patterns);
  PDLPatternModule &pdl = patterns.getPDLPatterns();
  pdl.registerConstraintFunction(
      "IsPlannedSite", [&plan](PatternRewriter &, Operation *op) {
        return success(plan.sites.contains(op));
      });
  pdl.registerConstraintFunction(
      "IsPlannedLocalOp",
      [&plan](PatternRewriter &, Operation *op, Operation *gather) {
        auto allGather = dyn_cast<AllGatherOp>(gather);
        return success(plan.localOps.contains(op) && allGather &&
                       allGather.getDimAttr().getInt() == 0);
      });
  pdl.registerRewriteFunction(
      "LocalRowsType", [](PatternRewriter &, Operation *site) -> Type {
        auto type = cast<RankedTensorType>(site->getResult(0).getType());
        SmallVector<int64_t> shape(type.getShape());
        shape[0] /= *getGroupSize(site);
        return type.clone(shape);
      });
  pdl.registerRewriteFunction(
      "TypeOf", [](PatternRewriter &, Value value) -> Type {
        return value.getType();
      });
  pdl.registerRewriteFunction(
      "WithElementType",
      [](PatternRewriter &, Value shapeOf, Type elementOf) -> Type {
        return cast<RankedTensorType>(shapeOf.getType())
            .clone(cast<ShapedType>(elementOf).getElementType());
      });
  pdl.registerRewriteFunction(
      "ResultAt",
      [](PatternRewriter &, Operation *op, Attribute index) -> Value {
        return op->getResult(cast<IntegerAttr>(index).getInt());
      });
  return patterns;
}

void SequenceParallelismPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (device != "" && device != "sm90" && device != "sm100") {
    module.emitError() << "sp-sequence-parallelism: unknown device '" << device
                       << "' (expected sm90 or sm100)";
    return signalPassFailure();
  }
  if (patternKind != "pdll" && patternKind != "cpp") {
    module.emitError() << "sp-sequence-parallelism: unknown patterns '"
                       << patternKind << "' (expected pdll or cpp)";
    return signalPassFailure();
  }
  if (minTokens < 0) {
    module.emitError() << "sp-sequence-parallelism: min-tokens must be >= 0, "
                          "got "
                       << static_cast<int64_t>(minTokens);
    return signalPassFailure();
  }

  CollectiveCensus before = CollectiveCensus::of(module);
  ReplicationAnalysis replication(assumeReplicated);
  Plan plan = Planner(replication, minTokens, device).plan(module);
  for (auto &[site, reason] : plan.leftAlone)
    mlir::emitRemark(site->getLoc()) << "all_reduce left alone: " << reason;
  int64_t planned = plan.sites.size();

  if (planned != 0) {
    FrozenRewritePatternSet patterns(buildPatterns(plan));
    PlanListener listener(plan);
    GreedyRewriteConfig config;
    config.setListener(&listener);
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<SPDialect>(op->getDialect()) && !isa<GroupOp>(op))
        ops.push_back(op);
    });
    bool limited = maxRewrites >= 0;
    if (limited)
      config.setMaxNumRewrites(maxRewrites);
    if (checkPatterns) {
      std::string problem;
      auto isSPOp = [](Operation *op) {
        return isa<SPDialect>(op->getDialect()) && !isa<GroupOp>(op);
      };
      if (failed(applyPatternsWithHygieneChecks(
              module, patterns, isSPOp, &listener, maxRewrites, problem))) {
        module.emitError() << "sp-sequence-parallelism: pattern hygiene: "
                           << problem;
        return signalPassFailure();
      }
      // Then the folds (no-op slices) and dead gathers, as usual.
      ops.clear();
      module.walk([&](Operation *op) {
        if (isa<SPDialect>(op->getDialect()) && !isa<GroupOp>(op))
          ops.push_back(op);
      });
    }
    if (failed(applyOpPatternsGreedily(ops, patterns, config)) && !limited) {
      module.emitError("sp-sequence-parallelism: rewriting did not converge");
      return signalPassFailure();
    }
    if (!plan.sites.empty() && !limited) {
      (*plan.sites.begin())->emitError(
          "sp-sequence-parallelism: internal error: a planned site was not "
          "rewritten");
      return signalPassFailure();
    }
  }

  // Sites still in the plan were not reached (only with max-rewrites).
  int64_t rewritten = planned - static_cast<int64_t>(plan.sites.size());
  CollectiveCensus after = CollectiveCensus::of(module);
  numSitesRewritten += rewritten;
  numSitesSkipped += plan.leftAlone.size();
  if (plan.leftAlone.empty() && planned == 0)
    mlir::emitWarning(module.getLoc())
        << "sp-sequence-parallelism found no sp.all_reduce to rewrite";
  else if (planned == 0)
    mlir::emitWarning(plan.leftAlone.front().first->getLoc())
        << "sp-sequence-parallelism rewrote none of the "
        << plan.leftAlone.size() << " sp.all_reduce ops (see the remarks)";
  writeReport(plan, before, after, planned, rewritten);
  // An intermediate program (max-rewrites) may briefly move more bytes.
  if (maxRewrites < 0 && after.bytesPerRank > before.bytesPerRank) {
    module.emitError() << "sp-sequence-parallelism: internal error: "
                          "collective bytes per rank grew from "
                       << before.bytesPerRank << " to " << after.bytesPerRank;
    return signalPassFailure();
  }
}

void SequenceParallelismPass::writeReport(const Plan &plan,
                                          const CollectiveCensus &before,
                                          const CollectiveCensus &after,
                                          int64_t planned, int64_t rewritten) {
  std::string path = reportFile.empty() ? defaultReportFile() : reportFile;
  if (path.empty())
    return;
  std::error_code error;
  std::unique_ptr<llvm::raw_fd_ostream> file;
  llvm::raw_ostream *os = &llvm::outs();
  if (path != "-") {
    file = std::make_unique<llvm::raw_fd_ostream>(path, error,
                                                  llvm::sys::fs::OF_Text);
    if (error) {
      getOperation().emitError() << "sp-sequence-parallelism: cannot write "
                                    "report '"
                                 << path << "': " << error.message();
      return signalPassFailure();
    }
    os = file.get();
  }
  llvm::json::OStream json(*os, /*IndentSize=*/2);
  json.object([&] {
    json.attribute("pass", "sp-sequence-parallelism");
    json.attributeObject("options", [&] {
      json.attribute("min_tokens", int64_t(minTokens));
      json.attribute("device", std::string(device));
      json.attribute("assume_replicated", bool(assumeReplicated));
    });
    json.attributeObject("sites", [&] {
      json.attribute("all_reduce", planned + int64_t(plan.leftAlone.size()));
      json.attribute("rewritten", rewritten);
      json.attribute("not_reached", planned - rewritten);
      json.attribute("left_alone", int64_t(plan.leftAlone.size()));
    });
    json.attributeArray("left_alone", [&] {
      for (const auto &entry : plan.leftAlone) {
        json.object([&] {
          std::string loc;
          llvm::raw_string_ostream locStream(loc);
          locStream << entry.first->getLoc();
          json.attribute("loc", loc);
          json.attribute("reason", entry.second);
        });
      }
    });
    json.attributeObject("before", [&] { before.writeJSON(json); });
    json.attributeObject("after", [&] { after.writeJSON(json); });
  });
  *os << "\n";
}
