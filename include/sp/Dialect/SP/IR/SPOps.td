//===- SPOps.td - sp dialect operations -------------------*- tablegen -*-===//

#ifndef SP_DIALECT_SP_IR_SPOPS_TD
#define SP_DIALECT_SP_IR_SPOPS_TD

include "sp/Dialect/SP/IR/SPBase.td"
include "sp/Dialect/SP/IR/SPInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// The per-tensor static scale of sp.quant: always tensor<f32>, so the
// assembly format can leave it out.
def SP_ScaleTensor : Type<
    And<[IsTensorTypePred,
         CPred<"::llvm::isa<::mlir::RankedTensorType>($_self)">,
         CPred<"::llvm::cast<::mlir::RankedTensorType>($_self).getRank() == 0">,
         SubstLeaves<"$_self",
                     "::llvm::cast<::mlir::ShapedType>($_self).getElementType()",
                     F32.predicate>]>,
    "0-D tensor of f32 (tensor<f32>)", "::mlir::RankedTensorType">,
  BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getF32Type())">;

def SP_FloatTensor : RankedTensorOf<[AnyFloat]>;
// The per-column weight of a norm.
def SP_NormWeight : 1DTensorOf<[AnyFloat]>;
def SP_FP8Tensor : RankedTensorOf<[F8E4M3FN, F8E4M3FNUZ]>;

//===----------------------------------------------------------------------===//
// sp.group
//===----------------------------------------------------------------------===//

def SP_GroupOp : SP_Op<"group", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "declares a group of ranks";
  let description = [{
    A module-level symbol naming a group of `size` ranks (for example the
    tensor-parallel group). Collectives refer to it by symbol:

    ```mlir
    sp.group @tp size(4)
    %1 = sp.all_reduce %0 over @tp : tensor<128x4096xbf16>
    ```

    Without a layout the group is every rank of the job. With one, the job's
    ranks form a row-major `grid` (rank = linearized coordinates, last axis
    fastest) and the group spans the grid `axes`: each rank belongs to the
    group of the ranks that share its coordinates on the other axes, and its
    index in that group is its coordinates on `axes`, linearized in the
    order listed (upstream shard's `grid_axes` convention). `size` is the
    product of the spanned axes' extents. DP 2 x TP 4 on 8 ranks:

    ```mlir
    sp.group @tp size(4) grid [2, 4] axes [1]   // ranks {0-3} and {4-7}
    sp.group @dp size(2) grid [2, 4] axes [0]   // ranks {0,4}, {1,5}, ...
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$size,
                       OptionalAttr<DenseI64ArrayAttr>:$grid,
                       OptionalAttr<DenseI64ArrayAttr>:$axes);
  let assemblyFormat = [{
    $sym_name `size` `(` $size `)` (`grid` $grid^)? (`axes` $axes^)? attr-dict
  }];
  let hasVerifier = 1;
  let builders = [
    // A group of every rank of the job.
    OpBuilder<(ins "::llvm::StringRef":$name, "int64_t":$size), [{
      build($_builder, $_state, name, size, ::mlir::DenseI64ArrayAttr(),
            ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let extraClassDeclaration = [{
    /// The number of ranks of the job the group lives in: the grid's size,
    /// or the group's own size without a layout.
    int64_t getWorldSize();
  }];
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

// What every collective takes: the value and the group it runs over.
defvar SP_CollectiveArgs = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group);
defvar SP_DimArg = (ins DefaultValuedAttr<I64Attr, "0">:$dim);
defvar SP_ReductionArg = (ins DefaultValuedAttr<SP_ReductionKindAttr,
                                                "::mlir::sp::ReductionKind::sum">:$reduction);

class SP_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : SP_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  // The group must resolve to an sp.group whose size agrees with the shapes.
  let extraClassDefinition = [{
    ::llvm::LogicalResult
    $cppClass::verifySymbolUses(::mlir::SymbolTableCollection &tables) {
      return ::mlir::sp::verifyCollectiveSymbolUses(*this, tables);
    }
  }];
}

// reduce_scatter, all_gather and all_slice: the result differs from the
// input only along `dim`, by the group size.
class SP_ResizingCollectiveOp<string mnemonic, list<Trait> traits = []>
    : SP_CollectiveOp<mnemonic, traits # [SameOperandsAndResultElementType,
                                          SameOperandsAndResultRank]> {
  let results = (outs AnyRankedTensor:$result);
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::llvm::LogicalResult
    $cppClass::verifySymbolUses(::mlir::SymbolTableCollection &tables) {
      return ::mlir::sp::verifyCollectiveSymbolUses(*this, tables);
    }
    ::llvm::LogicalResult $cppClass::verify() {
      return ::mlir::sp::verifyResizeAlongDim(*this);
    }
  }];
}

def SP_AllReduceOp : SP_CollectiveOp<"all_reduce",
    [AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<InferTypeOpInterface>,
     DeclareOpInterfaceMethods<SP_CollectiveOpInterface,
                               ["getCollectiveDim", "getReductionKind"]>]> {
  let summary = "combines the values of all ranks; every rank gets the result";
  let description = [{
    Every rank of `group` contributes `input`; every rank receives the
    combination under `reduction` (default `sum`). On the CPU the
    contributions are summed in rank order in f32, so that
    `all_gather(reduce_scatter(x))` is bitwise equal to `all_reduce(x)`.

    ```mlir
    %1 = sp.all_reduce %0 over @tp : tensor<128x4096xbf16>
    %2 = sp.all_reduce %0 over @tp reduction max : tensor<8xf32>
    ```
  }];
  let arguments = !con(SP_CollectiveArgs, SP_ReductionArg);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group (`reduction` `` $reduction^)? attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def SP_ReduceScatterOp : SP_ResizingCollectiveOp<"reduce_scatter",
    [DeclareOpInterfaceMethods<SP_CollectiveOpInterface,
                               ["getReductionKind", "splitsAlongDim"]>]> {
  let summary = "combines the values of all ranks; rank r gets chunk r";
  let description = [{
    Like `sp.all_reduce`, but the result is split along `dim` into group-size
    chunks and rank r keeps chunk r: the result's `dim` is the input's divided
    by the group size.

    ```mlir
    %1 = sp.reduce_scatter %0 over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
    ```
  }];
  let arguments = !con(SP_CollectiveArgs, SP_DimArg, SP_ReductionArg);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? (`reduction` `` $reduction^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

def SP_AllGatherOp : SP_ResizingCollectiveOp<"all_gather",
    [SP_CollectiveOpInterface]> {
  let summary = "concatenates the values of all ranks in rank order";
  let description = [{
    Every rank receives the concatenation along `dim` of the `input` of
    ranks 0, 1, ..., size-1: the result's `dim` is the input's times the
    group size.

    ```mlir
    %1 = sp.all_gather %0 over @tp : tensor<32x4096xbf16> -> tensor<128x4096xbf16>
    ```
  }];
  let arguments = !con(SP_CollectiveArgs, SP_DimArg);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

def SP_AllSliceOp : SP_ResizingCollectiveOp<"all_slice",
    [DeclareOpInterfaceMethods<SP_CollectiveOpInterface, ["splitsAlongDim"]>]> {
  let summary = "keeps this rank's chunk of a value (no communication)";
  let description = [{
    Rank r keeps chunk r of `input` split along `dim` into group-size chunks.
    No data moves between ranks; the op is the inverse of `sp.all_gather` on
    a value that is the same on every rank, which is how sequence
    parallelism splits a replicated residual.

    ```mlir
    %1 = sp.all_slice %0 over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
    ```
  }];
  let arguments = !con(SP_CollectiveArgs, SP_DimArg);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Row-wise ops
//===----------------------------------------------------------------------===//

def SP_RMSNormOp : SP_Op<"rms_norm", [Pure,
    DeclareOpInterfaceMethods<SP_RowWiseOpInterface, ["getOperandRole"]>,
    AllTypesMatch<["input", "result"]>, AllElementTypesMatch<["input", "weight"]>, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "RMSNorm over the last dimension";
  let description = [{
    For every row x (last dimension, length H) with activation type T:

    ```
    ss  = sum(float(x)^2)            // in f32
    inv = 1 / sqrt(ss / H + epsilon)
    out = T(T(float(x) * inv) * w)   // two roundings to T
    ```

    `weight` is 1-D of length H with the element type of `input`.

    ```mlir
    %1 = sp.rms_norm %0, %w epsilon = 1.0e-06 : tensor<128x4096xbf16>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins SP_FloatTensor:$input, SP_NormWeight:$weight,
      F32Attr:$epsilon);
  let results = (outs SP_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `epsilon` `=` $epsilon attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def SP_FusedAddRMSNormOp : SP_Op<"fused_add_rms_norm", [Pure,
    DeclareOpInterfaceMethods<SP_RowWiseOpInterface, ["getOperandRole"]>,
    AllTypesMatch<["input", "residual", "output", "residual_out"]>,
    AllElementTypesMatch<["input", "weight"]>,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "residual add followed by RMSNorm";
  let description = [{
    `z = T(input + residual)`; `residual_out = z`; `output = rms_norm(z)` of
    the rounded `z`, with the numerics of `sp.rms_norm`.

    ```mlir
    %out, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-05
        : tensor<128x4096xbf16>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins SP_FloatTensor:$input, SP_FloatTensor:$residual,
      SP_NormWeight:$weight, F32Attr:$epsilon);
  let results = (outs SP_FloatTensor:$output, SP_FloatTensor:$residual_out);
  let assemblyFormat = [{
    $input `,` $residual `,` $weight `epsilon` `=` $epsilon attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def SP_QuantOp : SP_Op<"quant", [Pure, AllShapesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<SP_RowWiseOpInterface, ["getOperandRole"]>]> {
  let summary = "static per-tensor FP8 quantization";
  let description = [{
    `q = fp8(clamp(x * (1.0f / scale), -M, M))` with round-to-nearest-even
    and saturation: M = 448 for `f8E4M3FN` and, as in vLLM, 224 for
    `f8E4M3FNUZ`. The result has the input's shape.

    ```mlir
    %q = sp.quant %0, %scale : tensor<128x4096xbf16> -> tensor<128x4096xf8E4M3FN>
    ```
  }];
  let arguments = (ins SP_FloatTensor:$input, SP_ScaleTensor:$scale);
  let results = (outs SP_FP8Tensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Collective matmul: GEMMs fused with the gather or scatter beside them
//===----------------------------------------------------------------------===//

def SP_Matrix : 2DTensorOf<[AnyFloat]>;

// The GEMM operands and the group; both fused ops share them.
defvar SP_CollectiveMatmulArgs = (ins SP_Matrix:$lhs, SP_Matrix:$rhs,
    Variadic<SP_ScaleTensor>:$scales, FlatSymbolRefAttr:$group);

class SP_CollectiveMatmulOp<string mnemonic, list<Trait> traits = []>
    : SP_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let hasVerifier = 1;
  code extraCollectiveMatmulDecls = [{
    /// True for the FP8 form (per-tensor scales of lhs and rhs).
    bool isScaled() { return !getScales().empty(); }
    /// The type the products are summed in: f32 for the FP8 form, else
    /// the result's element type (as linalg.matmul does).
    ::mlir::Type getAccumulatorType();
  }];
  let extraClassDeclaration = extraCollectiveMatmulDecls;
}

def SP_AllGatherMatmulOp : SP_CollectiveMatmulOp<"all_gather_matmul"> {
  let summary = "all_gather(lhs) x rhs: gather rows, multiply by a local shard";
  let description = [{
    `result = all_gather(lhs, dim 0) x rhs`, where `lhs` holds this rank's
    rows (tokens) and `rhs` this rank's shard of a column-parallel weight
    (it differs per rank). The optional second result is the gathered `lhs`
    itself, for other users of the gathered value.

    Numerics are those of the `linalg.matmul` it replaces, so that a fused
    program is bitwise equal to the unfused one:

    * without scales: every product is computed in the result's element
      type T (operands converted to T) and summed in T in order of the
      contraction index, from +0 (`linalg.matmul` into a zero-filled T);
    * with `scales(%lhs_scale, %rhs_scale)` (the FP8 form, vLLM's scaled-mm
      with per-tensor scales): f8E4M3FN(UZ) operands, products and sums in
      f32 from +0, then `T(acc * (lhs_scale * rhs_scale))` with T bf16, f16
      or f32.

    Only `dim = 0` (the token dim of `lhs`) is supported. On GPUs the op is
    one runtime call that pipelines the gather with cuBLASLt GEMMs;
    `sp-decompose-collective-matmul` writes the pipeline out in the IR.

    ```mlir
    %y = sp.all_gather_matmul %x, %w over @tp
        : tensor<64x4096xbf16>, tensor<4096x3072xbf16> -> tensor<256x3072xbf16>
    %y8, %g = sp.all_gather_matmul %q, %w8 scales(%sq, %sw) over @tp
        : tensor<64x4096xf8E4M3FN>, tensor<4096x3072xf8E4M3FN>
        -> tensor<256x3072xbf16>, tensor<256x4096xf8E4M3FN>
    ```
  }];
  let arguments = !con(SP_CollectiveMatmulArgs,
                       (ins DefaultValuedAttr<I64Attr, "0">:$dim));
  let results = (outs SP_Matrix:$result, Optional<SP_Matrix>:$gathered);
  let assemblyFormat = [{
    $lhs `,` $rhs (`scales` `(` $scales^ `)`)? `over` $group (`dim` $dim^)?
    attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
    (`,` type($gathered)^)?
  }];
}

def SP_MatmulReduceScatterOp : SP_CollectiveMatmulOp<"matmul_reduce_scatter"> {
  let summary = "reduce_scatter(lhs x rhs): multiply, then sum and scatter rows";
  let description = [{
    `result = reduce_scatter(lhs x rhs, dim 0)`: `lhs` and `rhs` are this
    rank's shards of a row-parallel GEMM (the contraction is split across
    ranks); rank r keeps rows [r * M/n, (r+1) * M/n) of the sum over ranks.
    The GEMM has the numerics of `sp.all_gather_matmul` (the `linalg.matmul`
    it replaces, or the FP8 form with `scales`); the ranks' partial products
    are then combined as `sp.reduce_scatter` combines them (on the CPU: in
    rank order in f32), so fused and unfused programs agree bit for bit.
    Only `dim = 0` and `reduction = sum` are supported.

    ```mlir
    %y = sp.matmul_reduce_scatter %h, %w over @tp
        : tensor<256x1024xbf16>, tensor<1024x4096xbf16> -> tensor<64x4096xbf16>
    ```
  }];
  let arguments = !con(SP_CollectiveMatmulArgs,
      (ins DefaultValuedAttr<I64Attr, "0">:$dim,
           DefaultValuedAttr<SP_ReductionKindAttr,
                             "::mlir::sp::ReductionKind::sum">:$reduction));
  let results = (outs SP_Matrix:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`scales` `(` $scales^ `)`)? `over` $group (`dim` $dim^)?
    (`reduction` `` $reduction^)? attr-dict `:` type($lhs) `,` type($rhs)
    `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Point to point
//===----------------------------------------------------------------------===//

def SP_RingShiftOp : SP_Op<"ring_shift", [Pure,
    AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "sends to rank r + offset, receives from rank r - offset";
  let description = [{
    Rank r of `group` (n ranks) sends `input` to rank (r + offset) mod n and
    returns the `input` of rank (r - offset) mod n: a cyclic shift of the
    ranks' values (XLA's collective-permute with a shift pattern). `offset`
    must be the same on every rank; 0 returns `input`.

    The value is not needed until its first use, and the lowerings use that:
    the transfer starts at the op (MPI_Isend/MPI_Irecv on the CPU,
    ncclSend/ncclRecv on a communication stream on GPUs) and is waited for
    just before the first user, so work placed in between overlaps with it.
    `sp-decompose-collective-matmul` places a chunk's GEMM there.

    ```mlir
    %next = sp.ring_shift %chunk over @tp by %c1 : tensor<64x4096xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group,
                       Index:$offset);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group `by` $offset attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def SP_GroupRankOp : SP_Op<"group_rank", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "this rank's index in a group";
  let description = [{
    The index (0 to size - 1) of the executing rank in `group`: the rank
    whose chunk `sp.all_slice` keeps. It differs per rank.

    ```mlir
    %r = sp.group_rank @tp
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$group);
  let results = (outs Index:$result);
  let assemblyFormat = "$group attr-dict";
  let hasFolder = 1;
}

#endif // SP_DIALECT_SP_IR_SPOPS_TD
