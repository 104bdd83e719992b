//===- sp-smith.cpp - random, valid, seeded sp modules --------------------===//
//
// `sp-smith --seed=N` prints one random module that verifies: sp groups
// (plain and with a grid layout), every sp op, linalg.matmul and elementwise
// linalg / arith ops on tensors, TP-style residual chains with extra users and
// returned residuals, replicated and non-replicated arguments, and traps: an
// all-reduce whose only user would look local if a non-replicated operand
// were trusted. Such an all-reduce carries the discardable attribute
// `smith.trap`; sp-sequence-parallelism must leave it alone with a remark.
// The same seed and options always give the same module.
//
// `sp-smith --mutate=K FILE` applies the K-th shrinking step to FILE (for
// the driver's delta debugging, python/sp_tools/smith.py); `--count-mutations`
// prints how many there are. See docs/Smith.md.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory smithCat("sp-smith options");
static cl::opt<uint64_t> optSeed("seed", cl::desc("Seed of the program"),
                                 cl::init(0), cl::cat(smithCat));
static cl::opt<int> optRanks(
    "ranks",
    cl::desc("World size the program targets (1, 2 or 4); every group fits it"),
    cl::init(2), cl::cat(smithCat));
static cl::opt<int> optMaxOps("max-ops",
                              cl::desc("Upper bound on generation steps (each "
                                       "step adds one op or one TP layer)"),
                              cl::init(8), cl::cat(smithCat));
static cl::opt<bool> optDynamic(
    "dynamic",
    cl::desc("Allow dynamic token dims (such programs are marked "
             "'runnable: no': sp-run needs .npy inputs for them)"),
    cl::init(true), cl::cat(smithCat));
static cl::opt<bool> optTraps("traps",
                              cl::desc("Generate trap sites (smith.trap)"),
                              cl::init(true), cl::cat(smithCat));
static cl::opt<int> optMutate(
    "mutate",
    cl::desc("Apply shrinking step K to the input file and print the result "
             "(exit 2: no such step, 3: the result does not verify)"),
    cl::init(-1), cl::cat(smithCat));
static cl::opt<bool> optCountMutations(
    "count-mutations",
    cl::desc("Print the number of shrinking steps of the input file"),
    cl::init(false), cl::cat(smithCat));
static cl::opt<std::string> optInput(cl::Positional,
                                     cl::desc("[input for --mutate]"),
                                     cl::init(""), cl::cat(smithCat));

namespace {

/// splitmix64: small, fast and identical on every platform (std's
/// distributions are not), so a seed means the same program everywhere.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  int64_t below(int64_t n) { return n <= 1 ? 0 : int64_t(next() % uint64_t(n)); }
  bool chance(int percent) { return below(100) < percent; }
  template <typename T> const T &pick(const std::vector<T> &v) {
    return v[below(v.size())];
  }
};

struct Group {
  std::string name;
  int64_t size;
  /// For a group with a layout: its axes on the module's grid; empty for a
  /// plain group (every rank).
  std::vector<int64_t> axes;
  std::vector<int64_t> otherAxes; // the grid axes it does not span
};

/// A value the generator may use again, with a rough bound on its magnitude
/// (inputs are in [-1, 1)) so that chains stay finite.
struct PoolValue {
  Value value;
  double mag;
};

enum class Repl { No, Yes };

class Smith {
public:
  Smith(MLIRContext *ctx, uint64_t seed, int ranks, int maxOps, bool dynamic,
        bool traps)
      : ctx(ctx), rng(seed), ranks(ranks), maxOps(maxOps),
        allowDynamic(dynamic), allowTraps(traps), b(ctx) {}

  OwningOpRef<ModuleOp> generate();
  bool runnable = true;
  int trapCount = 0;
  std::vector<std::string> gridDesc;

private:
  MLIRContext *ctx;
  Rng rng;
  int ranks, maxOps;
  bool allowDynamic, allowTraps;
  OpBuilder b;
  Location loc = UnknownLoc::get(ctx);
  func::FuncOp func;
  Block *body = nullptr;
  std::vector<Group> groups;
  std::vector<PoolValue> pool;
  /// Results that are not 2-D (row sums): returned, never reused.
  std::vector<Value> extraResults;
  std::vector<DictionaryAttr> argAttrs;
  Type act; // the activation element type
  int64_t tokens = 8, hidden = 8;

  Type fp8() { return Float8E4M3FNType::get(ctx); }
  RankedTensorType t2(int64_t r, int64_t c, Type e) {
    return RankedTensorType::get({r, c}, e);
  }
  double magLimit(Type e) { return e.isF16() ? 2e3 : 1e8; }

  // Arguments.
  Value arg(Type type, Repl repl);
  Value argReplicatedInGroup(Type type, const Group &g);
  Value argReplicatedAlong(Type type, ArrayRef<int64_t> axes);
  Value trapArg(Type type, const Group &g);
  Value scaleArg() { return arg(RankedTensorType::get({}, b.getF32Type()), Repl::Yes); }
  Value weight(const Group &g, int64_t h, Type e, bool trap);

  // Ops.
  Value zeros(RankedTensorType type);
  Value matmul(Value lhs, Value rhs, Type resultElem);
  Value allReduce(Value x, const Group &g, sp::ReductionKind kind, bool trap);
  Value collective(StringRef name, Value x, const Group &g, int64_t dim,
                   RankedTensorType resultType);
  Value rmsNorm(Value x, Value w);
  std::pair<Value, Value> fusedAdd(Value x, Value r, Value w);
  Value quant(Value x, Value scale);
  Value elementwise(Value x, Value y);
  Value rankDependent(Value x, const Group &g);
  Value biasAdd(Value x, Value bias);
  Value rowSum(Value x);

  // Steps.
  void tpLayer();
  void randomOp();
  void dynamicChain();
  const Group &anyGroup() { return groups[rng.below(groups.size())]; }
  PoolValue *pickValue(const std::function<bool(const PoolValue &)> &pred);
  void push(Value v, double mag) { pool.push_back({v, mag}); }
  double epsilon() {
    static const double eps[] = {1e-6, 1e-5, 1e-3};
    return eps[rng.below(3)];
  }
};

Value Smith::arg(Type type, Repl repl) {
  Value v = body->addArgument(type, loc);
  NamedAttrList attrs;
  if (repl == Repl::Yes)
    attrs.set(sp::SPDialect::getReplicatedAttrName(), b.getUnitAttr());
  argAttrs.push_back(attrs.getDictionary(ctx));
  return v;
}

/// The same on every rank of `g`'s group, and no more than that when the
/// module has a grid (sp.replicated_axes).
Value Smith::argReplicatedInGroup(Type type, const Group &g) {
  if (g.axes.empty() || rng.chance(50))
    return arg(type, Repl::Yes);
  return argReplicatedAlong(type, g.axes);
}

/// An argument marked `sp.replicated_axes = axes`.
Value Smith::argReplicatedAlong(Type type, ArrayRef<int64_t> axes) {
  Value v = body->addArgument(type, loc);
  NamedAttrList attrs;
  attrs.set(sp::SPDialect::getReplicatedAxesAttrName(),
            b.getDenseI64ArrayAttr(axes));
  argAttrs.push_back(attrs.getDictionary(ctx));
  return v;
}

/// Differs between the ranks of `g` but, with a grid, is the same along the
/// axes `g` does not span: it looks replicated to a careless analysis.
Value Smith::trapArg(Type type, const Group &g) {
  if (!g.otherAxes.empty() && rng.chance(60))
    return argReplicatedAlong(type, g.otherAxes);
  return arg(type, Repl::No);
}

/// A norm weight of length h: replicated within `g`, or (trap) not.
Value Smith::weight(const Group &g, int64_t h, Type e, bool trap) {
  auto type = RankedTensorType::get({h}, e);
  if (!trap) {
    if (rng.chance(15)) {
      Attribute one = b.getFloatAttr(e, 1.0);
      return arith::ConstantOp::create(b, loc,
                                       DenseElementsAttr::get(type, one));
    }
    return argReplicatedInGroup(type, g);
  }
  if (rng.chance(30)) {
    // A replicated weight plus this rank's index in the group.
    Value w = argReplicatedInGroup(type, g);
    return rankDependent(w, g);
  }
  return trapArg(type, g);
}

Value Smith::zeros(RankedTensorType type) {
  Attribute zero = b.getZeroAttr(type.getElementType());
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, zero));
}

Value Smith::matmul(Value lhs, Value rhs, Type resultElem) {
  auto lt = cast<RankedTensorType>(lhs.getType());
  auto rt = cast<RankedTensorType>(rhs.getType());
  auto resultType = t2(lt.getDimSize(0), rt.getDimSize(1), resultElem);
  Value init;
  if (rng.chance(70)) {
    init = zeros(resultType);
  } else {
    Value empty = tensor::EmptyOp::create(b, loc, resultType.getShape(),
                                          resultElem);
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(resultElem));
    init = linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty})
               .getResult(0);
  }
  return linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs},
                                  ValueRange{init})
      .getResult(0);
}

Value Smith::allReduce(Value x, const Group &g, sp::ReductionKind kind,
                       bool trap) {
  OperationState st(loc, "sp.all_reduce");
  st.addOperands(x);
  st.addAttribute("group", FlatSymbolRefAttr::get(ctx, g.name));
  if (kind != sp::ReductionKind::sum)
    st.addAttribute("reduction", sp::ReductionKindAttr::get(ctx, kind));
  if (trap)
    st.addAttribute("smith.trap", b.getUnitAttr());
  st.addTypes(x.getType());
  return b.create(st)->getResult(0);
}

Value Smith::collective(StringRef name, Value x, const Group &g, int64_t dim,
                        RankedTensorType resultType) {
  OperationState st(loc, name);
  st.addOperands(x);
  st.addAttribute("group", FlatSymbolRefAttr::get(ctx, g.name));
  if (dim != 0 || rng.chance(20))
    st.addAttribute("dim", b.getI64IntegerAttr(dim));
  st.addTypes(resultType);
  return b.create(st)->getResult(0);
}

Value Smith::rmsNorm(Value x, Value w) {
  OperationState st(loc, "sp.rms_norm");
  st.addOperands({x, w});
  st.addAttribute("epsilon", b.getF32FloatAttr(epsilon()));
  st.addTypes(x.getType());
  return b.create(st)->getResult(0);
}

std::pair<Value, Value> Smith::fusedAdd(Value x, Value r, Value w) {
  OperationState st(loc, "sp.fused_add_rms_norm");
  st.addOperands({x, r, w});
  st.addAttribute("epsilon", b.getF32FloatAttr(epsilon()));
  st.addTypes({x.getType(), x.getType()});
  Operation *op = b.create(st);
  return {op->getResult(0), op->getResult(1)};
}

Value Smith::quant(Value x, Value scale) {
  OperationState st(loc, "sp.quant");
  st.addOperands({x, scale});
  auto t = cast<RankedTensorType>(x.getType());
  st.addTypes(RankedTensorType::get(t.getShape(), fp8()));
  return b.create(st)->getResult(0);
}

Value Smith::elementwise(Value x, Value y) {
  auto type = cast<RankedTensorType>(x.getType());
  // linalg's named ops need an init; dynamic shapes get arith on tensors.
  switch (rng.below(type.hasStaticShape() ? 6 : 3)) {
  case 0:
    return arith::AddFOp::create(b, loc, x, y);
  case 1:
    return arith::MulFOp::create(b, loc, x, y);
  case 2:
    return arith::MaximumFOp::create(b, loc, x, y);
  case 3: {
    Value e = tensor::EmptyOp::create(b, loc, type.getShape(),
                                      type.getElementType());
    return linalg::AddOp::create(b, loc, ValueRange{x, y}, ValueRange{e})
        .getResult(0);
  }
  case 4: {
    Value e = tensor::EmptyOp::create(b, loc, type.getShape(),
                                      type.getElementType());
    return linalg::MulOp::create(b, loc, ValueRange{x, y}, ValueRange{e})
        .getResult(0);
  }
  default: {
    Value e = tensor::EmptyOp::create(b, loc, type.getShape(),
                                      type.getElementType());
    return linalg::SubOp::create(b, loc, ValueRange{x, y}, ValueRange{e})
        .getResult(0);
  }
  }
}

/// x + (this rank's index in g), broadcast: a value that differs per rank.
Value Smith::rankDependent(Value x, const Group &g) {
  auto type = cast<RankedTensorType>(x.getType());
  OperationState st(loc, "sp.group_rank");
  st.addAttribute("group", FlatSymbolRefAttr::get(ctx, g.name));
  st.addTypes(b.getIndexType());
  Value r = b.create(st)->getResult(0);
  Value i = arith::IndexCastOp::create(b, loc, b.getI32Type(), r);
  Value f = arith::SIToFPOp::create(b, loc, b.getF32Type(), i);
  if (!type.getElementType().isF32())
    f = arith::TruncFOp::create(b, loc, type.getElementType(), f);
  Value e = tensor::EmptyOp::create(b, loc, type.getShape(),
                                    type.getElementType());
  Value filled =
      linalg::FillOp::create(b, loc, ValueRange{f}, ValueRange{e}).getResult(0);
  return arith::AddFOp::create(b, loc, x, filled);
}

/// A linalg.generic adding a 1-D bias broadcast along rows, (d0, d1) ->
/// (d1): row-wise, with an operand that must be replicated to sink through.
Value Smith::biasAdd(Value x, Value bias) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *c = ctx;
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, c);
  AffineMap bcast = AffineMap::get(2, 0, {getAffineDimExpr(1, c)}, c);
  Value e = tensor::EmptyOp::create(b, loc, type.getShape(),
                                    type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{x, bias}, ValueRange{e},
             ArrayRef<AffineMap>{id, bcast, id},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel},
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value sum = arith::AddFOp::create(nb, l, args[0], args[1]);
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

/// A row reduction over hidden into f32, (d0, d1) -> (d0), from a zero fill:
/// row-wise along d0.
Value Smith::rowSum(Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *c = ctx;
  auto outType = RankedTensorType::get({type.getDimSize(0)}, b.getF32Type());
  Value e = tensor::EmptyOp::create(b, loc, outType.getShape(), b.getF32Type());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  Value init =
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{e}).getResult(0);
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, c);
  AffineMap rows = AffineMap::get(2, 0, {getAffineDimExpr(0, c)}, c);
  Type elem = type.getElementType();
  return linalg::GenericOp::create(
             b, loc, TypeRange{outType}, ValueRange{x}, ValueRange{init},
             ArrayRef<AffineMap>{id, rows},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
             [elem](OpBuilder &nb, Location l, ValueRange args) {
               Value v = args[0];
               if (!elem.isF32())
                 v = arith::ExtFOp::create(nb, l, nb.getF32Type(), v);
               Value sum = arith::AddFOp::create(nb, l, v, args[1]);
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

PoolValue *
Smith::pickValue(const std::function<bool(const PoolValue &)> &pred) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < pool.size(); ++i)
    if (pred(pool[i]))
      ok.push_back(i);
  if (ok.empty())
    return nullptr;
  // Prefer recent values: longer chains.
  size_t k = rng.chance(60) ? ok.back() : ok[rng.below(ok.size())];
  return &pool[k];
}

static RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}
static bool isAct(const PoolValue &p, Type act) {
  auto t = tensorOf(p.value);
  return t.getElementType() == act && t.hasStaticShape();
}

/// One tensor-parallel block: x -> matmul(W1 shard) [-> elementwise]
/// -> matmul(W2 shard) = partial sum -> all_reduce -> rms_norm or residual
/// add + rms_norm [-> quant -> fp8 matmul].
void Smith::tpLayer() {
  const Group &g = anyGroup();
  int64_t t = tokens * (rng.chance(30) ? 2 : 1);
  int64_t h = hidden, f = rng.chance(50) ? hidden : 2 * hidden;
  // The activation: a pool value of the right shape, or a new argument.
  PoolValue *in = pickValue([&](const PoolValue &p) {
    auto ty = tensorOf(p.value);
    return isAct(p, act) && ty.getDimSize(0) == t && ty.getDimSize(1) == h &&
           p.mag < 100;
  });
  Value x;
  double mag = 1;
  if (in) {
    x = in->value;
    mag = in->mag;
  } else {
    x = rng.chance(50) ? arg(t2(t, h, act), Repl::Yes)
                       : arg(t2(t, h, act), Repl::No);
  }
  Value w1 = arg(t2(h, f, act), Repl::No);
  Value m = matmul(x, w1, act);
  mag *= h;
  if (rng.chance(40)) {
    m = elementwise(m, m);
    mag = mag * mag;
  }
  if (mag * f > magLimit(act)) {
    // Keep the chain finite: normalize first.
    m = rmsNorm(m, weight(g, f, act, false));
    mag = 4;
  }
  Value w2 = arg(t2(f, h, act), Repl::No);
  Value partial = matmul(m, w2, act);
  mag *= f;
  if (mag * g.size > magLimit(act)) {
    partial = rmsNorm(partial, weight(g, h, act, false));
    mag = 4;
  }
  bool trap = allowTraps && g.size > 1 && rng.chance(25);
  auto kind = rng.chance(90) ? sp::ReductionKind::sum
                             : (rng.chance(50) ? sp::ReductionKind::max
                                               : sp::ReductionKind::avg);
  Value a = allReduce(partial, g, kind, trap);
  if (trap)
    ++trapCount;
  double amag = mag * g.size;
  // What the all-reduce feeds first: the norm, or an elementwise op with a
  // replicated argument, another site of the same group, or (a trap) an
  // argument that differs between the group's ranks.
  Value use = a;
  bool trapViaElementwise = false;
  int pre = rng.below(100);
  if (trap && pre < 20) {
    use = elementwise(a, trapArg(tensorOf(a), g));
    trapViaElementwise = true;
    amag = (amag + 1) * 2;
  } else if (trap && pre < 35) {
    // A bias that differs within the group, broadcast along rows.
    use = biasAdd(a, weight(g, h, act, /*trap=*/true));
    trapViaElementwise = true;
    amag = amag + g.size + 1;
  } else if (!trap && pre < 10) {
    use = biasAdd(a, weight(g, h, act, /*trap=*/false));
    amag = amag + 1;
  } else if (!trap && pre < 20) {
    use = elementwise(a, argReplicatedInGroup(tensorOf(a), g));
    amag = (amag + 1) * 2;
  } else if (!trap && pre < 35) {
    Value a2 = allReduce(arg(tensorOf(a), Repl::No), g, sp::ReductionKind::sum,
                         false);
    use = elementwise(a, a2);
    amag = (amag + g.size) * (g.size + 1);
  }
  if (!trap && rng.chance(10))
    extraResults.push_back(rowSum(a)); // a row-wise reduction user
  bool trapNorm = trap && !trapViaElementwise;
  Value normed;
  if (rng.chance(50)) {
    // Residual add + norm. The residual: a previous residual, or an argument.
    PoolValue *res = trap ? nullptr : pickValue([&](const PoolValue &p) {
      return isAct(p, act) && tensorOf(p.value) == tensorOf(a) && p.mag < 1e3;
    });
    bool trapResidual = trapNorm && rng.chance(50);
    Value r = res ? res->value
                  : (trapResidual ? trapArg(tensorOf(a), g)
                                  : argReplicatedInGroup(tensorOf(a), g));
    Value w = weight(g, h, act, trapNorm && !trapResidual);
    auto [o, rOut] = fusedAdd(use, r, w);
    normed = o;
    push(rOut, amag + (res ? res->mag : 1));
  } else {
    normed = rmsNorm(use, weight(g, h, act, trapNorm));
  }
  if (!trap && rng.chance(20))
    push(a, amag); // an extra user of the all-reduce's result, later
  if (rng.chance(40)) {
    Value q = quant(normed, scaleArg());
    if (rng.chance(60)) {
      Value w8 = arg(t2(h, f, fp8()), Repl::No);
      Type out = rng.chance(50) ? act : b.getF32Type();
      push(matmul(q, w8, out), 448.0 * h);
    } else {
      push(q, 448);
    }
    if (rng.chance(30))
      push(normed, 4);
  } else {
    push(normed, 4);
  }
}

void Smith::randomOp() {
  const Group &g = anyGroup();
  int64_t s = g.size;
  int which = rng.below(15);
  auto pickFloat = [&](double maxMag) {
    return pickValue([&](const PoolValue &p) {
      auto ty = tensorOf(p.value);
      return ty.hasStaticShape() && ty.getRank() == 2 &&
             !isa<Float8E4M3FNType>(ty.getElementType()) && p.mag < maxMag;
    });
  };
  auto anyStatic = [&](int64_t maxRows) {
    return pickValue([&](const PoolValue &p) {
      auto ty = tensorOf(p.value);
      return ty.hasStaticShape() && ty.getRank() == 2 &&
             ty.getDimSize(0) <= maxRows;
    });
  };
  switch (which) {
  case 0: { // all_reduce of any float value, any reduction
    PoolValue *p = pickFloat(1e3);
    if (!p)
      return tpLayer();
    static const sp::ReductionKind kinds[] = {
        sp::ReductionKind::sum, sp::ReductionKind::max, sp::ReductionKind::min,
        sp::ReductionKind::avg, sp::ReductionKind::prod};
    auto kind = kinds[rng.below(5)];
    if (kind == sp::ReductionKind::prod && p->mag > 2)
      kind = sp::ReductionKind::sum;
    double mag = p->mag * s;
    push(allReduce(p->value, g, kind, false), mag);
    return;
  }
  case 1: { // reduce_scatter along a divisible dim
    PoolValue *p = pickFloat(1e3);
    if (!p)
      return tpLayer();
    auto ty = tensorOf(p->value);
    int64_t dim = rng.chance(75) ? 0 : 1;
    if (ty.getDimSize(dim) % s != 0)
      return;
    SmallVector<int64_t> shape(ty.getShape());
    shape[dim] /= s;
    double mag = p->mag * s;
    push(collective("sp.reduce_scatter", p->value, g, dim,
                    RankedTensorType::get(shape, ty.getElementType())),
         mag);
    return;
  }
  case 2:   // all_gather (any type, fp8 too)
  case 3: { // all_slice
    PoolValue *p = anyStatic(64);
    if (!p)
      return tpLayer();
    auto ty = tensorOf(p->value);
    int64_t dim = rng.chance(75) ? 0 : 1;
    SmallVector<int64_t> shape(ty.getShape());
    if (which == 2) {
      shape[dim] *= s;
    } else {
      if (shape[dim] % s != 0)
        return;
      shape[dim] /= s;
    }
    double mag = p->mag;
    push(collective(which == 2 ? "sp.all_gather" : "sp.all_slice", p->value, g,
                    dim, RankedTensorType::get(shape, ty.getElementType())),
         mag);
    return;
  }
  case 4: { // ring_shift by a constant
    PoolValue *p = anyStatic(1 << 20);
    if (!p)
      return tpLayer();
    Value off = arith::ConstantIndexOp::create(b, loc, rng.below(s + 1));
    OperationState st(loc, "sp.ring_shift");
    st.addOperands({p->value, off});
    st.addAttribute("group", FlatSymbolRefAttr::get(ctx, g.name));
    st.addTypes(p->value.getType());
    double mag = p->mag;
    push(b.create(st)->getResult(0), mag);
    return;
  }
  case 5: { // a rank-dependent value (group_rank)
    PoolValue *p = pickFloat(1e3);
    if (!p)
      return tpLayer();
    double mag = p->mag + s;
    push(rankDependent(p->value, g), mag);
    return;
  }
  case 6: { // rms_norm of any value; the weight replicated or not
    PoolValue *p = pickFloat(1e6);
    if (!p)
      return tpLayer();
    auto ty = tensorOf(p->value);
    Value w = weight(g, ty.getDimSize(1), ty.getElementType(), rng.chance(30));
    push(rmsNorm(p->value, w), 4);
    return;
  }
  case 7: { // fused_add_rms_norm
    PoolValue *p = pickFloat(1e3);
    if (!p)
      return tpLayer();
    Value x = p->value;
    double mag = p->mag;
    PoolValue *r = pickValue([&](const PoolValue &q) {
      return q.value != x && q.value.getType() == x.getType() && q.mag < 1e3;
    });
    Value rv = r ? r->value
                 : (rng.chance(50) ? argReplicatedInGroup(x.getType(), g)
                                   : arg(x.getType(), Repl::No));
    double rmag = r ? r->mag : 1;
    auto ty = tensorOf(x);
    Value w = weight(g, ty.getDimSize(1), ty.getElementType(), rng.chance(20));
    auto [o, ro] = fusedAdd(x, rv, w);
    push(o, 4);
    push(ro, mag + rmag);
    return;
  }
  case 8: { // quant
    PoolValue *p = pickFloat(1e6);
    if (!p)
      return tpLayer();
    push(quant(p->value, scaleArg()), 448);
    return;
  }
  case 9:
  case 10: { // elementwise with another value or an argument
    PoolValue *p = pickFloat(30);
    if (!p)
      return tpLayer();
    Value x = p->value;
    double mag = p->mag;
    PoolValue *q = pickValue([&](const PoolValue &o) {
      return o.value.getType() == x.getType() && o.mag < 30;
    });
    Value y;
    double ymag = 1;
    if (q && rng.chance(60)) {
      y = q->value;
      ymag = q->mag;
    } else {
      y = arg(x.getType(), rng.chance(50) ? Repl::Yes : Repl::No);
    }
    push(elementwise(x, y), (mag + 1) * (ymag + 1));
    return;
  }
  case 11: { // linalg.matmul by a weight shard
    PoolValue *p = pickValue([&](const PoolValue &o) {
      auto ty = tensorOf(o.value);
      return ty.hasStaticShape() && ty.getRank() == 2 && o.mag < 500;
    });
    if (!p)
      return tpLayer();
    auto ty = tensorOf(p->value);
    Type e = ty.getElementType();
    Type out = isa<Float8E4M3FNType>(e) ? act : e;
    int64_t k = ty.getDimSize(1), n = rng.chance(50) ? hidden : 2 * hidden;
    double mag = p->mag * k;
    if (mag > magLimit(out))
      return;
    Value w = arg(t2(k, n, isa<Float8E4M3FNType>(e) ? fp8() : e), Repl::No);
    push(matmul(p->value, w, out), mag);
    return;
  }
  case 12:
  case 13: { // all_gather_matmul / matmul_reduce_scatter, plain or scaled
    bool gather = which == 12;
    bool scaled = rng.chance(40);
    PoolValue *p = pickValue([&](const PoolValue &o) {
      auto ty = tensorOf(o.value);
      if (!ty.hasStaticShape() || ty.getRank() != 2 || o.mag > 500)
        return false;
      bool isFp8 = isa<Float8E4M3FNType>(ty.getElementType());
      if (isFp8 != scaled)
        return false;
      return gather ? ty.getDimSize(0) * s <= 64 : ty.getDimSize(0) % s == 0;
    });
    Value lhs;
    double mag = 1;
    int64_t rows = gather ? tokens / std::max<int64_t>(s, 1) : tokens;
    if (p) {
      lhs = p->value;
      mag = p->mag;
    } else {
      lhs = arg(t2(std::max<int64_t>(rows, 1), hidden, scaled ? fp8() : act),
                Repl::No);
    }
    auto lt = tensorOf(lhs);
    int64_t k = lt.getDimSize(1), n = rng.chance(50) ? hidden : 2 * hidden;
    Type out = scaled ? (rng.chance(34) ? b.getF32Type()
                                        : (rng.chance(50) ? b.getBF16Type()
                                                          : b.getF16Type()))
                      : lt.getElementType();
    double omag = mag * k * (scaled ? 1.0 / 1024 : 1.0) * (gather ? 1 : s);
    if (omag > magLimit(out))
      return;
    Value rhs = arg(t2(k, n, lt.getElementType()), Repl::No);
    OperationState st(loc, gather ? "sp.all_gather_matmul"
                                  : "sp.matmul_reduce_scatter");
    st.addOperands({lhs, rhs});
    if (scaled)
      st.addOperands({scaleArg(), scaleArg()});
    st.addAttribute("group", FlatSymbolRefAttr::get(ctx, g.name));
    int64_t m = lt.getDimSize(0);
    st.addTypes(t2(gather ? m * s : m / s, n, out));
    bool withGathered = gather && rng.chance(40);
    if (withGathered)
      st.addTypes(t2(m * s, k, lt.getElementType()));
    Operation *op = b.create(st);
    push(op->getResult(0), omag);
    if (withGathered)
      push(op->getResult(1), mag);
    return;
  }
  default:
    return tpLayer();
  }
}

/// A dynamic token dim: x : tensor<?xH> -> all_reduce -> rms_norm
/// [-> quant]. The rewrite must leave it alone (with a remark).
void Smith::dynamicChain() {
  const Group &g = anyGroup();
  auto type = RankedTensorType::get({ShapedType::kDynamic, hidden}, act);
  Value x = arg(type, Repl::No);
  Value a = allReduce(x, g, sp::ReductionKind::sum, false);
  Value n = rmsNorm(a, weight(g, hidden, act, false));
  if (rng.chance(50))
    n = elementwise(n, n);
  if (rng.chance(50))
    n = quant(n, scaleArg());
  push(n, 448);
  runnable = false;
}

OwningOpRef<ModuleOp> Smith::generate() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  // Groups: the whole world, and subgroups on a grid.
  auto addGroup = [&](StringRef name, int64_t size, ArrayRef<int64_t> grid,
                      ArrayRef<int64_t> axes) {
    OperationState st(loc, "sp.group");
    st.addAttribute("sym_name", b.getStringAttr(name));
    st.addAttribute("size", b.getI64IntegerAttr(size));
    Group g{name.str(), size, {}, {}};
    if (!grid.empty()) {
      st.addAttribute("grid", b.getDenseI64ArrayAttr(grid));
      st.addAttribute("axes", b.getDenseI64ArrayAttr(axes));
      g.axes.assign(axes.begin(), axes.end());
      for (int64_t a = 0; a < int64_t(grid.size()); ++a)
        if (!llvm::is_contained(axes, a))
          g.otherAxes.push_back(a);
    }
    b.create(st);
    groups.push_back(g);
  };
  int layout = rng.below(3);
  if (ranks == 4 && layout == 1) {
    // DP 2 x TP 2.
    addGroup("tp", 2, {2, 2}, {1});
    if (rng.chance(60))
      addGroup("dp", 2, {2, 2}, {0});
    if (rng.chance(40))
      addGroup("world", 4, {2, 2}, {0, 1});
    gridDesc.push_back("grid [2, 2]");
  } else if (ranks > 1 && layout == 2) {
    // A group of one rank inside the world, and the world on the same grid.
    addGroup("one", 1, {ranks, 1}, {1});
    addGroup("tp", ranks, {ranks, 1}, {0});
    gridDesc.push_back("grid [" + std::to_string(ranks) + ", 1]");
  } else {
    addGroup("tp", ranks, {}, {});
  }

  // Shapes and the activation type.
  static const int64_t tokenChoices[] = {8, 16};
  static const int64_t hiddenChoices[] = {8, 16};
  tokens = tokenChoices[rng.below(2)];
  hidden = hiddenChoices[rng.below(2)];
  switch (rng.below(3)) {
  case 0:
    act = b.getBF16Type();
    break;
  case 1:
    act = b.getF16Type();
    break;
  default:
    act = b.getF32Type();
  }

  func = func::FuncOp::create(b, loc, "main", b.getFunctionType({}, {}));
  body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);

  int steps = 1 + rng.below(std::max(1, maxOps));
  tpLayer();
  for (int i = 1; i < steps; ++i) {
    if (allowDynamic && rng.chance(4))
      dynamicChain();
    else if (rng.chance(35))
      tpLayer();
    else
      randomOp();
  }

  // Results: every value nobody uses, and some that are used (returned
  // residuals, extra users of intermediate values).
  SmallVector<Value> results;
  for (PoolValue &p : pool)
    if (p.value.use_empty() || rng.chance(15))
      if (!llvm::is_contained(results, p.value))
        results.push_back(p.value);
  for (Value v : extraResults)
    results.push_back(v);
  if (results.empty())
    results.push_back(pool.back().value);
  func::ReturnOp::create(b, loc, results);
  SmallVector<Type> argTypes(body->getArgumentTypes());
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  func.setFunctionType(b.getFunctionType(argTypes, resultTypes));
  for (auto [i, attrs] : llvm::enumerate(argAttrs))
    if (!attrs.empty())
      func.setArgAttrs(i, attrs);
  return module;
}

//===----------------------------------------------------------------------===//
// Shrinking steps
//===----------------------------------------------------------------------===//

/// The K-th step of the shrinker, in this order:
///  - drop one result of the function (when it has more than one);
///  - erase one op, its results replaced by new function arguments (ops
///    last to first; the new arguments are not replicated; only ops whose
///    used results are all tensors);
///  - replace one op's results by one of its operands of the same type;
///  - erase every unused argument and every unused group.
/// Returns false if K is out of range; `count` gets the number of steps.
static bool applyMutation(ModuleOp module, int64_t k, int64_t &count) {
  count = 0;
  std::vector<std::function<void()>> steps;
  SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
  for (func::FuncOp f : funcs) {
    if (f.isExternal())
      continue;
    auto ret = cast<func::ReturnOp>(f.getBody().back().getTerminator());
    if (ret.getNumOperands() > 1)
      for (unsigned i = 0; i < ret.getNumOperands(); ++i)
        steps.push_back([f, i]() mutable {
          auto ret = cast<func::ReturnOp>(f.getBody().back().getTerminator());
          ret->eraseOperand(i);
          SmallVector<Type> rt(f.getResultTypes());
          rt.erase(rt.begin() + i);
          f.setFunctionType(
              FunctionType::get(f.getContext(), f.getArgumentTypes(), rt));
        });
  }
  for (func::FuncOp f : funcs) {
    if (f.isExternal())
      continue;
    SmallVector<Operation *> ops;
    for (Operation &op : f.getBody().front().without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      // Only tensors become arguments (sp-run passes tensors only).
      if (llvm::any_of(op->getResults(), [](Value r) {
            return !r.use_empty() && !isa<RankedTensorType>(r.getType());
          }))
        continue;
      steps.push_back([f, op]() mutable {
        for (Value r : op->getResults()) {
          if (r.use_empty())
            continue;
          (void)f.insertArgument(f.getNumArguments(), r.getType(),
                                 DictionaryAttr::get(f.getContext()),
                                 r.getLoc());
          r.replaceAllUsesWith(f.getArgument(f.getNumArguments() - 1));
        }
        op->erase();
      });
    }
    for (Operation *op : ops)
      for (unsigned ri = 0; ri < op->getNumResults(); ++ri)
        for (unsigned oi = 0; oi < op->getNumOperands(); ++oi)
          if (op->getOperand(oi).getType() == op->getResult(ri).getType() &&
              !op->getResult(ri).use_empty())
            steps.push_back([op, ri, oi]() {
              op->getResult(ri).replaceAllUsesWith(op->getOperand(oi));
              if (op->use_empty())
                op->erase();
            });
  }
  steps.push_back([module, funcs]() mutable {
    for (func::FuncOp f : funcs) {
      if (f.isExternal())
        continue;
      llvm::BitVector unused(f.getNumArguments());
      for (BlockArgument a : f.getArguments())
        if (a.use_empty())
          unused.set(a.getArgNumber());
      (void)f.eraseArguments(unused);
    }
    SmallVector<sp::GroupOp> groups(module.getOps<sp::GroupOp>());
    for (sp::GroupOp g : groups)
      if (groups.size() > 1 &&
          SymbolTable::symbolKnownUseEmpty(g.getSymNameAttr(), module))
        g.erase();
  });
  count = steps.size();
  if (k < 0 || k >= count)
    return false;
  steps[k]();
  return true;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(smithCat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sp-smith: prints a random, valid sp module (deterministic per seed)\n\n"
      "  sp-smith --seed=N [--ranks=1|2|4] [--max-ops=K]\n"
      "  sp-smith --count-mutations FILE | --mutate=K FILE   (the shrinker's "
      "steps)\n");

  DialectRegistry registry;
  registry.insert<sp::SPDialect, func::FuncDialect, arith::ArithDialect,
                  linalg::LinalgDialect, tensor::TensorDialect,
                  scf::SCFDialect>();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ctx.allowUnregisteredDialects(false);

  if (optMutate >= 0 || optCountMutations) {
    if (optInput.empty()) {
      llvm::errs() << "sp-smith: --mutate and --count-mutations need a file\n";
      return 1;
    }
    llvm::SourceMgr sm;
    SourceMgrDiagnosticHandler handler(sm, &ctx);
    OwningOpRef<ModuleOp> module =
        parseSourceFile<ModuleOp>(optInput, sm, ParserConfig(&ctx));
    if (!module)
      return 1;
    int64_t count = 0;
    if (optCountMutations) {
      applyMutation(*module, -1, count);
      llvm::outs() << count << "\n";
      return 0;
    }
    if (!applyMutation(*module, optMutate, count))
      return 2;
    {
      // A step that breaks the module is not an error: the shrinker skips it.
      ScopedDiagnosticHandler quiet(&ctx, [](Diagnostic &) { return success(); });
      if (failed(verify(*module)))
        return 3;
    }
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  if (optRanks != 1 && optRanks != 2 && optRanks != 4) {
    llvm::errs() << "sp-smith: --ranks must be 1, 2 or 4\n";
    return 1;
  }
  Smith smith(&ctx, optSeed, optRanks, optMaxOps, optDynamic, optTraps);
  OwningOpRef<ModuleOp> module = smith.generate();
  std::string diag;
  {
    llvm::raw_string_ostream os(diag);
    ScopedDiagnosticHandler h(&ctx, [&](Diagnostic &d) {
      os << d.getLocation() << ": " << d << "\n";
      for (Diagnostic &note : d.getNotes())
        os << "  note: " << note << "\n";
      return success();
    });
    if (failed(verify(*module))) {
      llvm::errs() << "sp-smith: internal error: the module of seed " << optSeed
                   << " does not verify (a generator bug):\n"
                   << diag;
      module->print(llvm::errs(), OpPrintingFlags().assumeVerified());
      return 1;
    }
  }
  llvm::outs() << "// sp-smith --seed=" << optSeed << " --ranks=" << optRanks
               << " --max-ops=" << optMaxOps
               << (optDynamic ? "" : " --dynamic=false")
               << (optTraps ? "" : " --traps=false") << "\n";
  llvm::outs() << "// runnable: " << (smith.runnable ? "yes" : "no")
               << "; traps: " << smith.trapCount << "\n";
  module->print(llvm::outs());
  llvm::outs() << "\n";
  return 0;
}
