//===- sp-run.cpp - run sp modules on N ranks and compare rewrites --------===//
//
//   sp-run model.mlir --ranks=4 [--entry=forward] [--seed=0]
//          [--inputs=DIR] [--outputs=DIR] [--compare=PIPELINE] [--print]
//          [--backend=cpu|cuda] [--repeat=N] [--report=FILE]
//
// With --ranks > 1, sp-run starts itself under mpirun (Launcher.cpp); every
// rank parses the module, lowers and JIT-compiles it (Module.cpp), calls the
// entry function on its own inputs (Invoke.cpp) and rank 0 prints,
// compares and reports (Report.cpp). With --compare=PIPELINE each rank runs
// the module as given and after PIPELINE on the same inputs; any output
// that differs in any bit makes sp-run exit with 1.
//
//===----------------------------------------------------------------------===//

#include "HostTensor.h"
#include "Invoke.h"
#include "Job.h"
#include "Launcher.h"
#include "Module.h"
#include "Report.h"

#include "sp/Registration/Registration.h"
#include "sp/Support/NestingDepth.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <chrono>

using namespace mlir;
using namespace sp_run;
namespace cl = llvm::cl;

namespace mlir::sp::test {
void registerSPTestPasses();
} // namespace mlir::sp::test

static cl::OptionCategory category("sp-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::opt<int> numRanks("ranks",
                             cl::desc("Number of ranks (processes); under an "
                                      "mpirun or srun of your own: its number "
                                      "of processes, may be left out"),
                             cl::init(1), cl::cat(category));
static cl::opt<Backend>
    backend("backend",
            cl::desc("cpu (sp-lower-to-cpu, MPI collectives) or cuda "
                     "(sp-lower-to-cuda: NCCL collectives, sp's CUDA kernels)"),
            cl::init(Backend::cpu), cl::cat(category));
enum class CPUCodegenFlag { vector, vector256, vector128, scalar };
static cl::opt<CPUCodegenFlag> cpuCodegen(
    "cpu-codegen", cl::desc("sp-lower-to-cpu's codegen option"),
    cl::values(clEnumValN(CPUCodegenFlag::vector, "vector",
                          "tiled vector code at the host's width (default)"),
               clEnumValN(CPUCodegenFlag::vector256, "vector-256",
                          "tiled vector code, 256-bit vectors"),
               clEnumValN(CPUCodegenFlag::vector128, "vector-128",
                          "tiled vector code, 128-bit vectors"),
               clEnumValN(CPUCodegenFlag::scalar, "scalar",
                          "scalar loops, the reference the vector code "
                          "matches bit for bit")),
    cl::init(CPUCodegenFlag::vector), cl::cat(category));
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
static cl::list<std::string> shapeSpecs(
    "shape",
    cl::desc("Sizes of a generated argument with dynamic dims: ARG:DIMS, "
             "e.g. --shape=0:37x4096 (repeat or separate with commas)"),
    cl::value_desc("ARG:DIMS"), cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> tokenSweep(
    "tokens",
    cl::desc("Run once per token count, each argument's dynamic dim 0 "
             "taking it: a list of counts and ranges, e.g. 1-64,100,4096 "
             "(with --compare: every count compared bitwise)"),
    cl::value_desc("LIST"), cl::init(""), cl::cat(category));
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
static cl::opt<std::string> reportFile(
    "report",
    cl::desc("Write a JSON report to FILE: outputs (types, per-rank "
             "fingerprints, values with --print), per-rank timings, and the "
             "comparison with --compare"),
    cl::value_desc("FILE"), cl::init(""), cl::cat(category));
static cl::opt<std::string> mpirunArgs(
    "mpirun-args",
    cl::desc("Extra arguments for the mpirun that sp-run starts with "
             "--ranks > 1, split like a shell command line (e.g. "
             "--mpirun-args=\"-H node1:8,node2:8 --mca btl tcp,self\")"),
    cl::value_desc("ARGS"), cl::init(""), cl::cat(category));
static cl::opt<std::string> hostfile(
    "hostfile",
    cl::desc("Pass --hostfile FILE to the mpirun that sp-run starts. Under "
             "an mpirun or srun of your own (detected from its "
             "environment), sp-run runs as that rank and these two options "
             "are refused"),
    cl::value_desc("FILE"), cl::init(""), cl::cat(category));
static cl::opt<bool> isWorker("sp-run-worker", cl::Hidden, cl::init(false));

/// --shape=ARG:DIMS and --tokens=LIST into `options`; false after saying
/// what is wrong.
static bool parseShapeOptions(Options &options) {
  for (const std::string &spec : shapeSpecs) {
    auto [argText, dimsText] = llvm::StringRef(spec).split(':');
    unsigned arg;
    SmallVector<llvm::StringRef> dims;
    dimsText.split(dims, 'x');
    std::vector<int64_t> sizes;
    bool ok = !argText.getAsInteger(10, arg) && !dimsText.empty();
    for (llvm::StringRef dim : dims) {
      int64_t size;
      ok = ok && !dim.getAsInteger(10, size) && size >= 0;
      sizes.push_back(ok ? size : 0);
    }
    if (!ok || options.shapes.count(arg)) {
      llvm::errs() << "sp-run: error: --shape=" << spec
                   << (ok ? " repeats an argument"
                          : " is not ARG:DIMS (e.g. 0:37x4096)")
                   << "\n";
      return false;
    }
    options.shapes[arg] = std::move(sizes);
  }
  SmallVector<llvm::StringRef> items;
  llvm::StringRef(tokenSweep).split(items, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef item : items) {
    auto [loText, hiText] = item.trim().split('-');
    int64_t lo, hi;
    bool ok = !loText.getAsInteger(10, lo) && lo >= 1;
    hi = lo;
    if (ok && item.contains('-'))
      ok = !hiText.getAsInteger(10, hi) && hi >= lo && hi - lo < 1000000;
    if (!ok) {
      llvm::errs() << "sp-run: error: --tokens: '" << item
                   << "' is not a count >= 1 or a range LO-HI\n";
      return false;
    }
    for (int64_t n = lo; n <= hi; ++n)
      options.tokenCounts.push_back(n);
  }
  return true;
}

static Options collectOptions() {
  Options options;
  options.inputFile = inputFile;
  options.ranks = numRanks;
  options.backend = backend;
  options.scalarCPUCodegen = cpuCodegen == CPUCodegenFlag::scalar;
  options.cpuVectorBits = cpuCodegen == CPUCodegenFlag::vector256   ? 256
                          : cpuCodegen == CPUCodegenFlag::vector128 ? 128
                                                                    : 0;
  options.cudaRuntime = cudaRuntime;
  options.entry = entryName;
  options.seed = seed;
  options.inputsDir = inputsDir;
  options.outputsDir = outputsDir;
  options.comparePipeline = comparePipeline;
  options.printValues = printValues;
  options.timeoutSeconds = timeoutSeconds;
  options.repeat = repeat;
  options.reportFile = reportFile;
  options.mpirunArgs = mpirunArgs;
  options.hostfile = hostfile;
  return options;
}

/// Everything sp-run's modules and pipelines may use.
static void registerEverything(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  sp::registerAllSP(registry);
}

/// Before mpirun starts the ranks: false (after reporting it) when the
/// module's groups need another number of ranks than --ranks. A module that
/// does not parse is left to the ranks, which report why.
static bool groupsFitBeforeLaunch(const Options &options) {
  DialectRegistry registry;
  registerEverything(registry);
  MLIRContext context(registry);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(options.inputFile, &context);
  if (!module)
    return true;
  std::string error = checkGroupsFitJob(*module, options.ranks);
  if (error.empty())
    return true;
  llvm::errs() << "sp-run: error: " << error << "\n";
  return false;
}

/// Each rank's wall time of one call, gathered on rank 0.
static std::vector<double> gatherSeconds(double seconds, const Job &job) {
  std::vector<double> all(job.leader() ? job.size : 0);
  MPI_Gather(&seconds, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, 0,
             MPI_COMM_WORLD);
  return all;
}

/// --tokens: compile once (twice with --compare), then run every token
/// count on fresh inputs; one line per count, a summary, and exit status 1
/// if any count differs bitwise.
static int runTokenSweep(ModuleOp module, const Signature &sig,
                         const Options &options, const Job &job) {
  CompiledModule original = compileModule(module, sig, "", options, job);
  std::optional<CompiledModule> rewritten;
  if (!options.comparePipeline.empty())
    rewritten.emplace(
        compileModule(module, sig, options.comparePipeline, options, job));
  int64_t equal = 0;
  for (int64_t n : options.tokenCounts) {
    SmallVector<HostTensor> inputs = makeInputs(sig, options, job, n);
    SmallVector<HostTensor> before = invokeEntry(original, sig, inputs, job);
    if (!rewritten) {
      std::vector<OutputSummary> summary =
          summarizeOutputs(before, /*withValues=*/false, job);
      if (job.leader()) {
        llvm::outs() << "tokens " << n << ":";
        for (const OutputSummary &output : summary)
          llvm::outs() << " " << output.type;
        llvm::outs() << "\n";
      }
      continue;
    }
    SmallVector<HostTensor> after = invokeEntry(*rewritten, sig, inputs, job);
    Comparison comparison =
        compareOutputs(before, after, options.comparePipeline, job);
    equal += comparison.match;
    if (job.leader()) {
      llvm::outs() << "tokens " << n << ": "
                   << (comparison.match ? "bitwise equal" : "DIFFERENT")
                   << "\n";
      if (!comparison.match)
        printComparison(comparison, options, job);
      llvm::outs().flush(); // in order with the runtime's trace (stderr)
    }
  }
  if (job.leader() && rewritten)
    llvm::outs() << "sweep: " << equal << " of " << options.tokenCounts.size()
                 << " token counts bitwise equal before and after '"
                 << options.comparePipeline << "'\n";
  llvm::outs().flush();
  return rewritten && equal != int64_t(options.tokenCounts.size()) ? 1 : 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sp-run: run an sp module on N ranks (MPI processes + JIT; "
      "collectives over MPI or NCCL)\n");
  Options options = collectOptions();
  // Input nested too deep for MLIR's parser: a located error, not a crash.
  if (sp::refuseExcessiveNesting(options.inputFile))
    return 1;

  if (options.ranks < 1) {
    llvm::errs() << "sp-run: error: --ranks must be >= 1\n";
    return 1;
  }
  if (options.repeat < 0) {
    llvm::errs() << "sp-run: error: --repeat must be >= 0\n";
    return 1;
  }
  if (!parseShapeOptions(options))
    return 1;
  if (!options.tokenCounts.empty() &&
      (options.repeat || options.printValues || !options.outputsDir.empty() ||
       !options.reportFile.empty())) {
    llvm::errs() << "sp-run: error: --tokens runs a sweep and prints one line "
                    "per count; it does not combine with --repeat, --print, "
                    "--outputs or --report\n";
    return 1;
  }
  // Under an mpirun or srun of the user's (not the one sp-run starts, whose
  // ranks get --sp-run-worker), this process is one rank of that job.
  std::optional<ExternalLauncher> external;
  if (!isWorker)
    external = detectExternalLauncher();
  if (options.ranks > 1 && !isWorker && !external)
    return groupsFitBeforeLaunch(options) ? launchRanks(options, argc, argv)
                                          : 1;

  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    llvm::errs() << "sp-run: error: MPI_Init failed\n";
    return 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Job job;
  MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &job.size);
  if (external) {
    std::string error = checkExternalJob(
        *external, options, numRanks.getNumOccurrences() > 0, job.size);
    if (!error.empty())
      job.failEverywhere(error);
    options.ranks = job.size;
    startTimeoutWatchdog(options, job, *external);
  }
  if (job.size != options.ranks)
    job.failEverywhere("started with " + std::to_string(job.size) +
                       " MPI processes but --ranks=" +
                       std::to_string(options.ranks));
  if (options.backend == Backend::cuda)
    loadCudaRuntime(options, argv[0], job);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerEverything(registry);
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
  auto file = openInputFile(options.inputFile, &error);
  if (!file)
    job.failEverywhere(error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    job.failEverywhere("cannot parse '" + options.inputFile + "'");

  Signature sig = inspectModule(*module, options, job);
  if (!options.tokenCounts.empty()) {
    int status = runTokenSweep(*module, sig, options, job);
    finalizeCudaRuntime();
    MPI_Finalize();
    return finishRank(job, status);
  }
  SmallVector<HostTensor> inputs = makeInputs(sig, options, job);

  RunReport report;
  report.entry = sig.name;
  CompiledModule original = compileModule(*module, sig, "", options, job);
  auto start = std::chrono::steady_clock::now();
  SmallVector<HostTensor> outputs = invokeEntry(original, sig, inputs, job);
  report.firstCallSeconds = gatherSeconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count(),
      job);
  bool withValues = options.printValues;
  int status = 0;
  if (options.comparePipeline.empty()) {
    writeOutputs(outputs, "", options, job);
    report.outputs = summarizeOutputs(outputs, withValues, job);
    printOutputs(report.outputs, withValues, job);
    if (options.repeat > 0) {
      report.timesBefore =
          timeCalls(original, sig, inputs, options.repeat, job);
      printTime("", *report.timesBefore, options.repeat, job);
    }
  } else {
    CompiledModule rewritten =
        compileModule(*module, sig, options.comparePipeline, options, job);
    SmallVector<HostTensor> after = invokeEntry(rewritten, sig, inputs, job);
    writeOutputs(outputs, "before_", options, job);
    writeOutputs(after, "after_", options, job);
    report.outputs = summarizeOutputs(outputs, withValues, job);
    report.afterOutputs = summarizeOutputs(after, withValues, job);
    report.comparison =
        compareOutputs(outputs, after, options.comparePipeline, job);
    printComparison(*report.comparison, options, job);
    status = report.comparison->match ? 0 : 1;
    if (options.repeat > 0) {
      report.timesBefore =
          timeCalls(original, sig, inputs, options.repeat, job);
      report.timesAfter =
          timeCalls(rewritten, sig, inputs, options.repeat, job);
      printTime("before: ", *report.timesBefore, options.repeat, job);
      printTime("after:  ", *report.timesAfter, options.repeat, job);
    }
  }
  writeReport(report, options, job);
  finalizeCudaRuntime();
  MPI_Finalize();
  return finishRank(job, status);
}
