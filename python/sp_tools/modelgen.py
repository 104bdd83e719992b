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
    dynamic_tokens: bool = False
    # "all_reduce": the embedding is vocab-parallel and ends in an all_reduce
    # (vLLM); "replicated": the hidden states enter as a replicated argument.
    embedding: str = "all_reduce"
    return_residual: bool = False
    epsilon: float = 1e-6
    func_name: str = "forward"
    group: str = "tp"

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


class _Writer:
    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.args: list[str] = []
        self.lines: list[str] = []
        self.counter = 0
        t = "?" if cfg.dynamic_tokens else str(cfg.tokens)
        self.act = f"tensor<{t}x{cfg.hidden}x{cfg.dtype}>"
        self.tokens = t
        self._type_of: dict[str, str] = {}

    def value(self) -> str:
        self.counter += 1
        return f"%v{self.counter}"

    def arg(self, name: str, type_: str, replicated: bool = False) -> str:
        attr = " {sp.replicated}" if replicated else ""
        self.args.append(f"%{name}: {type_}{attr}")
        return f"%{name}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def act_type(self, cols: int, elem: str | None = None) -> str:
        return f"tensor<{self.tokens}x{cols}x{elem or self.cfg.dtype}>"

    def empty(self, cols: int, like: str) -> str:
        v = self.value()
        if self.cfg.dynamic_tokens:
            d = self.value()
            self.emit(f"{d} = tensor.dim {like}, %c0 : {self._type_of[like]}")
            self.emit(f"{v} = tensor.empty({d}) : {self.act_type(cols)}")
        else:
            self.emit(f"{v} = tensor.empty() : {self.act_type(cols)}")
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


def generate(cfg: ModelConfig) -> str:
    """Returns the module text for `cfg`."""
    cfg.validate()
    w = _Writer(cfg)
    H, I, tp, dt = cfg.hidden, cfg.intermediate, cfg.tp, cfg.dtype
    act = w.act
    eps = f"{cfg.epsilon:e}"
    fp8 = "f8E4M3FN"
    w_elem = fp8 if cfg.fp8 else None
    norm_w = f"tensor<{H}x{dt}>"

    if cfg.embedding == "all_reduce":
        emb = w.arg("embedding_partial", act)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {emb} over @{cfg.group} : {act}")
    else:
        h = w.typed(w.arg("hidden_states", act, replicated=True), act)

    def quantize(x: str, name: str) -> tuple[str, str]:
        if not cfg.fp8:
            return x, act
        s = w.arg(name, "tensor<f32>", replicated=True)
        q = w.value()
        qt = w.act_type(H, fp8)
        w.emit(f"{q} = sp.quant {x}, {s} : {act} -> {qt}")
        return w.typed(q, qt), qt

    def fused_norm(hidden: str, residual: str, weight: str) -> tuple[str, str]:
        """Emits x, residual' = fused_add_rms_norm(hidden, residual, weight)."""
        x, r = w.value(), w.value()
        w.emit(f"{x}, {r} = sp.fused_add_rms_norm {hidden}, {residual}, {weight} epsilon = {eps} : {act}, {norm_w}")
        return w.typed(x, act), w.typed(r, act)

    residual = None
    for layer in range(cfg.layers):
        wn = w.arg(f"input_norm_{layer}", norm_w, replicated=True)
        if residual is None:
            x = w.typed(w.value(), act)
            w.emit(f"{x} = sp.rms_norm {h}, {wn} epsilon = {eps} : {act}, {norm_w}")
            residual = h
        else:
            x, residual = fused_norm(h, residual, wn)
        xq, xq_type = quantize(x, f"qkv_scale_{layer}")
        wqkv = w.arg(f"wqkv_{layer}", f"tensor<{H}x{3 * H // tp}x{w_elem or dt}>")
        wo = w.arg(f"wo_{layer}", f"tensor<{3 * H // tp}x{H}x{dt}>")
        qkv = w.matmul(xq, xq_type, wqkv, H, 3 * H // tp, w_elem)
        o = w.matmul(qkv, w.act_type(3 * H // tp), wo, 3 * H // tp, H)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {o} over @{cfg.group} : {act}")

        wp = w.arg(f"post_norm_{layer}", norm_w, replicated=True)
        x, residual = fused_norm(h, residual, wp)
        xq, xq_type = quantize(x, f"mlp_scale_{layer}")
        wgu = w.arg(f"wgate_up_{layer}", f"tensor<{H}x{I // tp}x{w_elem or dt}>")
        wd = w.arg(f"wdown_{layer}", f"tensor<{I // tp}x{H}x{dt}>")
        gu = w.matmul(xq, xq_type, wgu, H, I // tp, w_elem)
        a = w.value()
        w.emit(f"{a} = arith.mulf {gu}, {gu} : {w.act_type(I // tp)}")
        w.typed(a, w.act_type(I // tp))
        d = w.matmul(a, w.act_type(I // tp), wd, I // tp, H)
        h = w.typed(w.value(), act)
        w.emit(f"{h} = sp.all_reduce {d} over @{cfg.group} : {act}")

    wf = w.arg("final_norm", norm_w, replicated=True)
    out, r = fused_norm(h, residual, wf)
    results = [out] + ([r] if cfg.return_residual else [])
    result_types = ", ".join([act] * len(results))

    header = [
        f"// Llama-like TP model: {cfg.layers} layers, {cfg.tokens if not cfg.dynamic_tokens else '?'} tokens, "
        f"hidden {H}, intermediate {I}, tp {tp}, {dt}{', fp8' if cfg.fp8 else ''}",
        "module {",
        f"  sp.group @{cfg.group} size({tp})",
        f"  func.func @{cfg.func_name}({', '.join(w.args)}) -> ({result_types}) {{",
        f"    %zero = arith.constant 0.0 : {dt}",
    ]
    if cfg.dynamic_tokens:
        header.append("    %c0 = arith.constant 0 : index")
    footer = [
        f"    return {', '.join(results)} : {result_types}",
        "  }",
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
    p.add_argument("--dynamic-tokens", action="store_true")
    p.add_argument("--embedding", choices=["all_reduce", "replicated"], default="all_reduce")
    p.add_argument("--return-residual", action="store_true")
    p.add_argument("--epsilon", type=float, default=1e-6)
    p.add_argument("-o", "--output", default="-")
    a = p.parse_args(argv)
    cfg = ModelConfig(layers=a.layers, tokens=a.tokens, hidden=a.hidden,
                      intermediate=a.intermediate, tp=a.tp, dtype=a.dtype,
                      fp8=a.fp8, dynamic_tokens=a.dynamic_tokens,
                      embedding=a.embedding, return_residual=a.return_residual,
                      epsilon=a.epsilon)
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
