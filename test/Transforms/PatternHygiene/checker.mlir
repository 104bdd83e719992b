// The hygiene driver catches both kinds of faulty pattern.
// RUN: not sp-opt %s --test-sp-pattern-hygiene=fault=modify-then-fail 2>&1 | FileCheck %s --check-prefix=MODIFY
// RUN: not sp-opt %s --test-sp-pattern-hygiene=fault=break-verifier 2>&1 | FileCheck %s --check-prefix=VERIFY

// MODIFY: error: pattern hygiene: pattern '{{.*}}ModifyThenFail' returned failure but changed the IR
// VERIFY: error: pattern hygiene: the IR does not verify after pattern '{{.*}}BreakVerifier'

module {
  sp.group @tp size(2)
  func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    %0 = sp.all_reduce %x over @tp : tensor<4x8xf32>
    return %0 : tensor<4x8xf32>
  }
}
