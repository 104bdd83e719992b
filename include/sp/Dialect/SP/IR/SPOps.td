//===- SPOps.td - sp dialect operations -------------------*- tablegen -*-===//

#ifndef SP_DIALECT_SP_IR_SPOPS_TD
#define SP_DIALECT_SP_IR_SPOPS_TD

include "sp/Dialect/SP/IR/SPBase.td"
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
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$size);
  let assemblyFormat = "$sym_name `size` `(` $size `)` attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

class SP_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : SP_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  code extraCollectiveDecls = [{
    /// The sp.group this op communicates over, or null when the symbol does
    /// not resolve (only possible in unverified IR).
    ::mlir::sp::GroupOp getGroupOp();
  }];
  let extraClassDeclaration = extraCollectiveDecls;
}

def SP_AllReduceOp : SP_CollectiveOp<"all_reduce",
    [AllTypesMatch<["input", "result"]>, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
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
  let arguments = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group,
      DefaultValuedAttr<SP_ReductionKindAttr,
                        "::mlir::sp::ReductionKind::sum">:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group (`reduction` `` $reduction^)? attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def SP_ReduceScatterOp : SP_CollectiveOp<"reduce_scatter"> {
  let summary = "combines the values of all ranks; rank r gets chunk r";
  let description = [{
    Like `sp.all_reduce`, but the result is split along `dim` into group-size
    chunks and rank r keeps chunk r: the result's `dim` is the input's divided
    by the group size.

    ```mlir
    %1 = sp.reduce_scatter %0 over @tp : tensor<128x4096xbf16> -> tensor<32x4096xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group,
      DefaultValuedAttr<I64Attr, "0">:$dim,
      DefaultValuedAttr<SP_ReductionKindAttr,
                        "::mlir::sp::ReductionKind::sum">:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? (`reduction` `` $reduction^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def SP_AllGatherOp : SP_CollectiveOp<"all_gather"> {
  let summary = "concatenates the values of all ranks in rank order";
  let description = [{
    Every rank receives the concatenation along `dim` of the `input` of
    ranks 0, 1, ..., size-1: the result's `dim` is the input's times the
    group size.

    ```mlir
    %1 = sp.all_gather %0 over @tp : tensor<32x4096xbf16> -> tensor<128x4096xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group,
      DefaultValuedAttr<I64Attr, "0">:$dim);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def SP_AllSliceOp : SP_CollectiveOp<"all_slice"> {
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
  let arguments = (ins AnyRankedTensor:$input, FlatSymbolRefAttr:$group,
      DefaultValuedAttr<I64Attr, "0">:$dim);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `over` $group (`dim` $dim^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Row-wise ops
//===----------------------------------------------------------------------===//

def SP_RMSNormOp : SP_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "result"]>, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
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
  let arguments = (ins SP_FloatTensor:$input, SP_FloatTensor:$weight,
      F32Attr:$epsilon);
  let results = (outs SP_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `epsilon` `=` $epsilon attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def SP_FusedAddRMSNormOp : SP_Op<"fused_add_rms_norm", [Pure,
    AllTypesMatch<["input", "residual", "output", "residual_out"]>,
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
      SP_FloatTensor:$weight, F32Attr:$epsilon);
  let results = (outs SP_FloatTensor:$output, SP_FloatTensor:$residual_out);
  let assemblyFormat = [{
    $input `,` $residual `,` $weight `epsilon` `=` $epsilon attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def SP_QuantOp : SP_Op<"quant", [Pure]> {
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
  let results = (outs SP_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // SP_DIALECT_SP_IR_SPOPS_TD
