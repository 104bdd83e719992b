//===- BufferizableOpInterfaceImpl.cpp - bufferization of sp ops ----------===//
//
// External BufferizableOpInterface models of sp.all_reduce,
// sp.reduce_scatter and sp.all_gather, registered with the dialect (as
// upstream's tensor dialect does): one-shot bufferization turns each into a
// call of the CPU runtime (runtime/cpu) on a fresh buffer, naming its group
// by the group's descriptor global. The functions and the descriptors are
// declared beforehand by sp-prepare-cpu-runtime. The norms and quant are
// bufferized through their linalg decomposition, all_slice through
// tensor.extract_slice.
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/BufferizableOpInterfaceImpl.h"

#include "sp/Conversion/Common/RuntimeABI.h"
#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::sp;
using namespace mlir::bufferization;

/// The descriptor global of the group `op` runs over; null (after an
/// error) when sp-prepare-cpu-runtime has not declared it.
static memref::GlobalOp groupDescriptorOf(Operation *op,
                                          FlatSymbolRefAttr groupName) {
  GroupOp group = lookupGroup(op, groupName);
  memref::GlobalOp global = group ? lookupGroupDescriptor(group) : nullptr;
  if (!global)
    op->emitOpError("the descriptor of group ")
        << groupName << " is not declared; run sp-prepare-cpu-runtime first";
  return global;
}

namespace {
/// An op that reads its input and writes a fresh buffer: no aliasing.
template <typename ConcreteModel, typename OpTy>
struct ReadsInputWritesFreshBuffer
    : public BufferizableOpInterface::ExternalModel<ConcreteModel, OpTy> {
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
};

/// The dynamic sizes of `buffer`, for an allocation of the same shape.
SmallVector<Value> dynamicSizesOf(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(memref::DimOp::create(b, loc, buffer, i));
  return sizes;
}

/// A collective reads its input and writes a fresh buffer.
template <typename OpTy>
struct CollectiveBufferization
    : public ReadsInputWritesFreshBuffer<CollectiveBufferization<OpTy>, OpTy> {

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    Location loc = op->getLoc();
    auto collective = cast<CollectiveOpInterface>(op);
    std::string name = getCPURuntimeFunctionName(collective);
    auto module = op->getParentOfType<ModuleOp>();
    if (name.empty() || !module || !module.lookupSymbol(name))
      return op->emitOpError("runtime function for this collective is not "
                             "declared; run sp-prepare-cpu-runtime first");
    memref::GlobalOp group = groupDescriptorOf(op, collective.getGroupAttr());
    if (!group)
      return failure();
    FailureOr<Value> input =
        getBuffer(rewriter, op->getOperand(0), options, state);
    if (failed(input))
      return failure();
    auto inType = cast<MemRefType>(input->getType());
    // The runtime reads contiguous row-major buffers.
    if (!inType.getLayout().isIdentity()) {
      auto contiguous = MemRefType::get(inType.getShape(),
                                        inType.getElementType());
      Value copy = memref::AllocOp::create(
          rewriter, loc, contiguous, dynamicSizesOf(rewriter, loc, *input));
      memref::CopyOp::create(rewriter, loc, *input, copy);
      input = copy;
    }

    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto outType = MemRefType::get(resultType.getShape(),
                                   resultType.getElementType());
    std::optional<int64_t> dim = collective.getCollectiveDim();
    Value output = memref::AllocOp::create(
        rewriter, loc, outType,
        getCollectiveResultDynamicSizes(rewriter, loc, collective, *input));

    Type unranked = UnrankedMemRefType::get(resultType.getElementType(), 0);
    SmallVector<Value> args{
        memref::CastOp::create(rewriter, loc, unranked, *input),
        memref::CastOp::create(rewriter, loc, unranked, output)};
    if (std::optional<ReductionKind> reduction = collective.getReductionKind())
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI32Type(),
          static_cast<int64_t>(*reduction)));
    args.push_back(getGroupDescriptor(rewriter, loc, group));
    if (dim)
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI64Type(), *dim));
    callCPUSite(rewriter, op);
    func::CallOp::create(rewriter, loc, name, TypeRange{}, args);
    replaceOpWithBufferizedValues(rewriter, op, output);
    return success();
  }
};
/// ring_shift reads its input and writes a fresh buffer, asynchronously:
/// the transfer starts at the op (the runtime copies the input, so its
/// buffer may be reused at once) and is waited for before the first use of
/// the result, so that the work in between overlaps with it.
struct RingShiftBufferization
    : public ReadsInputWritesFreshBuffer<RingShiftBufferization, RingShiftOp> {

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto shift = cast<RingShiftOp>(op);
    Location loc = op->getLoc();
    std::string start = getCPURingShiftStartName(shift);
    auto module = op->getParentOfType<ModuleOp>();
    if (start.empty() || !module || !module.lookupSymbol(start) ||
        !module.lookupSymbol(kCPURingShiftWaitName))
      return op->emitOpError("runtime functions for this ring_shift are not "
                             "declared; run sp-prepare-cpu-runtime first");
    memref::GlobalOp group = groupDescriptorOf(op, shift.getGroupAttr());
    if (!group)
      return failure();
    // Decide where to wait before the users change.
    Operation *waitPoint = getWaitPoint(op);
    FailureOr<Value> input =
        getBuffer(rewriter, shift.getInput(), options, state);
    if (failed(input))
      return failure();
    auto resultType = shift.getResult().getType();
    Value output = memref::AllocOp::create(
        rewriter, loc,
        MemRefType::get(resultType.getShape(), resultType.getElementType()),
        dynamicSizesOf(rewriter, loc, *input));
    Type unranked = UnrankedMemRefType::get(resultType.getElementType(), 0);
    Value offset = arith::IndexCastOp::create(
        rewriter, loc, rewriter.getI64Type(), shift.getOffset());
    callCPUSite(rewriter, op);
    Value handle =
        func::CallOp::create(
            rewriter, loc, start, rewriter.getI64Type(),
            ValueRange{memref::CastOp::create(rewriter, loc, unranked, *input),
                       memref::CastOp::create(rewriter, loc, unranked, output),
                       offset, getGroupDescriptor(rewriter, loc, group)})
            .getResult(0);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(waitPoint);
      callCPUSite(rewriter, op);
      func::CallOp::create(rewriter, loc, kCPURingShiftWaitName, TypeRange{},
                           handle);
    }
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
    RingShiftOp::attachInterface<RingShiftBufferization>(*context);
  });
}
