//===- SPToCUDA.cpp - sp ops to calls of the CUDA runtime -----------------===//
//
// sp-convert-to-cuda-runtime: see Passes.td. Runs on tensors, before
// one-shot bufferization: each op becomes to_buffer (operands), memref.alloc
// (results), one runtime call on unranked memrefs, and to_tensor (results).
// The runtime's C ABI for these calls is runtime/cuda/CompiledABI.h.
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/Passes.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPCONVERTTOCUDARUNTIME
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

static constexpr StringLiteral kRankFunction = "sp_cuda_rt_rank";

/// Name suffix of an element type in runtime function names ("" if the
/// runtime cannot move it at all).
static std::string elementSuffix(Type type) {
  return getRuntimeTypeSuffix(type, /*reduces=*/false);
}

/// Activations the kernels take.
static bool isKernelActivation(Type type) {
  return type.isF32() || type.isF16() || type.isBF16();
}

/// Element types NCCL reduces here (those the CPU runtime reduces too).
static bool isReducible(Type type) {
  return !getRuntimeTypeSuffix(type, /*reduces=*/true).empty();
}

static bool isFP8(Type type) {
  return isa<Float8E4M3FNType, Float8E4M3FNUZType>(type);
}

static Type elementOf(Value value) {
  return cast<ShapedType>(value.getType()).getElementType();
}

/// "file:line:col" of the first file location in `loc`, else its printed
/// form: what the runtime's error messages show.
static std::string describe(Location loc) {
  std::string text;
  loc->walk([&](Location inner) {
    if (auto file = dyn_cast<FileLineColLoc>(inner)) {
      text = (file.getFilename().getValue() + ":" + Twine(file.getLine()) +
              ":" + Twine(file.getColumn()))
                 .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (text.empty()) {
    llvm::raw_string_ostream os(text);
    loc.print(os);
  }
  return text;
}

namespace {
/// Builds the runtime calls of one module: declarations, location strings
/// (one global per distinct text) and the buffer plumbing around each call.
class RuntimeCalls {
public:
  explicit RuntimeCalls(ModuleOp module)
      : module(module), symbols(module), declarations(module.getContext()) {
    declarations.setInsertionPointToStart(module.getBody());
  }

  /// The op's name and location as a NUL-terminated string constant.
  Value location(OpBuilder &b, Operation *op) {
    std::string text =
        (op->getName().getStringRef() + " at " + describe(op->getLoc())).str();
    LLVM::GlobalOp &global = strings[text];
    if (!global) {
      OpBuilder &mb = declarations;
      std::string data = text;
      data.push_back('\0');
      auto type = LLVM::LLVMArrayType::get(mb.getI8Type(), data.size());
      global = LLVM::GlobalOp::create(mb, module.getLoc(), type,
                                      /*isConstant=*/true,
                                      LLVM::Linkage::Internal,
                                      "sp_cuda_location", mb.getStringAttr(data));
      symbols.insert(global); // renames to a unique symbol
      mb.setInsertionPointAfter(global);
    }
    return LLVM::AddressOfOp::create(b, op->getLoc(), global);
  }

  /// `tensor` as a read-only unranked buffer.
  Value input(OpBuilder &b, Location loc, Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    auto memref = MemRefType::get(type.getShape(), type.getElementType());
    Value buffer = bufferization::ToBufferOp::create(b, loc, memref, tensor,
                                                     /*readOnly=*/true);
    return unranked(b, loc, buffer);
  }

  /// A fresh buffer of `type`, dynamic sizes from `dynamicSizes`.
  Value allocate(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange dynamicSizes) {
    auto memref = MemRefType::get(type.getShape(), type.getElementType());
    return memref::AllocOp::create(b, loc, memref, dynamicSizes);
  }

  Value unranked(OpBuilder &b, Location loc, Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    return memref::CastOp::create(
        b, loc, UnrankedMemRefType::get(type.getElementType(), 0), buffer);
  }

  /// The tensor a call wrote into `buffer`.
  Value result(OpBuilder &b, Location loc, Value buffer, Type tensorType) {
    return bufferization::ToTensorOp::create(b, loc, tensorType, buffer,
                                             /*restrict=*/true,
                                             /*writable=*/true);
  }

  /// Calls `name`, declaring it on first use (C interface, no results).
  void call(OpBuilder &b, Location loc, StringRef name, ValueRange args) {
    if (!module.lookupSymbol(name)) {
      OpBuilder &mb = declarations;
      auto function = func::FuncOp::create(
          mb, module.getLoc(), name,
          mb.getFunctionType(TypeRange(args), TypeRange{}));
      function.setPrivate();
      function->setAttr("llvm.emit_c_interface", mb.getUnitAttr());
      symbols.insert(function);
      mb.setInsertionPointAfter(function);
    }
    func::CallOp::create(b, loc, name, TypeRange{}, args);
  }

  /// Dynamic sizes of `tensor` (for allocating a result of the same shape).
  static SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc,
                                         Value tensor) {
    SmallVector<Value> sizes;
    auto type = cast<RankedTensorType>(tensor.getType());
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        sizes.push_back(tensor::DimOp::create(b, loc, tensor, i));
    return sizes;
  }

  Value rankIndex(OpBuilder &b, Location loc) {
    if (!module.lookupSymbol(kRankFunction)) {
      OpBuilder &mb = declarations;
      auto function = func::FuncOp::create(
          mb, module.getLoc(), kRankFunction,
          mb.getFunctionType(TypeRange{}, {mb.getI32Type()}));
      function.setPrivate();
      mb.setInsertionPointAfter(function);
    }
    Value rank = func::CallOp::create(b, loc, kRankFunction, b.getI32Type(),
                                      ValueRange{})
                     .getResult(0);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), rank);
  }

private:
  ModuleOp module;
  SymbolTable symbols;
  llvm::StringMap<LLVM::GlobalOp> strings;
  /// Declarations and strings go at the top of the module, in order of use.
  OpBuilder declarations;
};

struct ConvertToCUDARuntimePass
    : public sp::impl::SPConvertToCUDARuntimeBase<ConvertToCUDARuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    RuntimeCalls calls(module);

    // Check first, so that a module is either converted entirely or left as
    // it was, with every unsupported op reported.
    bool unsupported = false;
    module.walk([&](Operation *op) {
      if (!isa<SPDialect>(op->getDialect()) || isa<GroupOp, AllSliceOp>(op))
        return;
      if (failed(checkSupported(op)))
        unsupported = true;
    });
    if (unsupported)
      return signalPassFailure();

    // Quant first: a norm feeding only a quant becomes one fused call.
    DominanceInfo dominanceInfo(module);
    dominance = &dominanceInfo;
    SmallVector<QuantOp> quants;
    module.walk([&](QuantOp op) { quants.push_back(op); });
    for (QuantOp quant : quants)
      convertQuant(calls, quant);

    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<AllReduceOp, ReduceScatterOp, AllGatherOp, AllSliceOp,
              RMSNormOp, FusedAddRMSNormOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      llvm::TypeSwitch<Operation *>(op)
          .Case<AllReduceOp, ReduceScatterOp, AllGatherOp>(
              [&](auto collective) { convertCollective(calls, collective); })
          .Case<AllSliceOp>([&](AllSliceOp slice) {
            OpBuilder b(slice);
            lowerAllSliceAtRank(slice, calls.rankIndex(b, slice.getLoc()));
          })
          .Case<RMSNormOp>([&](RMSNormOp norm) { convertNorm(calls, norm); })
          .Case<FusedAddRMSNormOp>(
              [&](FusedAddRMSNormOp norm) { convertFusedNorm(calls, norm); });
    }

    // `sp.replicated` has served its purpose; LLVM would warn about it.
    dropReplicatedArgAttrs(module);
  }

  DominanceInfo *dominance = nullptr;

  LogicalResult checkSupported(Operation *op) {
    Type element = elementOf(op->getOperand(0));
    auto unsupported = [&](StringRef what) {
      return op->emitOpError()
             << "has no CUDA runtime implementation for element type "
             << element << " (" << what << ")";
    };
    if (isa<AllReduceOp, ReduceScatterOp>(op) && !isReducible(element))
      return unsupported("NCCL reductions here support f32, f16, bf16, f64");
    if (isa<AllGatherOp>(op) && elementSuffix(element).empty())
      return unsupported("gathers move floats, fp8 and i8..i64");
    if (isa<RMSNormOp, FusedAddRMSNormOp, QuantOp>(op)) {
      if (!isKernelActivation(element))
        return unsupported("the kernels take f32, f16 and bf16");
      for (Value operand : op->getOperands().drop_back(isa<QuantOp>(op)))
        if (elementOf(operand) != element)
          return op->emitOpError("CUDA kernels need every operand in ")
                 << element << ", got " << elementOf(operand);
    }
    if (auto quant = dyn_cast<QuantOp>(op))
      if (!isFP8(elementOf(quant.getResult())))
        return op->emitOpError("CUDA quant kernels write f8E4M3FN or "
                               "f8E4M3FNUZ, not ")
               << elementOf(quant.getResult());
    return success();
  }

  static Value constantI32(OpBuilder &b, Location loc, int64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
  }
  static Value constantI64(OpBuilder &b, Location loc, int64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), value);
  }
  static Value epsilonOf(OpBuilder &b, Location loc, FloatAttr epsilon) {
    return arith::ConstantOp::create(b, loc, epsilon);
  }

  template <typename OpTy>
  void convertCollective(RuntimeCalls &calls, OpTy op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value input = op.getInput();
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t size = *getGroupSize(op);
    int64_t dim = 0;
    if constexpr (!std::is_same_v<OpTy, AllReduceOp>)
      dim = op.getDimAttr().getInt();
    SmallVector<Value> dynamic =
        getCollectiveResultDynamicSizes(b, loc, op, input);
    Value output = calls.allocate(b, loc, resultType, dynamic);
    SmallVector<Value> args{calls.input(b, loc, input),
                            calls.unranked(b, loc, output)};
    StringRef base;
    if constexpr (std::is_same_v<OpTy, AllGatherOp>) {
      base = "all_gather";
    } else {
      base = std::is_same_v<OpTy, AllReduceOp> ? "all_reduce"
                                                : "reduce_scatter";
      args.push_back(constantI32(
          b, loc, static_cast<int64_t>(op.getReductionAttr().getValue())));
    }
    args.push_back(constantI64(b, loc, size));
    if constexpr (!std::is_same_v<OpTy, AllReduceOp>)
      args.push_back(constantI64(b, loc, dim));
    args.push_back(calls.location(b, op));
    std::string name = ("sp_cuda_rt_" + base + "_" +
                        elementSuffix(resultType.getElementType()))
                           .str();
    calls.call(b, loc, name, args);
    op.getResult().replaceAllUsesWith(
        calls.result(b, loc, output, resultType));
    op.erase();
  }

  void convertNorm(RuntimeCalls &calls, RMSNormOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Value out = calls.allocate(b, loc, type,
                               RuntimeCalls::dynamicSizes(b, loc, op.getInput()));
    SmallVector<Value> args{calls.unranked(b, loc, out),
                            calls.input(b, loc, op.getInput()),
                            calls.input(b, loc, op.getWeight()),
                            epsilonOf(b, loc, op.getEpsilonAttr()),
                            calls.location(b, op)};
    calls.call(b, loc, "sp_cuda_rt_rms_norm_" + elementSuffix(type.getElementType()),
               args);
    op.getResult().replaceAllUsesWith(calls.result(b, loc, out, type));
    op.erase();
  }

  void convertFusedNorm(RuntimeCalls &calls, FusedAddRMSNormOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getOutput().getType());
    SmallVector<Value> sizes = RuntimeCalls::dynamicSizes(b, loc, op.getInput());
    Value out = calls.allocate(b, loc, type, sizes);
    Value residualOut = calls.allocate(b, loc, type, sizes);
    SmallVector<Value> args{calls.unranked(b, loc, out),
                            calls.unranked(b, loc, residualOut),
                            calls.input(b, loc, op.getInput()),
                            calls.input(b, loc, op.getResidual()),
                            calls.input(b, loc, op.getWeight()),
                            epsilonOf(b, loc, op.getEpsilonAttr()),
                            calls.location(b, op)};
    calls.call(b, loc,
               "sp_cuda_rt_fused_add_rms_norm_" +
                   elementSuffix(type.getElementType()),
               args);
    op.getOutput().replaceAllUsesWith(calls.result(b, loc, out, type));
    op.getResidualOut().replaceAllUsesWith(
        calls.result(b, loc, residualOut, type));
    op.erase();
  }

  /// The fused call goes at the norm (the scale dominates it) or at the
  /// quant (no user of the residual comes before the quant).
  bool canFuseAt(FusedAddRMSNormOp norm, QuantOp quant) {
    if (dominance->properlyDominates(quant.getScale(), norm))
      return true;
    return llvm::all_of(norm.getResidualOut().getUsers(), [&](Operation *user) {
      return dominance->properlyDominates(quant.getOperation(), user);
    });
  }

  /// quant, or quant(rms_norm) / quant(fused_add_rms_norm) in one kernel
  /// when the quant is the norm output's only user.
  void convertQuant(RuntimeCalls &calls, QuantOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto qType = cast<RankedTensorType>(op.getType());
    Value source = op.getInput();
    std::string suffix = elementSuffix(elementOf(source)) + "_" +
                         elementSuffix(qType.getElementType());
    // Sizes come from a value that outlives the rewrite (not a fused norm).
    auto fp8Output = [&](Value shapeSource) {
      return calls.allocate(b, loc, qType,
                            RuntimeCalls::dynamicSizes(b, loc, shapeSource));
    };

    if (auto norm = source.getDefiningOp<RMSNormOp>();
        norm && source.hasOneUse()) {
      Value q = fp8Output(norm.getInput());
      SmallVector<Value> args{calls.unranked(b, loc, q),
                              calls.input(b, loc, norm.getInput()),
                              calls.input(b, loc, norm.getWeight()),
                              calls.input(b, loc, op.getScale()),
                              epsilonOf(b, loc, norm.getEpsilonAttr()),
                              calls.location(b, op)};
      calls.call(b, loc, "sp_cuda_rt_rms_norm_quant_" + suffix, args);
      op.getResult().replaceAllUsesWith(calls.result(b, loc, q, qType));
      op.erase();
      norm.erase();
      return;
    }
    if (auto norm = source.getDefiningOp<FusedAddRMSNormOp>();
        norm && source == norm.getOutput() && source.hasOneUse() &&
        canFuseAt(norm, op)) {
      // At the norm when the scale is available there, so that users of
      // the residual between the norm and the quant still see it defined.
      b.setInsertionPoint(dominance->properlyDominates(op.getScale(), norm)
                              ? norm.getOperation()
                              : op.getOperation());
      auto type = cast<RankedTensorType>(norm.getResidualOut().getType());
      Value q = fp8Output(norm.getInput());
      Value residualOut = calls.allocate(
          b, loc, type, RuntimeCalls::dynamicSizes(b, loc, norm.getInput()));
      SmallVector<Value> args{calls.unranked(b, loc, q),
                              calls.unranked(b, loc, residualOut),
                              calls.input(b, loc, norm.getInput()),
                              calls.input(b, loc, norm.getResidual()),
                              calls.input(b, loc, norm.getWeight()),
                              calls.input(b, loc, op.getScale()),
                              epsilonOf(b, loc, norm.getEpsilonAttr()),
                              calls.location(b, op)};
      calls.call(b, loc, "sp_cuda_rt_fused_add_rms_norm_quant_" + suffix,
                 args);
      op.getResult().replaceAllUsesWith(calls.result(b, loc, q, qType));
      norm.getResidualOut().replaceAllUsesWith(
          calls.result(b, loc, residualOut, type));
      op.erase();
      norm.erase();
      return;
    }
    Value q = fp8Output(source);
    SmallVector<Value> args{calls.unranked(b, loc, q),
                            calls.input(b, loc, source),
                            calls.input(b, loc, op.getScale()),
                            calls.location(b, op)};
    calls.call(b, loc, "sp_cuda_rt_quant_" + suffix, args);
    op.getResult().replaceAllUsesWith(calls.result(b, loc, q, qType));
    op.erase();
  }
};
} // namespace
