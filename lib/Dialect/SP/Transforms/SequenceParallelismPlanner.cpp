//===- SequenceParallelismPlanner.cpp - what the rewrite may change -------===//
//
// Decides, on the unmodified IR, which all_reduce sites to split and which
// row-wise ops to run on local rows (RowWise.h: sp's norms and quant,
// linalg ops whose maps keep the tokens in dim 0, elementwise ops). A site
// must be legal (group > 1, static divisible token dim >= threshold) and
// must not add communication; an op runs on local rows when one of its
// row-aligned operands is local and the others are local or replicated
// (replicated row-aligned operands are sliced, broadcast ones read whole).
// Sites that fail get a reason the pass turns into a remark.
//
// A local value that reaches a loop or call boundary (an scf.for iter_arg, an
// argument or result of a private function) may cross it on local rows
// (CarriedBoundary): the boundary's other side becomes local too, so the
// residual stream stays on 1/TP of the rows from layer to layer as in a flat
// model. The budget counts each op once (per iteration, per call); a carried
// boundary whose gathers would make a site add communication goes back to
// full rows before any site is dropped.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/SequenceParallelism.h"

#include "sp/Dialect/SP/Analysis/CommunicationCost.h"
#include "sp/Dialect/SP/Analysis/CostModel.h"
#include "sp/Dialect/SP/Analysis/Replication.h"
#include "sp/Dialect/SP/Analysis/RowWise.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/TokenGuard.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

using namespace mlir;
using namespace mlir::sp;

namespace {
/// The ops that run on local rows for a set of sites, and who owns what.
struct SiteRegion {
  /// In the order they were reached (a topological order of the region).
  llvm::SetVector<Operation *> localOps;
  /// Each local value (site results and local ops' results) -> its site.
  llvm::DenseMap<Value, Operation *> owner;
  /// Each local op -> the site whose value brought it in.
  llvm::DenseMap<Operation *, Operation *> opOwner;
  /// Why a site's users could not run locally (the first reason found).
  llvm::DenseMap<Operation *, std::string> blocked;
  /// Boundaries carried on local rows, keyed like the plan's, and the site
  /// whose value reached each first.
  llvm::MapVector<std::pair<Operation *, unsigned>,
                  std::pair<CarriedBoundary, Operation *>>
      carried;
};

/// A use that crosses a boundary that may be carried on local rows.
struct BoundaryUse {
  Operation *op = nullptr;
  CarriedBoundary::Kind kind = CarriedBoundary::Kind::iterArg;
  unsigned index = 0;
  std::pair<Operation *, unsigned> key() const {
    return {op, 3 * index + static_cast<unsigned>(kind)};
  }
};

class Planner {
public:
  Planner(ReplicationAnalysis &replication,
          const SequenceParallelismPlanOptions &options)
      : replication(replication), minTokens(options.minTokens),
        device(options.device), costModel(options.costModel),
        assumedTokens(options.assumedTokens), scope(options.scope),
        carry(options.carry) {}

  SequenceParallelismPlan plan(ModuleOp module);

private:
  /// Returns an explanation if `site` can never be split, or "" if it can.
  std::string checkLegality(AllReduceOp site);
  SiteRegion grow(ArrayRef<AllReduceOp> sites);
  bool tryLocalize(SiteRegion &region, Operation *op, unsigned rowOperand,
                   Operation *site);
  void prune(SiteRegion &region);
  bool hasNonLocalUser(const SiteRegion &region, Value value,
                       Operation *except = nullptr);
  /// Whether `use` stays on local rows: a local op's operand, or an input
  /// of a boundary carried on local rows over the value's group.
  bool isLocalUse(const SiteRegion &region, OpOperand &use);
  /// Carries the boundary `use` crosses on local rows if it may be; pushes
  /// the values that become local to `worklist`.
  bool tryCarry(SiteRegion &region, OpOperand &use, Operation *site,
                SmallVectorImpl<Value> &worklist);
  std::optional<BoundaryUse> boundaryOf(OpOperand &use);
  /// The func.call ops of a private function whose every symbol use is one
  /// of them (std::nullopt for other functions).
  const std::optional<SmallVector<func::CallOp>> &callsOf(func::FuncOp func);
  /// The cost model's prediction for `site` in `region`, or a reason why
  /// there is none (the profile has no data for the group size).
  std::optional<SitePrediction> predict(const SiteRegion &region,
                                        AllReduceOp site, std::string &why);

  /// Bytes of `value`'s tensor; a dynamic token dim counts as the token
  /// count the value is planned at (TokenGuard.h), 0 if there is none.
  int64_t bytes(Value value) const;

  ReplicationAnalysis &replication;
  int64_t minTokens;
  GPUGeneration device;
  const DeviceProfile *costModel;
  std::optional<int64_t> assumedTokens;
  Operation *scope;
  bool carry;
  ModuleOp module;
  /// Boundaries sent back to full rows, with why.
  llvm::MapVector<std::pair<Operation *, unsigned>, FullRowsBoundary> forbidden;
  llvm::DenseMap<Operation *, std::optional<SmallVector<func::CallOp>>> calls;
  SymbolTableCollection symbols;
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

/// How to tell the planner that an argument is replicated within `group`:
/// for a group inside a larger grid, the value may differ across the other
/// axes (data parallel), so name the group's own axes.
static std::string replicationHint(GroupOp group) {
  std::string text;
  llvm::raw_string_ostream os(text);
  std::optional<ArrayRef<int64_t>> axes = group ? group.getAxes() : std::nullopt;
  if (axes) {
    os << "mark the function argument `sp.replicated` (or `sp.replicated_axes "
          "= array<i64: ";
    llvm::interleaveComma(*axes, os);
    os << ">` if it is the same only within each @" << group.getSymName()
       << " group), or pass assume-replicated";
  } else {
    os << "mark the function argument `sp.replicated`, or pass "
          "assume-replicated";
  }
  return text;
}

int64_t Planner::bytes(Value value) const {
  Type type = value.getType();
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (tensor && tensor.getRank() >= 1 && tensor.isDynamicDim(0)) {
    Operation *at = value.getDefiningOp();
    if (!at)
      at = value.getParentBlock()->getParentOp();
    if (std::optional<int64_t> tokens = getPlanningTokens(at, assumedTokens)) {
      SmallVector<int64_t> shape(tensor.getShape());
      shape[0] = *tokens;
      type = tensor.clone(shape);
    }
  }
  return getTensorBytes(type).value_or(0);
}

/// Whether `op` is in the unrewritten (else) version of a guarded function.
static bool isInUnguardedVersion(Operation *op) {
  for (Operation *parent = op->getParentOp(); parent;
       parent = parent->getParentOp()) {
    auto guard = dyn_cast<scf::IfOp>(parent);
    if (guard && guard->hasAttr(kTokenGuardAttrName))
      return guard.getElseRegion().isAncestor(op->getParentRegion());
  }
  return false;
}

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
    // Planned at the guard's token count when the guard covers its rows.
    std::optional<int64_t> planning =
        isCoveredByTokenGuard(site, site.getInput(), scope)
            ? getPlanningTokens(site, assumedTokens)
            : std::nullopt;
    if (!planning) {
      os << "the token dimension (0) is dynamic";
      if (isInUnguardedVersion(site))
        os << " and this is the unrewritten version of the function, for "
              "token counts outside the guarded ranges or not divisible by "
              "the group size";
      else
        os << " and no token guard covers it (see the report's \"dynamic\" "
              "section)";
      return reason;
    }
    tokens = *planning;
  }
  if (tokens % *size != 0) {
    os << tokens << " tokens are not divisible by the group size " << *size;
    return reason;
  }
  int64_t hidden = type.getDimSize(type.getRank() - 1);
  int64_t elementBytes = (type.getElementTypeBitWidth() + 7) / 8;
  std::optional<int64_t> deviceMin = vllmMinTokens(device, type, *size);
  if (tokens < minTokens) {
    os << tokens << " tokens are below min-tokens=" << minTokens;
    return reason;
  }
  if (deviceMin && tokens < *deviceMin) {
    os << tokens << " tokens are below vLLM's threshold of " << *deviceMin
       << " for device=" << stringifyGPUGeneration(device) << " (hidden " << hidden << ", tp "
       << *size << ", " << elementBytes << "-byte elements)";
    return reason;
  }
  return "";
}

/// Whether `value` has a user outside the region (other than `except`):
/// then it must be gathered.
bool Planner::hasNonLocalUser(const SiteRegion &region, Value value,
                              Operation *except) {
  return llvm::any_of(value.getUses(), [&](OpOperand &use) {
    return use.getOwner() != except && !isLocalUse(region, use);
  });
}

const std::optional<SmallVector<func::CallOp>> &
Planner::callsOf(func::FuncOp func) {
  auto it = calls.find(func);
  if (it != calls.end())
    return it->second;
  std::optional<SmallVector<func::CallOp>> &result = calls[func];
  if (!func.isPrivate() || func.isExternal())
    return result;
  std::optional<SymbolTable::UseRange> uses =
      SymbolTable::getSymbolUses(func, module);
  if (!uses)
    return result;
  SmallVector<func::CallOp> found;
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto call = dyn_cast<func::CallOp>(use.getUser());
    if (!call)
      return result;
    found.push_back(call);
  }
  result = std::move(found);
  return result;
}

std::optional<BoundaryUse> Planner::boundaryOf(OpOperand &use) {
  Operation *owner = use.getOwner();
  unsigned number = use.getOperandNumber();
  if (auto yield = dyn_cast<scf::YieldOp>(owner)) {
    if (auto loop = dyn_cast<scf::ForOp>(yield->getParentOp()))
      return BoundaryUse{loop, CarriedBoundary::Kind::iterArg, number};
    return std::nullopt;
  }
  if (auto loop = dyn_cast<scf::ForOp>(owner)) {
    unsigned control = loop.getNumControlOperands();
    if (number < control)
      return std::nullopt;
    return BoundaryUse{loop, CarriedBoundary::Kind::iterArg, number - control};
  }
  // Calls: a what-if plan of one function stays inside it.
  if (scope)
    return std::nullopt;
  if (auto call = dyn_cast<func::CallOp>(owner)) {
    auto callee = symbols.lookupNearestSymbolFrom<func::FuncOp>(
        call, call.getCalleeAttr());
    if (!callee || !callsOf(callee))
      return std::nullopt;
    return BoundaryUse{callee, CarriedBoundary::Kind::argument, number};
  }
  if (isa<func::ReturnOp>(owner)) {
    auto func = dyn_cast<func::FuncOp>(owner->getParentOp());
    if (!func || !callsOf(func))
      return std::nullopt;
    return BoundaryUse{func, CarriedBoundary::Kind::result, number};
  }
  return std::nullopt;
}

/// The values that enter a boundary and those that leave it.
static void boundaryValues(const BoundaryUse &b,
                           ArrayRef<func::CallOp> calls,
                           SmallVectorImpl<Value> &inputs,
                           SmallVectorImpl<Value> &outputs) {
  switch (b.kind) {
  case CarriedBoundary::Kind::iterArg: {
    auto loop = cast<scf::ForOp>(b.op);
    inputs.push_back(loop.getInitArgs()[b.index]);
    inputs.push_back(loop.getBody()->getTerminator()->getOperand(b.index));
    outputs.push_back(loop.getRegionIterArgs()[b.index]);
    outputs.push_back(loop.getResult(b.index));
    return;
  }
  case CarriedBoundary::Kind::argument:
    for (func::CallOp call : calls)
      inputs.push_back(call.getOperand(b.index));
    outputs.push_back(cast<func::FuncOp>(b.op).getArgument(b.index));
    return;
  case CarriedBoundary::Kind::result:
    for (Block &block : cast<func::FuncOp>(b.op).getBody())
      if (auto ret = dyn_cast<func::ReturnOp>(block.getTerminator()))
        inputs.push_back(ret.getOperand(b.index));
    for (func::CallOp call : calls)
      outputs.push_back(call.getResult(b.index));
    return;
  }
}

static std::string describeBoundary(const BoundaryUse &b) {
  std::string text;
  llvm::raw_string_ostream os(text);
  switch (b.kind) {
  case CarriedBoundary::Kind::iterArg:
    os << "iter_arg #" << b.index << " of 'scf.for' at " << b.op->getLoc();
    break;
  case CarriedBoundary::Kind::argument:
    os << "argument #" << b.index << " of @"
       << cast<func::FuncOp>(b.op).getSymName();
    break;
  case CarriedBoundary::Kind::result:
    os << "result #" << b.index << " of @"
       << cast<func::FuncOp>(b.op).getSymName();
    break;
  }
  return text;
}

bool Planner::isLocalUse(const SiteRegion &region, OpOperand &use) {
  if (region.localOps.contains(use.getOwner()))
    return true;
  if (region.carried.empty())
    return false;
  std::optional<BoundaryUse> b = boundaryOf(use);
  if (!b)
    return false;
  auto it = region.carried.find(b->key());
  Operation *owner = region.owner.lookup(use.get());
  return it != region.carried.end() && owner &&
         cast<AllReduceOp>(owner).getGroupAttr() == it->second.first.group;
}

bool Planner::tryCarry(SiteRegion &region, OpOperand &use, Operation *site,
                       SmallVectorImpl<Value> &worklist) {
  if (!carry)
    return false;
  std::optional<BoundaryUse> b = boundaryOf(use);
  if (!b)
    return false;
  FlatSymbolRefAttr group = cast<AllReduceOp>(site).getGroupAttr();
  auto key = b->key();
  if (auto it = region.carried.find(key); it != region.carried.end())
    return it->second.first.group == group;
  if (forbidden.count(key))
    return false;
  ArrayRef<func::CallOp> callList;
  if (b->kind != CarriedBoundary::Kind::iterArg)
    callList = *callsOf(cast<func::FuncOp>(b->op));
  SmallVector<Value> inputs, outputs;
  boundaryValues(*b, callList, inputs, outputs);
  // A boundary whose values are not all on full rows of this group's tokens
  // (a while loop's, a call's that nothing calls) stays as it is.
  if (outputs.empty() || inputs.empty())
    return false;
  auto type = dyn_cast<RankedTensorType>(outputs.front().getType());
  int64_t size = *getGroupSize(site);
  if (!type || type.getRank() < 1 || type.isDynamicDim(0) ||
      type.getDimSize(0) % size != 0)
    return false;
  // all_gather(all_slice(x)) == x only for a value that is the same on
  // every rank of the group: what crosses the boundary must be.
  GroupOp siteGroup = lookupGroup(site, group);
  for (Value output : outputs)
    if (output.getType() != type ||
        !replication.isReplicatedWithin(output, siteGroup))
      return false;
  for (Value input : inputs) {
    Operation *owner = region.owner.lookup(input);
    if (owner ? cast<AllReduceOp>(owner).getGroupAttr() != group
              : !replication.isReplicatedWithin(input, siteGroup))
      return false;
  }
  CarriedBoundary boundary;
  boundary.op = b->op;
  boundary.kind = b->kind;
  boundary.index = b->index;
  boundary.group = group;
  boundary.groupSize = size;
  boundary.fullType = type;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] /= size;
  boundary.localType = type.clone(shape);
  boundary.what = describeBoundary(*b);
  region.carried[key] = {boundary, site};
  for (Value output : outputs) {
    if (region.owner.count(output))
      continue;
    region.owner[output] = site;
    worklist.push_back(output);
  }
  return true;
}

bool Planner::tryLocalize(SiteRegion &region, Operation *op, unsigned rowOperand,
                          Operation *site) {
  std::optional<SmallVector<RowOperand>> kinds =
      getRowWiseOperands(op, rowOperand);
  if (!kinds)
    return false;
  FlatSymbolRefAttr group = cast<AllReduceOp>(site).getGroupAttr();
  for (auto [index, kind] : llvm::enumerate(*kinds)) {
    Value operand = op->getOperand(index);
    auto local = region.owner.find(operand);
    if (local != region.owner.end()) {
      // Rows of another group's values are other rows.
      FlatSymbolRefAttr other = cast<AllReduceOp>(local->second).getGroupAttr();
      if (kind == RowOperand::Aligned && other == group)
        continue;
      std::string &why = region.blocked[site];
      if (why.empty())
        why = describeRowWiseOperand(op, index) + " (" +
              describeValue(operand) + ") of " + describe(op) +
              (kind == RowOperand::Aligned
                   ? " is split into rows over another group, " +
                         other.getValue().str()
                   : " would be split into rows, but it is read whole");
      return false;
    }
    GroupOp siteGroup = lookupGroup(site, group);
    if (replication.isReplicatedWithin(operand, siteGroup))
      continue;
    std::string &why = region.blocked[site];
    if (why.empty())
      why = describeRowWiseOperand(op, index) + " (" + describeValue(operand) +
            ") of " + describe(op) + " is not known to be replicated" +
            (kind == RowOperand::Aligned
                 ? ", so its rows cannot be sliced; "
                 : "; ") +
            replicationHint(siteGroup);
    return false;
  }
  return true;
}

SiteRegion Planner::grow(ArrayRef<AllReduceOp> sites) {
  SiteRegion region;
  SmallVector<Value> worklist;
  for (AllReduceOp site : sites) {
    region.owner[site.getResult()] = site;
    worklist.push_back(site.getResult());
  }
  // Breadth first, sites in IR order: a value's owner is the first site
  // that reaches it.
  for (size_t next = 0; next < worklist.size(); ++next) {
    Value value = worklist[next];
    Operation *site = region.owner.lookup(value);
    for (OpOperand &use : value.getUses()) {
      Operation *op = use.getOwner();
      if (tryCarry(region, use, site, worklist))
        continue;
      if (region.localOps.contains(op) ||
          !tryLocalize(region, op, use.getOperandNumber(), site))
        continue;
      region.localOps.insert(op);
      region.opOwner[op] = site;
      for (Value result : op->getResults()) {
        region.owner[result] = site;
        worklist.push_back(result);
      }
    }
  }
  prune(region);
  return region;
}

/// Runs an op on full rows again when that moves fewer bytes: when every
/// user of its results is outside the region (so its results are gathered)
/// and its local inputs would cost less to gather, e.g. a quant whose input
/// is gathered anyway for another user.
void Planner::prune(SiteRegion &region) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> ops(region.localOps.begin(),
                                 region.localOps.end());
    for (Operation *op : llvm::reverse(ops)) {
      bool frontier = llvm::none_of(op->getResults(), [&](Value result) {
        return llvm::any_of(result.getUses(), [&](OpOperand &use) {
          return isLocalUse(region, use);
        });
      });
      // An op that reads a site's value directly is what the site is for:
      // whether it pays is the byte budget's decision (see plan()).
      bool readsSite = llvm::any_of(op->getOperands(), [&](Value operand) {
        Operation *site = region.owner.lookup(operand);
        return site && site->getResult(0) == operand;
      });
      if (!frontier || readsSite)
        continue;
      int64_t savings = 0;
      for (Value result : op->getResults())
        if (!result.use_empty())
          savings = saturatingAdd(savings, bytes(result));
      int64_t cost = 0;
      llvm::SmallDenseSet<Value> counted;
      for (Value operand : op->getOperands())
        if (region.owner.count(operand) && counted.insert(operand).second &&
            !hasNonLocalUser(region, operand, op))
          cost = saturatingAdd(cost, bytes(operand));
      if (cost >= savings)
        continue;
      region.localOps.remove(op);
      region.opOwner.erase(op);
      for (Value result : op->getResults())
        region.owner.erase(result);
      changed = true;
    }
  }
}

/// Whether every user of `value` outside the region is a linalg.matmul
/// reading it as its lhs: sp-collective-matmul then fuses the gather into
/// an sp.all_gather_matmul.
static bool feedsOnlyMatmulLhs(const SiteRegion &region, Value value) {
  bool any = false;
  for (OpOperand &use : value.getUses()) {
    if (region.localOps.contains(use.getOwner()))
      continue;
    if (!isa<linalg::MatmulOp>(use.getOwner()) || use.getOperandNumber() != 0)
      return false;
    any = true;
  }
  return any;
}

/// Which site each local op's cost is charged to: the site whose value it
/// reads directly (a layer's norm belongs to the all_reduce before it, even
/// when the residual of an earlier layer reached it first), else the site
/// its first local operand's producer is charged to, else its owner.
static llvm::DenseMap<Operation *, Operation *>
chargeLocalOps(const SiteRegion &region) {
  llvm::DenseMap<Operation *, Operation *> charged;
  for (Operation *op : region.localOps) {
    Operation *site = nullptr;
    for (Value operand : op->getOperands()) {
      Operation *owner = region.owner.lookup(operand);
      if (owner && owner->getResult(0) == operand) {
        site = owner;
        break;
      }
    }
    for (Value operand : op->getOperands()) {
      if (site)
        break;
      if (Operation *def = operand.getDefiningOp())
        site = charged.lookup(def);
    }
    charged[op] = site ? site : region.opOwner.lookup(op);
  }
  return charged;
}

std::optional<SitePrediction> Planner::predict(const SiteRegion &region,
                                               AllReduceOp site,
                                               std::string &why) {
  llvm::DenseMap<Operation *, Operation *> charged = chargeLocalOps(region);
  auto chargedTo = [&](Value value) -> Operation * {
    Operation *def = value.getDefiningOp();
    if (def && charged.count(def))
      return charged.lookup(def);
    return region.owner.lookup(value);
  };
  SitePrediction p;
  p.tp = *getGroupSize(site);
  p.tokens = cast<RankedTensorType>(site.getType()).getDimSize(0);
  if (ShapedType::isDynamic(p.tokens))
    p.tokens = getPlanningTokens(site, assumedTokens).value_or(0);
  double overlap = costModel->getCollectiveMatmulOverlap();
  auto collective = [&](CollectiveKind kind, int64_t size,
                        bool fused) -> std::optional<double> {
    std::optional<DeviceProfile::Time> t = costModel->predict(kind, size, p.tp);
    if (!t) {
      why = "cost profile " + costModel->getName() + " has no " +
            stringifyCollectiveKind(kind).str() + " data for groups of " +
            std::to_string(p.tp) + " ranks";
      return std::nullopt;
    }
    double hidden = fused ? overlap * t->transfer : 0;
    p.hidden += hidden;
    return t->total() - hidden;
  };
  int64_t siteBytes = bytes(site.getResult());
  std::optional<double> allReduce =
      collective(CollectiveKind::allReduce, siteBytes, false);
  if (!allReduce)
    return std::nullopt;
  // sp-collective-matmul fuses a reduce_scatter of a matmul's product.
  std::optional<double> reduceScatter =
      collective(CollectiveKind::reduceScatter, siteBytes,
                 site.getInput().getDefiningOp<linalg::MatmulOp>() != nullptr);
  if (!reduceScatter)
    return std::nullopt;
  p.beforeCollective = *allReduce;
  p.afterReduceScatter = *reduceScatter;
  for (auto &[value, owner] : region.owner) {
    (void)owner;
    if (chargedTo(value) != site.getOperation() ||
        !hasNonLocalUser(region, value))
      continue;
    std::optional<double> gather =
        collective(CollectiveKind::allGather, bytes(value),
                   feedsOnlyMatmulLhs(region, value));
    if (!gather)
      return std::nullopt;
    p.afterGather += *gather;
  }
  // The local ops stream their tensors through HBM: rows of the token
  // dimension once on every row before, on 1/TP of them after; operands
  // broadcast along rows (a norm weight) whole both times.
  int64_t moved = 0, movedAfter = 0;
  for (Operation *op : region.localOps) {
    if (charged.lookup(op) != site.getOperation())
      continue;
    auto count = [&](Value v) {
      auto type = dyn_cast<RankedTensorType>(v.getType());
      if (!type || type.getNumDynamicDims() >
                       (type.getRank() >= 1 && type.isDynamicDim(0) ? 1 : 0))
        return;
      int64_t b = bytes(v);
      moved = saturatingAdd(moved, b);
      bool rows = type.getRank() >= 1 && (type.getDimSize(0) == p.tokens ||
                                           type.isDynamicDim(0));
      movedAfter = saturatingAdd(movedAfter, rows ? b / p.tp : b);
    };
    for (Value operand : op->getOperands())
      count(operand);
    for (Value result : op->getResults())
      count(result);
  }
  p.beforeLocal = costModel->memoryTime(moved);
  p.afterLocal = costModel->memoryTime(movedAfter);
  return p;
}

static std::string describePrediction(const SitePrediction &p,
                                      StringRef profile) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto us = [&](double seconds) {
    os << llvm::format("%.1f", seconds * 1e6);
  };
  os << "cost model " << profile << " predicts ";
  us(p.after());
  os << " us after the rewrite (reduce_scatter ";
  us(p.afterReduceScatter);
  os << " + all_gather ";
  us(p.afterGather);
  os << " + row-wise ops on 1/" << p.tp << " of the rows ";
  us(p.afterLocal);
  os << ") against ";
  us(p.before());
  os << " us before (all_reduce ";
  us(p.beforeCollective);
  os << " + row-wise ops ";
  us(p.beforeLocal);
  os << "); " << p.tokens << " tokens, tp " << p.tp;
  if (p.hidden > 0) {
    os << ", ";
    us(p.hidden);
    os << " us of collective time assumed hidden behind fused GEMMs";
  }
  return text;
}

SequenceParallelismPlan Planner::plan(ModuleOp module) {
  this->module = module;
  // A what-if evaluation plans one function only.
  Operation *root = scope ? scope : module.getOperation();
  // Why each all_reduce that does not become a site is left alone.
  llvm::DenseMap<Operation *, std::string> reasons;
  SmallVector<AllReduceOp> chosen;
  root->walk([&](AllReduceOp site) {
    std::string reason = checkLegality(site);
    if (reason.empty())
      chosen.push_back(site);
    else
      reasons[site] = std::move(reason);
  });

  SiteRegion region;
  // The cost model's latest prediction for each site it judged.
  llvm::DenseMap<Operation *, SitePrediction> predictions;
  llvm::SmallDenseSet<Operation *> judgedLeftAlone;
  while (true) {
    region = grow(chosen);
    // A site none of whose users runs locally gains nothing: splitting it
    // would only trade one collective for two.
    // (A site is productive when a local op reads one of its values.)
    // (Or when one of its values crosses a boundary carried on local rows:
    // the next iteration or the callee reads it on local rows.)
    llvm::SmallDenseSet<Operation *> productive;
    for (Operation *op : region.localOps)
      for (Value operand : op->getOperands())
        if (Operation *site = region.owner.lookup(operand))
          productive.insert(site);
    if (!region.carried.empty())
      for (auto &[value, site] : region.owner)
        if (!productive.contains(site) &&
            llvm::any_of(value.getUses(), [&](OpOperand &use) {
              return isLocalUse(region, use);
            }))
          productive.insert(site);
    auto idle = llvm::partition(chosen, [&](AllReduceOp site) {
      return productive.contains(site);
    });
    if (idle != chosen.end()) {
      for (AllReduceOp site : llvm::make_range(idle, chosen.end())) {
        std::string why = region.blocked.lookup(site);
        reasons[site] = "none of its users can run on local rows: " +
                        (why.empty() ? std::string("no user is row-wise along "
                                                   "the token dimension")
                                     : why);
      }
      chosen.erase(idle, chosen.end());
      continue;
    }

    // Communication must not grow in total. Each gather the rewrite leaves
    // (a local value with a user outside the region) is attributed to the
    // site that owns the value; a site's excess is what it gathers beyond
    // the all-gather half of the all_reduce it replaces. While the total is
    // positive, drop the site that adds the most and plan again.
    llvm::DenseMap<Operation *, int64_t> gathered;
    llvm::DenseMap<Operation *, SmallVector<std::string>> fullUses;
    SmallVector<Value> locals;
    for (auto &entry : region.owner)
      locals.push_back(entry.first);
    for (Value value : locals) {
      if (!hasNonLocalUser(region, value))
        continue;
      Operation *site = region.owner.lookup(value);
      gathered[site] = saturatingAdd(gathered[site], bytes(value));
      for (OpOperand &use : value.getUses()) {
        if (isLocalUse(region, use))
          continue;
        Operation *user = use.getOwner();
        auto fused = dyn_cast_or_null<FusedAddRMSNormOp>(value.getDefiningOp());
        std::string what =
            value == site->getResult(0) ? "its result"
            : fused && value == fused.getResidualOut()
                ? "the residual result"
                : describeValue(value);
        if (auto arg = dyn_cast<BlockArgument>(value))
          for (auto &entry : region.carried)
            if (arg.getOwner()->getParentOp() == entry.first.first)
              what = "the local rows of " + entry.second.first.what;
        fullUses[site].push_back(what + " feeds " + describe(user));
      }
    }
    int64_t totalExcess = 0, worstExcess = 0;
    AllReduceOp worst;
    for (AllReduceOp site : chosen) {
      int64_t excess =
          getRingShare(saturatingAdd(gathered.lookup(site),
                                     -bytes(site.getResult())),
                       *getGroupSize(site));
      totalExcess = saturatingAdd(totalExcess, excess);
      if (!worst || excess > worstExcess) {
        worst = site;
        worstExcess = excess;
      }
    }
    if (chosen.empty())
      break;
    if (totalExcess <= 0) {
      if (!costModel)
        break;
      // The cost model: drop the site the rewrite slows down the most (or
      // one the profile cannot judge) and plan again.
      AllReduceOp loser;
      double loss = 0;
      std::string loserWhy;
      for (AllReduceOp site : chosen) {
        std::string why;
        std::optional<SitePrediction> p = predict(region, site, why);
        if (!p) {
          loser = site;
          loserWhy = "the cost model cannot judge it: " + why;
          break;
        }
        predictions[site] = *p;
        if (!p->pays() && (!loser || p->after() - p->before() > loss)) {
          loser = site;
          loss = p->after() - p->before();
          loserWhy = "the rewrite does not pay: " +
                     describePrediction(*p, costModel->getName());
        }
      }
      if (!loser)
        break;
      if (predictions.count(loser))
        judgedLeftAlone.insert(loser);
      reasons[loser] = std::move(loserWhy);
      llvm::erase(chosen, loser);
      continue;
    }
    std::string reason;
    llvm::raw_string_ostream os(reason);
    SmallVector<std::string> &uses = fullUses[worst];
    llvm::sort(uses);
    os << "rewriting it would add " << worstExcess
       << " bytes per rank of communication (";
    llvm::interleave(uses, os, "; ");
    os << ")";
    // Boundaries carried on local rows go back to full rows before a site
    // is dropped: first those the worst site carries, else all of them.
    SmallVector<std::pair<Operation *, unsigned>> undo;
    for (auto &entry : region.carried)
      if (entry.second.second == worst.getOperation())
        undo.push_back(entry.first);
    if (undo.empty())
      for (auto &entry : region.carried)
        undo.push_back(entry.first);
    if (!undo.empty()) {
      for (auto key : undo) {
        const CarriedBoundary &boundary = region.carried.lookup(key).first;
        forbidden[key] = {boundary.op, boundary.what,
                          "carrying it on local rows, the site at " +
                              llvm::formatv("{0}", worst.getLoc()).str() +
                              " would add " + std::to_string(worstExcess) +
                              " bytes per rank (" +
                              llvm::join(uses, "; ") + ")"};
      }
      continue;
    }
    reasons[worst] = std::move(reason);
    llvm::erase(chosen, worst);
  }

  SequenceParallelismPlan result;
  for (AllReduceOp site : chosen)
    result.sites.insert(site);
  root->walk([&](AllReduceOp site) {
    auto it = predictions.find(site);
    if (it != predictions.end() &&
        (result.sites.contains(site) || judgedLeftAlone.contains(site))) {
      SitePrediction &prediction = result.predictions[site];
      prediction = it->second;
      prediction.loc = site.getLoc();
    }
  });
  result.localOps.insert(region.localOps.begin(), region.localOps.end());
  // Only the boundaries a chosen site's value reaches: the others' sites
  // were dropped.
  for (auto &entry : region.carried) {
    CarriedBoundary boundary = entry.second.first;
    std::string text;
    llvm::raw_string_ostream os(text);
    if (auto loop = dyn_cast<scf::ForOp>(boundary.op)) {
      std::optional<APInt> trips = loop.getStaticTripCount();
      if (trips)
        boundary.crossings =
            trips->getActiveBits() > 63
                ? std::numeric_limits<int64_t>::max()
                : static_cast<int64_t>(trips->getZExtValue());
      os << "the init is sliced on entry and the value yielded is sliced "
            "before the yield; the iter_arg is gathered in the body and the "
            "loop result after the loop where they are used on full rows; ";
      if (trips)
        os << boundary.crossings << " iterations";
      else
        os << "a trip count known at run time";
    } else {
      int64_t callers = callsOf(cast<func::FuncOp>(boundary.op))->size();
      boundary.crossings = callers;
      if (boundary.kind == CarriedBoundary::Kind::argument)
        os << "each of the " << callers
           << " calls slices what it passes; the argument is gathered in the "
              "callee where it is used on full rows (the function is changed "
              "in place: every caller is in the module)";
      else
        os << "each return slices it; each of the " << callers
           << " calls gathers it where it is used on full rows (the function "
              "is changed in place: every caller is in the module)";
    }
    boundary.how = std::move(text);
    result.carried[entry.first] = std::move(boundary);
  }
  for (auto &entry : forbidden)
    result.fullRows.push_back(entry.second);
  // Remarks in IR order.
  root->walk([&](AllReduceOp site) {
    auto it = reasons.find(site);
    if (it != reasons.end())
      result.leftAlone[site] = std::move(it->second);
  });
  return result;
}

SequenceParallelismPlan
mlir::sp::planSequenceParallelism(ModuleOp module,
                                  ReplicationAnalysis &replication,
                                  const SequenceParallelismPlanOptions &options) {
  return Planner(replication, options).plan(module);
}
