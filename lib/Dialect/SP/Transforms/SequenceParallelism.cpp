//===- SequenceParallelism.cpp - the sp-sequence-parallelism pass ---------===//
//
// Plans the rewrite (SequenceParallelismPlanner.cpp), remarks on every site
// left alone, applies the PDLL patterns of SequenceParallelism.pdll one
// small step at a time (every intermediate program is valid and
// equivalent; AllSliceOp's folder removes the no-op slices), and reports
// collective counts and bytes before and after.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"
#include "sp/Dialect/SP/Analysis/CostModel.h"
#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/Analysis/RowWise.h"
#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/PatternHygiene.h"
#include "sp/Dialect/SP/Transforms/SequenceParallelism.h"
#include "sp/Dialect/SP/Transforms/TokenGuard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/PDL/IR/PDL.h"
#include "mlir/Dialect/PDLInterp/IR/PDLInterp.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace mlir::sp {
#define GEN_PASS_DEF_SPSEQUENCEPARALLELISM
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

#include "SequenceParallelism.pdll.h.inc"

static std::string &defaultReportFile() {
  static std::string path;
  return path;
}

void mlir::sp::setDefaultReportFile(std::string path) {
  defaultReportFile() = std::move(path);
}

//===----------------------------------------------------------------------===//
// Patterns and the rewrite driver
//===----------------------------------------------------------------------===//

/// The first row-aligned operand of `op` that is an all_gather along the
/// token dim, with `op`'s operands classified with respect to it.
static std::optional<std::pair<AllGatherOp, SmallVector<RowOperand>>>
findGatheredRows(Operation *op) {
  for (OpOperand &operand : op->getOpOperands()) {
    auto gather = operand.get().getDefiningOp<AllGatherOp>();
    if (!gather || gather.getDim() != 0)
      continue;
    if (std::optional<SmallVector<RowOperand>> kinds =
            getRowWiseOperands(op, operand.getOperandNumber()))
      return std::make_pair(gather, std::move(*kinds));
  }
  return std::nullopt;
}

/// `type` with dim 0 divided by `size` (a dynamic dim stays dynamic).
static RankedTensorType localRows(Type type, int64_t size) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  if (!ShapedType::isDynamic(shape[0]))
    shape[0] /= size;
  return tensor.clone(shape);
}

bool mlir::sp::canSinkGatherThrough(const SequenceParallelismPlan &plan,
                                    Operation *op) {
  return plan.localOps.contains(op) && findGatheredRows(op).has_value();
}

void mlir::sp::sinkGatherThroughRowWiseOp(RewriterBase &rewriter,
                                          Operation *op) {
  auto [gather, kinds] = *findGatheredRows(op);
  FlatSymbolRefAttr group = gather.getGroupAttr();
  int64_t size = *getGroupSize(gather);
  Location loc = op->getLoc();
  IntegerAttr tokenDim = rewriter.getI64IntegerAttr(0);
  SmallVector<Value> operands;
  for (auto [operand, kind] : llvm::zip(op->getOperands(), kinds)) {
    if (kind != RowOperand::Aligned) {
      operands.push_back(operand);
      continue;
    }
    auto rows = operand.getDefiningOp<AllGatherOp>();
    if (rows && rows.getDim() == 0 && rows.getGroupAttr() == group) {
      operands.push_back(rows.getInput());
      continue;
    }
    // The same on every rank (the planner checked): take this rank's rows.
    operands.push_back(AllSliceOp::create(rewriter, loc,
                                          localRows(operand.getType(), size),
                                          operand, group, tokenDim));
  }
  Operation *local = rewriter.clone(*op);
  rewriter.modifyOpInPlace(local, [&] {
    local->setOperands(operands);
    for (Value result : local->getResults())
      result.setType(localRows(result.getType(), size));
  });
  SmallVector<Value> gathered;
  for (auto [result, full] : llvm::zip(local->getResults(), op->getResults()))
    gathered.push_back(
        AllGatherOp::create(rewriter, loc, full.getType(), result, group,
                            tokenDim));
  rewriter.replaceOp(op, gathered);
}

namespace {
/// all_slice(tensor.empty) -> a smaller tensor.empty: undefined contents
/// either way. (A sunk linalg op's init.)
struct SliceEmptyTensor : OpRewritePattern<AllSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto empty = slice.getInput().getDefiningOp<tensor::EmptyOp>();
    auto type = slice.getType();
    if (!empty)
      return failure();
    // A dynamic dim keeps its size, but the sliced one, which is divided by
    // the group size (a token guard made it a multiple).
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d))
        continue;
      if (!empty.getType().isDynamicDim(d))
        return failure();
      Value size = empty.getDynamicSize(d);
      if (d == slice.getDim()) {
        std::optional<int64_t> groupSize = getGroupSize(slice);
        if (!groupSize)
          return failure();
        size = arith::DivUIOp::create(
            rewriter, slice.getLoc(), size,
            arith::ConstantIndexOp::create(rewriter, slice.getLoc(),
                                           *groupSize));
      }
      sizes.push_back(size);
    }
    rewriter.replaceOpWithNewOp<tensor::EmptyOp>(slice, type.getShape(),
                                                 type.getElementType(), sizes,
                                                 type.getEncoding());
    return success();
  }
};

/// all_slice(linalg.fill(v, x)) -> linalg.fill(v, all_slice(x)): every row
/// holds v.
struct SliceFill : OpRewritePattern<AllSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto fill = slice.getInput().getDefiningOp<linalg::FillOp>();
    if (!fill || !fill.hasPureTensorSemantics())
      return failure();
    Value init = AllSliceOp::create(rewriter, slice.getLoc(), slice.getType(),
                                    fill.getOutputs()[0], slice.getGroupAttr(),
                                    slice.getDimAttr());
    rewriter.replaceOpWithNewOp<linalg::FillOp>(slice, fill.getInputs(), init);
    return success();
  }
};
} // namespace

void mlir::sp::populateSliceShrinkingPatterns(RewritePatternSet &patterns) {
  patterns.add<SliceEmptyTensor, SliceFill>(patterns.getContext());
}

/// The func.call ops that use `func` (the planner checked that every use
/// of a carried function is one).
static SmallVector<func::CallOp> callsOf(func::FuncOp func) {
  SmallVector<func::CallOp> calls;
  auto module = func->getParentOfType<ModuleOp>();
  if (std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(func, module))
    for (const SymbolTable::SymbolUse &use : *uses)
      if (auto call = dyn_cast<func::CallOp>(use.getUser()))
        calls.push_back(call);
  return calls;
}

void mlir::sp::carryOnLocalRows(RewriterBase &rewriter,
                                CarriedBoundary &boundary) {
  IntegerAttr tokenDim = rewriter.getI64IntegerAttr(0);
  FlatSymbolRefAttr group = boundary.group;
  Type full = boundary.fullType, local = boundary.localType;
  // What enters the boundary: this rank's rows of it.
  auto slice = [&](OpOperand &operand) {
    Operation *owner = operand.getOwner();
    rewriter.setInsertionPoint(owner);
    Value rows = AllSliceOp::create(rewriter, owner->getLoc(), local,
                                    operand.get(), group, tokenDim);
    rewriter.modifyOpInPlace(owner, [&] { operand.set(rows); });
  };
  // What leaves it (retyped below): every row again for its users.
  auto gather = [&](Value value) {
    auto rows = AllGatherOp::create(rewriter, value.getLoc(), full, value,
                                    group, tokenDim);
    rewriter.replaceAllUsesExcept(value, rows, rows);
  };
  unsigned i = boundary.index;
  if (auto loop = dyn_cast<scf::ForOp>(boundary.op)) {
    BlockArgument arg = loop.getRegionIterArgs()[i];
    Value result = loop.getResult(i);
    rewriter.setInsertionPointToStart(loop.getBody());
    gather(arg);
    rewriter.setInsertionPointAfter(loop);
    gather(result);
    slice(loop.getBody()->getTerminator()->getOpOperand(i));
    slice(loop.getInitArgsMutable()[i]);
    rewriter.modifyOpInPlace(loop, [&] {
      arg.setType(local);
      result.setType(local);
    });
    return;
  }
  auto func = cast<func::FuncOp>(boundary.op);
  SmallVector<Type> inputs(func.getArgumentTypes());
  SmallVector<Type> results(func.getResultTypes());
  if (boundary.kind == CarriedBoundary::Kind::argument) {
    BlockArgument arg = func.getArgument(i);
    rewriter.setInsertionPointToStart(&func.front());
    gather(arg);
    for (func::CallOp call : callsOf(func))
      slice(call->getOpOperand(i));
    inputs[i] = local;
    rewriter.modifyOpInPlace(func, [&] {
      arg.setType(local);
      func.setFunctionType(rewriter.getFunctionType(inputs, results));
    });
    return;
  }
  for (Block &block : func.getBody())
    if (auto ret = dyn_cast<func::ReturnOp>(block.getTerminator()))
      slice(ret->getOpOperand(i));
  for (func::CallOp call : callsOf(func)) {
    rewriter.setInsertionPointAfter(call);
    gather(call.getResult(i));
    rewriter.modifyOpInPlace(call, [&] { call.getResult(i).setType(local); });
  }
  results[i] = local;
  rewriter.modifyOpInPlace(func, [&] {
    func.setFunctionType(rewriter.getFunctionType(inputs, results));
  });
}

namespace {
/// One planned boundary of a loop or function to local rows per application.
template <typename OpTy>
struct CarryOnLocalRows : OpRewritePattern<OpTy> {
  CarryOnLocalRows(MLIRContext *context, SequenceParallelismPlan &plan)
      : OpRewritePattern<OpTy>(context, /*benefit=*/3), plan(plan) {}
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    for (auto &entry : plan.carried) {
      CarriedBoundary &boundary = entry.second;
      if (boundary.op != op.getOperation() || boundary.done)
        continue;
      carryOnLocalRows(rewriter, boundary);
      boundary.done = true;
      return success();
    }
    return rewriter.notifyMatchFailure(op, "no boundary planned to carry");
  }
  SequenceParallelismPlan &plan;
};
} // namespace

void mlir::sp::populateCarryPatterns(RewritePatternSet &patterns,
                                     SequenceParallelismPlan &plan) {
  patterns.add<CarryOnLocalRows<scf::ForOp>, CarryOnLocalRows<func::FuncOp>>(
      patterns.getContext(), plan);
}

void mlir::sp::populateSequenceParallelismPatterns(
    RewritePatternSet &patterns, SequenceParallelismPlan &plan) {
  populateGeneratedPDLLPatterns(patterns);
  populateSliceShrinkingPatterns(patterns);
  populateCarryPatterns(patterns, plan);
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
                       allGather.getDim() == 0);
      });
  pdl.registerConstraintFunction(
      "IsPlannedRowWiseOp", [&plan](PatternRewriter &, Operation *op) {
        return success(canSinkGatherThrough(plan, op));
      });
  pdl.registerRewriteFunction(
      "SinkGatherThroughRowWiseOp",
      [](PatternRewriter &rewriter, Operation *op) {
        sinkGatherThroughRowWiseOp(rewriter, op);
      });
}

namespace {
/// Keeps the plan free of dangling pointers: an erased op's address may be
/// reused by a new op, which must not inherit the old op's plan.
struct PlanListener : public RewriterBase::Listener {
  explicit PlanListener(SequenceParallelismPlan &plan) : plan(plan) {}
  void notifyOperationErased(Operation *op) override {
    plan.sites.erase(op);
    plan.localOps.erase(op);
    // A loop the driver erased as dead takes its boundaries with it.
    for (auto &entry : plan.carried)
      if (entry.second.op == op) {
        entry.second.op = nullptr;
        entry.second.done = true;
      }
  }
  SequenceParallelismPlan &plan;
};
} // namespace

/// Whether the patterns apply to `op`: sp ops (but the group symbols), the
/// ops planned to run on local rows and the slices of their inits.
static bool isRewritable(const SequenceParallelismPlan &plan, Operation *op) {
  return (isa<SPDialect>(op->getDialect()) && !isa<GroupOp>(op)) ||
         plan.localOps.contains(op) ||
         llvm::any_of(plan.carried, [&](const auto &entry) {
           return entry.second.op == op && !entry.second.done;
         });
}

static SmallVector<Operation *>
collectRewritableOps(ModuleOp module, const SequenceParallelismPlan &plan) {
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isRewritable(plan, op))
      ops.push_back(op);
  });
  return ops;
}

LogicalResult
mlir::sp::applyPlannedRewrites(ModuleOp module, SequenceParallelismPlan &plan,
                               const FrozenRewritePatternSet &patterns,
                               const PlannedRewriteOptions &options) {
  PlanListener listener(plan);
  bool limited = options.maxRewrites >= 0;
  if (options.checkPatterns) {
    std::string problem;
    auto rewritable = [&plan](Operation *op) {
      return isRewritable(plan, op);
    };
    if (failed(applyPatternsWithHygieneChecks(module, patterns, rewritable,
                                              &listener, options.maxRewrites,
                                              problem)))
      return module.emitError()
             << "sp-sequence-parallelism: pattern hygiene: " << problem;
    // Then the folds (no-op slices) and dead gathers, as usual.
  }
  GreedyRewriteConfig config;
  config.setListener(&listener);
  config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
  if (limited)
    config.setMaxNumRewrites(options.maxRewrites);
  if (failed(applyOpPatternsGreedily(collectRewritableOps(module, plan), patterns,
                                     config)) &&
      !limited)
    return module.emitError(
        "sp-sequence-parallelism: rewriting did not converge");
  if (!plan.sites.empty() && !limited)
    return (*plan.sites.begin())
        ->emitError("sp-sequence-parallelism: internal error: a planned site "
                    "was not rewritten");
  for (auto &entry : plan.carried)
    if (!entry.second.done && !limited)
      return (entry.second.op ? entry.second.op : module.getOperation())
                 ->emitError()
             << "sp-sequence-parallelism: internal error: "
             << entry.second.what << " was planned on local rows but not "
             << "changed";
  return success();
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
/// A private copy of a function for its calls in the module.
struct Specialization {
  func::FuncOp original, copy;
  int64_t calls = 0;
};
} // namespace

/// Copies every function that holds an sp.all_reduce, is called from the
/// module and is public or has symbol uses other than calls: the copy is
/// private and takes every call (a valid, equivalent program: the copy
/// computes what the original does). Recursive functions are left alone.
static std::vector<Specialization> copyCalledFunctions(ModuleOp module) {
  std::vector<Specialization> copies;
  SymbolTable table(module);
  for (func::FuncOp func : llvm::to_vector(module.getOps<func::FuncOp>())) {
    if (func.isExternal() || !func.walk([](AllReduceOp) {
                                    return WalkResult::interrupt();
                                  }).wasInterrupted())
      continue;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(func, module);
    if (!uses)
      continue;
    SmallVector<func::CallOp> calls;
    bool otherUses = false;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (call)
        calls.push_back(call);
      else
        otherUses = true;
    }
    if (calls.empty() || (func.isPrivate() && !otherUses) ||
        llvm::any_of(calls, [&](func::CallOp call) {
          return func->isAncestor(call);
        }))
      continue;
    auto copy = cast<func::FuncOp>(func->clone());
    copy.setSymName((func.getSymName() + "_local_rows").str());
    copy.setPrivate();
    table.insert(copy, std::next(Block::iterator(func)));
    for (func::CallOp call : calls)
      call.setCallee(copy.getSymName());
    copies.push_back({func, copy, int64_t(calls.size())});
  }
  return copies;
}

/// Removes the copies the plan does not change beyond what it plans for the
/// original (no boundary carried, as many sites split): their calls go back
/// to the original, and their ops leave the plan.
static void keepUsefulCopies(SequenceParallelismPlan &plan,
                             std::vector<Specialization> &copies) {
  auto plannedSites = [&](func::FuncOp func) {
    int64_t n = 0;
    func.walk([&](AllReduceOp site) { n += plan.sites.contains(site); });
    return n;
  };
  llvm::erase_if(copies, [&](Specialization &copy) {
    bool carried = llvm::any_of(plan.carried, [&](const auto &entry) {
      return entry.second.op == copy.copy.getOperation();
    });
    if (carried || plannedSites(copy.copy) != plannedSites(copy.original))
      return false;
    auto module = copy.copy->getParentOfType<ModuleOp>();
    if (std::optional<SymbolTable::UseRange> uses =
            SymbolTable::getSymbolUses(copy.copy, module))
      for (const SymbolTable::SymbolUse &use : *uses)
        cast<func::CallOp>(use.getUser()).setCallee(copy.original.getSymName());
    copy.copy.walk([&](Operation *op) {
      plan.sites.erase(op);
      plan.localOps.erase(op);
      plan.leftAlone.erase(op);
      plan.predictions.erase(op);
    });
    llvm::erase_if(plan.fullRows, [&](const FullRowsBoundary &b) {
      return b.op == copy.copy.getOperation();
    });
    copy.copy.erase();
    return true;
  });
}

/// a * b for counts (>= 0), saturating at int64's maximum.
static int64_t saturatingMul(int64_t a, int64_t b) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a)
    return std::numeric_limits<int64_t>::max();
  return a * b;
}

/// How many times `op` runs per call of the public functions: the product of
/// the constant trip counts of the scf.for loops around it, times the runs
/// of each call of a private function it is in (a function nothing calls
/// runs once). std::nullopt through a loop of unknown trip count, an
/// scf.while or recursion.
static std::optional<int64_t>
timesRun(Operation *op, llvm::DenseMap<Operation *, std::optional<int64_t>> &memo,
         llvm::SmallPtrSetImpl<Operation *> &visiting) {
  int64_t times = 1;
  for (Operation *parent = op->getParentOp(); parent;
       parent = parent->getParentOp()) {
    if (auto loop = dyn_cast<scf::ForOp>(parent)) {
      std::optional<APInt> trips = loop.getStaticTripCount();
      if (!trips)
        return std::nullopt;
      times = saturatingMul(times, trips->getActiveBits() > 63
                                       ? std::numeric_limits<int64_t>::max()
                                       : int64_t(trips->getZExtValue()));
      continue;
    }
    if (isa<scf::WhileOp>(parent))
      return std::nullopt;
    auto func = dyn_cast<func::FuncOp>(parent);
    if (!func)
      continue;
    if (!func.isPrivate())
      return times;
    auto it = memo.find(func);
    if (it == memo.end()) {
      if (!visiting.insert(func).second)
        return std::nullopt;
      std::optional<int64_t> calls = 0;
      auto module = func->getParentOfType<ModuleOp>();
      if (std::optional<SymbolTable::UseRange> uses =
              SymbolTable::getSymbolUses(func, module)) {
        bool any = false;
        for (const SymbolTable::SymbolUse &use : *uses) {
          any = true;
          std::optional<int64_t> runs =
              isa<func::CallOp>(use.getUser())
                  ? timesRun(use.getUser(), memo, visiting)
                  : std::nullopt;
          if (!runs || !calls) {
            calls = std::nullopt;
            continue;
          }
          *calls = saturatingAdd(*calls, *runs);
        }
        if (!any)
          calls = 1;
      } else {
        calls = std::nullopt;
      }
      visiting.erase(func);
      it = memo.try_emplace(func, calls).first;
    }
    if (!it->second)
      return std::nullopt;
    return saturatingMul(times, *it->second);
  }
  return times;
}

/// The collectives that run per call of the public functions (the module's
/// census with each op counted as often as it runs); ops that run an
/// unknown number of times count once and in `unknown`.
static CollectiveCensus executedCensus(ModuleOp module, int64_t &unknown) {
  CollectiveCensus total;
  unknown = 0;
  llvm::DenseMap<Operation *, std::optional<int64_t>> memo;
  llvm::SmallPtrSet<Operation *, 8> visiting;
  auto add = [](int64_t &to, int64_t count, int64_t times) {
    to = saturatingAdd(to, saturatingMul(count, times));
  };
  module.walk([&](Operation *op) {
    if (op->getNumRegions() != 0 || op->getNumResults() == 0 ||
        !isa<SPDialect>(op->getDialect()))
      return;
    // Of a token guard, only the guarded version counts (as in the census).
    for (Operation *parent = op->getParentOp(); parent;
         parent = parent->getParentOp())
      if (parent->hasAttr(kTokenGuardAttrName) && parent->getNumRegions() == 2 &&
          parent->getRegion(1).isAncestor(op->getParentRegion()))
        return;
    CollectiveCensus one = CollectiveCensus::of(op);
    std::optional<int64_t> times = timesRun(op, memo, visiting);
    if (!times) {
      ++unknown;
      times = 1;
    }
    add(total.allReduce, one.allReduce, *times);
    add(total.reduceScatter, one.reduceScatter, *times);
    add(total.allGather, one.allGather, *times);
    add(total.allSlice, one.allSlice, *times);
    add(total.allGatherMatmul, one.allGatherMatmul, *times);
    add(total.matmulReduceScatter, one.matmulReduceScatter, *times);
    add(total.ringShift, one.ringShift, *times);
    add(total.bytesPerRank, one.bytesPerRank, *times);
    add(total.unknownSize, one.unknownSize, *times);
  });
  return total;
}

namespace {
/// What dynamic=guard|pad decided for one token range of a function.
struct RangeDecision {
  TokenRange range;
  /// The token count the range was planned at (its smallest multiple of
  /// tp), and the sites planned there.
  int64_t plannedAt = 0, sites = 0;
  bool rewrite = false;
  std::string why;
};

/// A function with all_reduce sites on a dynamic token dimension.
struct DynamicFunction {
  std::string name;
  SmallVector<int64_t> tokenArgs;
  int64_t tp = 0;
  /// How the default range was found (thresholds or the cost model).
  std::string rangesFrom;
  std::vector<RangeDecision> ranges;
  /// "guarded", "padded", or why the function was left as it is.
  std::string outcome;
};

struct SequenceParallelismPass
    : public sp::impl::SPSequenceParallelismBase<SequenceParallelismPass> {
  using SPSequenceParallelismBase::SPSequenceParallelismBase;

  void runOnOperation() override;

private:
  /// dynamic=guard|pad: decides each token range of every function with
  /// dynamic-token sites on its own and versions the function on n.
  LogicalResult versionDynamicFunctions(
      ModuleOp module, const SequenceParallelismPlanOptions &planOptions,
      ArrayRef<TokenRange> userRanges);
  std::vector<DynamicFunction> dynamicFunctions;

  void writeReport(const SequenceParallelismPlan &plan,
                   const CollectiveCensus &before,
                   const CollectiveCensus &after, int64_t planned,
                   int64_t rewritten, const CollectiveCensus &executedBefore,
                   const CollectiveCensus &executedAfter);
  /// Collectives that ran (not ops in the module) whose count is unknown.
  int64_t executedUnknown = 0;
  /// Private copies kept for a function's calls: original, copy, calls.
  std::vector<std::tuple<std::string, std::string, int64_t>> copiedFunctions;
};
} // namespace

void SequenceParallelismPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (minTokens < 0) {
    module.emitError() << "sp-sequence-parallelism: min-tokens must be >= 0, "
                          "got "
                       << static_cast<int64_t>(minTokens);
    return signalPassFailure();
  }

  std::optional<DeviceProfile> profile;
  if (!costModel.empty()) {
    llvm::Expected<DeviceProfile> loaded = DeviceProfile::load(costModel);
    if (!loaded) {
      module.emitError() << "sp-sequence-parallelism: "
                         << llvm::toString(loaded.takeError());
      return signalPassFailure();
    }
    profile = std::move(*loaded);
  }

  SmallVector<TokenRange> userRanges;
  if (!ranges.empty()) {
    if (std::optional<std::string> error = parseTokenRanges(ranges, userRanges)) {
      module.emitError() << "sp-sequence-parallelism: ranges: " << *error;
      return signalPassFailure();
    }
  }

  CollectiveCensus before = CollectiveCensus::of(module);
  SequenceParallelismPlanOptions planOptions;
  planOptions.minTokens = minTokens;
  planOptions.device = device;
  planOptions.costModel = profile ? &*profile : nullptr;
  planOptions.carry = carry;
  dynamicFunctions.clear();
  if (dynamic != DynamicTokens::off &&
      failed(versionDynamicFunctions(module, planOptions, userRanges)))
    return signalPassFailure();
  // Functions with sites that the module calls but that are public (or
  // also used other than by calls) get a private copy for those calls, which
  // the planner may change to local rows like any private function.
  std::vector<Specialization> copies;
  if (carry)
    copies = copyCalledFunctions(module);
  // Asked after versioning and copying: the analysis reads one unchanging
  // IR.
  ReplicationAnalysis replication(assumeReplicated);
  SequenceParallelismPlan plan =
      planSequenceParallelism(module, replication, planOptions);
  keepUsefulCopies(plan, copies);
  // What the rewrite must not exceed: the program with its copies (each
  // copy's collectives count, as its original's do).
  CollectiveCensus baseline = CollectiveCensus::of(module);
  copiedFunctions.clear();
  for (Specialization &copy : copies)
    copiedFunctions.emplace_back(copy.original.getSymName().str(),
                                 copy.copy.getSymName().str(), copy.calls);
  for (auto &[site, reason] : plan.leftAlone) {
    InFlightDiagnostic remark = mlir::emitRemark(site->getLoc());
    for (Specialization &copy : copies)
      if (copy.copy->isAncestor(site))
        remark << "in @" << copy.copy.getSymName() << " (the copy of @"
               << copy.original.getSymName() << " for its calls): ";
    remark << "all_reduce left alone: " << reason;
  }
  for (Specialization &copy : copies)
    mlir::emitRemark(copy.copy.getLoc())
        << "@" << copy.copy.getSymName() << " is a private copy of @"
        << copy.original.getSymName() << " for its " << copy.calls
        << " calls in the module, which it changes to local rows; @"
        << copy.original.getSymName() << " stays as it was for "
        << (copy.original.isPublic() ? "callers outside the module"
                                     : "its other uses");
  for (auto &entry : plan.carried) {
    const CarriedBoundary &b = entry.second;
    mlir::emitRemark(b.op->getLoc())
        << b.what << " carried on local rows: " << b.fullType << " -> "
        << b.localType << " over " << b.group << "; " << b.how;
  }
  for (const FullRowsBoundary &b : plan.fullRows)
    mlir::emitRemark(b.op->getLoc())
        << b.what << " kept on full rows: " << b.why;
  int64_t planned = plan.sites.size();
  CollectiveCensus executedBefore = executedCensus(module, executedUnknown);

  if (planned != 0) {
    RewritePatternSet patterns(&getContext());
    populateSequenceParallelismPatterns(patterns, plan);
    PlannedRewriteOptions rewriteOptions;
    rewriteOptions.maxRewrites = maxRewrites;
    rewriteOptions.checkPatterns = checkPatterns;
    if (failed(applyPlannedRewrites(module, plan,
                                    FrozenRewritePatternSet(std::move(patterns)),
                                    rewriteOptions)))
      return signalPassFailure();
  }

  // Sites still in the plan were not reached (only with max-rewrites).
  int64_t rewritten = planned - static_cast<int64_t>(plan.sites.size());
  CollectiveCensus after = CollectiveCensus::of(module);
  int64_t unknownAfter = 0;
  CollectiveCensus executedAfter = executedCensus(module, unknownAfter);
  numSitesRewritten += rewritten;
  numSitesSkipped += plan.leftAlone.size();
  if (plan.leftAlone.empty() && planned == 0)
    mlir::emitWarning(module.getLoc())
        << "sp-sequence-parallelism found no sp.all_reduce to rewrite";
  else if (planned == 0)
    mlir::emitWarning(plan.leftAlone.front().first->getLoc())
        << "sp-sequence-parallelism rewrote none of the "
        << plan.leftAlone.size() << " sp.all_reduce ops (see the remarks)";
  writeReport(plan, before, after, planned, rewritten, executedBefore,
              executedAfter);
  // An intermediate program (max-rewrites) may briefly move more bytes.
  if (maxRewrites < 0 && after.bytesPerRank > baseline.bytesPerRank) {
    module.emitError() << "sp-sequence-parallelism: internal error: "
                          "collective bytes per rank grew from "
                       << baseline.bytesPerRank << " to " << after.bytesPerRank;
    return signalPassFailure();
  }
}

/// Sites whose token dim is dynamic, outside any guard.
static SmallVector<AllReduceOp> findDynamicSites(func::FuncOp func) {
  SmallVector<AllReduceOp> sites;
  func.walk([&](AllReduceOp site) {
    auto type = cast<RankedTensorType>(site.getType());
    if (type.getRank() >= 2 && type.isDynamicDim(0) &&
        !getEnclosingTokenGuard(site))
      sites.push_back(site);
  });
  return sites;
}

static int64_t roundUp(int64_t n, int64_t m) {
  return n > std::numeric_limits<int64_t>::max() - m ? n
                                                     : (n + m - 1) / m * m;
}

LogicalResult SequenceParallelismPass::versionDynamicFunctions(
    ModuleOp module, const SequenceParallelismPlanOptions &planOptions,
    ArrayRef<TokenRange> userRanges) {
  // One analysis for the what-if plans, on the IR before any versioning.
  ReplicationAnalysis replication(assumeReplicated);
  SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
  for (func::FuncOp func : funcs) {
    if (func.isExternal())
      continue;
    SmallVector<AllReduceOp> sites = findDynamicSites(func);
    if (sites.empty())
      continue;
    DynamicFunction info;
    info.name = func.getSymName().str();
    llvm::SetVector<BlockArgument> tokenArgs;
    int64_t tp = 1;
    int64_t threshold = std::max<int64_t>(1, minTokens);
    for (AllReduceOp site : sites) {
      if (auto arg =
              dyn_cast_or_null<BlockArgument>(traceTokenRoot(site.getInput())))
        tokenArgs.insert(arg);
      std::optional<int64_t> size = getGroupSize(site);
      if (!size || *size <= 1)
        continue;
      tp = std::lcm(tp, *size);
      if (std::optional<int64_t> deviceMin = vllmMinTokens(
              device, cast<RankedTensorType>(site.getType()), *size))
        threshold = std::max(threshold, *deviceMin);
    }
    info.tp = tp;
    // Padding changes the rows of every argument with a dynamic token dim
    // (rows of one token count must stay aligned), each to its own count.
    if (dynamic == DynamicTokens::pad && !tokenArgs.empty())
      for (BlockArgument arg : func.getArguments())
        if (auto type = dyn_cast<RankedTensorType>(arg.getType()))
          if (type.getRank() >= 1 && type.isDynamicDim(0))
            tokenArgs.insert(arg);
    for (BlockArgument arg : tokenArgs)
      info.tokenArgs.push_back(arg.getArgNumber());
    if (tokenArgs.empty()) {
      info.outcome = "left as it is: no site's token rows come from a "
                     "function argument";
      dynamicFunctions.push_back(std::move(info));
      continue;
    }
    if (tp <= 1) {
      info.outcome = "left as it is: no site's group has more than one rank";
      dynamicFunctions.push_back(std::move(info));
      continue;
    }

    // What the planner does at n tokens (a multiple of tp).
    auto plannedSitesAt = [&](int64_t n, std::string *why) {
      SequenceParallelismPlanOptions whatIf = planOptions;
      whatIf.assumedTokens = n;
      whatIf.scope = func;
      SequenceParallelismPlan plan =
          planSequenceParallelism(module, replication, whatIf);
      if (why && !plan.leftAlone.empty())
        *why = plan.leftAlone.front().second;
      return int64_t(plan.sites.size());
    };

    SmallVector<TokenRange> ranges(userRanges.begin(), userRanges.end());
    if (ranges.empty()) {
      int64_t from = threshold;
      info.rangesFrom = "thresholds (min-tokens, device)";
      if (planOptions.costModel) {
        // The cost model's break-even: the smallest multiple of tp it
        // predicts the rewrite pays at (doubling, then bisection; assumes
        // one crossing, which the report's ranges make visible).
        info.rangesFrom = "cost model break-even";
        int64_t paysAt = 0, pays = roundUp(std::max(threshold, tp), tp);
        for (int doubling = 0; doubling < 24 && !plannedSitesAt(pays, nullptr);
             ++doubling) {
          paysAt = pays;
          pays *= 2;
        }
        if (plannedSitesAt(pays, nullptr)) {
          int64_t lo = paysAt / tp, hi = pays / tp; // lo fails, hi pays
          while (lo != 0 && hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            (plannedSitesAt(mid * tp, nullptr) ? hi : lo) = mid;
          }
          from = hi * tp;
        } else {
          from = pays; // never pays: the range from here is left alone
        }
      }
      if (from > 1)
        ranges.push_back({1, from - 1});
      ranges.push_back({from, TokenRange::kUnbounded});
    }

    SmallVector<TokenRange> guarded;
    for (const TokenRange &range : ranges) {
      RangeDecision decision;
      decision.range = range;
      decision.plannedAt = roundUp(range.lo, tp);
      if (range.bounded() && decision.plannedAt > range.hi &&
          dynamic == DynamicTokens::guard) {
        decision.why = "no token count in the range is a multiple of the "
                       "group size " +
                       std::to_string(tp);
      } else {
        std::string why;
        decision.sites = plannedSitesAt(decision.plannedAt, &why);
        // Both ends must agree (bounded ranges).
        // guard: the largest multiple of tp in the range; pad: what its
        // largest count is padded to.
        int64_t top = !range.bounded() ? 0
                      : dynamic == DynamicTokens::guard
                          ? range.hi / tp * tp
                          : roundUp(range.hi, tp);
        if (decision.sites && range.bounded() && top != decision.plannedAt &&
            !plannedSitesAt(top, &why))
          decision.sites = 0;
        decision.rewrite = decision.sites > 0;
        decision.why = decision.rewrite
                           ? std::to_string(decision.sites) +
                                 " sites rewritten at " +
                                 std::to_string(decision.plannedAt) + " tokens"
                           : why.empty() ? "no site would be rewritten" : why;
      }
      if (decision.rewrite) {
        if (!guarded.empty() && guarded.back().bounded() &&
            guarded.back().hi + 1 == range.lo)
          guarded.back().hi = range.hi;
        else
          guarded.push_back(range);
      }
      info.ranges.push_back(std::move(decision));
    }
    if (guarded.empty()) {
      info.outcome = "left as it is: the rewrite pays in none of its ranges";
      dynamicFunctions.push_back(std::move(info));
      continue;
    }
    std::string why;
    bool pad = dynamic == DynamicTokens::pad;
    FailureOr<scf::IfOp> guard = insertTokenGuard(
        func, tokenArgs.getArrayRef(), tp, guarded,
        roundUp(guarded.front().lo, tp), pad, why);
    info.outcome = succeeded(guard) ? (pad ? "padded" : "guarded")
                                    : "left as it is: " + why;
    if (failed(guard))
      mlir::emitRemark(func.getLoc())
          << "function left unversioned on its dynamic token count: " << why;
    dynamicFunctions.push_back(std::move(info));
  }
  return success();
}

void SequenceParallelismPass::writeReport(
    const SequenceParallelismPlan &plan, const CollectiveCensus &before,
    const CollectiveCensus &after, int64_t planned, int64_t rewritten,
    const CollectiveCensus &executedBefore,
    const CollectiveCensus &executedAfter) {
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
      json.attribute("device", stringifyGPUGeneration(device));
      json.attribute("assume_replicated", bool(assumeReplicated));
      json.attribute("cost_model", std::string(costModel));
      json.attribute("dynamic", dynamic == DynamicTokens::off     ? "off"
                                : dynamic == DynamicTokens::guard ? "guard"
                                                                  : "pad");
      json.attribute("ranges", std::string(ranges));
    });
    // Functions versioned (or not) on a dynamic token count.
    json.attributeArray("dynamic", [&] {
      for (const DynamicFunction &f : dynamicFunctions) {
        json.object([&] {
          json.attribute("function", f.name);
          json.attributeArray("token_arguments", [&] {
            for (int64_t arg : f.tokenArgs)
              json.value(arg);
          });
          json.attribute("tp", f.tp);
          if (!f.rangesFrom.empty())
            json.attribute("ranges_from", f.rangesFrom);
          json.attributeArray("ranges", [&] {
            for (const RangeDecision &r : f.ranges) {
              json.object([&] {
                json.attribute("range", r.range.str());
                json.attribute("planned_at", r.plannedAt);
                json.attribute("sites", r.sites);
                json.attribute("decision", r.rewrite ? "rewrite" : "left alone");
                json.attribute("why", r.why);
              });
            }
          });
          json.attribute("outcome", f.outcome);
        });
      }
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
    // With cost-model: the predictions (microseconds) per judged site.
    json.attributeArray("predictions", [&] {
      for (const auto &entry : plan.predictions) {
        const SitePrediction &p = entry.second;
        json.object([&] {
          std::string loc;
          llvm::raw_string_ostream locStream(loc);
          locStream << p.loc;
          json.attribute("loc", loc);
          json.attribute("tokens", p.tokens);
          json.attribute("tp", p.tp);
          json.attribute("before_us", p.before() * 1e6);
          json.attribute("after_us", p.after() * 1e6);
          json.attribute("all_reduce_us", p.beforeCollective * 1e6);
          json.attribute("local_before_us", p.beforeLocal * 1e6);
          json.attribute("reduce_scatter_us", p.afterReduceScatter * 1e6);
          json.attribute("all_gather_us", p.afterGather * 1e6);
          json.attribute("local_after_us", p.afterLocal * 1e6);
          json.attribute("hidden_us", p.hidden * 1e6);
          json.attribute("decision", p.pays() ? "rewrite" : "left alone");
        });
      }
    });
    // Loop and call boundaries carried on local rows (docs/ControlFlow.md).
    json.attributeArray("carried", [&] {
      for (auto &entry : plan.carried) {
        const CarriedBoundary &b = entry.second;
        json.object([&] {
          json.attribute("boundary", b.what);
          std::string full, local;
          llvm::raw_string_ostream(full) << b.fullType;
          llvm::raw_string_ostream(local) << b.localType;
          json.attribute("full", full);
          json.attribute("local", local);
          json.attribute("group", b.group.getValue());
          json.attribute(b.kind == CarriedBoundary::Kind::iterArg
                             ? "iterations"
                             : "calls",
                         b.crossings);
          json.attribute("how", b.how);
        });
      }
    });
    // Private copies of public functions for their calls in the module.
    json.attributeArray("copies", [&] {
      for (const auto &[original, copy, calls] : copiedFunctions)
        json.object([&] {
          json.attribute("function", original);
          json.attribute("copy", copy);
          json.attribute("calls", calls);
        });
    });
    json.attributeArray("kept_on_full_rows", [&] {
      for (const FullRowsBoundary &b : plan.fullRows)
        json.object([&] {
          json.attribute("boundary", b.what);
          json.attribute("why", b.why);
        });
    });
    // "before"/"after" count the ops in the module, so a loop body's or a
    // callee's collectives once (the budget is per iteration and per call);
    // "executed_*" count what runs: times constant trip counts and calls.
    json.attribute("budget", "per iteration and per call: each op in a loop "
                             "body or a function counts once");
    json.attributeObject("before", [&] { before.writeJSON(json); });
    json.attributeObject("after", [&] { after.writeJSON(json); });
    json.attributeObject("executed_before",
                         [&] { executedBefore.writeJSON(json); });
    json.attributeObject("executed_after",
                         [&] { executedAfter.writeJSON(json); });
    json.attribute("executed_unknown_trip_counts", executedUnknown);
  });
  *os << "\n";
}
