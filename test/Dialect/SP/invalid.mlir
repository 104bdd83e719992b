// Every verifier rule of the dialect, each with a located message.
// RUN: sp-opt %s --split-input-file --verify-diagnostics

// expected-error @below {{'sp.group' op size must be >= 1, got 0}}
sp.group @tp size(0)

// -----

// expected-error @below {{'sp.group' op size must be >= 1, got -2}}
sp.group @tp size(-2)

// -----

// expected-error @below {{'sp.group' op takes a grid and the axes it spans together, got only the grid}}
sp.group @tp size(4) grid [2, 4]

// -----

// expected-error @below {{'sp.group' op axis 2 is out of range for a 2-D grid}}
sp.group @tp size(4) grid [2, 4] axes [2]

// -----

// expected-error @below {{'sp.group' op axis 1 is listed twice}}
sp.group @tp size(16) grid [2, 4] axes [1, 1]

// -----

// expected-error @below {{'sp.group' op size 4 differs from the product of the spanned grid axes' extents (2)}}
sp.group @tp size(4) grid [2, 4] axes [0]

// -----

// expected-error @below {{'sp.group' op grid axis 1 has extent 0; extents must be >= 1}}
sp.group @tp size(2) grid [2, 0] axes [0]

// -----

// expected-error @below {{'sp.group' op grid must have at least one axis}}
sp.group @tp size(1) grid [] axes []

// -----

func.func @f() {
  // expected-error @below {{'sp.group' op expects parent op 'builtin.module'}}
  sp.group @tp size(2)
  return
}

// -----

// expected-note @below {{see existing symbol definition here}}
sp.group @tp size(2)
// expected-error @below {{redefinition of symbol named 'tp'}}
sp.group @tp size(4)

// -----

func.func @unknown_group(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.all_reduce' op refers to unknown group @nope}}
  %0 = sp.all_reduce %x over @nope : tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @not_a_group(%x: tensor<8x4xf32>) -> tensor<4x4xf32> {
  // expected-error @below {{'sp.reduce_scatter' op group @not_a_group must name an 'sp.group', but it names a 'func.func'}}
  %0 = sp.reduce_scatter %x over @not_a_group : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

sp.group @tp size(2)
func.func @unknown_group_gather(%x: tensor<8x4xf32>) -> tensor<16x4xf32> {
  // expected-error @below {{'sp.all_gather' op refers to unknown group @pp}}
  %0 = sp.all_gather %x over @pp : tensor<8x4xf32> -> tensor<16x4xf32>
  return %0 : tensor<16x4xf32>
}

// -----

sp.group @tp size(2)
func.func @unknown_group_slice(%x: tensor<8x4xf32>) -> tensor<4x4xf32> {
  // expected-error @below {{'sp.all_slice' op refers to unknown group @pp}}
  %0 = sp.all_slice %x over @pp : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

sp.group @tp size(2)
func.func @all_reduce_type(%x: tensor<8x4xf32>) -> tensor<8x4xf16> {
  // expected-error @below {{'sp.all_reduce' op failed to verify that all of {input, result} have same type}}
  %0 = "sp.all_reduce"(%x) {group = @tp} : (tensor<8x4xf32>) -> tensor<8x4xf16>
  return %0 : tensor<8x4xf16>
}

// -----

sp.group @tp size(2)
func.func @all_reduce_unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @below {{'sp.all_reduce' op operand #0 must be ranked tensor of any type values, but got 'tensor<*xf32>'}}
  %0 = "sp.all_reduce"(%x) {group = @tp} : (tensor<*xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

sp.group @tp size(2)
func.func @bad_reduction(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{expected ::mlir::sp::ReductionKind to be one of: sum, prod, min, max, avg}}
  // expected-error @below {{failed to parse SP_ReductionKindAttr parameter 'value'}}
  %0 = sp.all_reduce %x over @tp reduction mean : tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

sp.group @tp size(2)
func.func @dim_negative(%x: tensor<8x4xf32>) -> tensor<4x4xf32> {
  // expected-error @below {{'sp.reduce_scatter' op dim -1 is out of range for an input of rank 2}}
  %0 = sp.reduce_scatter %x over @tp dim -1 : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

sp.group @tp size(2)
func.func @dim_too_large(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.all_gather' op dim 2 is out of range for an input of rank 2}}
  %0 = sp.all_gather %x over @tp dim 2 : tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

sp.group @tp size(2)
func.func @dim_slice(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.all_slice' op dim 5 is out of range for an input of rank 2}}
  %0 = sp.all_slice %x over @tp dim 5 : tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

sp.group @tp size(2)
func.func @rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @below {{'sp.all_gather' op input must have rank >= 1 to be split or gathered along a dimension}}
  %0 = sp.all_gather %x over @tp : tensor<f32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

sp.group @tp size(4)
func.func @not_divisible(%x: tensor<6x4xf32>) -> tensor<1x4xf32> {
  // expected-error @below {{'sp.reduce_scatter' op input dimension 0 (6) is not divisible by the size 4 of group @tp}}
  %0 = sp.reduce_scatter %x over @tp : tensor<6x4xf32> -> tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}

// -----

sp.group @tp size(4)
func.func @slice_not_divisible(%x: tensor<8x6xf32>) -> tensor<8x1xf32> {
  // expected-error @below {{'sp.all_slice' op input dimension 1 (6) is not divisible by the size 4 of group @tp}}
  %0 = sp.all_slice %x over @tp dim 1 : tensor<8x6xf32> -> tensor<8x1xf32>
  return %0 : tensor<8x1xf32>
}

// -----

sp.group @tp size(4)
func.func @scatter_wrong_result(%x: tensor<8x4xf32>) -> tensor<4x4xf32> {
  // expected-error @below {{'sp.reduce_scatter' op result dimension 0 must be 8 / 4 = 2, got 4}}
  %0 = sp.reduce_scatter %x over @tp : tensor<8x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

sp.group @tp size(4)
func.func @slice_wrong_result(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.all_slice' op result dimension 0 must be 8 / 4 = 2, got 8}}
  %0 = sp.all_slice %x over @tp : tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

sp.group @tp size(4)
func.func @gather_wrong_result(%x: tensor<8x4xf32>) -> tensor<16x4xf32> {
  // expected-error @below {{'sp.all_gather' op result dimension 0 must be 8 * 4 = 32, got 16}}
  %0 = sp.all_gather %x over @tp : tensor<8x4xf32> -> tensor<16x4xf32>
  return %0 : tensor<16x4xf32>
}

// -----

sp.group @tp size(4)
func.func @gather_dynamic_input(%x: tensor<?x4xf32>) -> tensor<6x4xf32> {
  // expected-error @below {{'sp.all_gather' op result dimension 0 (6) is not a multiple of the size 4 of group @tp}}
  %0 = sp.all_gather %x over @tp : tensor<?x4xf32> -> tensor<6x4xf32>
  return %0 : tensor<6x4xf32>
}

// -----

sp.group @tp size(2)
func.func @element_type(%x: tensor<8x4xf32>) -> tensor<16x4xf16> {
  // expected-error @below {{'sp.all_gather' op requires the same element type for all operands and results}}
  %0 = sp.all_gather %x over @tp : tensor<8x4xf32> -> tensor<16x4xf16>
  return %0 : tensor<16x4xf16>
}

// -----

sp.group @tp size(2)
func.func @rank_mismatch(%x: tensor<8x4xf32>) -> tensor<4x4x1xf32> {
  // expected-error @below {{'sp.reduce_scatter' op result type has different rank than operands}}
  %0 = sp.reduce_scatter %x over @tp : tensor<8x4xf32> -> tensor<4x4x1xf32>
  return %0 : tensor<4x4x1xf32>
}

// -----

sp.group @tp size(2)
func.func @other_dim(%x: tensor<8x4xf32>) -> tensor<4x8xf32> {
  // expected-error @below {{'sp.all_slice' op result dimension 1 (8) differs from input dimension 1 (4); only dimension 0 may change}}
  %0 = sp.all_slice %x over @tp : tensor<8x4xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @norm_rank0(%x: tensor<f32>, %w: tensor<1xf32>) -> tensor<f32> {
  // expected-error @below {{'sp.rms_norm' op input must have rank >= 1 (rows x hidden)}}
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<f32>, tensor<1xf32>
  return %0 : tensor<f32>
}

// -----

func.func @norm_weight_rank(%x: tensor<8x4xf32>, %w: tensor<1x4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op operand #1 must be 1D tensor of floating-point values, but got 'tensor<1x4xf32>'}}
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<8x4xf32>, tensor<1x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_weight_length(%x: tensor<8x4xf32>, %w: tensor<8xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op weight length 8 does not match the input's last dimension 4}}
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<8x4xf32>, tensor<8xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_weight_type(%x: tensor<8x4xbf16>, %w: tensor<4xf32>) -> tensor<8x4xbf16> {
  // expected-error @below {{'sp.rms_norm' op failed to verify that all of {input, weight} have same element type}}
  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : tensor<8x4xbf16>, tensor<4xf32>
  return %0 : tensor<8x4xbf16>
}

// -----

func.func @norm_epsilon_zero(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op epsilon must be a positive finite number, got 0.0}}
  %0 = sp.rms_norm %x, %w epsilon = 0.0 : tensor<8x4xf32>, tensor<4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_epsilon_negative(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op epsilon must be a positive finite number, got -1.0}}
  %0 = sp.rms_norm %x, %w epsilon = -1.0 : tensor<8x4xf32>, tensor<4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_epsilon_nan(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op epsilon must be a positive finite number, got nan}}
  %0 = "sp.rms_norm"(%x, %w) {epsilon = 0x7FC00000 : f32} : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_epsilon_inf(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op epsilon must be a positive finite number, got INF}}
  %0 = "sp.rms_norm"(%x, %w) {epsilon = 0x7F800000 : f32} : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_epsilon_type(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 32-bit float attribute}}
  %0 = "sp.rms_norm"(%x, %w) {epsilon = 1.0e-6 : f64} : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @norm_int(%x: tensor<8x4xi32>, %w: tensor<4xi32>) -> tensor<8x4xi32> {
  // expected-error @below {{'sp.rms_norm' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<8x4xi32>'}}
  %0 = "sp.rms_norm"(%x, %w) {epsilon = 1.0e-6 : f32} : (tensor<8x4xi32>, tensor<4xi32>) -> tensor<8x4xi32>
  return %0 : tensor<8x4xi32>
}

// -----

func.func @norm_result_type(%x: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<4x4xf32> {
  // expected-error @below {{'sp.rms_norm' op failed to verify that all of {input, result} have same type}}
  %0 = "sp.rms_norm"(%x, %w) {epsilon = 1.0e-6 : f32} : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @fused_residual_type(%x: tensor<8x4xf32>, %r: tensor<4x4xf32>, %w: tensor<4xf32>) -> tensor<8x4xf32> {
  // expected-error @below {{'sp.fused_add_rms_norm' op failed to verify that all of {input, residual, output, residual_out} have same type}}
  %0:2 = "sp.fused_add_rms_norm"(%x, %r, %w) {epsilon = 1.0e-6 : f32} : (tensor<8x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>)
  return %0#0 : tensor<8x4xf32>
}

// -----

func.func @fused_weight_length(%x: tensor<8x4xf16>, %r: tensor<8x4xf16>, %w: tensor<5xf16>) -> tensor<8x4xf16> {
  // expected-error @below {{'sp.fused_add_rms_norm' op weight length 5 does not match the input's last dimension 4}}
  %0:2 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-6 : tensor<8x4xf16>, tensor<5xf16>
  return %0#0 : tensor<8x4xf16>
}

// -----

func.func @fused_epsilon(%x: tensor<8x4xf16>, %r: tensor<8x4xf16>, %w: tensor<4xf16>) -> tensor<8x4xf16> {
  // expected-error @below {{'sp.fused_add_rms_norm' op epsilon must be a positive finite number, got -0.0}}
  %0:2 = sp.fused_add_rms_norm %x, %r, %w epsilon = -0.0 : tensor<8x4xf16>, tensor<4xf16>
  return %0#0 : tensor<8x4xf16>
}

// -----

func.func @fused_weight_type(%x: tensor<8x4xf16>, %r: tensor<8x4xf16>, %w: tensor<4xbf16>) -> tensor<8x4xf16> {
  // expected-error @below {{'sp.fused_add_rms_norm' op failed to verify that all of {input, weight} have same element type}}
  %0:2 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-6 : tensor<8x4xf16>, tensor<4xbf16>
  return %0#0 : tensor<8x4xf16>
}

// -----

func.func @fused_weight_rank(%x: tensor<8x4xf16>, %r: tensor<8x4xf16>, %w: tensor<f16>) -> tensor<8x4xf16> {
  // expected-error @below {{'sp.fused_add_rms_norm' op operand #2 must be 1D tensor of floating-point values, but got 'tensor<f16>'}}
  %0:2 = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-6 : tensor<8x4xf16>, tensor<f16>
  return %0#0 : tensor<8x4xf16>
}

// -----

func.func @quant_not_fp8(%x: tensor<8x4xbf16>, %s: tensor<f32>) -> tensor<8x4xbf16> {
  // expected-error @below {{'sp.quant' op result #0 must be ranked tensor of f8E4M3FN type or f8E4M3FNUZ type values, but got 'tensor<8x4xbf16>'}}
  %0 = sp.quant %x, %s : tensor<8x4xbf16> -> tensor<8x4xbf16>
  return %0 : tensor<8x4xbf16>
}

// -----

func.func @quant_e5m2(%x: tensor<8x4xbf16>, %s: tensor<f32>) -> tensor<8x4xf8E5M2> {
  // expected-error @below {{'sp.quant' op result #0 must be ranked tensor of f8E4M3FN type or f8E4M3FNUZ type values, but got 'tensor<8x4xf8E5M2>'}}
  %0 = sp.quant %x, %s : tensor<8x4xbf16> -> tensor<8x4xf8E5M2>
  return %0 : tensor<8x4xf8E5M2>
}

// -----

func.func @quant_shape(%x: tensor<8x4xbf16>, %s: tensor<f32>) -> tensor<4x4xf8E4M3FN> {
  // expected-error @below {{'sp.quant' op failed to verify that all of {input, result} have same shape}}
  %0 = sp.quant %x, %s : tensor<8x4xbf16> -> tensor<4x4xf8E4M3FN>
  return %0 : tensor<4x4xf8E4M3FN>
}

// -----

func.func @quant_scale_shape(%x: tensor<8x4xbf16>, %s: tensor<1xf32>) -> tensor<8x4xf8E4M3FN> {
  // expected-error @below {{'sp.quant' op operand #1 must be 0-D tensor of f32 (tensor<f32>), but got 'tensor<1xf32>'}}
  %0 = "sp.quant"(%x, %s) : (tensor<8x4xbf16>, tensor<1xf32>) -> tensor<8x4xf8E4M3FN>
  return %0 : tensor<8x4xf8E4M3FN>
}

// -----

func.func @quant_scale_type(%x: tensor<8x4xbf16>, %s: tensor<bf16>) -> tensor<8x4xf8E4M3FN> {
  // expected-error @below {{'sp.quant' op operand #1 must be 0-D tensor of f32 (tensor<f32>), but got 'tensor<bf16>'}}
  %0 = "sp.quant"(%x, %s) : (tensor<8x4xbf16>, tensor<bf16>) -> tensor<8x4xf8E4M3FN>
  return %0 : tensor<8x4xf8E4M3FN>
}

// -----

// expected-error @below {{'sp.replicated' on argument 0 must be a unit attribute, got 1 : i64}}
func.func @replicated_not_unit(%x: tensor<8xf32> {sp.replicated = 1}) {
  return
}

// -----

// expected-error @below {{unknown sp argument attribute 'sp.replica' on argument 1 (they are 'sp.replicated' and 'sp.replicated_axes')}}
func.func @replicated_typo(%x: tensor<8xf32>, %y: tensor<8xf32> {sp.replica}) {
  return
}

// -----

func.func @replicated_on_op(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @below {{unknown sp attribute 'sp.replicated' on an operation ('sp.replicated' belongs on function arguments)}}
  %0 = arith.negf %x {sp.replicated} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

sp.group @tp size(4)
func.func @agm_dim(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op supports only dim 0 (the token dim of lhs), got dim 1}}
  %y = sp.all_gather_matmul %x, %w over @tp dim 1 : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_contraction(%x: tensor<16x32xbf16>, %w: tensor<16x8xbf16>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op contracts lhs dimension 1 (32) with rhs dimension 0 (16), which differ}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<16x8xbf16> -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_columns(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x4xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op result dimension 1 (4) must be rhs dimension 1 (8)}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x4xbf16>
  return %y : tensor<64x4xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_rows(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<32x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op result dimension 0 must be 16 * 4 = 64, got 32}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<32x8xbf16>
  return %y : tensor<32x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_gathered(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x32xf32> {
  // expected-error @below {{'sp.all_gather_matmul' op gathered element type 'f32' differs from lhs element type 'bf16'}}
  %y, %g = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>, tensor<64x32xf32>
  return %g : tensor<64x32xf32>
}

// -----

sp.group @tp size(4)
func.func @agm_same_width_formats(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x8xf16> {
  // expected-error @below {{'sp.all_gather_matmul' op cannot cast 'bf16' operands to a 'f16' result: same width, different formats; convert the operands first}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xf16>
  return %y : tensor<64x8xf16>
}

// -----

sp.group @tp size(4)
func.func @mrs_same_width_formats(%x: tensor<64x32xf16>, %w: tensor<32x8xf16>) -> tensor<16x8xbf16> {
  // expected-error @below {{'sp.matmul_reduce_scatter' op cannot cast 'f16' operands to a 'bf16' result: same width, different formats; convert the operands first}}
  %y = sp.matmul_reduce_scatter %x, %w over @tp : tensor<64x32xf16>, tensor<32x8xf16> -> tensor<16x8xbf16>
  return %y : tensor<16x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_rank(%x: tensor<2x16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op operand #0 must be 2D tensor of floating-point values, but got 'tensor<2x16x32xbf16>'}}
  %y = "sp.all_gather_matmul"(%x, %w) {group = @tp} : (tensor<2x16x32xbf16>, tensor<32x8xbf16>) -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_one_scale(%x: tensor<16x32xf8E4M3FN>, %w: tensor<32x8xf8E4M3FN>, %s: tensor<f32>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op takes no scales or two (lhs, rhs), got 1}}
  %y = sp.all_gather_matmul %x, %w scales(%s) over @tp : tensor<16x32xf8E4M3FN>, tensor<32x8xf8E4M3FN> -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_scaled_bf16(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>, %s: tensor<f32>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op with scales (the FP8 form) multiplies f8E4M3FN or f8E4M3FNUZ operands, got 'bf16' and 'bf16'}}
  %y = sp.all_gather_matmul %x, %w scales(%s, %s) over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @agm_scaled_fp8_result(%x: tensor<16x32xf8E4M3FN>, %w: tensor<32x8xf8E4M3FN>, %s: tensor<f32>) -> tensor<64x8xf8E4M3FN> {
  // expected-error @below {{'sp.all_gather_matmul' op with scales (the FP8 form) returns bf16, f16 or f32, got 'f8E4M3FN'}}
  %y = sp.all_gather_matmul %x, %w scales(%s, %s) over @tp : tensor<16x32xf8E4M3FN>, tensor<32x8xf8E4M3FN> -> tensor<64x8xf8E4M3FN>
  return %y : tensor<64x8xf8E4M3FN>
}

// -----

sp.group @tp size(4)
func.func @agm_scale_type(%x: tensor<16x32xf8E4M3FN>, %w: tensor<32x8xf8E4M3FN>, %s: tensor<1xf32>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op operand #2 must be variadic of 0-D tensor of f32 (tensor<f32>), but got 'tensor<1xf32>'}}
  %y = "sp.all_gather_matmul"(%x, %w, %s, %s) {group = @tp} : (tensor<16x32xf8E4M3FN>, tensor<32x8xf8E4M3FN>, tensor<1xf32>, tensor<1xf32>) -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

func.func @agm_group(%x: tensor<16x32xbf16>, %w: tensor<32x8xbf16>) -> tensor<64x8xbf16> {
  // expected-error @below {{'sp.all_gather_matmul' op refers to unknown group @tp}}
  %y = sp.all_gather_matmul %x, %w over @tp : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<64x8xbf16>
  return %y : tensor<64x8xbf16>
}

// -----

sp.group @tp size(4)
func.func @mrs_not_divisible(%h: tensor<6x8xf32>, %w: tensor<8x16xf32>) -> tensor<1x16xf32> {
  // expected-error @below {{'sp.matmul_reduce_scatter' op lhs rows (6) are not divisible by the size 4 of group @tp}}
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<6x8xf32>, tensor<8x16xf32> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

sp.group @tp size(4)
func.func @mrs_rows(%h: tensor<64x8xf32>, %w: tensor<8x16xf32>) -> tensor<32x16xf32> {
  // expected-error @below {{'sp.matmul_reduce_scatter' op result dimension 0 must be 64 / 4 = 16, got 32}}
  %y = sp.matmul_reduce_scatter %h, %w over @tp : tensor<64x8xf32>, tensor<8x16xf32> -> tensor<32x16xf32>
  return %y : tensor<32x16xf32>
}

// -----

sp.group @tp size(4)
func.func @mrs_reduction(%h: tensor<64x8xf32>, %w: tensor<8x16xf32>) -> tensor<16x16xf32> {
  // expected-error @below {{'sp.matmul_reduce_scatter' op supports only reduction sum, got max}}
  %y = sp.matmul_reduce_scatter %h, %w over @tp reduction max : tensor<64x8xf32>, tensor<8x16xf32> -> tensor<16x16xf32>
  return %y : tensor<16x16xf32>
}

// -----

func.func @shift_group(%x: tensor<4xf32>, %o: index) -> tensor<4xf32> {
  // expected-error @below {{'sp.ring_shift' op refers to unknown group @tp}}
  %y = sp.ring_shift %x over @tp by %o : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

sp.group @tp size(2)
func.func @shift_type(%x: tensor<4xf32>, %o: index) -> tensor<4xf16> {
  // expected-error @below {{'sp.ring_shift' op failed to verify that all of {input, result} have same type}}
  %y = "sp.ring_shift"(%x, %o) {group = @tp} : (tensor<4xf32>, index) -> tensor<4xf16>
  return %y : tensor<4xf16>
}

// -----

func.func @rank_group() -> index {
  // expected-error @below {{'sp.group_rank' op refers to unknown group @tp}}
  %r = sp.group_rank @tp
  return %r : index
}

// -----

// expected-error @below {{'sp.replicated_axes' on argument 0 must be an array<i64> of grid axes, got 1 : i64}}
func.func @replicated_axes_not_array(%x: tensor<8xf32> {sp.replicated_axes = 1}) {
  return
}

// -----

// expected-error @below {{'sp.replicated_axes' on argument 0 lists grid axis 1 twice}}
func.func @replicated_axes_twice(%x: tensor<8xf32> {sp.replicated_axes = array<i64: 1, 1>}) {
  return
}

// -----

// expected-error @below {{'sp.replicated_axes' on argument 0 lists grid axis -1, out of range}}
func.func @replicated_axes_negative(%x: tensor<8xf32> {sp.replicated_axes = array<i64: -1>}) {
  return
}
