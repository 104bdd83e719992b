//===- sp-run.cpp - run sp modules on N ranks and compare rewrites --------===//
//
//   sp-run model.mlir --ranks=4 [--entry=forward] [--seed=0]
//          [--inputs=DIR] [--outputs=DIR] [--compare=PIPELINE] [--print]
//
// With --ranks > 1, sp-run starts itself under mpirun (one process per rank)
// and every rank then parses the module, lowers it with sp-lower-to-cpu
// (--backend=cpu) or sp-lower-to-cuda (--backend=cuda: the host code is
// JIT-compiled, the sp ops call libsp_cuda_runtime.so, i.e. NCCL and sp's
// kernels on rank % #GPUs), JIT compiles it and calls the entry function on
// its own inputs. With
// --compare=PIPELINE each rank runs the module as given and after PIPELINE on
// the same inputs, and sp-run reports every output that differs (bitwise)
// and exits with 1.
//
//===----------------------------------------------------------------------===//

#include "CompiledABI.h"
#include "HostTensor.h"

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Registration/Registration.h"
#include "sp/Runtime/CPURuntime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>

using namespace mlir;
using namespace sp_run;
namespace cl = llvm::cl;

namespace mlir::sp::test {
void registerSPTestPasses();
} // namespace mlir::sp::test

static cl::OptionCategory category("sp-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::opt<int> numRanks("ranks", cl::desc("Number of ranks (processes)"),
                             cl::init(1), cl::cat(category));
static cl::opt<std::string>
    backend("backend",
            cl::desc("cpu (sp-lower-to-cpu, MPI collectives) or cuda "
                     "(sp-lower-to-cuda: NCCL collectives, sp's CUDA kernels)"),
            cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> cudaRuntime(
    "cuda-runtime",
    cl::desc("The runtime library --backend=cuda calls (default: "
             "libsp_cuda_runtime.so beside sp-run's lib/; "
             "libsp_cuda_runtime_emulated.so runs the same code on the CPU)"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string>
    entryName("entry", cl::desc("Function to run (default: the only public "
                                "function with a body)"),
              cl::init(""), cl::cat(category));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the generated inputs"),
                              cl::init(0), cl::cat(category));
static cl::opt<std::string> inputsDir(
    "inputs",
    cl::desc("Directory of .npy inputs: rankR/argI.npy or argI.npy (same on "
             "every rank); arguments without a file are generated"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string>
    outputsDir("outputs",
               cl::desc("Write outputs to DIR/rankR/outputK.npy (with "
                        "--compare: before_outputK.npy and after_outputK.npy)"),
               cl::init(""), cl::cat(category));
static cl::opt<std::string> comparePipeline(
    "compare",
    cl::desc("Run the module before and after this pass pipeline on the same "
             "inputs and compare every output bitwise"),
    cl::init(""), cl::cat(category));
static cl::opt<bool> printValues("print",
                                 cl::desc("Print every output's values, rank "
                                          "by rank"),
                                 cl::init(false), cl::cat(category));
static cl::opt<int> timeoutSeconds(
    "timeout", cl::desc("Abort the job after this many seconds (0: never)"),
    cl::init(600), cl::cat(category));
static cl::opt<int> repeat(
    "repeat",
    cl::desc("Call the entry function N more times and report the median "
             "wall time per call of the slowest rank"),
    cl::init(0), cl::cat(category));
static cl::opt<bool> isWorker("sp-run-worker", cl::Hidden, cl::init(false));

namespace {
/// Rank-0-only printing; errors end the process on every rank the same way
/// when they are the same on every rank (finalize), and abort the job when
/// only this rank knows (so the others do not wait in a collective).
struct Job {
  int rank = 0;
  int size = 1;
  bool leader() const { return rank == 0; }

  // Messages go out in one write each: mpirun interleaves the ranks'
  // output at write boundaries.
  [[noreturn]] void failEverywhere(const llvm::Twine &message) const {
    if (leader())
      llvm::errs() << ("sp-run: error: " + message + "\n").str();
    MPI_Finalize();
    std::exit(1);
  }
  [[noreturn]] void failHere(const llvm::Twine &message) const {
    llvm::errs() << ("sp-run: error (rank " + llvm::Twine(rank) +
                     "): " + message + "\n")
                        .str();
    llvm::errs().flush();
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::exit(1);
  }
};

/// The arguments and results of the entry function.
struct Signature {
  std::string name;
  SmallVector<RankedTensorType> args;
  SmallVector<bool> replicated;
  SmallVector<RankedTensorType> results;
};
} // namespace

static std::string describe(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

static Signature inspect(ModuleOp module, const Job &job) {
  SmallVector<func::FuncOp> candidates;
  func::FuncOp entry;
  module.walk([&](func::FuncOp func) {
    if (func.isExternal())
      return;
    if (!entryName.empty() ? func.getSymName() == entryName.getValue()
                           : func.isPublic())
      candidates.push_back(func);
  });
  if (candidates.size() != 1) {
    std::string names;
    module.walk([&](func::FuncOp f) {
      if (!f.isExternal())
        names += " @" + f.getSymName().str();
    });
    if (!entryName.empty())
      job.failEverywhere("no function @" + entryName + " with a body in '" +
                         inputFile + "' (functions:" + names + ")");
    job.failEverywhere("'" + inputFile + "' has " +
                       std::to_string(candidates.size()) +
                       " public functions with a body; name one with "
                       "--entry (functions:" +
                       names + ")");
  }
  entry = candidates.front();
  Signature sig;
  sig.name = entry.getSymName().str();
  for (auto [i, type] : llvm::enumerate(entry.getArgumentTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !elementBytes(tensor.getElementType()))
      job.failEverywhere("argument #" + std::to_string(i) + " of @" +
                         sig.name + " has type " + describe(type) +
                         "; sp-run passes ranked tensors of f32, f64, f16, "
                         "bf16, f8E4M3FN(UZ) or i8..i64");
    sig.args.push_back(tensor);
    sig.replicated.push_back(
        static_cast<bool>(entry.getArgAttr(i, sp::SPDialect::getReplicatedAttrName())));
  }
  for (auto [i, type] : llvm::enumerate(entry.getResultTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !elementBytes(tensor.getElementType()))
      job.failEverywhere("result #" + std::to_string(i) + " of @" + sig.name +
                         " has type " + describe(type) +
                         "; sp-run returns ranked tensors only");
    sig.results.push_back(tensor);
  }
  // Every group must span exactly the ranks of the job.
  module.walk([&](sp::GroupOp group) {
    int64_t size = group.getSizeAttr().getInt();
    if (size != job.size) {
      std::string loc;
      llvm::raw_string_ostream os(loc);
      os << group.getLoc();
      job.failEverywhere("group @" + group.getSymName() + " (" + loc +
                         ") has " + std::to_string(size) +
                         " ranks, but sp-run runs " + std::to_string(job.size) +
                         " (--ranks=" + std::to_string(job.size) + ")");
    }
  });
  return sig;
}

static SmallVector<HostTensor> makeInputs(const Signature &sig, const Job &job) {
  SmallVector<HostTensor> inputs;
  for (auto [i, type] : llvm::enumerate(sig.args)) {
    HostTensor t;
    t.elementType = type.getElementType();
    std::string file;
    if (!inputsDir.empty()) {
      SmallString<256> perRank(inputsDir), shared(inputsDir);
      llvm::sys::path::append(perRank, "rank" + std::to_string(job.rank),
                              "arg" + std::to_string(i) + ".npy");
      llvm::sys::path::append(shared, "arg" + std::to_string(i) + ".npy");
      if (llvm::sys::fs::exists(perRank))
        file = perRank.str().str();
      else if (llvm::sys::fs::exists(shared))
        file = shared.str().str();
    }
    if (!file.empty()) {
      if (llvm::Error error = readNpy(file, t))
        job.failHere("argument #" + std::to_string(i) + ": " +
                     llvm::toString(std::move(error)));
      bool matches = static_cast<int64_t>(t.shape.size()) == type.getRank();
      for (int64_t d = 0; matches && d < type.getRank(); ++d)
        matches = type.isDynamicDim(d) || type.getDimSize(d) == t.shape[d];
      if (!matches)
        job.failHere("argument #" + std::to_string(i) + " has type " +
                     describe(type) + ", but '" + file + "' holds " +
                     t.typeString());
    } else {
      if (!type.hasStaticShape())
        job.failEverywhere("argument #" + std::to_string(i) + " has type " +
                           describe(type) +
                           " with a dynamic size; give it as --inputs=DIR "
                           "with arg" +
                           std::to_string(i) + ".npy");
      t.shape.assign(type.getShape().begin(), type.getShape().end());
      // Replicated arguments get the same values on every rank.
      uint64_t stream = sig.replicated[i] ? 0 : job.rank + 1;
      fillSeeded(t, seed * 1000003ull + i * 7919ull + stream * 104729ull);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

/// The symbol table and error hook of the CUDA runtime (CompiledABI.h),
/// resolved with dlsym from the library --backend=cuda loads.
namespace {
using CudaSymbolsFn = decltype(&sp_cuda_rt_symbols);
using CudaErrorHandlerFn = decltype(&sp_cuda_rt_set_error_handler);
CudaSymbolsFn cudaSymbols = nullptr;
void (*cudaFinalize)() = nullptr; // optional: destroys the communicator
} // namespace

/// A failing runtime call on this rank ends the whole job.
static void onCudaRuntimeError(const char *message) {
  llvm::errs() << message;
  llvm::errs().flush();
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

static std::string defaultCudaRuntime(const char *argv0) {
  std::string self = llvm::sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&defaultCudaRuntime));
  SmallString<256> path(llvm::sys::path::parent_path(
      llvm::sys::path::parent_path(self)));
  llvm::sys::path::append(path, "lib", "libsp_cuda_runtime.so");
  return std::string(path);
}

/// Loads the CUDA runtime library (once) and installs the error handler.
static void loadCudaRuntime(const std::string &path, const Job &job) {
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    job.failEverywhere("--backend=cuda cannot load the CUDA runtime '" + path +
                       "': " + dlerror() +
                       " (this build has it only when a CUDA toolkit was "
                       "found; see docs/GPU.md)");
  cudaSymbols =
      reinterpret_cast<CudaSymbolsFn>(dlsym(handle, "sp_cuda_rt_symbols"));
  auto setHandler = reinterpret_cast<CudaErrorHandlerFn>(
      dlsym(handle, "sp_cuda_rt_set_error_handler"));
  if (!cudaSymbols || !setHandler)
    job.failEverywhere("'" + path + "' is not an sp CUDA runtime (it lacks "
                       "sp_cuda_rt_symbols)");
  setHandler(&onCudaRuntimeError);
  cudaFinalize =
      reinterpret_cast<void (*)()>(dlsym(handle, "sp_cuda_rt_finalize"));
}

namespace {
/// A compiled module ready to run.
struct Compiled {
  std::unique_ptr<ExecutionEngine> engine;
};
} // namespace

static Compiled compile(ModuleOp source, const Signature &sig,
                        StringRef pipeline, const Job &job) {
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(source->clone()));
  MLIRContext *context = module->getContext();
  if (!pipeline.empty()) {
    PassManager pm(context);
    std::string errors;
    llvm::raw_string_ostream errorStream(errors);
    // Accept both "a,b" and "builtin.module(a,b)".
    StringRef passes = pipeline;
    if (passes.consume_front("builtin.module(") && !passes.consume_back(")"))
      job.failEverywhere("unbalanced parentheses in '" + pipeline + "'");
    LogicalResult parsed = parsePassPipeline(passes, pm, errorStream);
    if (failed(parsed))
      job.failEverywhere("cannot parse --compare pipeline '" + pipeline +
                         "': " + errors);
    if (failed(pm.run(*module)))
      job.failEverywhere("the pipeline '" + pipeline + "' failed on '" +
                         inputFile + "'");
  }
  auto entry = module->lookupSymbol<func::FuncOp>(sig.name);
  if (!entry)
    job.failEverywhere("the pipeline removed @" + sig.name);
  entry->setAttr("llvm.emit_c_interface", UnitAttr::get(context));
  PassManager lower(context);
  bool cuda = backend == "cuda";
  if (cuda)
    sp::buildLowerToCUDAPipeline(lower);
  else
    sp::buildLowerToCPUPipeline(lower);
  if (failed(lower.run(*module)))
    job.failEverywhere("lowering '" + inputFile + "' with " +
                       (cuda ? "sp-lower-to-cuda" : "sp-lower-to-cpu") +
                       " failed (see the errors above)");

  ExecutionEngineOptions options;
  auto transformer = makeOptimizingTransformer(/*optLevel=*/2, 0, nullptr);
  options.transformer = transformer;
  auto engine = ExecutionEngine::create(*module, options);
  if (!engine)
    job.failEverywhere("JIT compilation failed: " +
                       llvm::toString(engine.takeError()));
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    // Both runtimes' tables are {name, address} arrays.
    auto add = [&](const auto *table, size_t count) {
      for (size_t i = 0; i < count; ++i)
        symbols[interner(table[i].name)] = {
            llvm::orc::ExecutorAddr::fromPtr(table[i].address),
            llvm::JITSymbolFlags::Exported};
    };
    size_t count = 0;
    const SPRuntimeSymbol *table = sp_rt_symbols(&count);
    add(table, count);
    if (cudaSymbols) {
      const SPCudaRuntimeSymbol *cudaTable = cudaSymbols(&count);
      add(cudaTable, count);
    }
    return symbols;
  });
  (*engine)->initialize();
  return {std::move(*engine)};
}

/// Calls the entry function: memref descriptors in, descriptors out.
static SmallVector<HostTensor> run(Compiled &compiled, const Signature &sig,
                                   SmallVector<HostTensor> inputs,
                                   const Job &job) {
  // {allocated, aligned, offset, sizes..., strides...} per argument.
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> descriptorPointers;
  for (HostTensor &t : inputs) {
    std::vector<int64_t> d;
    int64_t data = reinterpret_cast<int64_t>(t.bytes.data());
    d.push_back(data);
    d.push_back(data);
    d.push_back(0);
    d.insert(d.end(), t.shape.begin(), t.shape.end());
    std::vector<int64_t> strides(t.shape.size(), 1);
    for (int64_t i = static_cast<int64_t>(t.shape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * t.shape[i + 1];
    d.insert(d.end(), strides.begin(), strides.end());
    descriptors.push_back(std::move(d));
  }
  for (auto &d : descriptors)
    descriptorPointers.push_back(d.data());

  size_t resultWords = 0;
  for (RankedTensorType r : sig.results)
    resultWords += 3 + 2 * r.getRank();
  std::vector<int64_t> resultBuffer(std::max<size_t>(resultWords, 1));
  void *resultPointer = resultBuffer.data();

  SmallVector<void *> packed;
  if (!sig.results.empty())
    packed.push_back(&resultPointer);
  for (void *&p : descriptorPointers)
    packed.push_back(&p);
  if (llvm::Error error =
          compiled.engine->invokePacked("_mlir_ciface_" + sig.name, packed))
    job.failHere("calling @" + sig.name + " failed: " +
                 llvm::toString(std::move(error)));

  SmallVector<HostTensor> outputs;
  size_t at = 0;
  for (RankedTensorType r : sig.results) {
    HostTensor t;
    t.elementType = r.getElementType();
    int64_t rank = r.getRank();
    const char *aligned = reinterpret_cast<const char *>(resultBuffer[at + 1]);
    int64_t offset = resultBuffer[at + 2];
    t.shape.assign(&resultBuffer[at + 3], &resultBuffer[at + 3 + rank]);
    const int64_t *strides = &resultBuffer[at + 3 + rank];
    size_t width = t.elementBytes();
    int64_t n = t.numElements();
    t.bytes.resize(n * width);
    // Copy honoring strides (results may be views).
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t element = offset;
      for (int64_t d = 0; d < rank; ++d)
        element += index[d] * strides[d];
      std::memcpy(&t.bytes[i * width], aligned + element * width, width);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < t.shape[d])
          break;
        index[d] = 0;
      }
    }
    outputs.push_back(std::move(t));
    at += 3 + 2 * rank;
  }
  // Result buffers come from malloc in the compiled code and belong to the
  // caller, except an argument returned as is, or a global (MLIR marks
  // those with the allocated pointer 0xdeadbeef). Free each one once.
  llvm::SmallPtrSet<void *, 8> freed;
  for (HostTensor &t : inputs)
    freed.insert(t.bytes.data());
  freed.insert(reinterpret_cast<void *>(0xdeadbeef));
  freed.insert(nullptr);
  at = 0;
  for (RankedTensorType r : sig.results) {
    void *allocated = reinterpret_cast<void *>(resultBuffer[at]);
    if (freed.insert(allocated).second)
      std::free(allocated);
    at += 3 + 2 * r.getRank();
  }
  return outputs;
}

/// Median wall time per call (seconds) of the slowest rank over `repeat`
/// calls; every call starts together (barrier).
static double timeCalls(Compiled &compiled, const Signature &sig,
                        const SmallVector<HostTensor> &inputs, const Job &job) {
  std::vector<double> slowest;
  for (int i = 0; i < repeat; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = std::chrono::steady_clock::now();
    (void)run(compiled, sig, inputs, job);
    double mine = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    double worst = 0;
    MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    slowest.push_back(worst);
  }
  std::sort(slowest.begin(), slowest.end());
  return slowest[slowest.size() / 2];
}

static void writeOutputs(ArrayRef<HostTensor> outputs, StringRef prefix,
                         const Job &job) {
  if (outputsDir.empty())
    return;
  SmallString<256> dir(outputsDir);
  llvm::sys::path::append(dir, "rank" + std::to_string(job.rank));
  if (std::error_code error = llvm::sys::fs::create_directories(dir))
    job.failHere("cannot create '" + dir.str() + "': " + error.message());
  for (auto [k, t] : llvm::enumerate(outputs)) {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, prefix.str() + "output" + std::to_string(k) +
                                      ".npy");
    if (llvm::Error error = writeNpy(path.str().str(), t))
      job.failHere(llvm::toString(std::move(error)));
  }
}

/// FNV-1a of the bytes: a short fingerprint to show that ranks agree.
static uint64_t fingerprint(const HostTensor &t) {
  uint64_t h = 1469598103934665603ull;
  for (char c : t.bytes)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

static void printOutputs(ArrayRef<HostTensor> outputs, const Job &job) {
  for (auto [k, t] : llvm::enumerate(outputs)) {
    uint64_t mine = fingerprint(t);
    std::vector<uint64_t> all(job.size);
    MPI_Gather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0,
               MPI_COMM_WORLD);
    if (job.leader()) {
      llvm::outs() << "output " << k << ": " << t.typeString() << "\n";
      for (int r = 0; r < job.size; ++r)
        llvm::outs() << "  rank " << r << ": fnv1a "
                     << llvm::format_hex(all[r], 18) << "\n";
    }
    if (!printValues)
      continue;
    // Gather every rank's values on rank 0 (same size on every rank).
    std::vector<char> gathered(job.leader() ? t.bytes.size() * job.size : 0);
    MPI_Gather(t.bytes.data(), static_cast<int>(t.bytes.size()), MPI_BYTE,
               gathered.data(), static_cast<int>(t.bytes.size()), MPI_BYTE, 0,
               MPI_COMM_WORLD);
    if (!job.leader())
      continue;
    HostTensor view = t;
    for (int r = 0; r < job.size; ++r) {
      std::memcpy(view.bytes.data(), gathered.data() + r * t.bytes.size(),
                  t.bytes.size());
      llvm::outs() << "  rank " << r << " values:";
      for (int64_t i = 0; i < view.numElements(); ++i)
        llvm::outs() << " " << llvm::format("%.9g", view.valueAt(i));
      llvm::outs() << "\n";
    }
  }
  llvm::outs().flush();
}

/// Compares before/after outputs on every rank; returns true if all agree.
static bool compareOutputs(ArrayRef<HostTensor> before,
                           ArrayRef<HostTensor> after, const Job &job) {
  bool allEqual = true;
  if (job.leader())
    llvm::outs() << "sp-run: comparing '" << inputFile << "' before and after '"
                 << comparePipeline << "' on " << job.size << " rank"
                 << (job.size == 1 ? "" : "s") << " (bitwise)\n";
  if (before.size() != after.size()) {
    if (job.leader())
      llvm::outs() << "  the pipeline changed the number of outputs from "
                   << before.size() << " to " << after.size() << "\n";
    return false;
  }
  for (size_t k = 0; k < before.size(); ++k) {
    const HostTensor &a = before[k], &b = after[k];
    int64_t differing = 0;
    double maxDiff = 0.0;
    bool sameType = a.elementType == b.elementType && a.shape == b.shape;
    if (sameType) {
      size_t width = a.elementBytes();
      for (int64_t i = 0; i < a.numElements(); ++i) {
        if (std::memcmp(&a.bytes[i * width], &b.bytes[i * width], width) == 0)
          continue;
        ++differing;
        double d = std::fabs(a.valueAt(i) - b.valueAt(i));
        maxDiff = std::isnan(d) ? INFINITY : std::max(maxDiff, d);
      }
    }
    int64_t totals[2] = {differing, sameType ? 0 : 1};
    int64_t sums[2];
    double maxAll;
    MPI_Reduce(totals, sums, 2, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&maxDiff, &maxAll, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    int64_t ranksDiffering = differing ? 1 : 0, ranksWithDiff = 0;
    MPI_Reduce(&ranksDiffering, &ranksWithDiff, 1, MPI_INT64_T, MPI_SUM, 0,
               MPI_COMM_WORLD);
    if (!job.leader())
      continue;
    if (sums[1]) {
      llvm::outs() << "  output " << k << ": type changed from "
                   << a.typeString() << " to " << b.typeString() << "\n";
      allEqual = false;
    } else if (sums[0]) {
      llvm::outs() << "  output " << k << ": " << a.typeString() << ": DIFFERS: "
                   << sums[0] << " of " << a.numElements() * job.size
                   << " elements on " << ranksWithDiff << " of " << job.size
                   << " ranks, max |before - after| = "
                   << llvm::format("%g", maxAll) << "\n";
      allEqual = false;
    } else {
      llvm::outs() << "  output " << k << ": " << a.typeString()
                   << ": identical on all ranks\n";
    }
  }
  int flag = allEqual ? 1 : 0;
  MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (job.leader())
    llvm::outs() << (flag ? "sp-run: outputs match\n"
                          : "sp-run: outputs DIFFER\n");
  llvm::outs().flush();
  return flag;
}

/// Re-runs this program under mpirun with one process per rank.
static int launch(int argc, char **argv) {
  auto mpirun = llvm::sys::findProgramByName("mpirun");
  if (!mpirun) {
    llvm::errs() << "sp-run: error: --ranks=" << numRanks
                 << " needs mpirun (install openmpi-bin), which is not on "
                    "PATH\n";
    return 1;
  }
  std::string self = llvm::sys::fs::getMainExecutable(
      argv[0], reinterpret_cast<void *>(&launch));
  std::vector<std::string> args{*mpirun, "-np", std::to_string(numRanks),
                                "--oversubscribe", "--bind-to", "none"};
  if (geteuid() == 0)
    args.push_back("--allow-run-as-root");
  if (timeoutSeconds > 0) {
    args.push_back("--timeout");
    args.push_back(std::to_string(timeoutSeconds));
  }
  args.push_back(self);
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back("--sp-run-worker");
  std::vector<llvm::StringRef> refs(args.begin(), args.end());
  // Rank 0 reports a comparison mismatch through this file, so that the
  // workers can end normally (mpirun prints pages for a non-zero exit).
  SmallString<128> statusFile;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("sp-run-status", "txt", statusFile)) {
    llvm::errs() << "sp-run: error: cannot create a temporary file: "
                 << ec.message() << "\n";
    return 1;
  }
  setenv("SP_RUN_STATUS_FILE", statusFile.c_str(), 1);
  // A fresh file for the NCCL id exchange (empty until rank 0 writes the
  // id): a stale id from another job cannot be picked up.
  SmallString<128> ncclIdFile;
  if (backend == "cuda" && !getenv("SP_NCCL_ID_FILE") &&
      !llvm::sys::fs::createTemporaryFile("sp-nccl-id", "bin", ncclIdFile))
    setenv("SP_NCCL_ID_FILE", ncclIdFile.c_str(), 1);
  // Shared-memory transport without cross-memory attach: works in
  // containers that forbid ptrace.
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  std::string error;
  int code = llvm::sys::ExecuteAndWait(*mpirun, refs, std::nullopt, {}, 0, 0,
                                       &error);
  auto status = llvm::MemoryBuffer::getFile(statusFile);
  bool mismatch = status && (*status)->getBuffer().starts_with("mismatch");
  llvm::sys::fs::remove(statusFile);
  if (!ncclIdFile.empty())
    llvm::sys::fs::remove(ncclIdFile);
  if (code < 0) {
    llvm::errs() << "sp-run: error: cannot run mpirun: " << error << "\n";
    return 1;
  }
  if (code != 0) {
    llvm::errs() << "sp-run: error: the rank processes failed (mpirun exit "
                    "code "
                 << code << ")\n";
    return 1;
  }
  return mismatch ? 1 : 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sp-run: run an sp module on N ranks (MPI processes + JIT; "
      "collectives over MPI or NCCL)\n");

  if (backend != "cpu" && backend != "cuda") {
    llvm::errs() << "sp-run: error: unknown --backend=" << backend
                 << " (cpu or cuda)\n";
    return 1;
  }
  if (numRanks < 1) {
    llvm::errs() << "sp-run: error: --ranks must be >= 1\n";
    return 1;
  }
  if (repeat < 0) {
    llvm::errs() << "sp-run: error: --repeat must be >= 0\n";
    return 1;
  }
  bool underMPI = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
  if (numRanks > 1 && !isWorker && !underMPI)
    return launch(argc, argv);

  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    llvm::errs() << "sp-run: error: MPI_Init failed\n";
    return 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Job job;
  MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &job.size);
  if (job.size != numRanks)
    job.failEverywhere("started with " + std::to_string(job.size) +
                       " MPI processes but --ranks=" +
                       std::to_string(numRanks));
  if (backend == "cuda")
    loadCudaRuntime(cudaRuntime.empty() ? defaultCudaRuntime(argv[0])
                                        : std::string(cudaRuntime),
                    job);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  sp::registerAllSP(registry);
  registerAllPasses();
  sp::test::registerSPTestPasses();
  MLIRContext context(registry);

  // Diagnostics: rank 0 prints them; the others stay quiet (same program).
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<SourceMgrDiagnosticHandler> printer;
  std::unique_ptr<ScopedDiagnosticHandler> silencer;
  if (job.leader())
    printer = std::make_unique<SourceMgrDiagnosticHandler>(sourceMgr, &context);
  else
    silencer = std::make_unique<ScopedDiagnosticHandler>(
        &context, [](Diagnostic &) { return success(); });

  std::string error;
  auto file = openInputFile(inputFile, &error);
  if (!file)
    job.failEverywhere(error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    job.failEverywhere("cannot parse '" + inputFile + "'");

  Signature sig = inspect(*module, job);
  SmallVector<HostTensor> inputs = makeInputs(sig, job);

  Compiled original = compile(*module, sig, "", job);
  SmallVector<HostTensor> outputs = run(original, sig, inputs, job);
  int status = 0;
  auto reportTime = [&](const char *what, double seconds) {
    if (job.leader())
      llvm::outs() << "sp-run: " << what << "time per call: "
                   << llvm::format("%.3f", seconds * 1e3)
                   << " ms (median of " << repeat << ", slowest rank)\n";
  };
  if (comparePipeline.empty()) {
    writeOutputs(outputs, "", job);
    printOutputs(outputs, job);
    if (repeat > 0)
      reportTime("", timeCalls(original, sig, inputs, job));
  } else {
    Compiled rewritten = compile(*module, sig, comparePipeline, job);
    SmallVector<HostTensor> after = run(rewritten, sig, inputs, job);
    writeOutputs(outputs, "before_", job);
    writeOutputs(after, "after_", job);
    status = compareOutputs(outputs, after, job) ? 0 : 1;
    if (repeat > 0) {
      reportTime("before: ", timeCalls(original, sig, inputs, job));
      reportTime("after:  ", timeCalls(rewritten, sig, inputs, job));
    }
  }
  if (cudaFinalize)
    cudaFinalize();
  MPI_Finalize();
  // Under the launcher, a mismatch is reported through the status file.
  if (const char *statusFile = getenv("SP_RUN_STATUS_FILE")) {
    if (status != 0 && job.leader()) {
      std::error_code ec;
      llvm::raw_fd_ostream os(statusFile, ec);
      os << "mismatch\n";
    }
    return 0;
  }
  return status;
}
