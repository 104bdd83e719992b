//===- GPUKernels.cpp - the host's compute as GPU kernels -----------------===//
//
// sp's part of sp-lower-to-cuda's upstream GPU path (Passes.td has the
// details):
//   sp-cuda-map-kernels        linalg ops and copies -> loop nests mapped to
//                              blocks and threads, where every buffer they
//                              touch can live on the device;
//   (upstream: convert-parallel-loops-to-gpu, gpu-kernel-outlining, ...)
//   sp-gpu-kernel-host-twins   each kernel's body again as a host function;
//   (upstream: convert-gpu-to-nvvm, gpu-module-to-binary, gpu-to-llvm)
//   sp-gpu-launch-twins        each launch tells the runtime its twin.
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToCUDA/GPUKernels.h"

#include "sp/Conversion/Common/RuntimeABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPCUDAMAPKERNELS
#define GEN_PASS_DEF_SPGPUKERNELHOSTTWINS
#define GEN_PASS_DEF_SPGPULAUNCHTWINS
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

namespace {

/// Threads per block along a kernel's innermost dimension.
constexpr int64_t kThreadsPerBlock = 256;

//===----------------------------------------------------------------------===//
// sp-cuda-map-kernels
//===----------------------------------------------------------------------===//

/// Whether a loop nest can be a kernel at all: nothing in it but
/// arithmetic, loads and stores and structured control flow.
bool isKernelBody(scf::ParallelOp loop) {
  WalkResult result = loop.getBody()->walk([](Operation *op) {
    if (isa<func::CallOp, memref::AllocOp, memref::AllocaOp,
            memref::DeallocOp, memref::CopyOp, gpu::LaunchOp>(op))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !result.wasInterrupted();
}

ArrayRef<gpu::Processor> blockProcessors() {
  static const gpu::Processor blocks[] = {
      gpu::Processor::BlockX, gpu::Processor::BlockY, gpu::Processor::BlockZ};
  return blocks;
}

struct CUDAMapKernelsPass
    : public sp::impl::SPCUDAMapKernelsBase<CUDAMapKernelsPass> {
  using SPCUDAMapKernelsBase::SPCUDAMapKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isDeclaration())
        functions.push_back(function);
    for (func::FuncOp function : functions) {
      exitLast(function);
      if (failed(toLoops(function)))
        return signalPassFailure();
    }
    SymbolTable symbols(module);
    if (failed(mapKernels(module, functions, symbols)))
      return signalPassFailure();
  }

  /// Bufferization puts the copies of returned buffers (and deallocations)
  /// between a function's exit synchronization and its return; as kernels
  /// they must come before the synchronization that waits for them.
  void exitLast(func::FuncOp function) {
    function.walk([](func::ReturnOp ret) {
      for (Operation *op = ret->getPrevNode(); op; op = op->getPrevNode())
        if (auto call = dyn_cast<func::CallOp>(op);
            call && call.getCallee() == "sp_cuda_rt_function_exit") {
          call->moveBefore(ret);
          return;
        }
    });
  }

  /// Copies and linalg ops on buffers -> loop nests; a nest without a
  /// parallel dimension inside a one-iteration scf.parallel.
  LogicalResult toLoops(func::FuncOp function) {
    IRRewriter rewriter(function.getContext());
    SmallVector<memref::CopyOp> copies;
    function.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      linalg::CopyOp::create(rewriter, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      rewriter.eraseOp(copy);
    }
    SmallVector<linalg::LinalgOp> ops;
    function.walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    for (linalg::LinalgOp op : ops) {
      Location loc = op.getLoc();
      if (llvm::none_of(op.getIteratorTypesArray(), linalg::isParallelIterator)) {
        rewriter.setInsertionPoint(op);
        Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
        Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto single = scf::ParallelOp::create(rewriter, loc, ValueRange{zero},
                                              ValueRange{one}, ValueRange{one});
        rewriter.moveOpBefore(op, single.getBody()->getTerminator());
      }
      rewriter.setInsertionPoint(op);
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op)))
        return op->emitOpError("cannot be lowered to loops for the GPU");
      rewriter.eraseOp(op);
    }
    return success();
  }

  /// Chooses the loop nests whose buffers the GPU can address (a fixpoint
  /// over the module: a loop left on the host makes its buffers host
  /// buffers, and a private function's parameters host memory), then tiles
  /// and maps them.
  LogicalResult mapKernels(ModuleOp module, ArrayRef<func::FuncOp> functions,
                           SymbolTable &symbols) {
    SmallVector<scf::ParallelOp> loops;
    for (func::FuncOp function : functions)
      function.walk([&](scf::ParallelOp loop) {
        if (!loop->getParentOfType<scf::ParallelOp>())
          loops.push_back(loop);
      });
    llvm::SmallPtrSet<Operation *, 16> kernels;
    for (scf::ParallelOp loop : loops)
      if (isKernelBody(loop))
        kernels.insert(loop);
    auto deviceUse = [&](Operation *user) {
      if (isDeviceUser(user, symbols))
        return true;
      for (Operation *op = user->getParentOp(); op; op = op->getParentOp())
        if (kernels.contains(op))
          return true;
      return false;
    };
    DenseMap<Operation *, Value> hostBecause;
    for (bool changed = true; changed;) {
      changed = false;
      DevicePlacement placement(module, symbols, deviceUse);
      for (scf::ParallelOp loop : loops) {
        if (!kernels.contains(loop))
          continue;
        llvm::SetVector<Value> used;
        getUsedValuesDefinedAbove(loop.getRegion(), used);
        for (Value value : used) {
          if (!isa<MemRefType>(value.getType()))
            continue;
          Value root = rootOfView(value);
          if (placement.isResident(root))
            continue;
          kernels.erase(loop);
          hostBecause[loop] = root;
          changed = true;
          break;
        }
      }
    }
    for (scf::ParallelOp loop : loops) {
      if (!kernels.contains(loop)) {
        if (remarks)
          remarkHost(loop, hostBecause.lookup(loop));
        continue;
      }
      if (failed(tileAndMap(loop)))
        return failure();
    }
    return success();
  }

  void remarkHost(scf::ParallelOp loop, Value buffer) {
    InFlightDiagnostic remark = loop.emitRemark("runs on the host: ");
    if (!buffer) {
      remark << "its body calls functions or allocates";
      return;
    }
    remark << "it touches a buffer the GPU cannot address ";
    if (auto argument = dyn_cast<BlockArgument>(buffer))
      remark << "(argument " << argument.getArgNumber() << ")";
    else
      remark << "(" << buffer.getDefiningOp()->getName() << " at "
             << describeLocation(buffer.getLoc()) << ")";
  }

  /// Tiles by kThreadsPerBlock along the innermost dimension (1 along the
  /// others) and maps: the tiles' dimensions, innermost first, to blocks x,
  /// y, z (the rest sequential), the tile's innermost to thread x.
  LogicalResult tileAndMap(scf::ParallelOp loop) {
    unsigned rank = loop.getNumLoops();
    SmallVector<int64_t> sizes(rank, 1);
    sizes.back() = kThreadsPerBlock;
    auto [outer, inner] =
        scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
    MLIRContext *context = outer.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
    auto dim = [&](gpu::Processor processor) {
      return gpu::ParallelLoopDimMappingAttr::get(context, processor, identity,
                                                  identity);
    };
    SmallVector<gpu::ParallelLoopDimMappingAttr> outerMap, innerMap;
    for (unsigned d = 0; d < rank; ++d) {
      unsigned fromInnermost = rank - 1 - d;
      outerMap.push_back(dim(fromInnermost < 3 ? blockProcessors()[fromInnermost]
                                               : gpu::Processor::Sequential));
      innerMap.push_back(dim(fromInnermost == 0 ? gpu::Processor::ThreadX
                                                : gpu::Processor::Sequential));
    }
    if (failed(gpu::setMappingAttr(outer, outerMap)) ||
        failed(gpu::setMappingAttr(inner, innerMap)))
      return outer.emitError("cannot map this loop nest to the GPU");
    // Loops nested in the kernel run sequentially in each thread.
    WalkResult nested = inner.getBody()->walk([&](scf::ParallelOp loop) {
      SmallVector<gpu::ParallelLoopDimMappingAttr> sequential(
          loop.getNumLoops(), dim(gpu::Processor::Sequential));
      return failed(gpu::setMappingAttr(loop, sequential))
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (nested.wasInterrupted())
      return inner.emitError("cannot map a nested loop to the GPU");
    return success();
  }
};

//===----------------------------------------------------------------------===//
// sp-gpu-kernel-host-twins
//===----------------------------------------------------------------------===//

std::string twinName(StringRef module, StringRef kernel) {
  return ("__sp_twin_" + module + "_" + kernel).str();
}

struct GPUKernelHostTwinsPass
    : public sp::impl::SPGPUKernelHostTwinsBase<GPUKernelHostTwinsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<gpu::GPUModuleOp, gpu::GPUFuncOp>> kernels;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>())
      for (auto kernel : gpuModule.getOps<gpu::GPUFuncOp>())
        if (kernel.isKernel())
          kernels.push_back({gpuModule, kernel});
    for (auto [gpuModule, kernel] : kernels)
      if (failed(makeTwin(module, gpuModule, kernel)))
        return signalPassFailure();
  }

  LogicalResult makeTwin(ModuleOp module, gpu::GPUModuleOp gpuModule,
                         gpu::GPUFuncOp kernel) {
    if (!kernel.getWorkgroupAttributions().empty() ||
        !kernel.getPrivateAttributions().empty() ||
        !kernel.getBody().hasOneBlock())
      return kernel.emitOpError(
          "has memory attributions or more than one block: no host twin");
    WalkResult barrier = kernel.walk([](Operation *op) {
      return isa<gpu::BarrierOp, gpu::ShuffleOp, gpu::AllReduceOp,
                 gpu::SubgroupReduceOp>(op)
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (barrier.wasInterrupted())
      return kernel.emitOpError(
          "synchronizes its threads: its host twin would run them one after "
          "another");
    std::string name = twinName(gpuModule.getName(), kernel.getName());
    if (module.lookupSymbol(name))
      return kernel.emitOpError("its host twin's name @") << name << " is taken";
    Location loc = kernel.getLoc();
    OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
    IndexType index = top.getIndexType();
    SmallVector<Type> inputs(kernel.getArgumentTypes());
    inputs.append(6, index); // grid x, y, z; block x, y, z
    auto twin = func::FuncOp::create(top, loc, name,
                                     top.getFunctionType(inputs, {}));
    Block *entry = twin.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(entry);
    unsigned sizes = kernel.getNumArguments();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    // Blocks z, y, x, then threads z, y, x: ids[0..2] blocks x, y, z,
    // ids[3..5] threads x, y, z.
    Value ids[6];
    for (int level = 0; level < 2; ++level)
      for (int d = 2; d >= 0; --d) {
        Value size = entry->getArgument(sizes + level * 3 + d);
        auto loop = scf::ForOp::create(b, loc, zero, size, one);
        ids[level * 3 + d] = loop.getInductionVar();
        b.setInsertionPointToStart(loop.getBody());
      }
    IRMapping mapping;
    for (unsigned i = 0; i < sizes; ++i)
      mapping.map(kernel.getArgument(i), entry->getArgument(i));
    auto dimension = [](gpu::Dimension d) { return unsigned(d); };
    for (Operation &op : kernel.getBody().front().without_terminator()) {
      if (auto id = dyn_cast<gpu::BlockIdOp>(op))
        mapping.map(id.getResult(), ids[dimension(id.getDimension())]);
      else if (auto id = dyn_cast<gpu::ThreadIdOp>(op))
        mapping.map(id.getResult(), ids[3 + dimension(id.getDimension())]);
      else if (auto size = dyn_cast<gpu::GridDimOp>(op))
        mapping.map(size.getResult(),
                    entry->getArgument(sizes + dimension(size.getDimension())));
      else if (auto size = dyn_cast<gpu::BlockDimOp>(op))
        mapping.map(size.getResult(), entry->getArgument(
                                          sizes + 3 + dimension(size.getDimension())));
      else
        b.clone(op, mapping);
    }
    WalkResult leftover = twin.walk([](Operation *op) {
      return op->getDialect() &&
                     op->getDialect()->getNamespace() ==
                         gpu::GPUDialect::getDialectNamespace()
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (leftover.wasInterrupted())
      return kernel.emitOpError(
          "uses GPU operations inside its control flow: no host twin");
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// sp-gpu-launch-twins
//===----------------------------------------------------------------------===//

/// An argument's kind word (Passes.td): its bytes, plus 2^32 for pointers.
FailureOr<int64_t> kindOf(Type type) {
  if (isa<LLVM::LLVMPointerType>(type))
    return int64_t(8) | (int64_t(1) << 32);
  if (auto integer = dyn_cast<IntegerType>(type))
    return int64_t((integer.getWidth() + 7) / 8);
  if (auto floating = dyn_cast<FloatType>(type))
    return int64_t((floating.getWidth() + 7) / 8);
  return failure();
}

struct GPULaunchTwinsPass
    : public sp::impl::SPGPULaunchTwinsBase<GPULaunchTwinsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    if (launches.empty())
      return;
    MLIRContext *context = module.getContext();
    OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    auto voidType = LLVM::LLVMVoidType::get(context);
    StringRef hookName = "sp_cuda_rt_kernel_twin";
    auto hook = module.lookupSymbol<LLVM::LLVMFuncOp>(hookName);
    if (!hook)
      hook = LLVM::LLVMFuncOp::create(
          top, module.getLoc(), hookName,
          LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, i64, ptr}));
    llvm::StringMap<std::pair<LLVM::LLVMFuncOp, LLVM::GlobalOp>> packed;
    unsigned locations = 0;
    for (gpu::LaunchFuncOp launch : launches) {
      std::string name = twinName(launch.getKernelModuleName().getValue(),
                                  launch.getKernelName().getValue());
      auto twin = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
      if (!twin) {
        launch.emitOpError("has no host twin @")
            << name << " (run sp-gpu-kernel-host-twins before the GPU module "
            << "is lowered)";
        return signalPassFailure();
      }
      auto &entry = packed[name];
      if (!entry.first) {
        FailureOr<std::pair<LLVM::LLVMFuncOp, LLVM::GlobalOp>> made =
            makePacked(top, twin, launch);
        if (failed(made))
          return signalPassFailure();
        entry = *made;
      }
      OpBuilder b(launch);
      Location loc = launch.getLoc();
      std::string where = "gpu.launch_func @" +
                          launch.getKernelModuleName().getValue().str() +
                          " at " + describeLocation(loc);
      where.push_back('\0');
      auto text = LLVM::GlobalOp::create(
          top, loc, LLVM::LLVMArrayType::get(top.getI8Type(), where.size()),
          /*isConstant=*/true, LLVM::Linkage::Internal,
          "__sp_launch_location_" + std::to_string(locations++),
          top.getStringAttr(where));
      Value run = LLVM::AddressOfOp::create(b, loc, entry.first);
      Value kinds = LLVM::AddressOfOp::create(b, loc, entry.second);
      Value count = LLVM::ConstantOp::create(
          b, loc, i64,
          b.getI64IntegerAttr(launch.getKernelOperands().size()));
      Value location = LLVM::AddressOfOp::create(b, loc, text);
      LLVM::CallOp::create(b, loc, hook, ValueRange{run, kinds, count, location});
    }
  }

  /// `<twin>_packed(params, dims)` and the kinds of its arguments.
  FailureOr<std::pair<LLVM::LLVMFuncOp, LLVM::GlobalOp>>
  makePacked(OpBuilder &top, LLVM::LLVMFuncOp twin, gpu::LaunchFuncOp launch) {
    Location loc = twin.getLoc();
    MLIRContext *context = twin.getContext();
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    ArrayRef<Type> params = twin.getFunctionType().getParams();
    size_t arguments = launch.getKernelOperands().size();
    if (params.size() != arguments + 6) {
      launch.emitOpError("passes ")
          << arguments << " arguments; its host twin @" << twin.getName()
          << " takes " << params.size() - 6 << " and the grid";
      return failure();
    }
    SmallVector<int64_t> kinds;
    for (size_t i = 0; i < arguments; ++i) {
      Type type = launch.getKernelOperands()[i].getType();
      FailureOr<int64_t> kind = kindOf(type);
      if (failed(kind) || type != params[i]) {
        launch.emitOpError("argument ")
            << i << " of type " << type
            << " does not match its host twin's " << params[i];
        return failure();
      }
      kinds.push_back(*kind);
    }
    auto kindsType = LLVM::LLVMArrayType::get(i64, std::max<size_t>(1, arguments));
    if (kinds.empty())
      kinds.push_back(0);
    auto global = LLVM::GlobalOp::create(
        top, loc, kindsType, /*isConstant=*/true, LLVM::Linkage::Internal,
        (twin.getName() + "_kinds").str(),
        DenseElementsAttr::get(
            RankedTensorType::get({int64_t(kinds.size())}, i64),
            ArrayRef<int64_t>(kinds)));
    auto function = LLVM::LLVMFuncOp::create(
        top, loc, (twin.getName() + "_packed").str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                    {ptr, ptr}));
    Block *body = function.addEntryBlock(top);
    OpBuilder b = OpBuilder::atBlockBegin(body);
    SmallVector<Value> values;
    for (size_t i = 0; i < params.size(); ++i) {
      bool dim = i >= arguments;
      Value base = body->getArgument(dim ? 1 : 0);
      int32_t index = int32_t(dim ? i - arguments : i);
      Value slot = LLVM::GEPOp::create(b, loc, ptr, dim ? Type(i64) : Type(ptr),
                                       base, ArrayRef<LLVM::GEPArg>{index});
      if (dim) {
        values.push_back(LLVM::LoadOp::create(b, loc, i64, slot));
        continue;
      }
      Value address = LLVM::LoadOp::create(b, loc, ptr, slot);
      values.push_back(LLVM::LoadOp::create(b, loc, params[i], address));
    }
    LLVM::CallOp::create(b, loc, twin, values);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return std::make_pair(function, global);
  }
};

} // namespace
