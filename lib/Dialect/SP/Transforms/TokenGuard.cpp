//===- TokenGuard.cpp - multiversioning on a dynamic token count ----------===//
//
// See TokenGuard.h. The guard is built from upstream ops only (tensor.dim,
// arith, scf.if, tensor.pad, tensor.extract_slice), so both lowerings and
// bufferization take it as it is.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/TokenGuard.h"

#include "sp/Dialect/SP/Analysis/RowWise.h"
#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::sp;

std::string TokenRange::str() const {
  return std::to_string(lo) + "-" + (bounded() ? std::to_string(hi) : "");
}

std::optional<std::string>
mlir::sp::parseTokenRanges(StringRef text, SmallVectorImpl<TokenRange> &out) {
  SmallVector<StringRef> items;
  text.split(items, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (StringRef item : items) {
    item = item.trim();
    auto [loText, hiText] = item.split('-');
    TokenRange range;
    if (loText.trim().getAsInteger(10, range.lo) || range.lo < 1 ||
        !item.contains('-'))
      return "range '" + item.str() +
             "' is not LO-HI or LO- with LO >= 1 (e.g. ranges=1-255,256-)";
    if (!hiText.trim().empty() &&
        (hiText.trim().getAsInteger(10, range.hi) || range.hi < range.lo))
      return "range '" + item.str() + "' has no upper bound >= " +
             std::to_string(range.lo);
    if (!out.empty() && (!out.back().bounded() || out.back().hi >= range.lo))
      return "range '" + item.str() + "' overlaps or precedes '" +
             out.back().str() + "'; list ranges in ascending order";
    out.push_back(range);
  }
  if (out.empty())
    return std::string("ranges= lists no range");
  return std::nullopt;
}

Value mlir::sp::traceTokenRoot(Value value) {
  // Bounded: a chain longer than the program is a cycle through regions.
  for (int steps = 0; steps < 100000; ++steps) {
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
      return func && arg.getOwner()->isEntryBlock() ? value : Value();
    }
    Operation *def = value.getDefiningOp();
    if (isa<tensor::PadOp>(def))
      return value;
    if (auto empty = dyn_cast<tensor::EmptyOp>(def)) {
      if (!empty.getType().isDynamicDim(0))
        return Value();
      auto dim = empty.getDynamicSize(0).getDefiningOp<tensor::DimOp>();
      if (!dim || !matchPattern(dim.getIndex(), m_Zero()))
        return Value();
      value = dim.getSource();
      continue;
    }
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(def)) {
      auto result = cast<OpResult>(value);
      if (result.getResultNumber() >= unsigned(dps.getNumDpsInits()))
        return Value();
      value = dps.getDpsInitOperand(result.getResultNumber())->get();
      continue;
    }
    // sp's collectives keep dim 0 unless they split or gather along it.
    if (auto collective = dyn_cast<CollectiveOpInterface>(def)) {
      std::optional<int64_t> dim = collective.getCollectiveDim();
      if (dim && *dim == 0)
        return Value();
      value = def->getOperand(0);
      continue;
    }
    // Norms, quant and elementwise ops: rows of their first operand.
    if (isa<SPDialect>(def->getDialect()) ||
        def->hasTrait<OpTrait::Elementwise>()) {
      if (def->getNumOperands() == 0)
        return Value();
      value = def->getOperand(0);
      continue;
    }
    return Value();
  }
  return Value();
}

scf::IfOp mlir::sp::getEnclosingTokenGuard(Operation *op) {
  for (Region *region = op->getParentRegion(); region;
       region = region->getParentOp()->getParentRegion()) {
    auto guard = dyn_cast<scf::IfOp>(region->getParentOp());
    if (guard && guard->hasAttr(kTokenGuardAttrName) &&
        region == &guard.getThenRegion())
      return guard;
    if (isa<func::FuncOp>(region->getParentOp()))
      return nullptr;
  }
  return nullptr;
}

static int64_t getGuardInt(scf::IfOp guard, StringRef name) {
  auto dict = cast<DictionaryAttr>(guard->getAttr(kTokenGuardAttrName));
  return cast<IntegerAttr>(dict.get(name)).getInt();
}

std::optional<int64_t>
mlir::sp::getPlanningTokens(Operation *op, std::optional<int64_t> assumed) {
  if (scf::IfOp guard = getEnclosingTokenGuard(op))
    return getGuardInt(guard, "tokens");
  return assumed;
}

bool mlir::sp::isCoveredByTokenGuard(Operation *site, Value rows,
                                     Operation *assumedScope) {
  Value root = traceTokenRoot(rows);
  if (!root)
    return false;
  if (scf::IfOp guard = getEnclosingTokenGuard(site)) {
    auto dict = cast<DictionaryAttr>(guard->getAttr(kTokenGuardAttrName));
    if (auto pad = root.getDefiningOp<tensor::PadOp>())
      return dict.get("pad") && guard.getThenRegion().isAncestor(
                                    pad->getParentRegion());
    auto arg = cast<BlockArgument>(root);
    auto args = cast<DenseI64ArrayAttr>(dict.get("args"));
    return !dict.get("pad") &&
           llvm::is_contained(args.asArrayRef(), arg.getArgNumber());
  }
  if (!assumedScope || !isa<BlockArgument>(root))
    return false;
  return assumedScope->isAncestor(
      cast<BlockArgument>(root).getOwner()->getParentOp());
}

/// Whether `op` keeps rows apart, so that zero rows appended to the token
/// arguments change no other row: constants, sizes, tensor.empty and other
/// ops on no tensor; all_reduce (elementwise across ranks), but no collective
/// that splits or gathers along dim 0; and the row-wise ops the planner
/// sinks gathers through (RowWise.h), as long as the operands they read
/// whole have a static dim 0 (a matmul contracting the tokens would add
/// the padding's products).
static bool keepsRowsApart(Operation &op) {
  auto isTensor = [](Type type) { return isa<TensorType>(type); };
  if (llvm::none_of(op.getOperandTypes(), isTensor) &&
      llvm::none_of(op.getResultTypes(), isTensor))
    return true;
  if (isa<arith::ConstantOp, tensor::EmptyOp, tensor::DimOp>(op))
    return true;
  if (auto collective = dyn_cast<CollectiveOpInterface>(op)) {
    std::optional<int64_t> dim = collective.getCollectiveDim();
    return !dim || *dim != 0;
  }
  for (unsigned row = 0, e = op.getNumOperands(); row < e; ++row) {
    std::optional<SmallVector<RowOperand>> kinds = getRowWiseOperands(&op, row);
    if (!kinds)
      continue;
    return llvm::all_of(llvm::zip(op.getOperands(), *kinds), [](auto pair) {
      auto [operand, kind] = pair;
      auto type = dyn_cast<RankedTensorType>(operand.getType());
      return kind != RowOperand::Broadcast || !type || type.getRank() == 0 ||
             !type.isDynamicDim(0);
    });
  }
  return false;
}

static Operation *findRowMixingOp(Block &body) {
  for (Operation &op : body.without_terminator())
    if (!keepsRowsApart(op))
      return &op;
  return nullptr;
}

FailureOr<scf::IfOp> mlir::sp::insertTokenGuard(
    func::FuncOp func, ArrayRef<BlockArgument> tokenArgs, int64_t tp,
    ArrayRef<TokenRange> ranges, int64_t planningTokens, bool pad,
    std::string &why) {
  if (!func.getBody().hasOneBlock()) {
    why = "its body has more than one block";
    return failure();
  }
  Block &body = func.getBody().front();
  auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
  if (!ret) {
    why = "its body does not end in func.return";
    return failure();
  }
  SmallVector<unsigned> slicedResults;
  if (pad) {
    if (Operation *mixer = findRowMixingOp(body)) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << "dynamic=pad needs rows that stay apart, but '" << mixer->getName()
         << "' at " << mixer->getLoc() << " mixes them";
      why = text;
      return failure();
    }
    for (auto [i, result] : llvm::enumerate(ret.getOperands())) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || type.getRank() == 0 || !type.isDynamicDim(0))
        continue;
      Value root = traceTokenRoot(result);
      if (!root || !llvm::is_contained(tokenArgs, root)) {
        why = "dynamic=pad cannot tell how many rows result #" +
              std::to_string(i) + " keeps";
        return failure();
      }
      slicedResults.push_back(i);
    }
  }

  MLIRContext *ctx = func.getContext();
  Location loc = func.getLoc();
  SmallVector<Operation *> bodyOps;
  for (Operation &op : body.without_terminator())
    bodyOps.push_back(&op);

  OpBuilder b = OpBuilder::atBlockBegin(&body);
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value zero = index(0), tpValue = index(tp);
  Value ok;
  auto conjoin = [&](Value c) {
    ok = ok ? arith::AndIOp::create(b, loc, ok, c).getResult() : c;
  };
  SmallVector<Value> counts;
  for (BlockArgument arg : tokenArgs) {
    Value n = tensor::DimOp::create(b, loc, arg, 0);
    counts.push_back(n);
    if (!pad)
      conjoin(arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq,
          arith::RemUIOp::create(b, loc, n, tpValue), zero));
    Value inAny;
    for (const TokenRange &range : ranges) {
      Value in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, n,
                                       index(range.lo));
      if (range.bounded())
        in = arith::AndIOp::create(
            b, loc, in,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, n,
                                  index(range.hi)));
      inAny = inAny ? arith::OrIOp::create(b, loc, inAny, in).getResult() : in;
    }
    conjoin(inAny);
  }

  b.setInsertionPoint(ret);
  auto guard = scf::IfOp::create(b, loc, ret.getOperandTypes(), ok,
                                 /*addThenBlock=*/true, /*addElseBlock=*/true);
  SmallVector<int64_t> argNumbers;
  for (BlockArgument arg : tokenArgs)
    argNumbers.push_back(arg.getArgNumber());
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("args", b.getDenseI64ArrayAttr(argNumbers)),
      b.getNamedAttr("tokens", b.getI64IntegerAttr(planningTokens)),
      b.getNamedAttr("tp", b.getI64IntegerAttr(tp))};
  if (pad)
    fields.push_back(b.getNamedAttr("pad", UnitAttr::get(ctx)));
  guard->setAttr(kTokenGuardAttrName, DictionaryAttr::get(ctx, fields));

  // Then: a clone of the body (on padded rows with `pad`).
  IRMapping mapping;
  OpBuilder thenBuilder = guard.getThenBodyBuilder();
  if (pad) {
    for (auto [arg, n] : llvm::zip(tokenArgs, counts)) {
      auto type = cast<RankedTensorType>(arg.getType());
      // high = (tp - n % tp) % tp zero rows.
      Value rem = arith::RemUIOp::create(thenBuilder, loc, n, tpValue);
      Value high = arith::RemUIOp::create(
          thenBuilder, loc,
          arith::SubIOp::create(thenBuilder, loc, tpValue, rem), tpValue);
      SmallVector<OpFoldResult> low(type.getRank(), thenBuilder.getIndexAttr(0));
      SmallVector<OpFoldResult> highs(low);
      highs[0] = high;
      Value padValue = arith::ConstantOp::create(
          thenBuilder, loc, thenBuilder.getZeroAttr(type.getElementType()));
      Value padded = tensor::PadOp::create(thenBuilder, loc, type, arg, low,
                                           highs, padValue);
      mapping.map(arg, padded);
    }
  }
  for (Operation *op : bodyOps)
    thenBuilder.clone(*op, mapping);
  SmallVector<Value> thenResults;
  for (Value result : ret.getOperands())
    thenResults.push_back(mapping.lookupOrDefault(result));
  for (unsigned i : slicedResults) {
    Value root = traceTokenRoot(ret.getOperand(i));
    Value n = counts[llvm::find(tokenArgs, root) - tokenArgs.begin()];
    auto type = cast<RankedTensorType>(thenResults[i].getType());
    SmallVector<OpFoldResult> offsets(type.getRank(),
                                      thenBuilder.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, strides(type.getRank(),
                                             thenBuilder.getIndexAttr(1));
    for (int64_t d = 0; d < type.getRank(); ++d)
      sizes.push_back(d == 0 ? OpFoldResult(n)
                      : type.isDynamicDim(d)
                          ? OpFoldResult(tensor::DimOp::create(
                                thenBuilder, loc, thenResults[i], d)
                                             .getResult())
                          : OpFoldResult(thenBuilder.getIndexAttr(
                                type.getDimSize(d))));
    thenResults[i] = tensor::ExtractSliceOp::create(
        thenBuilder, loc, type, thenResults[i], offsets, sizes, strides);
  }
  scf::YieldOp::create(thenBuilder, loc, thenResults);

  // Else: the original body, moved.
  Block &elseBlock = guard.getElseRegion().front();
  for (Operation *op : bodyOps)
    op->moveBefore(&elseBlock, elseBlock.end());
  OpBuilder elseBuilder = OpBuilder::atBlockEnd(&elseBlock);
  scf::YieldOp::create(elseBuilder, loc, ret.getOperands());
  ret->setOperands(guard.getResults());
  return guard;
}
