//===- Passes.td - sp conversion passes --------------------*- tablegen -*-===//
//
// Lowerings of the sp dialect, one folder per target under lib/Conversion:
// SPToLinalg (row-wise ops with the exact numerics), SPToCPURuntime (the
// CPU runtime's calls), SPToCUDA (the CUDA runtime's calls); and the bridge
// to upstream's shard dialect both ways (ShardToSP, SPToShard).
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_PASSES_TD
#define SP_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// SPToLinalg
//===----------------------------------------------------------------------===//

def SPDecomposeToLinalg : Pass<"sp-decompose-to-linalg"> {
  let summary = "Decompose sp.rms_norm, sp.fused_add_rms_norm and sp.quant "
                "into linalg.generic with sp's exact numerics, and the "
                "collective matmul ops into their collective and GEMM";
  let description = [{
    Rewrites the row-wise ops into `linalg.generic` ops on tensors that
    compute exactly what `include/sp/Runtime/Numerics.h` defines:

    * rms_norm: the sum of squares in f32 as a reduction over the last
      dimension (sequential order once lowered to loops), then
      `inv = 1 / sqrt(ss / H + eps)`, then `T(T(float(x) * inv) * w)`;
    * fused_add_rms_norm: `z = T(x + r)` first, then the norm of `z`;
    * quant: `1.0f / scale`, multiply, clamp to [-448, 448] ([-224, 224] for
      f8E4M3FNUZ), and `arith.truncf` to fp8 (round to nearest even; see
      sp-expand-fp8 for how that is made executable);
    * all_gather_matmul / matmul_reduce_scatter: `sp.all_gather` then the
      GEMM, or the GEMM then `sp.reduce_scatter` (the unfused reference;
      `sp-decompose-collective-matmul` writes the pipelined form instead).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

//===----------------------------------------------------------------------===//
// SPToCPURuntime
//===----------------------------------------------------------------------===//

def SPPrepareCPURuntime : Pass<"sp-prepare-cpu-runtime", "::mlir::ModuleOp"> {
  let summary = "Lower sp.all_slice and sp.group_rank to this rank's index "
                "in the group and declare the CPU runtime functions and "
                "group descriptors collectives use";
  let description = [{
    Run before one-shot bufferization on the CPU path: `sp.all_slice`
    becomes `tensor.extract_slice` at offset `index * chunk` and
    `sp.group_rank` becomes `index`, this rank's index in the op's group:
    the job's rank (`sp_rt_rank()`) for a group without a layout, else its
    grid coordinates on the group's axes linearized in the order listed
    (arith ops). Every runtime function that the bufferized
    `sp.all_reduce`, `sp.reduce_scatter`, `sp.all_gather` and
    `sp.ring_shift` will call is declared (`func.func private`, C
    interface), and so is the descriptor of every group they use: a
    constant `memref.global @__sp_group_<name>` holding `[ndims, grid...,
    naxes, axes...]` (`[1, N, 1, 0]` for `size(N)` alone), which the calls
    take as `memref<?xi64>` and the runtime turns into the group's
    communicator (`sp/Runtime/RuntimeABI.h`). A ring_shift bufferizes to
    `sp_rt_ring_shift_start_<T>` (MPI_Isend/MPI_Irecv) at the op and
    `sp_rt_ring_shift_wait` before the first use of its result. Element types without a
    runtime implementation are reported here, at the op. `sp.replicated`
    argument attributes are dropped: they mean nothing to LLVM.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

//===----------------------------------------------------------------------===//
// SPToCUDA
//===----------------------------------------------------------------------===//

def SPConvertToCUDARuntime
    : Pass<"sp-convert-to-cuda-runtime", "::mlir::ModuleOp"> {
  let summary = "Turn sp ops on tensors into calls of the CUDA runtime: NCCL "
                "collectives and launches of sp's kernels, on buffers";
  let description = [{
    The GPU counterpart of `sp-decompose-to-linalg` + `sp-prepare-cpu-runtime`,
    run before one-shot bufferization (like upstream's
    `convert-shard-to-mpi`). Every sp op becomes a call of
    `libsp_cuda_runtime.so` on buffers: each tensor operand is read through
    `bufferization.to_buffer ... read_only`, each result is a fresh
    `memref.alloc` returned with `bufferization.to_tensor ... restrict
    writable`, and the call takes them as unranked memrefs (C interface), so
    the runtime sees shapes and strides and checks them.

    | sp op | runtime function | on the GPU |
    |---|---|---|
    | `sp.all_reduce` | `sp_cuda_rt_all_reduce_<T>` | `ncclAllReduce` |
    | `sp.reduce_scatter` | `sp_cuda_rt_reduce_scatter_<T>` | `ncclReduceScatter` |
    | `sp.all_gather` | `sp_cuda_rt_all_gather_<T>` | `ncclAllGather` (bytes: fp8 too) |
    | `sp.rms_norm` | `sp_cuda_rt_rms_norm_<T>` | `sp_cuda_rms_norm` kernel |
    | `sp.fused_add_rms_norm` | `sp_cuda_rt_fused_add_rms_norm_<T>` | fused kernel |
    | `sp.quant` | `sp_cuda_rt_quant_<T>_<F8>` | quant kernel |
    | `sp.quant(sp.rms_norm)` | `sp_cuda_rt_rms_norm_quant_<T>_<F8>` | one kernel |
    | `sp.quant(sp.fused_add_rms_norm)` | `sp_cuda_rt_fused_add_rms_norm_quant_<T>_<F8>` | one kernel |
    | `sp.all_slice` | `tensor.extract_slice` at this rank's index in the group | (no communication) |
    | `linalg.matmul` (init a fill of +0.0) | `sp_cuda_rt_matmul_<in>_<out>` | one cuBLASLt GEMM, beta 0 |
    | `linalg.matmul` (any other init) | `sp_cuda_rt_matmul_accumulate_<in>_<out>` | one cuBLASLt GEMM, beta 1 |

    Calls that communicate take the group's descriptor (a constant
    `memref.global @__sp_group_<name>`, `[ndims, grid..., naxes, axes...]`,
    as `memref<?xi64>`); the runtime runs them on the group's communicator
    (`ncclCommSplit` of the job's for a group with a layout). `sp.all_slice`
    and `sp.group_rank` use this rank's index in the group, computed from
    `sp_cuda_rt_rank()` as on the CPU path.

    `linalg.matmul` on tensors (default indexing maps) is converted when
    both operands have one type of f32, f16, bf16 or f8E4M3FN (FP8: static
    k and n multiples of 16) and the result is f32, f16 or bf16; others
    stay linalg. A `linalg.generic` that is `linalg.matmul` written out
    (maps (m, k), (k, n) -> (m, n), m and n parallel, k a reduction; a body
    that converts the operands to the result type with `arith.extf` or
    `arith.truncf`, multiplies them and adds the product to the output, with
    no fast-math flags or rounding modes) is converted too. With a fill of
    +0.0 as its init, the fill is not read
    (and erased when nothing else uses it); otherwise the init is an input
    and the call computes init + lhs x rhs. The result has the init's
    shape; the runtime reports lhs/rhs/init shapes that disagree.

    A norm whose only user is an `sp.quant` is fused with it: the
    normalized activations never reach memory (bitwise the same result).
    Every call also passes the op's name and source location, which the
    runtime puts in its error messages. Element types the kernels or NCCL do
    not support are reported at the op. `sp.replicated` argument attributes
    are dropped; `sp.group` symbols are left for `sp-erase-groups`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SPCUDADeviceBuffers : Pass<"sp-cuda-device-buffers", "::mlir::ModuleOp"> {
  let summary = "Keep the buffers that only CUDA runtime calls touch in "
                "device memory";
  let description = [{
    Runs after bufferization in `sp-lower-to-cuda`, on the memrefs that
    `sp-convert-to-cuda-runtime`'s calls take. Host code (loops of linalg
    ops, `memref.copy`, loads and stores) cannot touch device memory, so a
    buffer becomes device-resident only when every use of it and of its
    views is a runtime call (`sp_cuda_rt_*` with the C interface), a
    `memref.dim`, its `memref.dealloc` or, for a public function's result,
    a `func.return` that follows the function's `sp_cuda_rt_function_exit`
    in the same block:

    - a `memref.alloc` of that kind becomes `sp_cuda_rt_device_alloc(bytes)`
      (stream-ordered `cudaMallocAsync`) viewed with `memref.view`, its
      `memref.dealloc` `sp_cuda_rt_device_free` (`cudaFreeAsync`);
    - an argument of a public function of that kind is read through
      `sp_cuda_rt_argument_to_device` once per call (a device pointer is
      used in place, host memory is copied once) and released before each
      return;
    - a result of a public function of that kind is copied once to a fresh
      host buffer (`sp_cuda_rt_result_to_host`) just before the function's
      `sp_cuda_rt_function_exit`, the synchronization that waits for it.

    Everything else stays in host memory, where the runtime stages it per
    call as before. Buffers passed to other functions, yielded from
    regions or stored stay on the host too.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SPCUDAMapKernels : Pass<"sp-cuda-map-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn the host's buffer compute into parallel loops mapped "
                "to GPU blocks and threads";
  let description = [{
    Runs after bufferization in `sp-lower-to-cuda`, before upstream's
    `convert-parallel-loops-to-gpu` and `gpu-kernel-outlining`. In every
    function:

    - `memref.copy` becomes `linalg.copy`, and every linalg op a loop nest
      (`scf.parallel` over its parallel dimensions, `scf.for` inside for its
      reductions); a nest with no parallel dimension (a full reduction) runs
      in a one-iteration `scf.parallel`: one GPU thread;
    - a loop nest becomes a GPU kernel when every buffer it touches is one
      the GPU can address: a buffer that only runtime calls, other kernels,
      `memref.dim`, its dealloc and, for public functions, the return touch
      (what `sp-cuda-device-buffers` then places in device memory). The
      others stay host loops (a buffer that host code also reads, a
      `memref.global`, a private function's arguments), and the pass says
      so with a remark;
    - a kernel's loop is tiled by 256 along its innermost dimension (one
      thread per element, 256 per block; the other dimensions tiled by 1)
      and mapped: the tiles' innermost dimensions to block x, y, z, the
      rest to sequential loops, the tile to thread x.
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say, with a remark, why each loop nest left on the host stays "
           "there">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SPGPUKernelHostTwins : Pass<"sp-gpu-kernel-host-twins",
                                "::mlir::ModuleOp"> {
  let summary = "Give every outlined GPU kernel a host twin compiled from "
                "the same body";
  let description = [{
    For each `gpu.func` kernel of a `gpu.module`, adds a host function
    `__sp_twin_<module>_<kernel>` with the kernel's arguments followed by
    the grid and block sizes (x, y, z each), whose body is the kernel's,
    run for every block and thread in turn. Run it once the kernels'
    arithmetic is final (after the float emulation both sides share), so
    that twin and kernel compute the same thing. Kernels with barriers,
    shared memory or more than one block cannot have a twin: an error.

    The emulated runtime and the mock GPU have no GPU to run the kernels'
    binaries; they run the twins (`sp-gpu-launch-twins` hands each launch
    its twin). A GPU runs the binaries.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect"];
}

def SPGPULaunchTwins : Pass<"sp-gpu-launch-twins", "::mlir::ModuleOp"> {
  let summary = "Tell the CUDA runtime the host twin of every kernel launch";
  let description = [{
    Runs on the LLVM dialect, after `gpu-to-llvm`. Before every
    `gpu.launch_func` of kernel `K` of module `M` it calls
    `sp_cuda_rt_kernel_twin(twin, kinds, count, location)`:

    - `twin` is `__sp_twin_M_K_packed(void **params, int64_t *dims)`,
      generated here, which reads the launch's arguments the way the
      launch passes them (one pointer per LLVM argument) and calls the twin
      `sp-gpu-kernel-host-twins` made with the grid and block sizes;
    - `kinds` has one word per argument: its size in bytes, plus 2^32 for
      pointers (so a runtime can copy the arguments of a launch it runs
      later, and check the pointers);
    - `location` names the launch in errors.

    The GPU runtime ignores the twin; the emulated runtime and the mock GPU
    run it in place of the binary.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

//===----------------------------------------------------------------------===//
// ShardToSP / SPToShard
//===----------------------------------------------------------------------===//

def SPImportShard : Pass<"sp-import-shard", "::mlir::ModuleOp"> {
  let summary = "Import upstream shard collectives (as shard-partition emits "
                "them) as sp collectives over sp.group symbols";
  let description = [{
    Maps the SPMD output of upstream's `shard-partition` to sp, so that sp's
    passes (`sp-sequence-parallelism`, `sp-collective-matmul`, the CPU and
    CUDA lowerings) apply to it:

    | shard | sp |
    |---|---|
    | `shard.all_reduce` (input type = result type) | `sp.all_reduce` |
    | `shard.reduce_scatter ... scatter_axis = d` | `sp.reduce_scatter ... dim d` |
    | `shard.all_gather ... gather_axis = d` | `sp.all_gather ... dim d` |
    | `shard.all_slice ... slice_axis = d` | `sp.all_slice ... dim d` |
    | `shard.process_multi_index` of one grid axis | `sp.group_rank` |

    Reductions `sum`, `max`, `min`, `product`, `average` become `sum`,
    `max`, `min`, `prod`, `avg`. Every distinct (grid, grid_axes) pair gets
    one `sp.group`: a 1-D grid spanned by axes [0] becomes the plain
    `sp.group @<grid> size(N)` (`@<grid>_axes_0` while the grid is still
    used by ops left alone), any other pair
    `sp.group @<grid>_axes_<a>_<b> size(S) grid [..] axes [a, b]`, with the
    grid's shape and the op's grid_axes in order (names that clash get a
    numeric suffix). A collective with empty grid_axes is the identity and
    is replaced by its input. Grids that the import leaves without users
    are erased; other shard ops are left as they are.

    A function argument annotated with a fully replicated sharding
    (`shard.shard %arg to %s` with `%s = shard.sharding @g split_axes =
    [[], ...]`, no halos or offsets, not `annotate_for_users`) gets
    `sp.replicated`; the annotation itself stays.

    Collectives that cannot be imported are left alone with a remark that
    says why: grids with a dynamic extent (`?`), `bitwise_*` and `generic`
    reductions, an all-reduce whose accumulator type differs from its input
    type, memref operands, and shard's collectives without an sp
    counterpart (all_to_all, broadcast, gather, ...). The pass fails only
    on malformed IR. `sp-export-shard` is its inverse.
  }];
  let dependentDialects = ["::mlir::sp::SPDialect"];
}

def SPExportShard : Pass<"sp-export-shard", "::mlir::ModuleOp"> {
  let summary = "Export sp collectives and groups as upstream shard "
                "collectives and grids, for a shard-based lowering";
  let description = [{
    The inverse of `sp-import-shard`, so that a compiler can keep its own
    shard-based lowering (e.g. `convert-shard-to-mpi`) after sp's rewrite:
    `sp.all_reduce`, `sp.reduce_scatter`, `sp.all_gather` and `sp.all_slice`
    become the shard collectives, `sp.group_rank` becomes
    `shard.process_multi_index` (linearized with arith for a group that
    spans several grid axes).

    A plain `sp.group @g size(N)` becomes `shard.grid @g(shape = N)` with
    grid_axes [0]. A group with a layout becomes a grid of its `grid` shape,
    shared by the groups with the same shape, with grid_axes = its axes; the
    grid is named `@<x>` for a group named `@<x>_axes_<a>_...` (the import's
    names; an existing `shard.grid @<x>` of that shape is reused), otherwise
    `@<group>_grid`. `sp.group` symbols are erased once nothing refers to
    them; `sp.replicated` argument attributes are kept.

    The fused `sp.all_gather_matmul` and `sp.matmul_reduce_scatter` and
    `sp.ring_shift` have no shard equivalent and are errors: run
    `sp-decompose-to-linalg` first to expand the fused ops, and export before
    `sp-decompose-collective-matmul` introduces ring shifts. `sp.rms_norm`,
    `sp.fused_add_rms_norm` and `sp.quant` are not collectives and are left
    as they are; `sp-decompose-to-linalg` turns them into linalg.
  }];
  let dependentDialects = ["::mlir::shard::ShardDialect",
                           "::mlir::arith::ArithDialect"];
}

//===----------------------------------------------------------------------===//
// CPUCodegen
//===----------------------------------------------------------------------===//

def SPCPUVectorize : Pass<"sp-cpu-vectorize", "::mlir::func::FuncOp"> {
  let summary = "Split, tile and vectorize linalg ops on tensors for the CPU "
                "without changing any result bit";
  let description = [{
    Every linalg op with static tiles is split (`linalg::splitOp`) so that
    its tiles divide it, tiled with `scf.for` (`scf::tileUsingSCF`) and the
    innermost tile vectorized (`linalg::vectorize`). Lanes are always
    independent outputs, never steps of a reduction:

    * `linalg.matmul`: cache blocks of N and K, then register tiles of
      `rows x 2 vectors` of columns with K tiled by 1, so each output element
      still accumulates k = 0, 1, ... in order with a multiply and an add
      (two roundings, no FMA);
    * generics whose innermost loop is parallel (elementwise, fills, the
      rank-order sum): vectors along that loop;
    * generics whose innermost loop is a reduction (the norms' sum of
      squares): vectors across the innermost parallel loop (rows), each lane
      running its row's reduction in index order.

    Ops it cannot vectorize are left for convert-linalg-to-loops.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", /*default=*/"0",
           "Vector register width in bits (0: the host's)">,
    Option<"matmulRows", "matmul-rows", "int64_t", /*default=*/"4",
           "Rows of a matmul register tile">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def SPCPULowerVectors : Pass<"sp-cpu-lower-vectors", "::mlir::func::FuncOp"> {
  let summary = "Hoist the accumulators of the vectorized tiles and lower "
                "n-D vector ops to 1-D loads, stores and arithmetic";
  let description = [{
    Runs on buffers after bufferization: folds subviews into the transfers,
    keeps loop-invariant transfers (a matmul tile's accumulators) in
    registers across the reduction loop, and lowers multi-reductions with
    the inner-parallel strategy (one vector add per reduction step, in
    order), transposes, broadcasts and transfers, so that no reduction is
    reassociated and no multiply-add is contracted.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // SP_CONVERSION_PASSES_TD
