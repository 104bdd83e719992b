// A layout group's collective in a program for mlir-runner
// (test/Integration/group-layout.test): run in one process, the runtime
// finds the job smaller than the group's grid.
sp.group @tp size(4) grid [2, 4] axes [1]

func.func @main() {
  %x = arith.constant dense<1.5> : tensor<4xf32>
  %0 = sp.all_reduce %x over @tp : tensor<4xf32>
  %u = tensor.cast %0 : tensor<4xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func private @printMemrefF32(tensor<*xf32>)
