//===- Passes.td - sp passes ------------------------------*- tablegen -*-===//

#ifndef SP_DIALECT_SP_TRANSFORMS_PASSES_TD
#define SP_DIALECT_SP_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SPSequenceParallelism : Pass<"sp-sequence-parallelism", "::mlir::ModuleOp"> {
  let summary = "Turn all-reduce -> RMSNorm [-> FP8 quant] into reduce-scatter "
                "-> local norm -> all-gather";
  let description = [{
    Applies sequence parallelism to a tensor-parallel graph. Every
    `sp.all_reduce` that feeds an RMSNorm (`sp.rms_norm` or the input of
    `sp.fused_add_rms_norm`) becomes `sp.all_gather(sp.reduce_scatter(x))`
    along the token dimension (dim 0), and the all-gather then sinks through
    the row-wise ops below it:

    * `rms_norm(all_gather(x), w)` -> `all_gather(rms_norm(x, w))`
    * `fused_add_rms_norm(all_gather(x), r, w)` ->
      both results of `fused_add_rms_norm(x, all_slice(r), w)` gathered
    * `quant(all_gather(x), s)` -> `all_gather(quant(x, s))` (fp8 on the wire)

    and `all_slice(all_gather(x))` folds to `x`, so the residual stream stays
    sharded from one layer to the next. Each rewrite is a PDLL pattern and
    leaves a valid, equivalent program on its own.

    A site is rewritten only when:
    * the group has more than one rank and the token dimension is static,
      divisible by the group size and at least the threshold (`min-tokens`,
      or vLLM's rule for `device`);
    * the norm weight, the residual and the quant scale are the same on every
      rank (proved by the replication analysis: all_reduce/all_gather results,
      constants, `sp.replicated` arguments and pure functions of those; with
      `assume-replicated` every function argument counts as replicated);
    * the result does not move more bytes per rank than before: the gathers
      the rewrite leaves behind must not exceed the all-gather half of the
      all-reduce it replaces (ring model, see docs/Passes.md).

    Every all_reduce left alone gets a remark that says why; if nothing was
    rewritten the pass warns. Collective counts and bytes per rank before and
    after are written to `report` (or sp-opt's `--sp-report=FILE`) as JSON.
  }];
  let options = [
    Option<"minTokens", "min-tokens", "int64_t", /*default=*/"0",
           "Leave all-reduces with fewer tokens (rows, dim 0) alone">,
    Option<"device", "device", "std::string", /*default=*/"\"\"",
           "Apply vLLM's token threshold for this GPU: sm90 or sm100 "
           "(empty: no device threshold)">,
    Option<"assumeReplicated", "assume-replicated", "bool", /*default=*/"false",
           "Trust that every function argument is the same on every rank "
           "(what vLLM assumes)">,
    Option<"patternKind", "patterns", "std::string", /*default=*/"\"pdll\"",
           "pdll (the patterns of SequenceParallelism.pdll, interpreted) or "
           "cpp (the same rewrites as C++ patterns; for benchmarks and as a "
           "cross-check: both give identical IR)">,
    Option<"checkPatterns", "check-patterns", "bool", /*default=*/"false",
           "Pattern hygiene mode: apply the patterns with a checking driver; "
           "the IR must verify after every rewrite, and a pattern that "
           "returns failure must leave the IR unchanged (fingerprints)">,
    Option<"maxRewrites", "max-rewrites", "int64_t", /*default=*/"-1",
           "Stop after this many pattern applications (-1: no limit); shows "
           "and tests that every intermediate program is valid">,
    Option<"reportFile", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report (sites, reasons, collective counts and bytes "
           "per rank before/after) to this file ('-' for stdout)">
  ];
  let statistics = [
    Statistic<"numSitesRewritten", "sites-rewritten",
              "all_reduce sites turned into reduce_scatter + all_gather">,
    Statistic<"numSitesSkipped", "sites-skipped",
              "all_reduce sites left alone (each has a remark)">
  ];
  let dependentDialects = ["::mlir::pdl::PDLDialect",
                           "::mlir::pdl_interp::PDLInterpDialect"];
}

def SPDecomposeToLinalg : Pass<"sp-decompose-to-linalg"> {
  let summary = "Decompose sp.rms_norm, sp.fused_add_rms_norm and sp.quant "
                "into linalg.generic with sp's exact numerics";
  let description = [{
    Rewrites the row-wise ops into `linalg.generic` ops on tensors that
    compute exactly what `include/sp/Runtime/Numerics.h` defines:

    * rms_norm: the sum of squares in f32 as a reduction over the last
      dimension (sequential order once lowered to loops), then
      `inv = 1 / sqrt(ss / H + eps)`, then `T(T(float(x) * inv) * w)`;
    * fused_add_rms_norm: `z = T(x + r)` first, then the norm of `z`;
    * quant: `1.0f / scale`, multiply, clamp to [-448, 448] ([-224, 224] for
      f8E4M3FNUZ), and `arith.truncf` to fp8 (round to nearest even; see
      sp-expand-fp8 for how that is made executable).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SPExpandFP8 : Pass<"sp-expand-fp8"> {
  let summary = "Expand arith.extf / arith.truncf on f8E4M3FN(UZ) into "
                "integer arithmetic";
  let description = [{
    LLVM has no fp8 types, so conversions to and from f8E4M3FN and
    f8E4M3FNUZ become bit manipulation on i8/i32 (round to nearest even,
    NaN and overflow as documented in include/sp/Runtime/Numerics.h).
    Arithmetic on fp8 values should first be widened with
    `arith-emulate-unsupported-floats`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SPPrepareCPURuntime : Pass<"sp-prepare-cpu-runtime", "::mlir::ModuleOp"> {
  let summary = "Lower sp.all_slice to a slice at this rank's offset and "
                "declare the CPU runtime functions collectives call";
  let description = [{
    Run before one-shot bufferization on the CPU path: `sp.all_slice`
    becomes `tensor.extract_slice` at offset `rank * chunk` (the rank comes
    from `sp_rt_rank()`), and every runtime function that the bufferized
    `sp.all_reduce`, `sp.reduce_scatter` and `sp.all_gather` will call is
    declared (`func.func private`, C interface). Element types without a
    runtime implementation are reported here, at the op. `sp.replicated`
    argument attributes are dropped: they mean nothing to LLVM.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SPEraseGroups : Pass<"sp-erase-groups", "::mlir::ModuleOp"> {
  let summary = "Erase sp.group symbols that nothing refers to any more";
  let description = [{
    After the collectives have been lowered, the groups are dead metadata
    that the LLVM translation cannot handle. A group still in use is an
    error, reported at the user.
  }];
}

#endif // SP_DIALECT_SP_TRANSFORMS_PASSES_TD
