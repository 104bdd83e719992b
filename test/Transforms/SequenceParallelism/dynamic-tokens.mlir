// A dynamic token dimension (serving): dynamic=guard (the default) versions
// the function on its token count n, dynamic=pad pads the rows to a
// multiple of the group size, dynamic=off leaves the sites alone. Remarks
// go to stderr, the IR to stdout.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism 2>/dev/null | FileCheck %s
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="min-tokens=16 ranges=1-15,16-255,256-" 2>/dev/null | FileCheck %s --check-prefix=RANGES
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="min-tokens=16 ranges=1-15,16-255,256-" --sp-report=- 2>/dev/null | FileCheck %s --check-prefix=REPORT
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism --sp-report=- -o /dev/null 2>/dev/null | FileCheck %s --check-prefix=MIXED
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="dynamic=pad" 2>/dev/null | FileCheck %s --check-prefix=PAD
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="dynamic=pad" 2>&1 >/dev/null | FileCheck %s --check-prefix=PAD-REMARK
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="dynamic=off" 2>&1 >/dev/null | FileCheck %s --check-prefix=OFF
// RUN: not sp-opt %s --split-input-file --sp-sequence-parallelism="ranges=5-2" 2>&1 | FileCheck %s --check-prefix=BAD-RANGE
// RUN: not sp-opt %s --split-input-file --sp-sequence-parallelism="ranges=1-10,5-" 2>&1 | FileCheck %s --check-prefix=BAD-ORDER
// BAD-RANGE: error: sp-sequence-parallelism: ranges: range '5-2' has no upper bound >= 5
// BAD-ORDER: error: sp-sequence-parallelism: ranges: range '5-' overlaps or precedes '1-10'; list ranges in ascending order
// Every intermediate program is valid, and the guarded form round-trips.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="check-patterns=true" --verify-roundtrip -o /dev/null 2>/dev/null
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="dynamic=pad check-patterns=true" --verify-roundtrip -o /dev/null 2>/dev/null

sp.group @tp size(2)

// CHECK-LABEL: func.func @guard
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[W:.*]]: tensor<64xf32> {sp.replicated})
// CHECK: %[[N:.*]] = tensor.dim %[[X]]
// CHECK: %[[REM:.*]] = arith.remui %[[N]], %c2
// CHECK: %[[DIV:.*]] = arith.cmpi eq, %[[REM]]
// CHECK: %[[IN:.*]] = arith.cmpi uge, %[[N]], %c1
// CHECK: %[[OK:.*]] = arith.andi %[[DIV]], %[[IN]]
// CHECK: %[[R:.*]] = scf.if %[[OK]] -> (tensor<?x64xf32>) {
// CHECK:   %[[RS:.*]] = sp.reduce_scatter %[[X]] over @tp : tensor<?x64xf32> -> tensor<?x64xf32>
// CHECK:   %[[NORM:.*]] = sp.rms_norm %[[RS]], %[[W]]
// CHECK:   %[[G:.*]] = sp.all_gather %[[NORM]] over @tp : tensor<?x64xf32> -> tensor<?x64xf32>
// CHECK:   scf.yield %[[G]]
// CHECK: } else {
// CHECK:   %[[AR:.*]] = sp.all_reduce %[[X]]
// CHECK:   %[[NORM2:.*]] = sp.rms_norm %[[AR]], %[[W]]
// CHECK:   scf.yield %[[NORM2]]
// CHECK: } {sp.token_guard = {args = array<i64: 0>, tokens = 2 : i64, tp = 2 : i64}}
// CHECK: return %[[R]]
// RANGES-LABEL: func.func @guard
// RANGES: %[[N:.*]] = tensor.dim
// RANGES-NOT: arith.cmpi ule
// RANGES: arith.cmpi uge, %[[N]], %c16
// RANGES: scf.if
// RANGES: sp.token_guard = {args = array<i64: 0>, tokens = 16 : i64, tp = 2 : i64}
// PAD-LABEL: func.func @guard
// PAD: tensor.pad
func.func @guard(%x: tensor<?x64xf32>, %w: tensor<64xf32> {sp.replicated}) -> tensor<?x64xf32> {
// REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version of the function, for token counts outside the guarded ranges or not divisible by the group size
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 2]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version of the function, for token counts outside the guarded ranges or not divisible by the group size
// OFF: dynamic-tokens.mlir:[[# @LINE + 1]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
  %0 = sp.all_reduce %x over @tp : tensor<?x64xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  return %1 : tensor<?x64xf32>
}
// REPORT: "dynamic": [
// REPORT-NEXT: {
// REPORT-NEXT: "function": "guard",
// REPORT-NEXT: "token_arguments": [
// REPORT-NEXT: 0
// REPORT-NEXT: ],
// REPORT-NEXT: "tp": 2,
// REPORT-NEXT: "ranges": [
// REPORT-NEXT: {
// REPORT-NEXT: "range": "1-15",
// REPORT-NEXT: "planned_at": 2,
// REPORT-NEXT: "sites": 0,
// REPORT-NEXT: "decision": "left alone",
// REPORT-NEXT: "why": "2 tokens are below min-tokens=16"
// REPORT-NEXT: },
// REPORT-NEXT: {
// REPORT-NEXT: "range": "16-255",
// REPORT-NEXT: "planned_at": 16,
// REPORT-NEXT: "sites": 1,
// REPORT-NEXT: "decision": "rewrite",
// REPORT-NEXT: "why": "1 sites rewritten at 16 tokens"
// REPORT-NEXT: },
// REPORT-NEXT: {
// REPORT-NEXT: "range": "256-",
// REPORT-NEXT: "planned_at": 256,
// REPORT-NEXT: "sites": 1,
// REPORT-NEXT: "decision": "rewrite",
// REPORT-NEXT: "why": "1 sites rewritten at 256 tokens"
// REPORT-NEXT: }
// REPORT-NEXT: ],
// REPORT-NEXT: "outcome": "guarded"

// -----

sp.group @tp size(2)

// dynamic=pad: zero rows up to a multiple of the group size, every
// argument with a dynamic token dim padded to its own count, the results
// sliced back to n rows; n only has to be in range.
// PAD-LABEL: func.func @pad
// PAD-SAME: (%[[X:.*]]: tensor<?x64xbf16>, %[[RES:.*]]: tensor<?x64xbf16> {sp.replicated}, %[[W:.*]]: tensor<64xbf16> {sp.replicated}, %[[S:.*]]: tensor<f32> {sp.replicated})
// PAD: %[[N:.*]] = tensor.dim %[[X]]
// PAD: %[[NR:.*]] = tensor.dim %[[RES]]
// PAD-NOT: arith.remui
// PAD: scf.if
// PAD: %[[PX:.*]] = tensor.pad %[[X]] low[0, 0] high[%{{.*}}, 0]
// PAD: %[[PR:.*]] = tensor.pad %[[RES]] low[0, 0] high[%{{.*}}, 0]
// PAD: %[[RS:.*]] = sp.reduce_scatter %[[PX]]
// PAD: %[[SLICE:.*]] = sp.all_slice %[[PR]]
// PAD: %[[OUT:.*]], %{{.*}} = sp.fused_add_rms_norm %[[RS]], %[[SLICE]], %[[W]]
// PAD: %[[Q:.*]] = sp.quant %[[OUT]], %[[S]]
// PAD: %[[G:.*]] = sp.all_gather %[[Q]]
// PAD: %[[BACK:.*]] = tensor.extract_slice %[[G]][0, 0] [%[[N]], 64] [1, 1]
// PAD: scf.yield %[[BACK]]
// PAD: } else {
// PAD: sp.token_guard = {args = array<i64: 0, 1>, pad, tokens = 2 : i64, tp = 2 : i64}
func.func @pad(%x: tensor<?x64xbf16>, %res: tensor<?x64xbf16> {sp.replicated}, %w: tensor<64xbf16> {sp.replicated}, %s: tensor<f32> {sp.replicated}) -> tensor<?x64xf8E4M3FN> {
// REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version of the function, for token counts outside the guarded ranges or not divisible by the group size
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 2]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version of the function, for token counts outside the guarded ranges or not divisible by the group size
// OFF: dynamic-tokens.mlir:[[# @LINE + 1]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
  %0 = sp.all_reduce %x over @tp : tensor<?x64xbf16>
  %1:2 = sp.fused_add_rms_norm %0, %res, %w epsilon = 1.0e-5 : tensor<?x64xbf16>, tensor<64xbf16>
  %2 = sp.quant %1#0, %s : tensor<?x64xbf16> -> tensor<?x64xf8E4M3FN>
  return %2 : tensor<?x64xf8E4M3FN>
}

// -----

sp.group @tp size(2)

// A sum over the tokens mixes rows: padding would change it, so
// dynamic=pad leaves the function unversioned (dynamic=guard versions it).
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:1: remark: function left unversioned on its dynamic token count: dynamic=pad needs rows that stay apart, but 'linalg.generic' at loc("{{.*}}dynamic-tokens.mlir":[[# @LINE + 12]]:10) mixes them
// CHECK-LABEL: func.func @pad_refused
// CHECK: scf.if
func.func @pad_refused(%x: tensor<?x64xf32>, %w: tensor<64xf32> {sp.replicated}) -> (tensor<?x64xf32>, tensor<64xf32>) {
// REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version of the function, for token counts outside the guarded ranges or not divisible by the group size
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 2]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
// OFF: dynamic-tokens.mlir:[[# @LINE + 1]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
  %0 = sp.all_reduce %x over @tp : tensor<?x64xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<64xf32>) -> tensor<64xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%1 : tensor<?x64xf32>) outs(%f : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  return %1, %sum : tensor<?x64xf32>, tensor<64xf32>
}

// -----

sp.group @tp size(2)

// Rows whose count is not a function argument's dim 0 (here an index
// argument sizes them): no guard can check n, so the site is left alone.
// CHECK-LABEL: func.func @untraced
// CHECK-NOT: scf.if
func.func @untraced(%n: index, %v: f32, %w: tensor<64xf32> {sp.replicated}) -> tensor<?x64xf32> {
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %f = linalg.fill ins(%v : f32) outs(%e : tensor<?x64xf32>) -> tensor<?x64xf32>
// REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 2]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
// OFF: dynamic-tokens.mlir:[[# @LINE + 1]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
  %0 = sp.all_reduce %f over @tp : tensor<?x64xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  return %1 : tensor<?x64xf32>
}

// -----

sp.group @tp size(2)

// A static site beside a dynamic one is in both versions (rewritten in
// both); the census counts the guarded version only, so the bytes of the
// static site are not counted twice (found by sp-smith: "collective bytes
// per rank grew").
// CHECK-LABEL: func.func @mixed
// CHECK: scf.if
// CHECK: sp.reduce_scatter %{{.*}} : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: } else {
// CHECK: sp.reduce_scatter %{{.*}} : tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: sp.all_reduce %{{.*}} : tensor<?x16xf32>
// MIXED: "function": "mixed"
// MIXED: "before": {
// MIXED-NEXT: "all_reduce": 2,
// MIXED: "bytes_per_rank": 512,
// MIXED: "after": {
// MIXED-NEXT: "all_reduce": 0,
// MIXED-NEXT: "reduce_scatter": 2,
// MIXED-NEXT: "all_gather": 2,
// MIXED: "bytes_per_rank": 512,
func.func @mixed(%s: tensor<8x16xf32>, %x: tensor<?x16xf32>, %w: tensor<16xf32> {sp.replicated}) -> (tensor<8x16xf32>, tensor<?x16xf32>) {
  %0 = sp.all_reduce %s over @tp : tensor<8x16xf32>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
// REMARK: dynamic-tokens.mlir:[[# @LINE + 3]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version
// PAD-REMARK: dynamic-tokens.mlir:[[# @LINE + 2]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and this is the unrewritten version
// OFF: dynamic-tokens.mlir:[[# @LINE + 1]]:8: remark: all_reduce left alone: the token dimension (0) is dynamic and no token guard covers it
  %2 = sp.all_reduce %x over @tp : tensor<?x16xf32>
  %3 = sp.rms_norm %2, %w epsilon = 1.0e-5 : tensor<?x16xf32>, tensor<16xf32>
  return %1, %3 : tensor<8x16xf32>, tensor<?x16xf32>
}
