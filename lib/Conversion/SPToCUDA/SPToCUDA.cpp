//===- SPToCUDA.cpp - sp ops to calls of the CUDA runtime -----------------===//
//
// sp-convert-to-cuda-runtime: see Passes.td. Runs on tensors, before
// one-shot bufferization: each op becomes to_buffer (operands), memref.alloc
// (results), one runtime call on unranked memrefs, and to_tensor (results).
// The runtime's C ABI for these calls is runtime/cuda-abi/CompiledABI.h.
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToCUDA/SPToCUDA.h"

#include "sp/Conversion/Common/RuntimeABI.h"
#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"
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

/// Element types NCCL reduces here (those the CPU runtime reduces too).
static bool isReducible(Type type) {
  return !getRuntimeTypeSuffix(type, /*reduces=*/true).empty();
}

static Type elementOf(Value value) {
  return cast<ShapedType>(value.getType()).getElementType();
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
        (op->getName().getStringRef() + " at " + describeLocation(op->getLoc())).str();
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

  /// Calls `name`, declaring it on first use (with the C interface unless
  /// `plain`); returns its results.
  ValueRange call(OpBuilder &b, Location loc, StringRef name, ValueRange args,
                  TypeRange results = {}, bool plain = false) {
    if (!module.lookupSymbol(name)) {
      OpBuilder &mb = declarations;
      auto function = func::FuncOp::create(
          mb, module.getLoc(), name,
          mb.getFunctionType(TypeRange(args), results));
      function.setPrivate();
      if (!plain)
        function->setAttr("llvm.emit_c_interface", mb.getUnitAttr());
      symbols.insert(function);
      mb.setInsertionPointAfter(function);
    }
    return func::CallOp::create(b, loc, name, results, args).getResults();
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

  /// The descriptor of the group named `group` from `op`, declared on
  /// first use (sp/Runtime/RuntimeABI.h's format).
  Value group(OpBuilder &b, Operation *op, FlatSymbolRefAttr group) {
    return getGroupDescriptor(b, op->getLoc(),
                              declareGroupDescriptor(lookupGroup(op, group)));
  }

  /// This rank's index in the group named `group` from `op`.
  Value groupIndex(OpBuilder &b, Operation *op, FlatSymbolRefAttr group) {
    return getGroupIndex(b, op->getLoc(), lookupGroup(op, group),
                         rankIndex(b, op->getLoc()));
  }

  /// This rank's index in the job.
  Value rankIndex(OpBuilder &b, Location loc) {
    if (!module.lookupSymbol(kRankFunction)) {
      OpBuilder &mb = declarations;
      auto function = func::FuncOp::create(
          mb, module.getLoc(), kRankFunction,
          mb.getFunctionType(TypeRange{}, {mb.getI64Type()}));
      function.setPrivate();
      symbols.insert(function);
      mb.setInsertionPointAfter(function);
    }
    Value rank = func::CallOp::create(b, loc, kRankFunction, b.getI64Type(),
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
    // Each module (nested ones included) gets its own declarations and
    // location strings: a symbol reference resolves in the nearest symbol
    // table, so a call in a nested module cannot name the outer module's.
    SmallVector<ModuleOp> modules;
    getOperation().walk([&](ModuleOp module) { modules.push_back(module); });
    for (ModuleOp module : modules)
      if (failed(convertModule(module)))
        return signalPassFailure();
  }

  /// Walks the ops of `module` itself, not those of modules nested in it.
  template <typename OpT, typename Fn>
  static void walkOwn(ModuleOp module, Fn &&fn) {
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op != module.getOperation() && isa<ModuleOp>(op))
        return WalkResult::skip();
      if constexpr (std::is_same_v<OpT, Operation *>)
        fn(op);
      else if (auto typed = dyn_cast<OpT>(op))
        fn(typed);
      return WalkResult::advance();
    });
  }

  LogicalResult convertModule(ModuleOp module) {
    RuntimeCalls calls(module);

    // Check first, so that a module is either converted entirely or left as
    // it was, with every unsupported op reported.
    bool unsupported = false;
    walkOwn<Operation *>(module, [&](Operation *op) {
      if (!isa<SPDialect>(op->getDialect()) ||
          isa<GroupOp, AllSliceOp, GroupRankOp>(op))
        return;
      if (failed(checkSupported(op)))
        unsupported = true;
    });
    if (unsupported)
      return failure();

    // Quant first: a norm feeding only a quant becomes one fused call.
    DominanceInfo dominanceInfo(module);
    dominance = &dominanceInfo;
    SmallVector<QuantOp> quants;
    walkOwn<QuantOp>(module, [&](QuantOp op) { quants.push_back(op); });
    for (QuantOp quant : quants)
      convertQuant(calls, quant);

    SmallVector<Operation *> ops;
    walkOwn<Operation *>(module, [&](Operation *op) {
      if (isa<AllReduceOp, ReduceScatterOp, AllGatherOp, AllSliceOp,
              RMSNormOp, FusedAddRMSNormOp, AllGatherMatmulOp,
              MatmulReduceScatterOp, RingShiftOp, GroupRankOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      llvm::TypeSwitch<Operation *>(op)
          .Case<AllReduceOp, ReduceScatterOp, AllGatherOp>(
              [&](auto collective) { convertCollective(calls, collective); })
          .Case<AllSliceOp>([&](AllSliceOp slice) {
            OpBuilder b(slice);
            lowerAllSliceAtRank(
                slice, calls.groupIndex(b, slice, slice.getGroupAttr()));
          })
          .Case<RMSNormOp>([&](RMSNormOp norm) { convertNorm(calls, norm); })
          .Case<FusedAddRMSNormOp>(
              [&](FusedAddRMSNormOp norm) { convertFusedNorm(calls, norm); })
          .Case<AllGatherMatmulOp, MatmulReduceScatterOp>(
              [&](auto fused) { convertCollectiveMatmul(calls, fused); })
          .Case<RingShiftOp>(
              [&](RingShiftOp shift) { convertRingShift(calls, shift); })
          .Case<GroupRankOp>([&](GroupRankOp rank) {
            OpBuilder b(rank);
            rank.getResult().replaceAllUsesWith(
                calls.groupIndex(b, rank, rank.getGroupAttr()));
            rank.erase();
          });
    }

    // linalg.matmul on tensors, and linalg.generics that are linalg.matmul
    // written out -> one cuBLASLt GEMM; those the runtime cannot run stay
    // (host loops, or another GPU lowering).
    SmallVector<linalg::LinalgOp> matmuls;
    walkOwn<linalg::LinalgOp>(module, [&](linalg::LinalgOp op) {
      if ((isa<linalg::MatmulOp>(op) ||
           (isa<linalg::GenericOp>(op) && isPlainMatmul(op))) &&
          matmulUnsupported(op).empty())
        matmuls.push_back(op);
    });
    for (linalg::LinalgOp op : matmuls)
      convertMatmul(calls, op);

    // The exit of every public function of a module that calls the runtime
    // is a synchronization point: a no-op unless calls left work enqueued
    // (SP_CUDA_SYNC=explicit with device buffers; CudaRuntime.h).
    bool callsRuntime = false;
    walkOwn<func::CallOp>(module, [&](func::CallOp call) {
      StringRef callee = call.getCallee();
      callsRuntime |= callee.starts_with("sp_cuda_rt_") && callee != kRankFunction;
    });
    if (callsRuntime)
      walkOwn<func::ReturnOp>(module, [&](func::ReturnOp ret) {
        auto function = ret->getParentOfType<func::FuncOp>();
        if (!function || function.isPrivate())
          return;
        OpBuilder b(ret);
        calls.call(b, ret.getLoc(), "sp_cuda_rt_function_exit",
                   ValueRange{calls.location(b, ret)}, {}, /*plain=*/true);
      });

    // `sp.replicated` has served its purpose; LLVM would warn about it.
    dropReplicatedArgAttrs(module);
    return success();
  }

  DominanceInfo *dominance = nullptr;

  LogicalResult checkSupported(Operation *op) {
    if (isa<AllGatherMatmulOp, MatmulReduceScatterOp>(op))
      return checkCollectiveMatmul(op);
    Type element = elementOf(op->getOperand(0));
    if (isa<RingShiftOp>(op) && elementSuffix(element).empty())
      return op->emitOpError()
             << "has no CUDA runtime implementation for element type "
             << element << " (transfers move floats, fp8 and i8..i64)";
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
      if (!isKernelActivationType(element))
        return unsupported("the kernels take f32, f16 and bf16");
      for (Value operand : op->getOperands().drop_back(isa<QuantOp>(op)))
        if (elementOf(operand) != element)
          return op->emitOpError("CUDA kernels need every operand in ")
                 << element << ", got " << elementOf(operand);
    }
    if (auto quant = dyn_cast<QuantOp>(op))
      if (!isQuantFP8Type(elementOf(quant.getResult())))
        return op->emitOpError("CUDA quant kernels write f8E4M3FN or "
                               "f8E4M3FNUZ, not ")
               << elementOf(quant.getResult());
    return success();
  }

  /// The fused GEMMs run with cuBLASLt: equal operand types, results the
  /// kernels' activation types.
  LogicalResult checkCollectiveMatmul(Operation *op) {
    Type lhs = elementOf(op->getOperand(0)), rhs = elementOf(op->getOperand(1));
    Type result = elementOf(op->getResult(0));
    bool scaled = op->getNumOperands() > 2;
    if (lhs != rhs)
      return op->emitOpError() << "has no CUDA runtime implementation for "
                                  "operands of different types ("
                               << lhs << " and " << rhs << ")";
    if (!isCollectiveMatmulInputType(lhs, scaled))
      return op->emitOpError()
             << "has no CUDA runtime implementation for operands of type "
             << lhs
             << (scaled ? " (the FP8 form takes f8E4M3FN or f8E4M3FNUZ)"
                        : " (GEMMs take f32, f16, bf16 and fp8)");
    if (!isKernelActivationType(result))
      return op->emitOpError()
             << "has no CUDA runtime implementation for results of type "
             << result << " (f32, f16 and bf16)";
    return success();
  }

  /// all_gather_matmul / matmul_reduce_scatter -> one runtime call that
  /// pipelines the transfers with cuBLASLt GEMMs of the chunks.
  template <typename OpTy>
  void convertCollectiveMatmul(RuntimeCalls &calls, OpTy op) {
    constexpr bool gather = std::is_same_v<OpTy, AllGatherMatmulOp>;
    OpBuilder b(op);
    Location loc = op.getLoc();
    int64_t size = *getGroupSizeOf(op, op.getGroupAttr());
    auto resultType = op.getResult().getType();
    // Dynamic sizes: rows from lhs (times or divided by the group size),
    // columns from rhs.
    auto rowsOf = [&](Type type) -> SmallVector<Value> {
      SmallVector<Value> sizes;
      auto tensor = cast<RankedTensorType>(type);
      if (tensor.isDynamicDim(0)) {
        Value rows = tensor::DimOp::create(b, loc, op.getLhs(), 0);
        Value n = arith::ConstantIndexOp::create(b, loc, size);
        sizes.push_back(gather ? arith::MulIOp::create(b, loc, rows, n)
                                     .getResult()
                               : arith::DivUIOp::create(b, loc, rows, n)
                                     .getResult());
      }
      return sizes;
    };
    SmallVector<Value> outSizes = rowsOf(resultType);
    if (resultType.isDynamicDim(1))
      outSizes.push_back(tensor::DimOp::create(b, loc, op.getRhs(), 1));
    Value out = calls.allocate(b, loc, resultType, outSizes);
    SmallVector<Value> args{calls.unranked(b, loc, out)};
    Value gathered;
    RankedTensorType gatheredType;
    if constexpr (gather) {
      // The runtime gathers lhs anyway; a buffer for it is always passed.
      auto lhsType = op.getLhs().getType();
      gatheredType = op.getGathered()
                         ? cast<RankedTensorType>(op.getGathered().getType())
                         : RankedTensorType::get({resultType.getDimSize(0),
                                                  lhsType.getDimSize(1)},
                                                 lhsType.getElementType());
      SmallVector<Value> gatheredSizes = rowsOf(gatheredType);
      if (gatheredType.isDynamicDim(1))
        gatheredSizes.push_back(tensor::DimOp::create(b, loc, op.getLhs(), 1));
      gathered = calls.allocate(b, loc, gatheredType, gatheredSizes);
      args.push_back(calls.unranked(b, loc, gathered));
    }
    args.push_back(calls.input(b, loc, op.getLhs()));
    args.push_back(calls.input(b, loc, op.getRhs()));
    for (Value scale : op.getScales())
      args.push_back(calls.input(b, loc, scale));
    args.push_back(calls.group(b, op, op.getGroupAttr()));
    args.push_back(calls.location(b, op));
    std::string name =
        (Twine("sp_cuda_rt_") + op->getName().stripDialect() +
         (op.isScaled() ? "_scaled_" : "_") +
         elementSuffix(op.getLhs().getType().getElementType()) + "_" +
         elementSuffix(resultType.getElementType()))
            .str();
    calls.call(b, loc, name, args);
    op.getResult().replaceAllUsesWith(calls.result(b, loc, out, resultType));
    if constexpr (gather)
      if (Value result = op.getGathered())
        result.replaceAllUsesWith(
            calls.result(b, loc, gathered, gatheredType));
    op.erase();
  }

  /// Why the runtime cannot run `op` (empty when it can): the GEMMs are the
  /// collective matmuls' (cuBLASLt), with linalg.matmul's numerics
  /// (operands converted to the result type, sums in it; CompiledABI.h's
  /// MatmulCall).
  static std::string matmulUnsupported(linalg::LinalgOp op) {
    if (!op.hasPureTensorSemantics())
      return "not on tensors";
    if (auto matmul = dyn_cast<linalg::MatmulOp>(op.getOperation());
        matmul && matmul.hasUserDefinedMaps())
      return "transposed or broadcast operands (indexing_maps)";
    Value lhsValue = op.getDpsInputs()[0], rhsValue = op.getDpsInputs()[1];
    Type lhs = elementOf(lhsValue), rhs = elementOf(rhsValue);
    Type out = elementOf(op.getDpsInits()[0]);
    if (lhs != rhs)
      return "operands of different types";
    // FNUZ: cuBLASLt has no such GEMM, the op is better left to the CPU.
    if (!isCollectiveMatmulInputType(lhs, /*scaled=*/false) ||
        isa<Float8E4M3FNUZType>(lhs))
      return "operands cuBLASLt does not multiply";
    if (!isKernelActivationType(out))
      return "a result type other than f32, f16 and bf16";
    // cuBLASLt's FP8 GEMMs: k and n multiples of 16 (dynamic: checked by
    // the runtime).
    if (isa<Float8E4M3FNType>(lhs)) {
      auto type = cast<RankedTensorType>(rhsValue.getType());
      for (int64_t size : type.getShape())
        if (!ShapedType::isDynamic(size) && size % 16 != 0)
          return "an FP8 GEMM whose k or n is not a multiple of 16";
    }
    return "";
  }

  /// Whether `op` (a linalg.generic) is linalg.matmul written out: two
  /// inputs and an init indexed (m, k), (k, n) -> (m, n) with m, n parallel
  /// and k a reduction, and a body that converts the operands to the
  /// result type as linalg.matmul does (arith.extf / arith.truncf, or
  /// nothing), multiplies them and adds the product to the output, with no
  /// fast-math flags or rounding modes that would change the numerics.
  static bool isPlainMatmul(linalg::LinalgOp op) {
    if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
        op->getNumRegions() != 1 || op->getRegion(0).getBlocks().size() != 1)
      return false;
    MLIRContext *context = op.getContext();
    AffineExpr m, n, k;
    bindDims(context, m, n, k);
    SmallVector<SmallVector<AffineExpr, 4>> exprs{{m, k}, {k, n}, {m, n}};
    if (op.getIndexingMapsArray() !=
        AffineMap::inferFromExprList(exprs, context))
      return false;
    using utils::IteratorType;
    if (op.getIteratorTypesArray() !=
        SmallVector<IteratorType>{IteratorType::parallel,
                                  IteratorType::parallel,
                                  IteratorType::reduction})
      return false;
    Block &body = op->getRegion(0).front();
    Type out = elementOf(op.getDpsInits()[0]);
    auto plain = [](Operation *arith) {
      auto fast = dyn_cast<arith::ArithFastMathInterface>(arith);
      arith::FastMathFlagsAttr flags =
          fast ? fast.getFastMathFlagsAttr() : nullptr;
      return !arith->hasAttr("roundingmode") &&
             (!flags || flags.getValue() == arith::FastMathFlags::none);
    };
    auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
    auto add = yield && yield->getNumOperands() == 1
                   ? yield->getOperand(0).getDefiningOp<arith::AddFOp>()
                   : nullptr;
    if (!add || add.getType() != out || !plain(add))
      return false;
    Value acc = body.getArgument(2);
    Value product = add.getLhs() == acc   ? add.getRhs()
                    : add.getRhs() == acc ? add.getLhs()
                                          : Value();
    auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
    if (!mul || !plain(mul))
      return false;
    // Each factor: the block argument of that operand, converted to `out`.
    unsigned ops = 3; // mulf, addf, yield
    auto factorOf = [&](Value value, BlockArgument argument) {
      if (value == argument)
        return argument.getType() == out;
      Operation *cast = value.getDefiningOp();
      if (!cast || !isa<arith::ExtFOp, arith::TruncFOp>(cast) ||
          cast->getOperand(0) != argument || !plain(cast))
        return false;
      ++ops;
      return true;
    };
    BlockArgument a = body.getArgument(0), b = body.getArgument(1);
    if (!(factorOf(mul.getLhs(), a) && factorOf(mul.getRhs(), b)) &&
        !(factorOf(mul.getLhs(), b) && factorOf(mul.getRhs(), a)))
      return false;
    return body.getOperations().size() == ops;
  }

  /// The linalg.fill of +0.0 that `init` is, if it is one: the GEMM then
  /// starts from +0 (beta 0) without reading it.
  static linalg::FillOp zeroFill(Value init) {
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!fill || !fill.hasPureTensorSemantics() ||
        !matchPattern(fill.getInputs()[0], m_PosZeroFloat()))
      return nullptr;
    return fill;
  }

  /// linalg.matmul -> sp_cuda_rt_matmul_<in>_<out>(out, lhs, rhs) when its
  /// init is a fill of +0.0 (the fill then dies), else
  /// sp_cuda_rt_matmul_accumulate_<in>_<out>(out, init, lhs, rhs): out =
  /// init + lhs x rhs. The result has the init's shape; the runtime checks
  /// it against lhs and rhs.
  void convertMatmul(RuntimeCalls &calls, linalg::LinalgOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
    Value init = op.getDpsInits()[0];
    auto type = cast<RankedTensorType>(op->getResultTypes()[0]);
    linalg::FillOp fill = zeroFill(init);
    // The sizes of what the fill fills (a tensor.empty's, usually), so that
    // nothing of the fill stays alive.
    Value shaped = fill ? fill.getOutputs()[0] : init;
    SmallVector<Value> sizes;
    if (auto empty = shaped.getDefiningOp<tensor::EmptyOp>())
      llvm::append_range(sizes, empty.getDynamicSizes());
    else
      sizes = RuntimeCalls::dynamicSizes(b, loc, shaped);
    Value out = calls.allocate(b, loc, type, sizes);
    SmallVector<Value> args{calls.unranked(b, loc, out)};
    if (!fill)
      args.push_back(calls.input(b, loc, init));
    args.push_back(calls.input(b, loc, lhs));
    args.push_back(calls.input(b, loc, rhs));
    args.push_back(calls.location(b, op));
    std::string name = (Twine("sp_cuda_rt_matmul_") +
                        (fill ? "" : "accumulate_") +
                        elementSuffix(elementOf(lhs)) + "_" +
                        elementSuffix(type.getElementType()))
                           .str();
    calls.call(b, loc, name, args);
    op->getResult(0).replaceAllUsesWith(calls.result(b, loc, out, type));
    op->erase();
    if (fill && fill->use_empty()) {
      Value filled = fill.getOutputs()[0];
      fill.erase();
      if (auto empty = filled.getDefiningOp<tensor::EmptyOp>();
          empty && empty->use_empty())
        empty.erase();
    }
  }

  /// ring_shift -> a start at the op and a wait before the first use of its
  /// result, so the work in between overlaps with the transfer.
  void convertRingShift(RuntimeCalls &calls, RingShiftOp op) {
    Operation *waitPoint = getWaitPoint(op);
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto type = op.getResult().getType();
    Value out = calls.allocate(
        b, loc, type, RuntimeCalls::dynamicSizes(b, loc, op.getInput()));
    Value offset =
        arith::IndexCastOp::create(b, loc, b.getI64Type(), op.getOffset());
    Value location = calls.location(b, op);
    Value handle =
        calls.call(b, loc,
                   "sp_cuda_rt_ring_shift_start_" +
                       elementSuffix(type.getElementType()),
                   ValueRange{calls.input(b, loc, op.getInput()),
                              calls.unranked(b, loc, out), offset,
                              calls.group(b, op, op.getGroupAttr()), location},
                   b.getI64Type())[0];
    op.getResult().replaceAllUsesWith(calls.result(b, loc, out, type));
    OpBuilder waitBuilder(waitPoint);
    calls.call(waitBuilder, loc, "sp_cuda_rt_ring_shift_wait",
               ValueRange{handle, location}, TypeRange{}, /*plain=*/true);
    op.erase();
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
    auto collective = cast<CollectiveOpInterface>(op.getOperation());
    SmallVector<Value> dynamic =
        getCollectiveResultDynamicSizes(b, loc, collective, input);
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
    args.push_back(calls.group(b, op, op.getGroupAttr()));
    if (std::optional<int64_t> dim = collective.getCollectiveDim())
      args.push_back(constantI64(b, loc, *dim));
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
