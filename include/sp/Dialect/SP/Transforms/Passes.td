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

#endif // SP_DIALECT_SP_TRANSFORMS_PASSES_TD
