// SPPlugin.so loads into Debian's mlir-opt-22 (a tool we did not build): the
// dialect parses, prints and verifies, and the pass runs.
// (mlir-opt registers pass flags before plugins load, so plugin passes are
// named in --pass-pipeline, as in upstream's standalone example.)
// RUN: %mlir_opt %s --load-dialect-plugin=%sp_lib_dir/SPPlugin.so --verify-roundtrip | FileCheck %s --check-prefix=PARSE
// RUN: %mlir_opt %s --load-dialect-plugin=%sp_lib_dir/SPPlugin.so --load-pass-plugin=%sp_lib_dir/SPPlugin.so --pass-pipeline="builtin.module(sp-sequence-parallelism,canonicalize)" | FileCheck %s
// RUN: %mlir_opt %s --load-dialect-plugin=%sp_lib_dir/SPPlugin.so --load-pass-plugin=%sp_lib_dir/SPPlugin.so --pass-pipeline="builtin.module(sp-sequence-parallelism{min-tokens=256 report=-})" 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not %mlir_opt %s 2>&1 | FileCheck %s --check-prefix=NOPLUGIN

// PARSE: sp.group @tp size(2)
// PARSE: sp.all_reduce %{{.*}} over @tp : tensor<64x32xbf16>

// CHECK-LABEL: func.func @layer
// CHECK: %[[RS:.*]] = sp.reduce_scatter %{{.*}} over @tp : tensor<64x32xbf16> -> tensor<32x32xbf16>
// CHECK: %[[N:.*]] = sp.rms_norm %[[RS]], %{{.*}} : tensor<32x32xbf16>, tensor<32xbf16>
// CHECK: sp.all_gather %[[N]] over @tp : tensor<32x32xbf16> -> tensor<64x32xbf16>
// CHECK-NOT: sp.all_reduce

// OPTIONS: remark: all_reduce left alone: 64 tokens are below min-tokens=256
// OPTIONS: "min_tokens": 256

// NOPLUGIN: Dialect `sp' not found for custom op 'sp.group'

sp.group @tp size(2)
func.func @layer(%x: tensor<64x32xbf16>, %w: tensor<32xbf16> {sp.replicated}) -> tensor<64x32xbf16> {
  %0 = sp.all_reduce %x over @tp : tensor<64x32xbf16>
  %1 = sp.rms_norm %0, %w epsilon = 1.0e-6 : tensor<64x32xbf16>, tensor<32xbf16>
  return %1 : tensor<64x32xbf16>
}

// Bad input through the plugin: a located verifier error and a failing exit.
// RUN: not %mlir_opt %S/Inputs/bad-group.mlir --load-dialect-plugin=%sp_lib_dir/SPPlugin.so 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: bad-group.mlir:3:8: error: 'sp.all_reduce' op refers to unknown group @nope
