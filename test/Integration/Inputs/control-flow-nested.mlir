// Nested boundaries: the layers are an scf.for inside an scf.for (the
// stack of layers runs twice) inside a private function called once. The
// hidden state and the residual cross the call, both loops' iter_args and
// both loops' exits on local rows (control-flow.test).
module {
  sp.group @tp size(2)
  func.func @forward(%x: tensor<16x32xbf16>, %stack: tensor<3x32xbf16> {sp.replicated},
                     %wl: tensor<32x32xbf16>, %wf: tensor<32xbf16> {sp.replicated}) -> tensor<16x32xbf16> {
    %zero = arith.constant dense<0.0> : tensor<16x32xbf16>
    %h0 = sp.all_reduce %x over @tp : tensor<16x32xbf16>
    %h, %res = func.call @layers(%h0, %zero, %stack, %wl)
        : (tensor<16x32xbf16>, tensor<16x32xbf16>, tensor<3x32xbf16>, tensor<32x32xbf16>)
        -> (tensor<16x32xbf16>, tensor<16x32xbf16>)
    %f, %fr = sp.fused_add_rms_norm %h, %res, %wf epsilon = 1.0e-6 : tensor<16x32xbf16>, tensor<32xbf16>
    return %f : tensor<16x32xbf16>
  }
  func.func private @layers(%h0: tensor<16x32xbf16>, %r0: tensor<16x32xbf16>,
                            %stack: tensor<3x32xbf16>, %wl: tensor<32x32xbf16>)
      -> (tensor<16x32xbf16>, tensor<16x32xbf16>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %zb = arith.constant 0.0 : bf16
    %h, %res = scf.for %j = %c0 to %c2 step %c1 iter_args(%ho = %h0, %ro = %r0)
        -> (tensor<16x32xbf16>, tensor<16x32xbf16>) {
      %hi2, %ri2 = scf.for %i = %c0 to %c3 step %c1 iter_args(%hi = %ho, %ri = %ro)
          -> (tensor<16x32xbf16>, tensor<16x32xbf16>) {
        %w = tensor.extract_slice %stack[%i, 0] [1, 32] [1, 1] : tensor<3x32xbf16> to tensor<32xbf16>
        %n, %r = sp.fused_add_rms_norm %hi, %ri, %w epsilon = 1.0e-6 : tensor<16x32xbf16>, tensor<32xbf16>
        %e = tensor.empty() : tensor<16x32xbf16>
        %f0 = linalg.fill ins(%zb : bf16) outs(%e : tensor<16x32xbf16>) -> tensor<16x32xbf16>
        %p = linalg.matmul ins(%n, %wl : tensor<16x32xbf16>, tensor<32x32xbf16>)
            outs(%f0 : tensor<16x32xbf16>) -> tensor<16x32xbf16>
        %o = sp.all_reduce %p over @tp : tensor<16x32xbf16>
        scf.yield %o, %r : tensor<16x32xbf16>, tensor<16x32xbf16>
      }
      scf.yield %hi2, %ri2 : tensor<16x32xbf16>, tensor<16x32xbf16>
    }
    return %h, %res : tensor<16x32xbf16>, tensor<16x32xbf16>
  }
}
