//===- Passes.td - sp passes ------------------------------*- tablegen -*-===//

#ifndef SP_DIALECT_SP_TRANSFORMS_PASSES_TD
#define SP_DIALECT_SP_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SPSequenceParallelism : Pass<"sp-sequence-parallelism", "::mlir::ModuleOp"> {
  let summary = "Turn all-reduce -> row-wise ops (norms, quant, their "
                "linalg forms) into reduce-scatter -> local rows -> all-gather";
  let description = [{
    Applies sequence parallelism to a tensor-parallel graph. An
    `sp.all_reduce` whose users can run on local rows becomes
    `sp.all_gather(sp.reduce_scatter(x))` along the token dimension (dim 0),
    and the all-gather then sinks through the row-wise ops below it:

    * `rms_norm(all_gather(x), w)` -> `all_gather(rms_norm(x, w))`
    * `fused_add_rms_norm(all_gather(x), r, w)` ->
      both results of `fused_add_rms_norm(x, all_slice(r), w)` gathered
    * `quant(all_gather(x), s)` -> `all_gather(quant(x, s))` (fp8 on the wire)
    * any other row-wise op: a linalg op on tensors whose indexing maps read
      and write dim 0 with one parallel loop (a decomposed norm's adds,
      squares, row sums, rsqrt, weight multiply), or an elementwise op on
      tensors: row-aligned operands become this rank's rows (a gather's input,
      or `all_slice` of a replicated value), operands broadcast along rows are
      read whole, every result is gathered.

    and `all_slice(all_gather(x))` folds to `x`, so the residual stream stays
    sharded from one layer to the next (slices of empty tensors, fills and
    splats become smaller ones). Each rewrite is a PDLL pattern and leaves a
    valid, equivalent program on its own. Cross-row ops stop the sinking: a
    reduction over the tokens, a matmul contracting them, a transpose or a
    reshape that moves them.

    A site is rewritten only when:
    * the group has more than one rank and the token dimension is static,
      divisible by the group size and at least the threshold (`min-tokens`,
      or vLLM's rule for `device`);
    * some user runs on local rows: its other operands (norm weight,
      residual, quant scale, a linalg op's inits) are the same on every rank
      (proved by the replication analysis: all_reduce/all_gather results,
      constants, `sp.replicated` arguments and side-effect-free functions of
      those; with `assume-replicated` every function argument counts as
      replicated);
    * with `cost-model=PROFILE`, the profile (measured bus bandwidths and
      latencies of NCCL's collectives, HBM bandwidth; docs/CostModel.md)
      predicts the site faster after the rewrite;
    * the result does not move more bytes per rank than before: the gathers
      the rewrite leaves behind must not exceed the all-gather half of the
      all-reduce it replaces (ring model, see docs/Passes.md).

    Through control flow (docs/ControlFlow.md): a rewritten value that
    reaches an `scf.for` iter_arg, or an argument or result of a private
    function whose every use is a `func.call`, may cross that boundary on
    local rows (`carry`, on by default): the iter_arg, argument or result
    changes to N/TP rows in one step, what enters is sliced (`all_slice`)
    and what leaves is gathered where it is used on full rows, then the
    patterns above sink or fold those. Legal when the value crossing is the
    same on every rank (the replication analysis). Each op counts once in
    the budget (per iteration, per call); a boundary whose gathers would add
    communication stays on full rows, with a remark. A public layer function
    that the module calls gets a private copy for those calls (kept only if
    the plan changes it), the original stays for outside callers.

    A dynamic token dimension (serving) is handled per function
    (`dynamic=guard`, the default): each token range (`ranges=`, or the
    range from the thresholds or the cost model's break-even up) is planned
    on its own at its smallest multiple of the group size, and the function
    is versioned with an `scf.if {sp.token_guard}` on n: the then-branch,
    rewritten, runs when n is a multiple of the group size inside a range
    where the rewrite pays; the else-branch is the original. `dynamic=pad`
    pads the token rows with zeros instead (only where rows stay apart:
    norms, quant, matmuls, elementwise ops) and slices the results back.

    Every all_reduce left alone gets a remark that says why; if nothing was
    rewritten the pass warns. Collective counts and bytes per rank before and
    after are written to `report` (or sp-opt's `--sp-report=FILE`) as JSON.
  }];
  let options = [
    Option<"minTokens", "min-tokens", "int64_t", /*default=*/"0",
           "Leave all-reduces with fewer tokens (rows, dim 0) alone">,
    Option<"device", "device", "::mlir::sp::GPUGeneration",
           /*default=*/"::mlir::sp::GPUGeneration::none",
           "Also apply vLLM's token threshold for this GPU generation: "
           "sm90 (Hopper: 8 MiB * tp / (hidden * bytes), only for hidden >= "
           "8192) or sm100 (Blackwell: 32 MiB * tp / (hidden * bytes))">,
    Option<"costModel", "cost-model", "std::string", /*default=*/"\"\"",
           "Decide each site by predicted time on this device profile (a "
           "name from data/cost-profiles, e.g. h100-sxm-nvls, or a path to a "
           "profile .json): a site is rewritten only when reduce_scatter + "
           "all_gather + the row-wise ops on 1/tp of the rows are predicted "
           "faster than all_reduce + the ops on every row">,
    Option<"dynamic", "dynamic", "::mlir::sp::DynamicTokens",
           /*default=*/"::mlir::sp::DynamicTokens::guard",
           "A dynamic token dimension: guard (version each function on its "
           "token count n: the rewritten body runs when n is a multiple of "
           "the group size inside a range where the rewrite pays, the "
           "original otherwise), pad (pad the token rows with zeros to a "
           "multiple of the group size and slice the results back, for n "
           "inside such a range) or off (leave such all-reduces alone)">,
    Option<"ranges", "ranges", "std::string", /*default=*/"\"\"",
           "Token ranges decided one by one for a dynamic token dimension, "
           "like vLLM's compile ranges: 'LO-HI,...' ascending, 'LO-' without "
           "an upper bound (default: from the thresholds, or the cost "
           "model's break-even)">,
    Option<"carry", "carry", "bool", /*default=*/"true",
           "Carry local rows across loop and call boundaries: an scf.for "
           "iter_arg, or an argument or result of a private function, that a "
           "rewritten value reaches changes to N/TP rows (sliced where it "
           "enters, gathered where it is used on full rows; "
           "docs/ControlFlow.md)">,
    Option<"assumeReplicated", "assume-replicated", "bool", /*default=*/"false",
           "Trust that every function argument is the same on every rank "
           "(what vLLM assumes)">,
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
  // The token guard: tensor.dim, arith, scf.if, tensor.pad/extract_slice.
  let dependentDialects = ["::mlir::pdl::PDLDialect",
                           "::mlir::pdl_interp::PDLInterpDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
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

def SPCollectiveMatmul : Pass<"sp-collective-matmul", "::mlir::ModuleOp"> {
  let summary = "Fuse GEMMs with the all_gather before them or the "
                "reduce_scatter after them (collective matmul)";
  let description = [{
    After sequence parallelism, every column-parallel GEMM reads an
    all_gather and every row-parallel GEMM feeds a reduce_scatter. This pass
    fuses each pair into one op whose communication can hide behind the GEMM
    (vLLM's AsyncTP, PyTorch's micro-pipelined TP, XLA's windowed einsum):

    * `linalg.matmul(sp.all_gather(x), w)` -> `sp.all_gather_matmul(x, w)`
      (other users of the gathered value read its gathered result);
    * `sp.reduce_scatter(linalg.matmul(h, w))` ->
      `sp.matmul_reduce_scatter(h, w)`;
    * the FP8 forms of both, where the GEMM multiplies fp8 operands into f32
      and a scale epilogue `T(acc * (lhs_scale * rhs_scale))` follows
      (vLLM's scaled mm with per-tensor scales).

    A fused op computes exactly what the ops it replaces computed (the same
    accumulation and roundings), so CPU runs stay bitwise equal. A GEMM is
    fused when it is a plain GEMM from +0 (default indexing maps, zero-filled
    accumulator), the collective runs over more than one rank along dim 0
    (sum for reduce_scatter), and each rank's chunk has at least `min-rows`
    rows (below that a chunk's GEMM is too small to hide anything). Every
    all_gather and reduce_scatter left alone gets a remark saying why; the
    counts go to `report` as JSON.
  }];
  let options = [
    Option<"minRows", "min-rows", "int64_t", /*default=*/"64",
           "Fuse only when every rank's chunk has at least this many rows "
           "(1 fuses every legal site)">,
    Option<"reportFile", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report (sites, fused ops, reasons, collective counts "
           "before/after) to this file ('-' for stdout)">
  ];
  let statistics = [
    Statistic<"numGatherFused", "all-gather-matmul",
              "all_gather + GEMM pairs fused">,
    Statistic<"numScatterFused", "matmul-reduce-scatter",
              "GEMM + reduce_scatter pairs fused">,
    Statistic<"numLeftAlone", "left-alone",
              "all_gather / reduce_scatter ops left alone (each has a remark)">
  ];
  let dependentDialects = ["::mlir::pdl::PDLDialect",
                           "::mlir::pdl_interp::PDLInterpDialect"];
}

def SPDecomposeCollectiveMatmul
    : Pass<"sp-decompose-collective-matmul", "::mlir::ModuleOp"> {
  let summary = "Write each collective matmul out as a pipelined loop of "
                "chunk GEMMs and point-to-point transfers";
  let description = [{
    Makes the overlap of communication and compute explicit in the IR, as n
    steps for a group of n ranks (r is this rank's index, `sp.group_rank`):

    * `sp.all_gather_matmul(x, w)`: step s multiplies the chunk of rank
      (r - s) mod n (its own at s = 0) into its rows of the result while
      `sp.ring_shift` by s + 1 brings the next chunk; the ring_shift's
      result is first used after the GEMM, so the transfer is in flight
      during it.
    * `sp.matmul_reduce_scatter(h, w)`: step s computes the partial product
      of the rows owned by rank (r + s) mod n and sends it there with
      `sp.ring_shift` by s while the next partial is computed; each rank
      then sums the n partials of its rows in rank order (f32, f64 for f64),
      exactly as `sp.reduce_scatter` combines them, so the result is bitwise
      equal to the fused op's.

    Chunk GEMMs have the numerics of the fused op (MatmulUtils.h). Ops with
    dynamic row counts are left as they are (with a remark).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SPRaiseNorms : Pass<"sp-raise-norms"> {
  let summary = "Raise decomposed RMSNorm, residual add + RMSNorm and static "
                "FP8 quant (as torch-mlir emits them) to sp.rms_norm, "
                "sp.fused_add_rms_norm and sp.quant";
  let description = [{
    Recognizes the elementwise / reduction chains that compilers emit for
    RMSNorm (`x * rsqrt(mean(x^2) + eps) * w`, with or without the f32
    upcast of a bf16/f16 input), for a residual add whose result is
    normalized, and for a static FP8 quant (`truncf(clamp(x / s))`), in
    `linalg.generic` chains (one op per step, as torch-mlir emits them, or
    fused into fewer generics), named linalg ops and elementwise arith/math
    on tensors, and replaces them with the sp op, so that sp's rewrites and
    fused kernels apply.

    A chain is raised only when the sp op computes exactly the same bits
    (same operations in the same order, same rounding points, per
    include/sp/Runtime/Numerics.h); docs/RaiseNorms.md lists the forms and
    why each one is bit-identical. A chain that looks like a norm or a quant
    but computes something else (epsilon elsewhere, a mean over another
    dimension, a weight that is not broadcast along the rows, a divide by a
    runtime scale, a single rounding instead of two, ...) is left alone with
    a remark at the op that deviates.
  }];
  let options = [
    Option<"ignoreNaN", "ignore-nan", "bool", /*default=*/"false",
           "Also raise quants that differ from sp.quant only for NaN inputs: "
           "a clamp that maps NaN to a bound (torch-mlir lowers torch.clamp "
           "so) then gives NaN where it gave +-M">
  ];
  let statistics = [
    Statistic<"numRMSNorm", "rms-norm", "chains raised to sp.rms_norm">,
    Statistic<"numFusedAddRMSNorm", "fused-add-rms-norm",
              "chains raised to sp.fused_add_rms_norm">,
    Statistic<"numQuant", "quant", "chains raised to sp.quant">,
    Statistic<"numLeftAlone", "left-alone",
              "norm or quant look-alikes left alone (each has a remark)">
  ];
  let dependentDialects = ["::mlir::sp::SPDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // SP_DIALECT_SP_TRANSFORMS_PASSES_TD
