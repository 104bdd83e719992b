// Thresholds (min-tokens, device=sm90|sm100 with vLLM's rule) and
// assume-replicated. Remarks go to stderr, the IR to stdout.
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="min-tokens=64" 2>/dev/null | FileCheck %s --check-prefix=MIN64
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="min-tokens=64" 2>&1 >/dev/null | FileCheck %s --check-prefix=MIN64-REMARK
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="device=sm90" 2>/dev/null | FileCheck %s --check-prefix=SM90
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="device=sm90" 2>&1 >/dev/null | FileCheck %s --check-prefix=SM90-REMARK
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="device=sm100" 2>&1 >/dev/null | FileCheck %s --check-prefix=SM100-REMARK
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism 2>/dev/null | FileCheck %s --check-prefix=DEFAULT
// RUN: sp-opt %s --split-input-file --sp-sequence-parallelism="assume-replicated=true" 2>/dev/null | FileCheck %s --check-prefix=ASSUME
// RUN: not sp-opt %s --split-input-file --sp-sequence-parallelism="device=sm80" 2>&1 | FileCheck %s --check-prefix=BADDEV
// RUN: not sp-opt %s --split-input-file --sp-sequence-parallelism="min-tokens=-1" 2>&1 | FileCheck %s --check-prefix=BADMIN

// BADDEV: for the --device option: 'sm80' is not one of: none, sm90, sm100
// BADMIN: error: sp-sequence-parallelism: min-tokens must be >= 0, got -1

sp.group @tp size(2)

// hidden 8192 bf16 tp 2: sm90 needs floor(8 MiB * 2 / (8192 * 2)) = 1024
// tokens, sm100 floor(32 MiB * 2 / (8192 * 2)) = 4096; min-tokens=64 is
// inclusive.
// MIN64-LABEL: func.func @tokens64
// MIN64: sp.reduce_scatter
// SM90-LABEL: func.func @tokens64
// SM90: sp.all_reduce
// SM90-REMARK: options.mlir:[[@LINE+3]]:8: remark: all_reduce left alone: 64 tokens are below vLLM's threshold of 1024 for device=sm90 (hidden 8192, tp 2, 2-byte elements)
// SM100-REMARK: options.mlir:[[@LINE+2]]:8: remark: all_reduce left alone: 64 tokens are below vLLM's threshold of 4096 for device=sm100 (hidden 8192, tp 2, 2-byte elements)
func.func @tokens64(%x: tensor<64x8192xbf16>, %w: tensor<8192xbf16> {sp.replicated}) -> tensor<64x8192xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<64x8192xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<64x8192xbf16>, tensor<8192xbf16>
  return %1 : tensor<64x8192xbf16>
}

// -----

sp.group @tp size(2)

// 1024 tokens meet sm90's threshold exactly, not sm100's.
// SM90-LABEL: func.func @tokens1024
// SM90: sp.reduce_scatter
// SM100-REMARK: options.mlir:[[@LINE+2]]:8: remark: all_reduce left alone: 1024 tokens are below vLLM's threshold of 4096
func.func @tokens1024(%x: tensor<1024x8192xbf16>, %w: tensor<8192xbf16> {sp.replicated}) -> tensor<1024x8192xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<1024x8192xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<1024x8192xbf16>, tensor<8192xbf16>
  return %1 : tensor<1024x8192xbf16>
}

// -----

sp.group @tp size(2)

// hidden 4096: sm90 sets no threshold; min-tokens=64 still applies.
// SM90-LABEL: func.func @hidden4096
// SM90: sp.reduce_scatter
// MIN64-LABEL: func.func @hidden4096
// MIN64: sp.all_reduce
// MIN64-REMARK: options.mlir:[[@LINE+2]]:8: remark: all_reduce left alone: 32 tokens are below min-tokens=64
func.func @hidden4096(%x: tensor<32x4096xbf16>, %w: tensor<4096xbf16> {sp.replicated}) -> tensor<32x4096xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<32x4096xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<32x4096xbf16>, tensor<4096xbf16>
  return %1 : tensor<32x4096xbf16>
}

// -----

sp.group @tp size(2)

// assume-replicated trusts unmarked arguments (vLLM's model); by default
// they are per-rank values.
// DEFAULT-LABEL: func.func @unmarked
// DEFAULT: sp.all_reduce
// ASSUME-LABEL: func.func @unmarked
// ASSUME: sp.reduce_scatter
// ASSUME: sp.all_slice
func.func @unmarked(%x: tensor<8x16xf32>, %r: tensor<8x16xf32>, %w: tensor<16xf32>) -> tensor<8x16xf32> {
  %0 = sp.all_reduce %x over @tp : tensor<8x16xf32>
  %1:2 = sp.fused_add_rms_norm %0, %r, %w epsilon = 1.0e-5 : tensor<8x16xf32>, tensor<16xf32>
  return %1#0 : tensor<8x16xf32>
}
