// An scf.while over layers whose body branches (scf.if) on the parity of
// the layer, the hidden state carried through the loop; the site in the
// body (all_reduce -> rms_norm -> GEMM) is rewritten inside the loop.
// Used by control-flow.test.
module {
  sp.group @tp size(2)
  func.func @forward(%x: tensor<16x32xbf16>, %w: tensor<32xbf16> {sp.replicated},
                     %wmat: tensor<32x32xbf16>) -> tensor<16x32xbf16> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %zero = arith.constant 0.0 : bf16
    %h0 = sp.all_reduce %x over @tp : tensor<16x32xbf16>
    %end, %h = scf.while (%i = %c0, %hi = %h0) : (index, tensor<16x32xbf16>) -> (index, tensor<16x32xbf16>) {
      %go = arith.cmpi slt, %i, %c3 : index
      scf.condition(%go) %i, %hi : index, tensor<16x32xbf16>
    } do {
    ^bb0(%i: index, %hb: tensor<16x32xbf16>):
      %n = sp.rms_norm %hb, %w epsilon = 1.0e-6 : tensor<16x32xbf16>, tensor<32xbf16>
      %e = tensor.empty() : tensor<16x32xbf16>
      %z = linalg.fill ins(%zero : bf16) outs(%e : tensor<16x32xbf16>) -> tensor<16x32xbf16>
      %p = linalg.matmul ins(%n, %wmat : tensor<16x32xbf16>, tensor<32x32xbf16>) outs(%z : tensor<16x32xbf16>) -> tensor<16x32xbf16>
      %r = sp.all_reduce %p over @tp : tensor<16x32xbf16>
      %m = sp.rms_norm %r, %w epsilon = 1.0e-6 : tensor<16x32xbf16>, tensor<32xbf16>
      %e2 = tensor.empty() : tensor<16x32xbf16>
      %z2 = linalg.fill ins(%zero : bf16) outs(%e2 : tensor<16x32xbf16>) -> tensor<16x32xbf16>
      %q = linalg.matmul ins(%m, %wmat : tensor<16x32xbf16>, tensor<32x32xbf16>) outs(%z2 : tensor<16x32xbf16>) -> tensor<16x32xbf16>
      %parity = arith.remui %i, %c2 : index
      %even = arith.cmpi eq, %parity, %c0 : index
      %s = scf.if %even -> tensor<16x32xbf16> {
        %a = arith.addf %q, %hb : tensor<16x32xbf16>
        scf.yield %a : tensor<16x32xbf16>
      } else {
        scf.yield %q : tensor<16x32xbf16>
      }
      %next = arith.addi %i, %c1 : index
      scf.yield %next, %s : index, tensor<16x32xbf16>
    }
    %out = sp.rms_norm %h, %w epsilon = 1.0e-6 : tensor<16x32xbf16>, tensor<32xbf16>
    return %out : tensor<16x32xbf16>
  }
}
