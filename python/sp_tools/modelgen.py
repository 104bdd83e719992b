"""Writes Llama-like tensor-parallel transformer graphs in the sp dialect.

The graph follows vLLM's Llama under tensor parallelism (TP):

  h   = all_reduce(embedding partial)            # vocab-parallel embedding
  per layer:
    x, res = rms_norm(h), h        (layer 0)      # or fused_add_rms_norm
    [x = quant(x, s)]              (fp8)
    o   = matmul(matmul(x, Wqkv), Wo)             # column- then row-parallel
    h   = all_reduce(o)
    x, res = fused_add_rms_norm(h, res)
    [x = quant(x, s)]
    d   = matmul(silu-ish(matmul(x, Wgu)), Wd)
    h   = all_reduce(d)
  out, _ = fused_add_rms_norm(h, res)             # final norm

Norm weights and quant scales are function arguments marked `sp.replicated`;
GEMM weights are per-rank shards (not replicated).

With --scaled-mm (and --fp8) every GEMM is vLLM's FP8 scaled mm with
per-tensor scales, written in linalg as a real compiler would: fp8 x fp8
into an f32 accumulator from +0, then the epilogue T(acc * (sa * sw)). The
inputs of the row-parallel GEMMs (Wo, Wd) are quantized too, so both
column- and row-parallel GEMMs are FP8.

Usage: python -m sp_tools.modelgen --layers 4 --tokens 128 --hidden 64 --tp 4
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

DTYPES = {"bf16": "bf16", "f16": "f16", "f32": "f32"}


@dataclasses.dataclass
class ModelConfig:
    layers: int = 2
    tokens: int = 128
    hidden: int = 64
    intermediate: int = 128
    tp: int = 4
    dtype: str = "bf16"
    fp8: bool = False
    # FP8 GEMMs as scaled mm (f32 accumulation + scale epilogue); needs fp8.
    scaled_mm: bool = False
    dynamic_tokens: bool = False
    # "all_reduce": the embedding is vocab-parallel and ends in an all_reduce
    # (vLLM); "replicated": the hidden states enter as a replicated argument.
    embedding: str = "all_reduce"
    return_residual: bool = False
    epsilon: float = 1e-6
    func_name: str = "forward"
    group: str = "tp"
    # "flat": layers inline; "scan": one scf.for over stacked weights;
    # "calls": one private function called once per layer.
    form: str = "flat"

    def validate(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.embedding not in ("all_reduce", "replicated"):
            raise ValueError("embedding must be 'all_reduce' or 'replicated'")
        for name in ("layers", "tokens", "hidden", "intermediate", "tp"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if (3 * self.hidden) % self.tp or self.intermediate % self.tp:
            raise ValueError("3*hidden and intermediate must be divisible by tp")
        if self.scaled_mm and not self.fp8:
            raise ValueError("scaled_mm needs fp8")
        if self.form not in ("flat", "scan", "calls"):
            raise ValueError("form must be 'flat', 'scan' or 'calls'")
        if self.form != "flat" and self.dynamic_tokens:
            raise ValueError("--scan and --calls need a static token count")


class _Writer:
    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.args: list[str] = []
        self.lines: list[str] = []
        self.counter = 0
        self.prefix = "v"
        t = "?" if cfg.dynamic_tokens else str(cfg.tokens)
        self.act = f"tensor<{t}x{cfg.hidden}x{cfg.dtype}>"
        self.tokens = t
        self._type_of: dict[str, str] = {}

    def value(self) -> str:
        self.counter += 1
        return f"%{self.prefix}{self.counter}"

    def arg(self, name: str, type_: str, replicated: bool = False) -> str:
        attr = " {sp.replicated}" if replicated else ""
        self.args.append(f"%{name}: {type_}{attr}")
        return f"%{name}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def act_type(self, cols: int, elem: str | None = None) -> str:
        return f"tensor<{self.tokens}x{cols}x{elem or self.cfg.dtype}>"

    def empty(self, cols: int, like: str, elem: str | None = None) -> str:
        v = self.value()
        if self.cfg.dynamic_tokens:
            d = self.value()
            self.emit(f"{d} = tensor.dim {like}, %c0 : {self._type_of[like]}")
            self.emit(f"{v} = tensor.empty({d}) : {self.act_type(cols, elem)}")
        else:
            self.emit(f"{v} = tensor.empty() : {self.act_type(cols, elem)}")
        return v

    def typed(self, value: str, type_: str) -> str:
        self._type_of[value] = type_
        return value

    def matmul(self, lhs: str, lhs_type: str, weight: str, k: int, n: int,
               w_elem: str | None = None) -> str:
        init = self.empty(n, lhs)
        zero = self.value()
        self.emit(f"{zero} = linalg.fill ins(%zero : {self.cfg.dtype}) outs({init} : {self.act_type(n)}) -> {self.act_type(n)}")
        out = self.value()
        w_type = f"tensor<{k}x{n}x{w_elem or self.cfg.dtype}>"
        self.emit(f"{out} = linalg.matmul ins({lhs}, {weight} : {lhs_type}, {w_type}) outs({zero} : {self.act_type(n)}) -> {self.act_type(n)}")
        return self.typed(out, self.act_type(n))

    def scaled_matmul(self, lhs: str, lhs_type: str, lhs_scale: str, weight: str,
                      weight_scale: str, k: int, n: int) -> str:
        """vLLM's FP8 scaled mm: fp8 x fp8 into f32 from +0, then
        T(acc * (lhs_scale * weight_scale))."""
        dt = self.cfg.dtype
        acc_type = self.act_type(n, "f32")
        init = self.empty(n, lhs, "f32")
        zero = self.value()
        self.emit(f"{zero} = linalg.fill ins(%zero_f32 : f32) outs({init} : {acc_type}) -> {acc_type}")
        acc = self.value()
        self.emit(f"{acc} = linalg.matmul ins({lhs}, {weight} : {lhs_type}, tensor<{k}x{n}xf8E4M3FN>) "
                  f"outs({zero} : {acc_type}) -> {acc_type}")
        self.typed(acc, acc_type)
        out_init = self.empty(n, lhs)
        out = self.value()
        ident, scalar = "affine_map<(d0, d1) -> (d0, d1)>", "affine_map<(d0, d1) -> ()>"
        self.emit(f"{out} = linalg.generic {{indexing_maps = [{ident}, {scalar}, {scalar}, {ident}], "
                  f'iterator_types = ["parallel", "parallel"]}} '
                  f"ins({acc}, {lhs_scale}, {weight_scale} : {acc_type}, tensor<f32>, tensor<f32>) "
                  f"outs({out_init} : {self.act_type(n)}) {{")
        self.emit(f"^bb0(%acc: f32, %sa: f32, %sw: f32, %o: {dt}):")
        self.emit("  %s = arith.mulf %sa, %sw : f32")
        self.emit("  %v = arith.mulf %acc, %s : f32")
        if dt == "f32":
            self.emit("  linalg.yield %v : f32")
        else:
            self.emit(f"  %t = arith.truncf %v : f32 to {dt}")
            self.emit(f"  linalg.yield %t : {dt}")
        self.emit(f"}} -> {self.act_type(n)}")
        return self.typed(out, self.act_type(n))


class _Layers:
    """Emits decoder layers into a writer. Parameters come from `param(base,
    suffix, type, replicated)`, which returns the SSA value of the named
    weight or scale for the layer being emitted (a function argument in the
    flat form, a slice of a stacked argument in the scan form, a callee
    argument in the call form)."""

    def __init__(self, cfg: ModelConfig, w: _Writer, param):
        self.cfg, self.w, self.param = cfg, w, param
        self.scales: dict[str, str] = {}

    def quantize(self, x: str, base: str, suffix: str = "", cols: int | None = None) -> tuple[str, str]:
        cfg, w = self.cfg, self.w
        cols = cfg.hidden if cols is None else cols
        if not cfg.fp8:
            return x, w.act_type(cols)
        s = self.param(base, suffix, "tensor<f32>", True)
        q = w.value()
        qt = w.act_type(cols, "f8E4M3FN")
        w.emit(f"{q} = sp.quant {x}, {s} : {w.act_type(cols)} -> {qt}")
        self.scales[q] = s
        return w.typed(q, qt), qt

    def gemm(self, x: str, x_type: str, base: str, k: int, n: int, fp8_weight: bool) -> str:
        """x @ W_base; with --scaled-mm every GEMM is an FP8 scaled mm."""
        cfg, w, fp8 = self.cfg, self.w, "f8E4M3FN"
        if cfg.scaled_mm:
            if x not in self.scales:  # a row-parallel GEMM: quantize its input
                x, x_type = self.quantize(x, base, "_input_scale", k)
            weight = self.param(base, "", f"tensor<{k}x{n}x{fp8}>", False)
            weight_scale = self.param(base, "_scale", "tensor<f32>", False)
            return w.scaled_matmul(x, x_type, self.scales[x], weight, weight_scale, k, n)
        elem = fp8 if fp8_weight else cfg.dtype
        weight = self.param(base, "", f"tensor<{k}x{n}x{elem}>", False)
        return w.matmul(x, x_type, weight, k, n, elem if fp8_weight else None)

    def fused_norm(self, hidden: str, residual: str, weight: str) -> tuple[str, str]:
        """Emits x, residual' = fused_add_rms_norm(hidden, residual, weight)."""
        w, act = self.w, self.w.act
        x, r = w.value(), w.value()
        w.emit(f"{x}, {r} = sp.fused_add_rms_norm {hidden}, {residual}, {weight} "
               f"epsilon = {self.cfg.epsilon:e} : {act}, tensor<{self.cfg.hidden}x{self.cfg.dtype}>")
        return w.typed(x, act), w.typed(r, act)

    def layer(self, h: str, residual: str | None) -> tuple[str, str]:
        """One decoder layer; residual None: the first layer of the flat
        form (rms_norm, the residual is h). Returns (h, residual)."""
        cfg, w, act = self.cfg, self.w, self.w.act
        H, I, tp = cfg.hidden, cfg.intermediate, cfg.tp
        norm_w = f"tensor<{H}x{cfg.dtype}>"
        wn = self.param("input_norm", "", norm_w, True)
        if residual is None:
            x = w.typed(w.value(), act)
            w.emit(f"{x} = sp.rms_norm {h}, {wn} epsilon = {cfg.epsilon:e} : {act}, {norm_w}")
            residual = h
        else:
            x, residual = self.fused_norm(h, residual, wn)
        xq, xq_type = self.quantize(x, "qkv_scale")
        qkv = self.gemm(xq, xq_type, "wqkv", H, 3 * H // tp, cfg.fp8)
        o = self.gemm(qkv, w.act_type(3 * H // tp), "wo", 3 * H // tp, H, False)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {o} over @{cfg.group} : {act}")

        wp = self.param("post_norm", "", norm_w, True)
        x, residual = self.fused_norm(h, residual, wp)
        xq, xq_type = self.quantize(x, "mlp_scale")
        gu = self.gemm(xq, xq_type, "wgate_up", H, I // tp, cfg.fp8)
        a = w.value()
        w.emit(f"{a} = arith.mulf {gu}, {gu} : {w.act_type(I // tp)}")
        w.typed(a, w.act_type(I // tp))
        d = self.gemm(a, w.act_type(I // tp), "wdown", I // tp, H, False)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {d} over @{cfg.group} : {act}")
        return h, residual


def _constants(cfg: ModelConfig) -> list[str]:
    lines = [f"    %zero = arith.constant 0.0 : {cfg.dtype}"]
    if cfg.scaled_mm:
        lines.append("    %zero_f32 = arith.constant 0.0 : f32")
    if cfg.dynamic_tokens:
        lines.append("    %c0 = arith.constant 0 : index")
    return lines


def generate(cfg: ModelConfig) -> str:
    """Returns the module text for `cfg`.

    form "flat": every layer inline in the entry function. "scan": the
    layers in one scf.for over stacked weights (tensor<L x ...>, sliced at
    the induction variable), the hidden state and the residual carried as
    iter_args. "calls": one private function @decoder_layer, called once
    per layer with that layer's weights. The scan and call forms start
    from a zero residual (fused_add_rms_norm(h, 0) in layer 0 instead of
    rms_norm(h): the same values up to the sign of a zero).
    """
    cfg.validate()
    w = _Writer(cfg)
    H, dt = cfg.hidden, cfg.dtype
    act = w.act
    norm_w = f"tensor<{H}x{dt}>"

    if cfg.embedding == "all_reduce":
        emb = w.arg("embedding_partial", act)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {emb} over @{cfg.group} : {act}")
    else:
        h = w.typed(w.arg("hidden_states", act, replicated=True), act)

    callee: list[str] = []
    if cfg.form == "flat":
        residual = None
        for layer in range(cfg.layers):
            def flat_param(base, suffix, type_, replicated, layer=layer):
                return w.arg(f"{base}_{layer}{suffix}", type_, replicated)
            h, residual = _Layers(cfg, w, flat_param).layer(h, residual)
    elif cfg.form == "scan":
        zero_res = w.typed(w.value(), act)
        w.emit(f"{zero_res} = arith.constant dense<0.0> : {act}")
        w.emit("%layer_begin = arith.constant 0 : index")
        w.emit("%layer_step = arith.constant 1 : index")
        w.emit(f"%layer_end = arith.constant {cfg.layers} : index")
        body = _Writer(cfg)
        body.prefix = "l"  # the body's values apart from the entry's
        stacked: dict[str, str] = {}

        def scan_param(base, suffix, type_, replicated):
            name = f"{base}{suffix}"
            dims = type_[len("tensor<"):-1].split("x")[:-1]
            shape, elem = "x".join(dims), type_[len("tensor<"):-1].split("x")[-1]
            stacked_type = f"tensor<{cfg.layers}x{shape + 'x' if shape else ''}{elem}>"
            if name not in stacked:
                stacked[name] = w.arg(name, stacked_type, replicated)
            v = body.value()
            offsets = ", ".join(["%layer"] + ["0"] * len(dims))
            sizes = ", ".join(["1"] + dims)
            strides = ", ".join(["1"] * (len(dims) + 1))
            body.emit(f"{v} = tensor.extract_slice {stacked[name]}[{offsets}] [{sizes}] [{strides}] "
                      f": {stacked_type} to {type_}")
            return v

        layers = _Layers(cfg, body, scan_param)
        hb, rb = layers.layer("%h_in", "%res_in")
        out_h, out_r = w.value(), w.value()
        w.emit(f"{out_h}, {out_r} = scf.for %layer = %layer_begin to %layer_end step %layer_step "
               f"iter_args(%h_in = {h}, %res_in = {zero_res}) -> ({act}, {act}) {{")
        w.lines.extend("  " + line for line in body.lines)
        w.emit(f"  scf.yield {hb}, {rb} : {act}, {act}")
        w.emit("}")
        h, residual = w.typed(out_h, act), w.typed(out_r, act)
    elif cfg.form == "calls":
        body = _Writer(cfg)
        params: list[tuple[str, str, bool]] = []

        def callee_param(base, suffix, type_, replicated):
            params.append((f"{base}{suffix}", type_, replicated))
            return body.arg(f"{base}{suffix}", type_)

        body.arg("h_in", act)
        body.arg("res_in", act)
        layers = _Layers(cfg, body, callee_param)
        hb, rb = layers.layer("%h_in", "%res_in")
        callee = [
            f"  func.func private @decoder_layer({', '.join(body.args)}) -> ({act}, {act}) {{",
            *_constants(cfg),
            *body.lines,
            f"    return {hb}, {rb} : {act}, {act}",
            "  }",
        ]
        residual = w.typed(w.value(), act)
        w.emit(f"{residual} = arith.constant dense<0.0> : {act}")
        for layer in range(cfg.layers):
            values = [w.arg(f"{name}_{layer}", type_, replicated) for name, type_, replicated in params]
            types = [act, act] + [type_ for _, type_, _ in params]
            nh, nr = w.value(), w.value()
            w.emit(f"{nh}, {nr} = func.call @decoder_layer({', '.join([h, residual] + values)}) "
                   f": ({', '.join(types)}) -> ({act}, {act})")
            h, residual = w.typed(nh, act), w.typed(nr, act)
    else:
        raise ValueError(f"unknown form {cfg.form!r}")

    wf = w.arg("final_norm", norm_w, replicated=True)
    out, r = _Layers(cfg, w, None).fused_norm(h, residual, wf)
    results = [out] + ([r] if cfg.return_residual else [])
    result_types = ", ".join([act] * len(results))

    form = {"flat": "", "scan": ", scan", "calls": ", calls"}[cfg.form]
    header = [
        f"// Llama-like TP model: {cfg.layers} layers, {cfg.tokens if not cfg.dynamic_tokens else '?'} tokens, "
        f"hidden {H}, intermediate {cfg.intermediate}, tp {cfg.tp}, {dt}{', fp8' if cfg.fp8 else ''}"
        f"{', scaled mm' if cfg.scaled_mm else ''}{form}",
        "module {",
        f"  sp.group @{cfg.group} size({cfg.tp})",
        f"  func.func @{cfg.func_name}({', '.join(w.args)}) -> ({result_types}) {{",
        *_constants(cfg),
    ]
    footer = [
        f"    return {', '.join(results)} : {result_types}",
        "  }",
        *callee,
        "}",
    ]
    return "\n".join(header + w.lines + footer) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--tp", type=int, default=4)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    p.add_argument("--fp8", action="store_true", help="static FP8 quant after every norm that feeds a GEMM")
    p.add_argument("--scaled-mm", action="store_true",
                   help="with --fp8: every GEMM is an FP8 scaled mm (f32 accumulation, scale epilogue)")
    p.add_argument("--dynamic-tokens", action="store_true")
    p.add_argument("--embedding", choices=["all_reduce", "replicated"], default="all_reduce")
    p.add_argument("--return-residual", action="store_true")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--scan", action="store_true",
                      help="layers in one scf.for over stacked weights (tensor<L x ...>), "
                           "hidden state and residual as iter_args")
    form.add_argument("--calls", action="store_true",
                      help="one private function per decoder layer, called once per layer")
    p.add_argument("--epsilon", type=float, default=1e-6)
    p.add_argument("-o", "--output", default="-")
    a = p.parse_args(argv)
    cfg = ModelConfig(layers=a.layers, tokens=a.tokens, hidden=a.hidden,
                      intermediate=a.intermediate, tp=a.tp, dtype=a.dtype,
                      fp8=a.fp8, scaled_mm=a.scaled_mm, dynamic_tokens=a.dynamic_tokens,
                      embedding=a.embedding, return_residual=a.return_residual,
                      epsilon=a.epsilon,
                      form="scan" if a.scan else "calls" if a.calls else "flat")
    try:
        text = generate(cfg)
    except ValueError as e:
        print(f"modelgen: error: {e}", file=sys.stderr)
        return 2
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
