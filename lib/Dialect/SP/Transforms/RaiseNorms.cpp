//===- RaiseNorms.cpp - the sp-raise-norms pass ---------------------------===//
//
// Finds the decomposed forms of RMSNorm, residual add + RMSNorm and static
// FP8 quant that compilers emit (torch-mlir: one linalg.generic per step)
// and replaces them with sp.rms_norm, sp.fused_add_rms_norm and sp.quant,
// where the sp op computes the same bits (docs/RaiseNorms.md gives every
// form and why it is bit-identical, per include/sp/Runtime/Numerics.h).
//
// The matcher reads a chain one element at a time. An `Elem` is the element
// of a value that one iteration of the chain's last op (the root) reads,
// addressed by an affine map from the root's loops. `step` looks through
// parallel linalg ops (generic, named elementwise ops, broadcast, map, fill)
// to the scalar op of their body that computes the element, through block
// arguments to the operand they read (composing its indexing map), and
// through unit-dim reshapes; so one generic per step and fused generics
// read the same, and elementwise arith/math on tensors too.
//
// Norms are found from their sum of squares (a linalg op with one
// reduction loop whose body adds squares into its accumulator): the pass
// walks forward through its users until a value computes the whole norm,
// checking each op on the way with the path from it back to the sum. A
// chain that deviates gets one remark, at the op that deviates, if it looks
// like a norm (the sum reaches a square root). Quants are found from their
// truncation to fp8.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Runtime/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallString.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPRAISENORMS
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

//===----------------------------------------------------------------------===//
// Reading chains element by element
//===----------------------------------------------------------------------===//

namespace {
/// One element of `value` as the root's iteration reads it. `map` takes the
/// root's loops to the index space of `value`: a tensor's dims, or the loops
/// of the linalg op whose body holds a scalar (null for scalars defined
/// outside linalg bodies, which are the same for every element). `tensor`
/// is the tensor whose element `value` is, when `value` was reached through
/// one (so the element is materialized), with `tensorMap` into its dims.
struct Elem {
  Value value;
  AffineMap map;
  Value tensor;
  AffineMap tensorMap;

  Operation *op() const { return value ? value.getDefiningOp() : nullptr; }
  template <typename OpTy>
  OpTy as() const {
    return value ? value.getDefiningOp<OpTy>() : OpTy();
  }
};
} // namespace

static Type elementTypeOf(Value value) {
  return getElementTypeOrSelf(value.getType());
}

static bool isLinalgBody(Block *block) {
  if (!block)
    return false;
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(block->getParentOp());
  return linalgOp && linalgOp.getBlock() == block;
}

/// A scalar outside every linalg body: the same value for all elements.
static bool isUniform(Value value) {
  return !isa<ShapedType>(value.getType()) &&
         !isLinalgBody(value.getParentBlock());
}

/// The map into the source of a unit-dim collapse, or null.
static AffineMap throughCollapse(tensor::CollapseShapeOp op, AffineMap map) {
  RankedTensorType source = op.getSrcType();
  MLIRContext *context = op.getContext();
  SmallVector<AffineExpr> exprs(source.getRank());
  for (auto [group, dims] : llvm::enumerate(op.getReassociationIndices())) {
    int64_t nonUnit = -1;
    for (int64_t d : dims) {
      if (source.getDimSize(d) == 1)
        continue;
      if (nonUnit >= 0)
        return {};
      nonUnit = d;
    }
    for (int64_t d : dims)
      exprs[d] = d == nonUnit ? map.getResult(group)
                              : getAffineConstantExpr(0, context);
  }
  return AffineMap::get(map.getNumDims(), map.getNumSymbols(), exprs,
                        context);
}

/// The map into the source of a unit-dim expand, or null.
static AffineMap throughExpand(tensor::ExpandShapeOp op, AffineMap map) {
  RankedTensorType result = op.getResultType();
  MLIRContext *context = op.getContext();
  SmallVector<AffineExpr> exprs;
  for (auto [dim, dims] : llvm::enumerate(op.getReassociationIndices())) {
    if (op.getSrcType().getDimSize(dim) == 1) {
      exprs.push_back(getAffineConstantExpr(0, context));
      continue;
    }
    int64_t nonUnit = -1;
    for (int64_t d : dims) {
      if (result.getDimSize(d) == 1)
        continue;
      if (nonUnit >= 0)
        return {};
      nonUnit = d;
    }
    if (nonUnit < 0)
      return {};
    exprs.push_back(map.getResult(nonUnit));
  }
  return AffineMap::get(map.getNumDims(), map.getNumSymbols(), exprs,
                        context);
}

/// Follows `e` to the op that computes it: through parallel linalg ops to
/// the yielded scalar, through their block arguments to the operand read,
/// through unit-dim reshapes and casts. Stops at a scalar or tensor op of
/// any other kind, or at a value without a defining op.
static Elem step(Elem e) {
  for (int guard = 0; guard < 256 && e.value && e.map; ++guard) {
    Value value = e.value;
    if (isa<RankedTensorType>(value.getType())) {
      e.tensor = value;
      e.tensorMap = e.map;
      auto result = dyn_cast<OpResult>(value);
      if (!result)
        return e;
      Operation *def = result.getOwner();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(def)) {
        if (!linalgOp.hasPureTensorSemantics() ||
            linalgOp.getNumReductionLoops() != 0 || !linalgOp.getBlock())
          return e;
        AffineMap out = linalgOp.getIndexingMapMatchingResult(result);
        if (!out.isPermutation())
          return e;
        auto yield =
            dyn_cast<linalg::YieldOp>(linalgOp.getBlock()->getTerminator());
        if (!yield)
          return e;
        e.map = inversePermutation(out).compose(e.map);
        e.value = yield.getOperand(result.getResultNumber());
        continue;
      }
      if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(def)) {
        AffineMap map = throughCollapse(collapse, e.map);
        if (!map)
          return e;
        e.map = map;
        e.value = collapse.getSrc();
        continue;
      }
      if (auto expand = dyn_cast<tensor::ExpandShapeOp>(def)) {
        AffineMap map = throughExpand(expand, e.map);
        if (!map)
          return e;
        e.map = map;
        e.value = expand.getSrc();
        continue;
      }
      if (auto cast = dyn_cast<tensor::CastOp>(def)) {
        e.value = cast.getSource();
        continue;
      }
      return e;
    }
    auto arg = dyn_cast<BlockArgument>(value);
    if (!arg || !isLinalgBody(arg.getOwner()))
      return e;
    auto linalgOp = cast<linalg::LinalgOp>(arg.getOwner()->getParentOp());
    OpOperand *operand = linalgOp.getMatchingOpOperand(arg);
    if (!operand)
      return e;
    e.map = linalgOp.getMatchingIndexingMap(operand).compose(e.map);
    e.value = operand->get();
    e.tensor = {};
    e.tensorMap = {};
    if (!isa<ShapedType>(e.value.getType()))
      return e;
  }
  return e;
}

/// Operand `i` of the op that defines `node` (same iteration).
static Elem operandElem(const Elem &node, unsigned i) {
  return Elem{node.op()->getOperand(i), node.map, {}, {}};
}

/// No fastmath flags (they let the lowering contract or reassociate), and
/// truncations round to nearest even.
static bool isPlain(Operation *op) {
  if (auto fastMath = dyn_cast<arith::ArithFastMathInterface>(op))
    if (arith::FastMathFlagsAttr flags = fastMath.getFastMathFlagsAttr();
        flags && flags.getValue() != arith::FastMathFlags::none)
      return false;
  if (auto trunc = dyn_cast<arith::TruncFOp>(op))
    if (arith::RoundingModeAttr mode = trunc.getRoundingmodeAttr();
        mode && mode.getValue() != arith::RoundingMode::to_nearest_even)
      return false;
  return true;
}

/// The float constant `e` reads (scalars, splats, and conversions of
/// constants as the program would round them at run time).
static std::optional<APFloat> constantFloat(Elem e) {
  Elem s = step(e);
  if (!s.value)
    return std::nullopt;
  Attribute attr;
  if (matchPattern(s.value, m_Constant(&attr))) {
    if (auto value = dyn_cast<FloatAttr>(attr))
      return value.getValue();
    if (auto dense = dyn_cast<DenseFPElementsAttr>(attr))
      if (dense.isSplat())
        return dense.getSplatValue<APFloat>();
    return std::nullopt;
  }
  Operation *op = s.op();
  if (!op || !isa<arith::TruncFOp, arith::ExtFOp>(op) || !isPlain(op))
    return std::nullopt;
  std::optional<APFloat> in = constantFloat(operandElem(s, 0));
  if (!in)
    return std::nullopt;
  bool losesInfo = false;
  in->convert(cast<FloatType>(elementTypeOf(op->getResult(0)))
                  .getFloatSemantics(),
              APFloat::rmNearestTiesToEven, &losesInfo);
  return in;
}

static std::optional<int64_t> constantInt(Elem e) {
  Elem s = step(e);
  APInt value;
  if (s.value && matchPattern(s.value, m_ConstantInt(&value)))
    return value.getSExtValue();
  return std::nullopt;
}

static bool isConstant(Elem e, double value) {
  std::optional<APFloat> c = constantFloat(e);
  if (!c)
    return false;
  bool losesInfo = false;
  c->convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
  return c->convertToDouble() == value;
}

/// Whether `a` and `b` are the same element: the same value at the same
/// index, or the same pure op of the same elements.
static bool sameElem(Elem a, Elem b, int depth = 0) {
  a = step(a);
  b = step(b);
  if (!a.value || !b.value)
    return false;
  if (a.value == b.value)
    return isUniform(a.value) || a.map == b.map;
  Operation *opA = a.op(), *opB = b.op();
  if (depth > 4 || !opA || !opB || opA->getNumResults() != 1 ||
      opA->getNumRegions() != 0 || !isMemoryEffectFree(opA))
    return false;
  return OperationEquivalence::isEquivalentTo(
      opA, opB,
      [&](Value x, Value y) {
        return success(sameElem(Elem{x, a.map, {}, {}},
                                Elem{y, b.map, {}, {}}, depth + 1));
      },
      /*markEquivalent=*/nullptr, OperationEquivalence::IgnoreLocations);
}

/// The linalg op (or other top-level op) holding the op that defines `e`,
/// where remarks go.
static Operation *anchorOf(const Elem &e) {
  Operation *op = e.op();
  if (!op && e.value)
    op = Value(e.value).getParentBlock()->getParentOp();
  while (op && op->getParentOp() && isLinalgBody(op->getBlock()))
    op = op->getParentOp();
  return op;
}

static std::string nameOf(Operation *op) {
  return "'" + op->getName().getStringRef().str() + "'";
}

static std::string str(const APFloat &value) {
  SmallString<32> text;
  value.toString(text);
  return std::string(text);
}

static std::string str(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

static std::string str(AffineMap map) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << map;
  return text;
}

//===----------------------------------------------------------------------===//
// The input of a norm or quant
//===----------------------------------------------------------------------===//

namespace {
/// How a chain reads its input x as f32: `f32` is the f32 tensor it reads
/// (if the element is materialized), and when that element is `extf` of a
/// bf16/f16 element, `source` is the tensor extended.
struct Input {
  Type readType;
  Value f32;
  AffineMap f32Map;
  bool extended = false;
  Type sourceType;
  Value source;
  AffineMap sourceMap;
};
} // namespace

static Input resolveInput(Elem e) {
  Input input;
  Elem s = step(e);
  if (!s.value)
    return input;
  input.readType = elementTypeOf(s.value);
  if (!input.readType.isF32())
    return input;
  input.f32 = s.tensor;
  input.f32Map = s.tensorMap;
  if (auto ext = s.as<arith::ExtFOp>(); ext && isPlain(ext)) {
    Elem source = step(operandElem(s, 0));
    Type type = elementTypeOf(ext.getIn());
    if (type.isBF16() || type.isF16()) {
      input.extended = true;
      input.sourceType = type;
      input.source = source.tensor;
      input.sourceMap = source.tensorMap;
    }
  }
  return input;
}

static bool sameInput(const Input &a, const Input &b) {
  if (a.f32 && a.f32 == b.f32 && a.f32Map == b.f32Map)
    return true;
  return a.extended && b.extended && a.source && a.source == b.source &&
         a.sourceMap == b.sourceMap;
}

//===----------------------------------------------------------------------===//
// The sum of squares
//===----------------------------------------------------------------------===//

namespace {
struct SumOfSquares {
  linalg::LinalgOp op;
  Value result;
  /// The op's loops to the row sums' dims.
  AffineMap outMap;
  Input x;
  /// The length of the summed (last) dim, or ShapedType::kDynamic.
  int64_t hidden = ShapedType::kDynamic;
  /// Why this sum cannot be a norm's (empty if it can).
  std::string problem;
};
} // namespace

/// x*x, fpowi(x, 2) or powf(x, 2.0): the squared element.
static std::optional<Elem> matchSquare(Elem e, Operation *&squareOp) {
  Elem s = step(e);
  squareOp = s.op();
  if (auto mul = s.as<arith::MulFOp>()) {
    if (sameElem(operandElem(s, 0), operandElem(s, 1)))
      return operandElem(s, 0);
    return std::nullopt;
  }
  if (auto pow = s.as<math::FPowIOp>()) {
    if (constantInt(operandElem(s, 1)) == 2)
      return operandElem(s, 0);
    return std::nullopt;
  }
  if (auto pow = s.as<math::PowFOp>()) {
    if (isConstant(operandElem(s, 1), 2.0))
      return operandElem(s, 0);
    return std::nullopt;
  }
  return std::nullopt;
}

static std::optional<SumOfSquares> matchSumOfSquares(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp || !linalgOp.hasPureTensorSemantics() ||
      op->getNumResults() != 1 || linalgOp.getNumDpsInits() != 1 ||
      linalgOp.getNumReductionLoops() != 1 || !linalgOp.getBlock() ||
      linalgOp.hasIndexSemantics())
    return std::nullopt;
  auto yield = dyn_cast<linalg::YieldOp>(linalgOp.getBlock()->getTerminator());
  if (!yield || yield.getNumOperands() != 1)
    return std::nullopt;
  unsigned loops = linalgOp.getNumLoops();
  MLIRContext *context = op->getContext();
  Elem top{yield.getOperand(0), AffineMap::getMultiDimIdentityMap(loops, context),
           {}, {}};
  auto add = top.as<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  BlockArgument acc = linalgOp.getRegionOutputArgs()[0];
  int accIndex = add.getLhs() == acc ? 0 : add.getRhs() == acc ? 1 : -1;
  if (accIndex < 0)
    return std::nullopt;
  Operation *squareOp = nullptr;
  std::optional<Elem> x = matchSquare(operandElem(top, 1 - accIndex), squareOp);
  if (!x)
    return std::nullopt;

  SumOfSquares sum;
  sum.op = linalgOp;
  sum.result = op->getResult(0);
  sum.outMap = linalgOp.getMatchingIndexingMap(linalgOp.getDpsInitOperand(0));
  sum.x = resolveInput(*x);
  auto problem = [&](const std::string &why) {
    sum.problem = why;
    return sum;
  };
  if (!isPlain(add) || !isPlain(squareOp))
    return problem("the sum of squares carries fastmath flags, which let the "
                   "lowering contract or reorder it");
  Type accType = elementTypeOf(sum.result);
  if (!accType.isF32() || !add.getType().isF32())
    return problem("it accumulates the sum of squares in " + str(accType) +
                   "; sp.rms_norm accumulates in f32");
  if (!elementTypeOf(squareOp->getResult(0)).isF32() ||
      !sum.x.readType || !sum.x.readType.isF32())
    return problem("it squares " +
                   (sum.x.readType ? str(sum.x.readType) : std::string("?")) +
                   " values; sp.rms_norm squares the f32 value of x");
  // Rows x hidden: x read with the identity map, the reduction loop last.
  SmallVector<utils::IteratorType> iterators =
      linalgOp.getIteratorTypesArray();
  unsigned reductionLoop = 0;
  for (auto [i, iterator] : llvm::enumerate(iterators))
    if (iterator == utils::IteratorType::reduction)
      reductionLoop = i;
  AffineMap identity = AffineMap::getMultiDimIdentityMap(loops, context);
  AffineMap xMap = sum.x.f32 ? sum.x.f32Map : sum.x.sourceMap;
  if (xMap && xMap != identity) {
    if (xMap.isPermutation())
      for (auto [dim, expr] : llvm::enumerate(xMap.getResults()))
        if (expr == getAffineDimExpr(reductionLoop, context))
          return problem("it sums the squares over dim " +
                         std::to_string(dim) + " of its input, not over the "
                         "last (hidden) dim " + std::to_string(loops - 1) +
                         " that sp.rms_norm normalizes");
    return problem("it reads its input with the map " + str(xMap) +
                   ", not rows x hidden in order");
  }
  if (reductionLoop != loops - 1)
    return problem("it sums the squares over dim " +
                   std::to_string(reductionLoop) +
                   " of its input, not over the last (hidden) dim " +
                   std::to_string(loops - 1) +
                   " that sp.rms_norm normalizes");
  // The row sums: the parallel loops in order (unit dims may read 0).
  SmallVector<AffineExpr> rows;
  for (AffineExpr expr : sum.outMap.getResults())
    if (!isa<AffineConstantExpr>(expr))
      rows.push_back(expr);
  for (auto [i, expr] : llvm::enumerate(rows))
    if (expr != getAffineDimExpr(i, context))
      return problem("it writes its row sums with the map " +
                     str(sum.outMap) + ", not in row order");
  sum.hidden = linalgOp.getStaticLoopRanges().back();
  if (rows.size() + 1 != loops)
    return problem("it writes its row sums with the map " + str(sum.outMap));
  std::optional<APFloat> init = constantFloat(
      Elem{linalgOp.getDpsInitOperand(0)->get(), sum.outMap, {}, {}});
  if (!init || !init->isZero())
    return problem(init ? "it starts the sum at " + str(*init) + ", not at 0"
                        : "it starts the sum from a value that is not the "
                          "constant 0");
  return sum;
}

/// Whether the sum reaches a square root within a few ops: it is meant to
/// be a norm, so a deviation is worth a remark.
static bool feedsSquareRoot(Value sum) {
  SmallVector<Value> worklist{sum};
  DenseSet<Operation *> seen;
  while (!worklist.empty() && seen.size() < 24) {
    Value value = worklist.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (!seen.insert(user).second)
        continue;
      bool found = false;
      user->walk([&](Operation *op) {
        if (isa<math::SqrtOp, math::RsqrtOp>(op))
          found = true;
      });
      if (found)
        return true;
      for (Value result : user->getResults())
        worklist.push_back(result);
    }
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Matching a norm, from a candidate root back to its sum of squares
//===----------------------------------------------------------------------===//

namespace {
/// One op on the way from a root down to the sum: `node` is defined by it,
/// and its operand `chain` leads to the sum.
struct PathNode {
  Elem node;
  unsigned chain;
};

struct NormMatch {
  Value root;
  Value input;
  Value weight;
  AffineMap weightMap;
  APFloat epsilon{0.0f};
};

/// Stages of the chain, in order.
enum Stage { Sum, Mean, Epsilon, Root, Inverse, Normalized, Rounded, Done };

struct Outcome {
  enum Kind { Complete, Partial, Failed } kind;
  int progress = 0;
  std::string reason;
  Operation *at = nullptr;
  NormMatch match;
};
} // namespace

/// Appends, bottom-up, the ops from `e` down to `target`; `leaf` is the
/// element of `target` read.
static bool findPath(Elem e, Value target, SmallVectorImpl<PathNode> &path,
                     Elem &leaf, int depth,
                     DenseSet<std::pair<Value, AffineMap>> &dead) {
  Elem s = step(e);
  if (!s.value)
    return false;
  if (s.value == target) {
    leaf = s;
    return true;
  }
  Operation *op = s.op();
  if (!op || depth > 32 || !op->getDialect() ||
      !isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
      !dead.insert({s.value, s.map}).second)
    return false;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    if (findPath(operandElem(s, i), target, path, leaf, depth + 1, dead)) {
      path.push_back({s, i});
      return true;
    }
  }
  return false;
}

namespace {
class NormMatcher {
public:
  explicit NormMatcher(const SumOfSquares &sum) : sum(sum) {}

  /// Checks the chain from `root` (a tensor) down to the sum.
  Outcome evaluate(Value root) {
    auto type = dyn_cast<RankedTensorType>(root.getType());
    if (!type || !isa<FloatType>(type.getElementType()))
      return fail(0, "", nullptr);
    Elem top{root,
             AffineMap::getMultiDimIdentityMap(type.getRank(),
                                               root.getContext()),
             {}, {}};
    SmallVector<PathNode> path;
    Elem leaf;
    DenseSet<std::pair<Value, AffineMap>> dead;
    if (!findPath(top, sum.result, path, leaf, 0, dead))
      return fail(0, "", nullptr);
    this->root = root;
    this->rootType = type;
    this->leaf = leaf;
    return walk(path);
  }

private:
  Outcome fail(int progress, std::string reason, Operation *at) {
    Outcome outcome{Outcome::Failed};
    outcome.progress = progress;
    outcome.reason = std::move(reason);
    outcome.at = at;
    return outcome;
  }
  Outcome failAt(int progress, const PathNode &n, const std::string &reason) {
    return fail(progress, reason, anchorOf(n.node));
  }
  Outcome partial(int progress) {
    Outcome outcome{Outcome::Partial};
    outcome.progress = progress;
    return outcome;
  }
  static Elem sibling(const PathNode &n) {
    return operandElem(n.node, 1 - n.chain);
  }
  static std::string found(const PathNode &n) {
    return "found " + nameOf(n.node.op());
  }

  Outcome walk(ArrayRef<PathNode> path) {
    size_t i = 0;
    auto next = [&]() -> const PathNode * {
      return i < path.size() ? &path[i++] : nullptr;
    };
    for (const PathNode &n : path)
      if (!isPlain(n.node.op()))
        return failAt(0, n,
                      nameOf(n.node.op()) + " carries fastmath flags or a "
                      "rounding mode, which change its numerics");

    // The mean: sum / H, or sum * c with c exactly 1/H.
    const PathNode *n = next();
    if (!n)
      return partial(Sum);
    int64_t hidden = sum.hidden;
    if (n->node.as<arith::DivFOp>() && n->chain == 0) {
      std::optional<APFloat> divisor = constantFloat(sibling(*n));
      if (!divisor)
        return failAt(Sum, *n, "the sum of squares is divided by a value that "
                               "is not a constant");
      if (ShapedType::isDynamic(hidden))
        return failAt(Sum, *n, "the hidden size is dynamic, so the mean's "
                               "divisor cannot be checked against it");
      if (!divisor->isExactlyValue(static_cast<double>(hidden)))
        return failAt(Sum, *n, "the sum of squares is divided by " +
                                   str(*divisor) + ", not by the hidden size " +
                                   std::to_string(hidden));
    } else if (n->node.as<arith::MulFOp>()) {
      std::optional<APFloat> factor = constantFloat(sibling(*n));
      if (!factor)
        return failAt(Sum, *n, "the sum of squares is multiplied by a value "
                               "that is not a constant");
      if (ShapedType::isDynamic(hidden))
        return failAt(Sum, *n, "the hidden size is dynamic, so the mean's "
                               "factor cannot be checked against it");
      APFloat product = *factor;
      APFloat::opStatus status =
          product.multiply(APFloat(static_cast<float>(hidden)),
                           APFloat::rmNearestTiesToEven);
      if (status != APFloat::opOK || !product.isExactlyValue(1.0))
        return failAt(Sum, *n,
                      "the mean is the sum times " + str(*factor) +
                          ", which is not exactly 1/" +
                          std::to_string(hidden) +
                          ": it rounds differently from sum / " +
                          std::to_string(hidden) +
                          " (bitwise only when the hidden size is a power "
                          "of two)");
    } else if (n->node.as<arith::AddFOp>()) {
      return failAt(Sum, *n, "epsilon is added to the sum of squares before "
                             "the division by the hidden size; sp.rms_norm "
                             "adds it to the mean");
    } else {
      return failAt(Sum, *n, "the sum of squares is not divided by the "
                             "hidden size next (" + found(*n) + ")");
    }

    // + epsilon.
    n = next();
    if (!n)
      return partial(Mean);
    if (n->node.as<arith::AddFOp>()) {
      std::optional<APFloat> eps = constantFloat(sibling(*n));
      if (!eps)
        return failAt(Mean, *n, "epsilon is not a constant");
      if (eps->isNegative() || eps->isZero() || !eps->isFinite())
        return failAt(Mean, *n, "epsilon is " + str(*eps) +
                                    "; sp.rms_norm needs a positive one");
      epsilon = *eps;
    } else if (n->node.as<math::RsqrtOp>() || n->node.as<math::SqrtOp>()) {
      // Look at what follows before blaming the missing epsilon.
      if (i == path.size())
        return partial(Mean);
      if (path[i].node.as<arith::AddFOp>())
        return failAt(Mean, path[i], "epsilon is added to the square root, "
                                     "not to the mean under it");
      return failAt(Mean, *n, "no epsilon is added to the mean before the "
                              "square root");
    } else {
      return failAt(Mean, *n, "the mean is not followed by + epsilon (" +
                                  found(*n) + ")");
    }

    // 1 / sqrt: math.rsqrt (lowered to 1 / sqrt) or an explicit 1 / sqrt.
    n = next();
    if (!n)
      return partial(Epsilon);
    if (n->node.as<math::SqrtOp>()) {
      n = next();
      if (!n)
        return partial(Root);
      if (n->node.as<arith::DivFOp>() && n->chain == 1) {
        if (!isConstant(operandElem(n->node, 0), 1.0))
          return failAt(Root, *n,
                        "x is divided by the square root: x / sqrt(v) rounds "
                        "differently from sp.rms_norm's x * (1 / sqrt(v))");
      } else if (n->node.as<arith::AddFOp>()) {
        return failAt(Root, *n, "a value is added after the square root "
                                "(epsilon in another position)");
      } else {
        return failAt(Root, *n, "the square root is not inverted as "
                                "1 / sqrt(v) (" + found(*n) + ")");
      }
    } else if (!n->node.as<math::RsqrtOp>()) {
      if (n->node.as<arith::AddFOp>())
        return failAt(Epsilon, *n, "a second value is added to the mean");
      return failAt(Epsilon, *n, "the mean + epsilon does not go into rsqrt "
                                 "or 1 / sqrt (" + found(*n) + ")");
    }

    // x * inv, with x the value whose squares were summed.
    n = next();
    if (!n)
      return partial(Inverse);
    if (!n->node.as<arith::MulFOp>()) {
      if (n->node.as<arith::DivFOp>())
        return failAt(Inverse, *n, "divides by the inverse square root");
      return failAt(Inverse, *n, "the inverse square root does not multiply "
                                 "x (" + found(*n) + ")");
    }
    Input x = resolveInput(sibling(*n));
    if (!sameInput(x, sum.x))
      return failAt(Inverse, *n, "the inverse square root multiplies a value "
                                 "other than the one whose squares were "
                                 "summed");

    // The weight, in one of two ways.
    n = next();
    if (!n)
      return partial(Normalized);
    Value weightTensor;
    AffineMap weightMap;
    Type normType;
    const PathNode *last = n;
    if (auto trunc = n->node.as<arith::TruncFOp>()) {
      // T(T(float(x) * inv) * w): rounded to the type x was extended from.
      Type type = trunc.getType();
      if (!x.extended || type != x.sourceType)
        return failAt(Normalized, *n,
                      "x * inv is rounded to " + str(type) +
                          ", not to the type x was extended from");
      if (!x.source || x.sourceMap != identityMap())
        return failAt(Normalized, *n, "x is extended to f32 inside the op, "
                                      "not read from a " + str(type) +
                                      " tensor");
      n = next();
      if (!n)
        return partial(Rounded);
      Elem weight;
      if (n->node.as<arith::MulFOp>()) {
        weight = sibling(*n);
        last = n;
      } else if (n->node.as<arith::ExtFOp>()) {
        // T(float(normed) * float(w)), spelled out.
        const PathNode *mul = next();
        if (!mul)
          return partial(Rounded);
        Elem other = step(sibling(*mul));
        auto ext = other.as<arith::ExtFOp>();
        if (!mul->node.as<arith::MulFOp>() || !ext || !isPlain(ext) ||
            ext.getIn().getType() != type)
          return failAt(Rounded, *mul, "the rounded x * inv is not "
                                       "multiplied by a " + str(type) +
                                       " weight (" + found(*mul) + ")");
        weight = operandElem(other, 0);
        n = next();
        if (!n)
          return partial(Rounded);
        auto round = n->node.as<arith::TruncFOp>();
        if (!round || round.getType() != type)
          return failAt(Rounded, *n, "the weighted value is not rounded to " +
                                         str(type) + " (" + found(*n) + ")");
        last = n;
      } else {
        return failAt(Rounded, *n, "the rounded x * inv is not multiplied by "
                                   "the weight (" + found(*n) + ")");
      }
      if (Outcome bad = checkWeight(weight, type, *last, weightTensor,
                                    weightMap);
          bad.kind == Outcome::Failed)
        return bad;
      normType = type;
      match.input = x.source;
    } else if (n->node.as<arith::MulFOp>()) {
      // f32 throughout: (x * inv) * w.
      Type type = elementTypeOf(n->node.value);
      if (!type.isF32())
        return failAt(Normalized, *n, "x * inv is multiplied in " +
                                          str(type));
      if (!x.f32 || x.f32Map != identityMap())
        return failAt(Normalized, *n,
                      "x * inv * w is computed in f32 and rounded once, which "
                      "sp.rms_norm does not do (it rounds x * inv to the "
                      "input type first); and the f32 value of x is not a "
                      "tensor, so the norm cannot be raised in f32 either");
      if (Outcome bad = checkWeight(sibling(*n), type, *n, weightTensor,
                                    weightMap);
          bad.kind == Outcome::Failed)
        return bad;
      normType = type;
      match.input = x.f32;
    } else {
      return failAt(Normalized, *n, "x * inv is not multiplied by the weight "
                                    "(" + found(*n) + ")");
    }

    if (i != path.size())
      return failAt(Done, path[i],
                    "the normalized value is not a tensor of its own: " +
                        nameOf(anchorOf(path[i].node)) +
                        " goes on computing with it");
    // Alignment: rows of the sum, x and the result all match the root's
    // iteration.
    if (leaf.map != sum.outMap)
      return failAt(Normalized, *last,
                    "the row sums are read with the map " + str(leaf.map) +
                        " here, not along the rows (" + str(sum.outMap) + ")");
    auto inputType = cast<RankedTensorType>(match.input.getType());
    if (inputType != rootType || rootType.getElementType() != normType)
      return failAt(Done, *last, "the result type " + str(rootType) +
                                     " differs from the input type " +
                                     str(inputType));
    match.root = root;
    match.weight = weightTensor;
    match.weightMap = weightMap;
    match.epsilon = epsilon;
    Outcome outcome{Outcome::Complete};
    outcome.progress = Done;
    outcome.match = match;
    return outcome;
  }

  AffineMap identityMap() const {
    return AffineMap::getMultiDimIdentityMap(rootType.getRank(),
                                             root.getContext());
  }

  /// The weight: a tensor of `type` read along the last dim only.
  Outcome checkWeight(Elem weight, Type type, const PathNode &at,
                      Value &tensor, AffineMap &map) {
    Elem w = step(weight);
    if (!w.tensor)
      return failAt(Rounded, at, "the weight is computed inside the op, not "
                                 "read from a tensor");
    auto wType = cast<RankedTensorType>(w.tensor.getType());
    if (wType.getElementType() != type)
      return failAt(Rounded, at, "the weight is " + str(wType) +
                                     ", not of the norm's type " + str(type));
    int64_t rank = rootType.getRank();
    AffineMap m = w.tensorMap;
    MLIRContext *context = root.getContext();
    if (m == identityMap() && rank > 1)
      return failAt(Rounded, at,
                    "the weight has a value per element (it is read with the "
                    "input's map), not one per column broadcast along the "
                    "rows");
    bool broadcast = m.getNumResults() >= 1 &&
                     m.getResults().back() ==
                         getAffineDimExpr(rank - 1, context);
    for (unsigned d = 0; broadcast && d + 1 < m.getNumResults(); ++d)
      broadcast = isa<AffineConstantExpr>(m.getResult(d)) &&
                  wType.getDimSize(d) == 1;
    if (!broadcast)
      return failAt(Rounded, at, "the weight is read with the map " + str(m) +
                                     ", not broadcast along the rows (it must "
                                     "vary with the last dim only)");
    tensor = w.tensor;
    map = m;
    return Outcome{Outcome::Complete};
  }

  const SumOfSquares &sum;
  Value root;
  RankedTensorType rootType;
  Elem leaf;
  APFloat epsilon{0.0f};
  NormMatch match;
};
} // namespace

/// The residual add that produced `input`: z = T(a + b) with a, b tensors
/// of z's type read in order.
static std::optional<std::pair<Value, Value>> matchResidualAdd(Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(type.getRank(), input.getContext());
  Elem z = step(Elem{input, identity, {}, {}});
  if (!z.value || !z.op())
    return std::nullopt;
  Elem sum = z;
  Type element = type.getElementType();
  bool widened = false;
  if (auto trunc = z.as<arith::TruncFOp>()) {
    // T(float(a) + float(b)), spelled out.
    if (!isPlain(trunc) || trunc.getType() != element)
      return std::nullopt;
    sum = step(operandElem(z, 0));
    widened = true;
  }
  auto add = sum.as<arith::AddFOp>();
  if (!add || !isPlain(add))
    return std::nullopt;
  Value operands[2];
  for (unsigned i = 0; i < 2; ++i) {
    Elem operand = step(operandElem(sum, i));
    if (widened) {
      auto ext = operand.as<arith::ExtFOp>();
      if (!ext || !isPlain(ext))
        return std::nullopt;
      operand = step(operandElem(operand, 0));
    }
    if (!operand.tensor || operand.tensorMap != identity ||
        operand.tensor.getType() != type)
      return std::nullopt;
    operands[i] = operand.tensor;
  }
  return std::make_pair(operands[0], operands[1]);
}

static bool isAllReduce(Value value) {
  Operation *def = value.getDefiningOp();
  return def && (def->getName().getStringRef() == "sp.all_reduce" ||
                 def->getName().getStringRef() == "shard.all_reduce");
}

//===----------------------------------------------------------------------===//
// The quant
//===----------------------------------------------------------------------===//

namespace {
struct Clamp {
  std::optional<APFloat> low, high;
  bool nanKept = true;
  Operation *nanEater = nullptr;
};
} // namespace

/// Peels one clamp bound off `v` (min/max or cmpf + select with a
/// constant): true if it did.
static bool peelBound(Elem &v, Clamp &clamp) {
  Elem s = step(v);
  Operation *op = s.op();
  if (!op || !isPlain(op))
    return false;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp,
          arith::MinNumFOp>(op)) {
    int constant = constantFloat(operandElem(s, 0))   ? 0
                   : constantFloat(operandElem(s, 1)) ? 1
                                                      : -1;
    if (constant < 0)
      return false;
    bool lower = isa<arith::MaximumFOp, arith::MaxNumFOp>(op);
    std::optional<APFloat> &bound = lower ? clamp.low : clamp.high;
    if (bound)
      return false;
    bound = constantFloat(operandElem(s, constant));
    if (isa<arith::MaxNumFOp, arith::MinNumFOp>(op)) {
      clamp.nanKept = false;
      if (!clamp.nanEater)
        clamp.nanEater = op;
    }
    v = step(operandElem(s, 1 - constant));
    return true;
  }
  auto select = s.as<arith::SelectOp>();
  if (!select)
    return false;
  Elem cond = step(operandElem(s, 0));
  auto cmp = cond.as<arith::CmpFOp>();
  if (!cmp || !isPlain(cmp))
    return false;
  Elem onTrue = operandElem(s, 1), onFalse = operandElem(s, 2);
  std::optional<APFloat> constTrue = constantFloat(onTrue);
  std::optional<APFloat> constFalse = constantFloat(onFalse);
  if (constTrue.has_value() == constFalse.has_value())
    return false;
  bool boundOnTrue = constTrue.has_value();
  APFloat bound = boundOnTrue ? *constTrue : *constFalse;
  Elem inner = boundOnTrue ? onFalse : onTrue;
  // Bring the comparison into the form `inner PRED bound`.
  arith::CmpFPredicate pred = cmp.getPredicate();
  Elem lhs = operandElem(cond, 0), rhs = operandElem(cond, 1);
  std::optional<APFloat> rhsConst = constantFloat(rhs);
  std::optional<APFloat> lhsConst = constantFloat(lhs);
  using P = arith::CmpFPredicate;
  if (rhsConst && rhsConst->bitwiseIsEqual(bound) && sameElem(lhs, inner)) {
  } else if (lhsConst && lhsConst->bitwiseIsEqual(bound) &&
             sameElem(rhs, inner)) {
    switch (pred) {
    case P::OLT: pred = P::OGT; break;
    case P::OLE: pred = P::OGE; break;
    case P::OGT: pred = P::OLT; break;
    case P::OGE: pred = P::OLE; break;
    case P::ULT: pred = P::UGT; break;
    case P::ULE: pred = P::UGE; break;
    case P::UGT: pred = P::ULT; break;
    case P::UGE: pred = P::ULE; break;
    default: return false;
    }
  } else {
    return false;
  }
  bool less, unordered;
  switch (pred) {
  case P::OLT: case P::OLE: less = true; unordered = false; break;
  case P::ULT: case P::ULE: less = true; unordered = true; break;
  case P::OGT: case P::OGE: less = false; unordered = false; break;
  case P::UGT: case P::UGE: less = false; unordered = true; break;
  default: return false;
  }
  // The bound is chosen when the comparison is true (boundOnTrue) or false.
  // inner < bound -> bound is a lower bound; inner > bound -> upper; and the
  // other way round when the bound is chosen on false.
  bool lower = less == boundOnTrue;
  std::optional<APFloat> &slot = lower ? clamp.low : clamp.high;
  if (slot)
    return false;
  slot = bound;
  // A NaN compares true iff the predicate is unordered; it survives iff the
  // select then takes `inner`.
  bool nanTakesBound = unordered == boundOnTrue;
  if (nanTakesBound) {
    clamp.nanKept = false;
    if (!clamp.nanEater)
      clamp.nanEater = op;
  }
  v = step(inner);
  return true;
}

namespace {
struct QuantMatch {
  Value root;
  Value input;
  /// The scale as sp.quant takes it: a tensor<f32> value, a scalar to wrap,
  /// or a constant.
  Value scaleTensor;
  AffineMap scaleMap;
  Value scaleScalar;
  std::optional<APFloat> scaleConstant;
};
} // namespace

/// The scale `s` as a per-tensor value.
static bool resolveScale(Elem e, QuantMatch &match) {
  if (std::optional<APFloat> c = constantFloat(e)) {
    match.scaleConstant = c;
    return true;
  }
  Elem s = step(e);
  if (!s.value || !elementTypeOf(s.value).isF32())
    return false;
  if (s.tensor) {
    auto type = cast<RankedTensorType>(s.tensor.getType());
    for (auto [d, expr] : llvm::enumerate(s.tensorMap.getResults()))
      if (!isa<AffineConstantExpr>(expr) || type.getDimSize(d) != 1)
        return false;
    match.scaleTensor = s.tensor;
    match.scaleMap = s.tensorMap;
    return true;
  }
  if (auto extract = s.as<tensor::ExtractOp>()) {
    auto type = extract.getTensor().getType();
    if (type.getNumElements() == 1) {
      match.scaleTensor = extract.getTensor();
      return true;
    }
    return false;
  }
  if (isUniform(s.value)) {
    match.scaleScalar = s.value;
    return true;
  }
  return false;
}

/// Matches the quant whose truncation to fp8 computes `root`. Returns
/// nullopt and sets `reason` (empty: not a quant at all).
static std::optional<QuantMatch> matchQuant(Value root, bool ignoreNaN,
                                            std::string &reason,
                                            Operation *&at) {
  auto type = cast<RankedTensorType>(root.getType());
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(type.getRank(), root.getContext());
  Elem top = step(Elem{root, identity, {}, {}});
  auto trunc = top.as<arith::TruncFOp>();
  if (!trunc)
    return std::nullopt;
  at = anchorOf(top);
  Elem v = step(operandElem(top, 0));
  Clamp clamp;
  std::vector<Operation *> clampOps;
  for (int k = 0; k < 2; ++k) {
    Operation *op = v.op();
    if (!peelBound(v, clamp))
      break;
    clampOps.push_back(op);
  }
  bool scaled = v.as<arith::MulFOp>() || v.as<arith::DivFOp>();
  if (!clamp.low && !clamp.high && !scaled)
    return std::nullopt; // A plain conversion.
  Type fp8 = trunc.getType();
  bool fnuz = isa<Float8E4M3FNUZType>(fp8);
  if (!isa<Float8E4M3FNType, Float8E4M3FNUZType>(fp8)) {
    reason = "it truncates to " + str(fp8) +
             "; sp.quant produces f8E4M3FN or f8E4M3FNUZ";
    return std::nullopt;
  }
  float limit = numerics::fp8QuantClamp(fnuz ? numerics::FP8Kind::E4M3FNUZ
                                             : numerics::FP8Kind::E4M3FN);
  if (!isPlain(trunc)) {
    reason = "the truncation to " + str(fp8) + " carries fastmath flags or a "
             "rounding mode other than to-nearest-even";
    return std::nullopt;
  }
  if (!clamp.low || !clamp.high) {
    reason = std::string("it does not clamp to [-M, M] before the "
                         "truncation (a value beyond the format's range "
                         "becomes NaN; sp.quant saturates at ") +
             (fnuz ? "224" : "448") + ")";
    return std::nullopt;
  }
  auto equals = [](const APFloat &value, float expected) {
    APFloat copy = value;
    bool losesInfo = false;
    copy.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                 &losesInfo);
    return !losesInfo && copy.isExactlyValue(expected);
  };
  if (!equals(*clamp.low, -limit) || !equals(*clamp.high, limit)) {
    reason = "it clamps to [" + str(*clamp.low) + ", " + str(*clamp.high) +
             "]; sp.quant clamps " + str(fp8) + " to [" +
             std::to_string(static_cast<int>(-limit)) + ", " +
             std::to_string(static_cast<int>(limit)) + "]";
    return std::nullopt;
  }
  if (!clamp.nanKept && !ignoreNaN) {
    reason = "its clamp (" + nameOf(clamp.nanEater) +
             ") turns a NaN into a bound; sp.quant keeps NaN a NaN "
             "(ignore-nan raises it anyway)";
    return std::nullopt;
  }
  for (Operation *op : clampOps)
    if (!isPlain(op)) {
      reason = "its clamp carries fastmath flags";
      return std::nullopt;
    }
  if (!elementTypeOf(v.value).isF32()) {
    reason = "it scales in " + str(elementTypeOf(v.value)) +
             "; sp.quant computes float(x) * (1 / scale) in f32";
    return std::nullopt;
  }
  if (v.op() && !isPlain(v.op())) {
    reason = "its scaling carries fastmath flags";
    return std::nullopt;
  }
  QuantMatch match;
  match.root = root;
  Elem x;
  if (v.as<arith::MulFOp>()) {
    // x * r: r = 1 / s, or a constant whose reciprocal is exact both ways.
    bool done = false;
    for (unsigned i = 0; i < 2 && !done; ++i) {
      Elem r = step(operandElem(v, 1 - i));
      if (auto div = r.as<arith::DivFOp>();
          div && isPlain(div) && isConstant(operandElem(r, 0), 1.0) &&
          resolveScale(operandElem(r, 1), match)) {
        x = operandElem(v, i);
        done = true;
      } else if (std::optional<APFloat> c = constantFloat(r);
                 c && !c->isZero() && c->isFinite()) {
        // sp.quant multiplies by 1.0f / scale: find the scale it rounds
        // back from.
        // back from (1/c rounded, or a neighbour).
        APFloat nearest(1.0f);
        nearest.divide(*c, APFloat::rmNearestTiesToEven);
        std::optional<APFloat> found;
        for (int delta : {0, 1, -1, 2, -2}) {
          APFloat scale = nearest;
          for (int k = 0; k < std::abs(delta); ++k)
            scale.next(/*nextDown=*/delta < 0);
          APFloat back(1.0f);
          back.divide(scale, APFloat::rmNearestTiesToEven);
          if (back.bitwiseIsEqual(*c)) {
            found = scale;
            break;
          }
        }
        if (!found) {
          reason = "it multiplies by the constant " + str(*c) +
                   ", and no f32 scale s near 1 / " + str(*c) +
                   " has 1.0f / s equal to it";
          return std::nullopt;
        }
        match.scaleConstant = *found;
        x = operandElem(v, i);
        done = true;
      }
    }
    if (!done) {
      reason = "it multiplies by a value that is neither 1 / scale nor a "
               "constant";
      return std::nullopt;
    }
  } else if (v.as<arith::DivFOp>()) {
    std::optional<APFloat> s = constantFloat(operandElem(v, 1));
    APFloat inverse(1.0f);
    if (!s || inverse.divide(*s, APFloat::rmNearestTiesToEven) !=
                  APFloat::opOK) {
      reason = "it divides by the scale: x / s rounds differently from "
               "sp.quant's x * (1.0f / s) unless 1 / s is exact (a constant "
               "power-of-two scale)";
      return std::nullopt;
    }
    match.scaleConstant = *s;
    x = operandElem(v, 0);
  } else {
    reason = "it clamps an unscaled value (no multiply by 1 / scale)";
    return std::nullopt;
  }
  Input input = resolveInput(x);
  if (input.extended && input.source && input.sourceMap == identity)
    match.input = input.source;
  else if (input.f32 && input.f32Map == identity)
    match.input = input.f32;
  else {
    reason = "its input is computed inside the op, not read from a tensor "
             "in order";
    return std::nullopt;
  }
  if (cast<RankedTensorType>(match.input.getType()).getShape() !=
      type.getShape()) {
    reason = "its input and result shapes differ";
    return std::nullopt;
  }
  return match;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct RaiseNormsPass : public sp::impl::SPRaiseNormsBase<RaiseNormsPass> {
  using SPRaiseNormsBase::SPRaiseNormsBase;

  void runOnOperation() override {
    Operation *top = getOperation();
    DominanceInfo dominance(top);
    this->dominance = &dominance;

    SmallVector<Operation *> sums;
    top->walk([&](linalg::LinalgOp op) { sums.push_back(op); });
    for (Operation *op : sums) {
      if (erased.contains(op))
        continue;
      // A sum may feed several norms; each raise is one step.
      for (int round = 0; round < 16 && !erased.contains(op); ++round) {
        std::optional<SumOfSquares> sum = matchSumOfSquares(op);
        if (!sum || !raiseNorms(*sum))
          break;
      }
    }

    SmallVector<Operation *> quants;
    top->walk([&](Operation *op) {
      if (isLinalgBody(op->getBlock()))
        return;
      for (Value result : op->getResults())
        if (auto type = dyn_cast<RankedTensorType>(result.getType());
            type && isa<FloatType>(type.getElementType()) &&
            cast<FloatType>(type.getElementType()).getWidth() == 8) {
          quants.push_back(op);
          return;
        }
    });
    for (Operation *op : quants) {
      if (erased.contains(op))
        continue;
      for (Value result : op->getResults()) {
        auto type = dyn_cast<RankedTensorType>(result.getType());
        if (!type || !isa<FloatType>(type.getElementType()) ||
            cast<FloatType>(type.getElementType()).getWidth() != 8)
          continue;
        std::string reason;
        Operation *at = nullptr;
        if (std::optional<QuantMatch> match = matchQuant(result, ignoreNaN, reason, at)) {
          raiseQuant(*match);
          break;
        }
        if (!reason.empty()) {
          at->emitRemark() << "FP8 quant not raised to sp.quant: " << reason;
          ++numLeftAlone;
        }
      }
    }
  }

  /// Walks forward from the sum to the values that compute whole norms and
  /// raises each; explains the furthest deviation if there is none.
  bool raiseNorms(const SumOfSquares &sum) {
    if (!sum.problem.empty()) {
      if (feedsSquareRoot(sum.result)) {
        sum.op->emitRemark() << "RMSNorm not raised: " << sum.problem;
        ++numLeftAlone;
      }
      return false;
    }
    NormMatcher matcher(sum);
    SmallVector<Value> worklist{sum.result};
    DenseSet<Operation *> visited;
    SmallVector<NormMatch> roots;
    Outcome best{Outcome::Failed};
    best.progress = -1;
    while (!worklist.empty() && visited.size() < 64) {
      Value value = worklist.pop_back_val();
      for (Operation *user : value.getUsers()) {
        if (!visited.insert(user).second)
          continue;
        for (Value result : user->getResults()) {
          Outcome outcome = matcher.evaluate(result);
          switch (outcome.kind) {
          case Outcome::Complete:
            roots.push_back(outcome.match);
            break;
          case Outcome::Partial:
            worklist.push_back(result);
            break;
          case Outcome::Failed:
            if (outcome.at && outcome.progress > best.progress)
              best = outcome;
            break;
          }
        }
      }
    }
    if (roots.empty()) {
      if (best.at && feedsSquareRoot(sum.result)) {
        best.at->emitRemark() << "RMSNorm not raised: " << best.reason;
        ++numLeftAlone;
      }
      return false;
    }
    // Raising one norm may erase what the others matched: raise the first,
    // then look again (until the sum is gone or nothing is left).
    for (NormMatch &match : roots)
      if (!match.root.use_empty()) {
        raise(match);
        return true;
      }
    return false;
  }

  /// A 1-D view of the weight (it may carry leading unit dims).
  Value weightVector(OpBuilder &b, Location loc, Value weight) {
    auto type = cast<RankedTensorType>(weight.getType());
    if (type.getRank() == 1)
      return weight;
    SmallVector<ReassociationIndices> all(1);
    for (int64_t d = 0; d < type.getRank(); ++d)
      all[0].push_back(d);
    auto op = tensor::CollapseShapeOp::create(b, loc, weight, all);
    erased.erase(op);
    return op;
  }

  void raise(NormMatch &match) {
    Operation *rootOp = match.root.getDefiningOp();
    Location loc = rootOp->getLoc();
    FloatAttr epsilon = FloatAttr::get(Float32Type::get(rootOp->getContext()),
                                       match.epsilon);
    std::optional<std::pair<Value, Value>> add =
        matchResidualAdd(match.input);
    OpBuilder b(rootOp);
    if (!add) {
      Value weight = weightVector(b, loc, match.weight);
      auto norm = RMSNormOp::create(b, loc, match.input.getType(), match.input,
                                    weight, epsilon);
      erased.erase(norm);
      match.root.replaceAllUsesWith(norm.getResult());
      ++numRMSNorm;
      eraseDead({rootOp});
      return;
    }
    // input = the all_reduce operand if one is, else the second (torch's
    // `residual + hidden`).
    auto [residual, input] = *add;
    if (isAllReduce(residual) && !isAllReduce(input))
      std::swap(residual, input);
    // As early as the add, so every later use of the sum can read
    // residual_out.
    Operation *addOp = match.input.getDefiningOp();
    if (addOp && dominance->properlyDominates(match.weight, addOp))
      b.setInsertionPoint(addOp);
    Value weight = weightVector(b, loc, match.weight);
    auto fused = FusedAddRMSNormOp::create(
        b, loc, match.input.getType(), match.input.getType(), input, residual,
        weight, epsilon);
    erased.erase(fused);
    match.root.replaceAllUsesWith(fused.getOutput());
    match.input.replaceUsesWithIf(fused.getResidualOut(), [&](OpOperand &use) {
      return dominance->properlyDominates(fused.getOperation(),
                                          use.getOwner());
    });
    ++numFusedAddRMSNorm;
    eraseDead({rootOp, addOp});
  }

  void raiseQuant(QuantMatch &match) {
    Operation *rootOp = match.root.getDefiningOp();
    Location loc = rootOp->getLoc();
    OpBuilder b(rootOp);
    MLIRContext *context = rootOp->getContext();
    auto scaleType = RankedTensorType::get({}, Float32Type::get(context));
    Value scale;
    SmallVector<Operation *> created;
    if (match.scaleConstant) {
      APFloat value = *match.scaleConstant;
      bool losesInfo = false;
      value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
      auto op = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(scaleType, value));
      created.push_back(op);
      scale = op;
    } else if (match.scaleScalar) {
      auto op = tensor::FromElementsOp::create(b, loc, scaleType,
                                               ValueRange{match.scaleScalar});
      created.push_back(op);
      scale = op;
    } else if (cast<RankedTensorType>(match.scaleTensor.getType()).getRank() ==
               0) {
      scale = match.scaleTensor;
    } else {
      auto op = tensor::CollapseShapeOp::create(
          b, loc, scaleType, match.scaleTensor,
          ArrayRef<ReassociationIndices>{});
      created.push_back(op);
      scale = op;
    }
    auto quant = QuantOp::create(b, loc, match.root.getType(), match.input,
                                 scale);
    created.push_back(quant);
    for (Operation *op : created)
      erased.erase(op);
    match.root.replaceAllUsesWith(quant.getResult());
    ++numQuant;
    eraseDead({rootOp});
  }

  /// Erases the ops that became dead, and the ops feeding only them.
  void eraseDead(ArrayRef<Operation *> seeds) {
    SmallVector<Operation *> worklist;
    for (Operation *op : seeds)
      if (op)
        worklist.push_back(op);
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      if (erased.contains(op) || !isOpTriviallyDead(op))
        continue;
      llvm::SetVector<Value> used;
      used.insert(op->operand_begin(), op->operand_end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
      for (Value value : used)
        if (Operation *def = value.getDefiningOp())
          worklist.push_back(def);
      erased.insert(op);
      op->erase();
    }
  }

  DominanceInfo *dominance = nullptr;
  /// Ops this pass erased (the candidate lists hold pointers).
  DenseSet<Operation *> erased;
};
} // namespace
