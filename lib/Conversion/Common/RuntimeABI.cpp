//===- RuntimeABI.cpp - the compiler's side of the runtimes' ABI ----------===//

#include "sp/Conversion/Common/RuntimeABI.h"

#include "sp/Dialect/SP/IR/SPDialect.h"
#include "sp/Runtime/ElementTypes.h"
#include "sp/Runtime/RuntimeABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::sp;

/// MLIR's spelling of `type`, which is how ElementTypes.h names types.
static std::string spelling(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

std::string mlir::sp::getRuntimeTypeSuffix(Type element, bool reduces) {
  std::string name = spelling(element);
#define SP_MATCH(NAME, STORAGE, CODE)                                          \
  if (name == #NAME)                                                           \
    return name;
  SP_FOR_EVERY_REDUCIBLE_TYPE(SP_MATCH)
  if (reduces)
    return "";
  SP_FOR_EVERY_MOVED_ONLY_TYPE(SP_MATCH)
#undef SP_MATCH
  return "";
}

bool mlir::sp::isKernelActivationType(Type element) {
  std::string name = spelling(element);
#define SP_MATCH(NAME, STORAGE, CODE) name == #NAME ||
  return SP_FOR_EVERY_KERNEL_TYPE(SP_MATCH) false;
#undef SP_MATCH
}

bool mlir::sp::isQuantFP8Type(Type element) {
  std::string name = spelling(element);
#define SP_MATCH(NAME, STORAGE, CODE) name == #NAME ||
  return SP_FOR_EVERY_FP8_TYPE(SP_MATCH) false;
#undef SP_MATCH
}

bool mlir::sp::isCollectiveMatmulInputType(Type element, bool scaled) {
  std::string name = spelling(element);
#define SP_MATCH(NAME, STORAGE, CODE) name == #NAME ||
  if (scaled)
    return SP_FOR_EVERY_SCALED_GEMM_INPUT_TYPE(SP_MATCH) false;
  return SP_FOR_EVERY_GEMM_INPUT_TYPE(SP_MATCH) false;
#undef SP_MATCH
}

std::string
mlir::sp::getCPURuntimeFunctionName(CollectiveOpInterface collective) {
  Type element = collective.getInput().getType().getElementType();
  StringRef base = llvm::TypeSwitch<Operation *, StringRef>(collective)
                       .Case<AllReduceOp>([](auto) { return "all_reduce"; })
                       .Case<ReduceScatterOp>(
                           [](auto) { return "reduce_scatter"; })
                       .Case<AllGatherOp>([](auto) { return "all_gather"; })
                       .Default([](auto) { return ""; });
  std::string suffix = getRuntimeTypeSuffix(
      element, collective.getReductionKind().has_value());
  if (base.empty() || suffix.empty())
    return "";
  return ("sp_rt_" + base + "_" + suffix).str();
}

FunctionType
mlir::sp::getCPURuntimeFunctionType(CollectiveOpInterface collective) {
  Builder b(collective->getContext());
  Type element = collective.getInput().getType().getElementType();
  Type buffer = UnrankedMemRefType::get(element, /*memorySpace=*/0);
  SmallVector<Type> inputs{buffer, buffer};
  if (collective.getReductionKind())
    inputs.push_back(b.getI32Type());
  inputs.push_back(getGroupDescriptorType(b.getContext()));
  if (collective.getCollectiveDim())
    inputs.push_back(b.getI64Type());
  return b.getFunctionType(inputs, {});
}

std::string mlir::sp::getCPURingShiftStartName(RingShiftOp shift) {
  std::string suffix =
      getRuntimeTypeSuffix(shift.getInput().getType().getElementType(),
                           /*reduces=*/false);
  return suffix.empty() ? "" : "sp_rt_ring_shift_start_" + suffix;
}

FunctionType mlir::sp::getCPURingShiftStartType(RingShiftOp shift) {
  Builder b(shift->getContext());
  Type buffer = UnrankedMemRefType::get(
      shift.getInput().getType().getElementType(), /*memorySpace=*/0);
  return b.getFunctionType(
      {buffer, buffer, b.getI64Type(), getGroupDescriptorType(b.getContext())},
      {b.getI64Type()});
}

//===----------------------------------------------------------------------===//
// Groups
//===----------------------------------------------------------------------===//

MemRefType mlir::sp::getGroupDescriptorType(MLIRContext *context) {
  return MemRefType::get({ShapedType::kDynamic},
                         IntegerType::get(context, 64));
}

SmallVector<int64_t> mlir::sp::getGroupDescriptorWords(GroupOp group) {
  std::optional<ArrayRef<int64_t>> grid = group.getGrid();
  std::optional<ArrayRef<int64_t>> axes = group.getAxes();
  std::vector<int64_t> words =
      grid && axes ? sp_runtime::GroupLayout::encode(
                         std::vector<int64_t>(grid->begin(), grid->end()),
                         std::vector<int64_t>(axes->begin(), axes->end()))
                   : sp_runtime::GroupLayout::encodeWorld(
                         group.getSizeAttr().getInt());
  return SmallVector<int64_t>(words.begin(), words.end());
}

/// The names a descriptor of `group` may have, in order: "__sp_group_<name>",
/// then with "_0", "_1", ... when another symbol took the name before.
static std::string descriptorName(GroupOp group, int attempt) {
  std::string name = ("__sp_group_" + group.getSymName()).str();
  return attempt == 0 ? name : name + "_" + std::to_string(attempt - 1);
}

/// Whether `symbol` is a descriptor of `group`: a constant memref.global
/// holding its words.
static bool isDescriptorOf(Operation *symbol, GroupOp group) {
  auto global = dyn_cast_or_null<memref::GlobalOp>(symbol);
  if (!global || !global.getConstant())
    return false;
  auto value = dyn_cast_or_null<DenseIntElementsAttr>(global.getConstantInitValue());
  if (!value || !value.getElementType().isInteger(64))
    return false;
  return llvm::equal(value.getValues<int64_t>(), getGroupDescriptorWords(group));
}

memref::GlobalOp mlir::sp::lookupGroupDescriptor(GroupOp group) {
  auto module = group->getParentOfType<ModuleOp>();
  if (!module)
    return {};
  for (int attempt = 0;; ++attempt) {
    Operation *symbol = module.lookupSymbol(descriptorName(group, attempt));
    if (!symbol)
      return {};
    if (isDescriptorOf(symbol, group))
      return cast<memref::GlobalOp>(symbol);
  }
}

memref::GlobalOp mlir::sp::declareGroupDescriptor(GroupOp group) {
  if (memref::GlobalOp existing = lookupGroupDescriptor(group))
    return existing;
  auto module = group->getParentOfType<ModuleOp>();
  std::string name;
  for (int attempt = 0; name.empty() || module.lookupSymbol(name); ++attempt)
    name = descriptorName(group, attempt);
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  SmallVector<int64_t> words = getGroupDescriptorWords(group);
  auto type = MemRefType::get({int64_t(words.size())}, b.getI64Type());
  auto value = DenseIntElementsAttr::get(
      RankedTensorType::get(type.getShape(), b.getI64Type()),
      ArrayRef<int64_t>(words));
  return memref::GlobalOp::create(b, group.getLoc(), name,
                                  b.getStringAttr("private"), type, value,
                                  /*constant=*/true,
                                  /*alignment=*/IntegerAttr());
}

Value mlir::sp::getGroupDescriptor(OpBuilder &b, Location loc,
                                   memref::GlobalOp global) {
  Value words = memref::GetGlobalOp::create(b, loc, global.getType(),
                                            global.getSymName());
  return memref::CastOp::create(b, loc, getGroupDescriptorType(b.getContext()),
                                words);
}

Value mlir::sp::getGroupIndex(OpBuilder &b, Location loc, GroupOp group,
                              Value worldRank) {
  std::optional<ArrayRef<int64_t>> grid = group.getGrid();
  std::optional<ArrayRef<int64_t>> axes = group.getAxes();
  if (!grid || !axes)
    return worldRank;
  // coordinate(a) = rank / stride(a) mod grid[a]; index = coordinates on
  // the spanned axes, linearized in the order listed.
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value index;
  for (int64_t axis : *axes) {
    int64_t stride = 1;
    for (int64_t extent : grid->drop_front(axis + 1))
      stride *= extent;
    Value coordinate = worldRank;
    if (stride != 1)
      coordinate = arith::DivUIOp::create(b, loc, coordinate, constant(stride));
    if (axis != 0) // rank / stride(0) < grid[0] already
      coordinate =
          arith::RemUIOp::create(b, loc, coordinate, constant((*grid)[axis]));
    index = index ? arith::AddIOp::create(
                        b, loc,
                        arith::MulIOp::create(b, loc, index,
                                              constant((*grid)[axis])),
                        coordinate)
                        .getResult()
                  : coordinate;
  }
  return index ? index : constant(0);
}

Operation *mlir::sp::getWaitPoint(Operation *op) {
  Block *block = op->getBlock();
  Operation *first = nullptr;
  for (Operation *user : op->getUsers()) {
    Operation *inBlock = block->findAncestorOpInBlock(*user);
    if (inBlock && (!first || inBlock->isBeforeInBlock(first)))
      first = inBlock;
  }
  return first ? first : block->getTerminator();
}

std::string mlir::sp::describeLocation(Location loc) {
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

void mlir::sp::callCPUSite(OpBuilder &b, Operation *op) {
  auto module = op->getParentOfType<ModuleOp>();
  if (!module || !module.lookupSymbol(kCPUSiteFunctionName))
    return;
  std::string text = describeLocation(op->getLoc());
  MLIRContext *context = module.getContext();
  auto type = MemRefType::get({int64_t(text.size())},
                              IntegerType::get(context, 8));
  auto value = DenseElementsAttr::get(
      RankedTensorType::get(type.getShape(), type.getElementType()),
      llvm::ArrayRef<int8_t>(reinterpret_cast<const int8_t *>(text.data()),
                             text.size()));
  // One global per distinct text.
  memref::GlobalOp global;
  int next = 0;
  for (auto candidate : module.getOps<memref::GlobalOp>()) {
    if (!candidate.getSymName().starts_with("__sp_site_"))
      continue;
    ++next;
    if (candidate.getType() == type && candidate.getConstantInitValue() == value) {
      global = candidate;
      break;
    }
  }
  if (!global) {
    std::string name;
    for (; name.empty() || module.lookupSymbol(name); ++next)
      name = "__sp_site_" + std::to_string(next);
    OpBuilder mb = OpBuilder::atBlockBegin(module.getBody());
    global = memref::GlobalOp::create(mb, op->getLoc(), name,
                                      mb.getStringAttr("private"), type, value,
                                      /*constant=*/true,
                                      /*alignment=*/IntegerAttr());
  }
  Location loc = op->getLoc();
  Value words =
      memref::GetGlobalOp::create(b, loc, global.getType(), global.getSymName());
  Value site = memref::CastOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, type.getElementType()),
      words);
  func::CallOp::create(b, loc, kCPUSiteFunctionName, TypeRange{}, site);
}

void mlir::sp::declareRuntimeFunction(ModuleOp module, StringRef name,
                                      FunctionType type, bool cInterface) {
  if (module.lookupSymbol(name))
    return;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto func = func::FuncOp::create(b, module.getLoc(), name, type);
  func.setPrivate();
  if (cInterface)
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
}

void mlir::sp::dropReplicatedArgAttrs(ModuleOp module) {
  module.walk([](FunctionOpInterface function) {
    for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i) {
      function.removeArgAttr(i, SPDialect::getReplicatedAttrName());
      function.removeArgAttr(i, SPDialect::getReplicatedAxesAttrName());
    }
  });
}

SmallVector<Value> mlir::sp::getCollectiveResultDynamicSizes(
    OpBuilder &b, Location loc, CollectiveOpInterface collective,
    Value source) {
  auto resultType = cast<ShapedType>(collective->getResult(0).getType());
  int64_t size = *collective.getGroupSize();
  std::optional<int64_t> dim = collective.getCollectiveDim();
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < resultType.getRank(); ++i) {
    if (!resultType.isDynamicDim(i))
      continue;
    Value extent =
        isa<MemRefType>(source.getType())
            ? memref::DimOp::create(b, loc, source, i).getResult()
            : tensor::DimOp::create(b, loc, source, i).getResult();
    if (dim == i) {
      Value n = arith::ConstantIndexOp::create(b, loc, size);
      extent = collective.splitsAlongDim()
                   ? arith::DivUIOp::create(b, loc, extent, n).getResult()
                   : arith::MulIOp::create(b, loc, extent, n).getResult();
    }
    dynamic.push_back(extent);
  }
  return dynamic;
}

void mlir::sp::lowerAllSliceAtRank(AllSliceOp slice, Value groupIndex) {
  OpBuilder b(slice);
  Location loc = slice.getLoc();
  int64_t dim = slice.getDim();
  int64_t size = *CollectiveOpInterface(slice).getGroupSize();
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
  Value offset = arith::MulIOp::create(b, loc, groupIndex, chunkValue);
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
