// test/CUDA/mock-counts.test: examples/llama-tp4.mlir without its
// elementwise activation (arith.mulf), so that after sp-sequence-parallelism
// and sp-collective-matmul every op is an sp op that the CUDA runtime runs.
// Llama-like TP model: 4 layers, 256 tokens, hidden 128, intermediate 256, tp 4, bf16, fp8
module {
  sp.group @tp size(4)
  func.func @forward(%embedding_partial: tensor<256x128xbf16>, %input_norm_0: tensor<128xbf16> {sp.replicated}, %qkv_scale_0: tensor<f32> {sp.replicated}, %wqkv_0: tensor<128x96xf8E4M3FN>, %wo_0: tensor<96x128xbf16>, %post_norm_0: tensor<128xbf16> {sp.replicated}, %mlp_scale_0: tensor<f32> {sp.replicated}, %wgate_up_0: tensor<128x64xf8E4M3FN>, %wdown_0: tensor<64x128xbf16>, %input_norm_1: tensor<128xbf16> {sp.replicated}, %qkv_scale_1: tensor<f32> {sp.replicated}, %wqkv_1: tensor<128x96xf8E4M3FN>, %wo_1: tensor<96x128xbf16>, %post_norm_1: tensor<128xbf16> {sp.replicated}, %mlp_scale_1: tensor<f32> {sp.replicated}, %wgate_up_1: tensor<128x64xf8E4M3FN>, %wdown_1: tensor<64x128xbf16>, %input_norm_2: tensor<128xbf16> {sp.replicated}, %qkv_scale_2: tensor<f32> {sp.replicated}, %wqkv_2: tensor<128x96xf8E4M3FN>, %wo_2: tensor<96x128xbf16>, %post_norm_2: tensor<128xbf16> {sp.replicated}, %mlp_scale_2: tensor<f32> {sp.replicated}, %wgate_up_2: tensor<128x64xf8E4M3FN>, %wdown_2: tensor<64x128xbf16>, %input_norm_3: tensor<128xbf16> {sp.replicated}, %qkv_scale_3: tensor<f32> {sp.replicated}, %wqkv_3: tensor<128x96xf8E4M3FN>, %wo_3: tensor<96x128xbf16>, %post_norm_3: tensor<128xbf16> {sp.replicated}, %mlp_scale_3: tensor<f32> {sp.replicated}, %wgate_up_3: tensor<128x64xf8E4M3FN>, %wdown_3: tensor<64x128xbf16>, %final_norm: tensor<128xbf16> {sp.replicated}) -> (tensor<256x128xbf16>) {
    %zero = arith.constant 0.0 : bf16
    %v1 = sp.all_reduce %embedding_partial over @tp : tensor<256x128xbf16>
    %v2 = sp.rms_norm %v1, %input_norm_0 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v3 = sp.quant %v2, %qkv_scale_0 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v4 = tensor.empty() : tensor<256x96xbf16>
    %v5 = linalg.fill ins(%zero : bf16) outs(%v4 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v6 = linalg.matmul ins(%v3, %wqkv_0 : tensor<256x128xf8E4M3FN>, tensor<128x96xf8E4M3FN>) outs(%v5 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v7 = tensor.empty() : tensor<256x128xbf16>
    %v8 = linalg.fill ins(%zero : bf16) outs(%v7 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v9 = linalg.matmul ins(%v6, %wo_0 : tensor<256x96xbf16>, tensor<96x128xbf16>) outs(%v8 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v10 = sp.all_reduce %v9 over @tp : tensor<256x128xbf16>
    %v11, %v12 = sp.fused_add_rms_norm %v10, %v1, %post_norm_0 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v13 = sp.quant %v11, %mlp_scale_0 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v14 = tensor.empty() : tensor<256x64xbf16>
    %v15 = linalg.fill ins(%zero : bf16) outs(%v14 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v16 = linalg.matmul ins(%v13, %wgate_up_0 : tensor<256x128xf8E4M3FN>, tensor<128x64xf8E4M3FN>) outs(%v15 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v18 = tensor.empty() : tensor<256x128xbf16>
    %v19 = linalg.fill ins(%zero : bf16) outs(%v18 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v20 = linalg.matmul ins(%v16, %wdown_0 : tensor<256x64xbf16>, tensor<64x128xbf16>) outs(%v19 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v21 = sp.all_reduce %v20 over @tp : tensor<256x128xbf16>
    %v22, %v23 = sp.fused_add_rms_norm %v21, %v12, %input_norm_1 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v24 = sp.quant %v22, %qkv_scale_1 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v25 = tensor.empty() : tensor<256x96xbf16>
    %v26 = linalg.fill ins(%zero : bf16) outs(%v25 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v27 = linalg.matmul ins(%v24, %wqkv_1 : tensor<256x128xf8E4M3FN>, tensor<128x96xf8E4M3FN>) outs(%v26 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v28 = tensor.empty() : tensor<256x128xbf16>
    %v29 = linalg.fill ins(%zero : bf16) outs(%v28 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v30 = linalg.matmul ins(%v27, %wo_1 : tensor<256x96xbf16>, tensor<96x128xbf16>) outs(%v29 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v31 = sp.all_reduce %v30 over @tp : tensor<256x128xbf16>
    %v32, %v33 = sp.fused_add_rms_norm %v31, %v23, %post_norm_1 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v34 = sp.quant %v32, %mlp_scale_1 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v35 = tensor.empty() : tensor<256x64xbf16>
    %v36 = linalg.fill ins(%zero : bf16) outs(%v35 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v37 = linalg.matmul ins(%v34, %wgate_up_1 : tensor<256x128xf8E4M3FN>, tensor<128x64xf8E4M3FN>) outs(%v36 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v39 = tensor.empty() : tensor<256x128xbf16>
    %v40 = linalg.fill ins(%zero : bf16) outs(%v39 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v41 = linalg.matmul ins(%v37, %wdown_1 : tensor<256x64xbf16>, tensor<64x128xbf16>) outs(%v40 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v42 = sp.all_reduce %v41 over @tp : tensor<256x128xbf16>
    %v43, %v44 = sp.fused_add_rms_norm %v42, %v33, %input_norm_2 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v45 = sp.quant %v43, %qkv_scale_2 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v46 = tensor.empty() : tensor<256x96xbf16>
    %v47 = linalg.fill ins(%zero : bf16) outs(%v46 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v48 = linalg.matmul ins(%v45, %wqkv_2 : tensor<256x128xf8E4M3FN>, tensor<128x96xf8E4M3FN>) outs(%v47 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v49 = tensor.empty() : tensor<256x128xbf16>
    %v50 = linalg.fill ins(%zero : bf16) outs(%v49 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v51 = linalg.matmul ins(%v48, %wo_2 : tensor<256x96xbf16>, tensor<96x128xbf16>) outs(%v50 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v52 = sp.all_reduce %v51 over @tp : tensor<256x128xbf16>
    %v53, %v54 = sp.fused_add_rms_norm %v52, %v44, %post_norm_2 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v55 = sp.quant %v53, %mlp_scale_2 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v56 = tensor.empty() : tensor<256x64xbf16>
    %v57 = linalg.fill ins(%zero : bf16) outs(%v56 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v58 = linalg.matmul ins(%v55, %wgate_up_2 : tensor<256x128xf8E4M3FN>, tensor<128x64xf8E4M3FN>) outs(%v57 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v60 = tensor.empty() : tensor<256x128xbf16>
    %v61 = linalg.fill ins(%zero : bf16) outs(%v60 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v62 = linalg.matmul ins(%v58, %wdown_2 : tensor<256x64xbf16>, tensor<64x128xbf16>) outs(%v61 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v63 = sp.all_reduce %v62 over @tp : tensor<256x128xbf16>
    %v64, %v65 = sp.fused_add_rms_norm %v63, %v54, %input_norm_3 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v66 = sp.quant %v64, %qkv_scale_3 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v67 = tensor.empty() : tensor<256x96xbf16>
    %v68 = linalg.fill ins(%zero : bf16) outs(%v67 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v69 = linalg.matmul ins(%v66, %wqkv_3 : tensor<256x128xf8E4M3FN>, tensor<128x96xf8E4M3FN>) outs(%v68 : tensor<256x96xbf16>) -> tensor<256x96xbf16>
    %v70 = tensor.empty() : tensor<256x128xbf16>
    %v71 = linalg.fill ins(%zero : bf16) outs(%v70 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v72 = linalg.matmul ins(%v69, %wo_3 : tensor<256x96xbf16>, tensor<96x128xbf16>) outs(%v71 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v73 = sp.all_reduce %v72 over @tp : tensor<256x128xbf16>
    %v74, %v75 = sp.fused_add_rms_norm %v73, %v65, %post_norm_3 epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    %v76 = sp.quant %v74, %mlp_scale_3 : tensor<256x128xbf16> -> tensor<256x128xf8E4M3FN>
    %v77 = tensor.empty() : tensor<256x64xbf16>
    %v78 = linalg.fill ins(%zero : bf16) outs(%v77 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v79 = linalg.matmul ins(%v76, %wgate_up_3 : tensor<256x128xf8E4M3FN>, tensor<128x64xf8E4M3FN>) outs(%v78 : tensor<256x64xbf16>) -> tensor<256x64xbf16>
    %v81 = tensor.empty() : tensor<256x128xbf16>
    %v82 = linalg.fill ins(%zero : bf16) outs(%v81 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v83 = linalg.matmul ins(%v79, %wdown_3 : tensor<256x64xbf16>, tensor<64x128xbf16>) outs(%v82 : tensor<256x128xbf16>) -> tensor<256x128xbf16>
    %v84 = sp.all_reduce %v83 over @tp : tensor<256x128xbf16>
    %v85, %v86 = sp.fused_add_rms_norm %v84, %v75, %final_norm epsilon = 1.000000e-06 : tensor<256x128xbf16>, tensor<128xbf16>
    return %v85 : tensor<256x128xbf16>
  }
}
