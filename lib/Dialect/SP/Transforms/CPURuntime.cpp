//===- CPURuntime.cpp - sp collectives on the CPU runtime -----------------===//
//
// The compiler side of runtime/cpu: sp-prepare-cpu-runtime (all_slice as a
// slice at this rank's offset; runtime declarations) and the
// BufferizableOpInterface models that turn all_reduce, reduce_scatter and
// all_gather on tensors into calls on buffers.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPPREPARECPURUNTIME
#define GEN_PASS_DEF_SPERASEGROUPS
#include "sp/Dialect/SP/Transforms/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;
using namespace mlir::bufferization;

static constexpr StringLiteral kRankFunction = "sp_rt_rank";

std::string mlir::sp::getRuntimeTypeSuffix(Type element, bool reduces) {
  if (element.isF32())
    return "f32";
  if (element.isF16())
    return "f16";
  if (element.isBF16())
    return "bf16";
  if (element.isF64())
    return "f64";
  if (reduces)
    return "";
  if (isa<Float8E4M3FNType>(element))
    return "f8E4M3FN";
  if (isa<Float8E4M3FNUZType>(element))
    return "f8E4M3FNUZ";
  if (element.isInteger(8))
    return "i8";
  if (element.isInteger(16))
    return "i16";
  if (element.isInteger(32))
    return "i32";
  if (element.isInteger(64))
    return "i64";
  return "";
}

void mlir::sp::dropReplicatedArgAttrs(ModuleOp module) {
  module.walk([](FunctionOpInterface function) {
    for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i)
      function.removeArgAttr(i, SPDialect::getReplicatedAttrName());
  });
}

SmallVector<Value> mlir::sp::getCollectiveResultDynamicSizes(
    OpBuilder &b, Location loc, Operation *collective, Value source) {
  auto resultType = cast<ShapedType>(collective->getResult(0).getType());
  int64_t size = *getGroupSize(collective);
  int64_t dim = 0;
  if (auto dimAttr = collective->getAttrOfType<IntegerAttr>("dim"))
    dim = dimAttr.getInt();
  bool scales = isa<ReduceScatterOp, AllGatherOp>(collective);
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < resultType.getRank(); ++i) {
    if (!resultType.isDynamicDim(i))
      continue;
    Value extent =
        isa<MemRefType>(source.getType())
            ? memref::DimOp::create(b, loc, source, i).getResult()
            : tensor::DimOp::create(b, loc, source, i).getResult();
    if (i == dim && scales) {
      Value n = arith::ConstantIndexOp::create(b, loc, size);
      extent = isa<AllGatherOp>(collective)
                   ? arith::MulIOp::create(b, loc, extent, n).getResult()
                   : arith::DivUIOp::create(b, loc, extent, n).getResult();
    }
    dynamic.push_back(extent);
  }
  return dynamic;
}

std::string mlir::sp::getCPURuntimeFunctionName(Operation *collective) {
  Type element =
      cast<ShapedType>(collective->getOperand(0).getType()).getElementType();
  StringRef base = llvm::TypeSwitch<Operation *, StringRef>(collective)
                       .Case<AllReduceOp>([](auto) { return "all_reduce"; })
                       .Case<ReduceScatterOp>(
                           [](auto) { return "reduce_scatter"; })
                       .Case<AllGatherOp>([](auto) { return "all_gather"; })
                       .Default([](auto) { return ""; });
  std::string suffix =
      getRuntimeTypeSuffix(element, !isa<AllGatherOp>(collective));
  if (base.empty() || suffix.empty())
    return "";
  return ("sp_rt_" + base + "_" + suffix).str();
}

/// The runtime signature of a collective: (in, out, [kind: i32], group size:
/// i64, [dim: i64]) with unranked memrefs.
static FunctionType runtimeFunctionType(Operation *collective) {
  MLIRContext *context = collective->getContext();
  Builder b(context);
  Type element =
      cast<ShapedType>(collective->getOperand(0).getType()).getElementType();
  Type buffer = UnrankedMemRefType::get(element, /*memorySpace=*/0);
  SmallVector<Type> inputs{buffer, buffer};
  if (!isa<AllGatherOp>(collective))
    inputs.push_back(b.getI32Type());
  inputs.push_back(b.getI64Type());
  if (!isa<AllReduceOp>(collective))
    inputs.push_back(b.getI64Type());
  return b.getFunctionType(inputs, {});
}

/// Declares `name : type` in `module` unless it exists.
static void declareFunction(ModuleOp module, StringRef name, FunctionType type,
                            bool cInterface) {
  if (module.lookupSymbol(name))
    return;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto func = func::FuncOp::create(b, module.getLoc(), name, type);
  func.setPrivate();
  if (cInterface)
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
}

void mlir::sp::lowerAllSliceAtRank(AllSliceOp slice, Value rankIndex) {
  OpBuilder b(slice);
  Location loc = slice.getLoc();
  int64_t dim = slice.getDimAttr().getInt();
  int64_t size = *getGroupSize(slice);
  Value input = slice.getInput();
  auto resultType = cast<RankedTensorType>(slice.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  OpFoldResult chunk;
  if (auto staticChunk = getConstantIntValue(sizes[dim]))
    chunk = b.getIndexAttr(*staticChunk / size);
  else
    chunk = arith::DivUIOp::create(b, loc, cast<Value>(sizes[dim]),
                                   arith::ConstantIndexOp::create(b, loc, size))
                .getResult();
  Value chunkValue = getValueOrCreateConstantIndexOp(b, loc, chunk);
  Value offset = arith::MulIOp::create(b, loc, rankIndex, chunkValue);
  SmallVector<OpFoldResult> offsets(resultType.getRank(), b.getIndexAttr(0));
  offsets[dim] = offset;
  sizes[dim] = chunk;
  SmallVector<OpFoldResult> strides(resultType.getRank(), b.getIndexAttr(1));
  Value extracted =
      tensor::ExtractSliceOp::create(b, loc, input, offsets, sizes, strides);
  if (extracted.getType() != resultType)
    extracted = tensor::CastOp::create(b, loc, resultType, extracted);
  slice.replaceAllUsesWith(extracted);
  slice.erase();
}

//===----------------------------------------------------------------------===//
// sp-prepare-cpu-runtime
//===----------------------------------------------------------------------===//

namespace {
struct PrepareCPURuntimePass
    : public sp::impl::SPPrepareCPURuntimeBase<PrepareCPURuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool failedAny = false;
    module.walk([&](Operation *op) {
      if (!isa<AllReduceOp, ReduceScatterOp, AllGatherOp>(op))
        return;
      std::string name = getCPURuntimeFunctionName(op);
      if (name.empty()) {
        op->emitOpError() << "has no CPU runtime implementation for element "
                             "type "
                          << cast<ShapedType>(op->getOperand(0).getType())
                                 .getElementType()
                          << (isa<AllGatherOp>(op)
                                  ? ""
                                  : " (reductions support f32, f16, bf16, f64)");
        failedAny = true;
        return;
      }
      declareFunction(module, name, runtimeFunctionType(op),
                      /*cInterface=*/true);
    });
    if (failedAny)
      return signalPassFailure();

    // `sp.replicated` has served its purpose; LLVM would warn about it.
    dropReplicatedArgAttrs(module);

    SmallVector<AllSliceOp> slices;
    module.walk([&](AllSliceOp slice) { slices.push_back(slice); });
    if (slices.empty())
      return;
    OpBuilder b(&getContext());
    declareFunction(module, kRankFunction,
                    b.getFunctionType({}, {b.getI64Type()}),
                    /*cInterface=*/false);
    for (AllSliceOp slice : slices) {
      OpBuilder b(slice);
      Value rank = func::CallOp::create(b, slice.getLoc(), kRankFunction,
                                        b.getI64Type(), ValueRange{})
                       .getResult(0);
      lowerAllSliceAtRank(slice, arith::IndexCastOp::create(
                                     b, slice.getLoc(), b.getIndexType(), rank));
    }
  }
};

struct EraseGroupsPass
    : public sp::impl::SPEraseGroupsBase<EraseGroupsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (GroupOp group : llvm::make_early_inc_range(module.getOps<GroupOp>())) {
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(group, module);
      if (uses && !uses->empty()) {
        uses->begin()->getUser()->emitOpError()
            << "still refers to group @" << group.getSymName()
            << " after lowering";
        return signalPassFailure();
      }
      group.erase();
    }
  }
};

//===----------------------------------------------------------------------===//
// Bufferization of the collectives
//===----------------------------------------------------------------------===//

/// A collective reads its input and writes a fresh buffer: no aliasing.
template <typename OpTy>
struct CollectiveBufferization
    : public BufferizableOpInterface::ExternalModel<CollectiveBufferization<OpTy>,
                                                    OpTy> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    Location loc = op->getLoc();
    std::string name = getCPURuntimeFunctionName(op);
    auto module = op->getParentOfType<ModuleOp>();
    if (name.empty() || !module || !module.lookupSymbol(name))
      return op->emitOpError("runtime function for this collective is not "
                             "declared; run sp-prepare-cpu-runtime first");
    FailureOr<Value> input =
        getBuffer(rewriter, op->getOperand(0), options, state);
    if (failed(input))
      return failure();
    auto inType = cast<MemRefType>(input->getType());
    // The runtime reads contiguous row-major buffers.
    if (!inType.getLayout().isIdentity()) {
      SmallVector<Value> dynamic;
      for (int64_t i = 0; i < inType.getRank(); ++i)
        if (inType.isDynamicDim(i))
          dynamic.push_back(memref::DimOp::create(rewriter, loc, *input, i));
      auto contiguous = MemRefType::get(inType.getShape(),
                                        inType.getElementType());
      Value copy = memref::AllocOp::create(rewriter, loc, contiguous, dynamic);
      memref::CopyOp::create(rewriter, loc, *input, copy);
      input = copy;
    }

    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto outType = MemRefType::get(resultType.getShape(),
                                   resultType.getElementType());
    int64_t size = *getGroupSize(op);
    int64_t dim = 0;
    if (auto dimAttr = op->getAttrOfType<IntegerAttr>("dim"))
      dim = dimAttr.getInt();
    Value output = memref::AllocOp::create(
        rewriter, loc, outType,
        getCollectiveResultDynamicSizes(rewriter, loc, op, *input));

    Type unranked = UnrankedMemRefType::get(resultType.getElementType(), 0);
    SmallVector<Value> args{
        memref::CastOp::create(rewriter, loc, unranked, *input),
        memref::CastOp::create(rewriter, loc, unranked, output)};
    if (auto reduction = op->getAttrOfType<ReductionKindAttr>("reduction"))
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI32Type(),
          static_cast<int64_t>(reduction.getValue())));
    args.push_back(arith::ConstantIntOp::create(rewriter, loc,
                                                rewriter.getI64Type(), size));
    if (!isa<AllReduceOp>(op))
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI64Type(), dim));
    func::CallOp::create(rewriter, loc, name, TypeRange{}, args);
    replaceOpWithBufferizedValues(rewriter, op, output);
    return success();
  }
};
} // namespace

void mlir::sp::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, SPDialect *) {
    context->loadDialect<memref::MemRefDialect, func::FuncDialect,
                         arith::ArithDialect>();
    AllReduceOp::attachInterface<CollectiveBufferization<AllReduceOp>>(
        *context);
    ReduceScatterOp::attachInterface<CollectiveBufferization<ReduceScatterOp>>(
        *context);
    AllGatherOp::attachInterface<CollectiveBufferization<AllGatherOp>>(
        *context);
  });
}
