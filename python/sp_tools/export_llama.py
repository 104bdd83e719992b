"""Exports a tiny Llama-style decoder from PyTorch through torch-mlir and
shards it for tensor parallelism with upstream MLIR's `shard` dialect.

Writes the fixtures of test/Fixtures/torch-mlir (see the README there):

  llama2l_{f32,bf16}.mlir                   torch-mlir's linalg-on-tensors export
  llama2l_{f32,bf16}.{tp2,dp2tp2}.annotated.mlir
                                            normalized + shard.shard annotations
  llama2l_{f32,bf16}.{tp2,dp2tp2}.mlir      after sharding-propagation + shard-partition

Model (all sizes fixed): 2 decoder layers, hidden 64, MLP intermediate 128,
32 tokens, activations 2-D [tokens, hidden]; RMSNorm as in Hugging Face's
LlamaRMSNorm; q/k/v/o and gate/up/down projections without bias; SiLU MLP;
residual adds; a final norm. Every weight is a function argument
(torch.func.functional_call), never a constant.

Simplifications (details in test/Fixtures/torch-mlir/README.md): no
embedding or LM head (the input is the hidden state), no RoPE, no KV cache,
one causal sequence; 4 heads of 16 whose q/k/v/o weights are stored per
head (3-D), so that the heads are a batch dimension without the reshapes
that the shard dialect cannot partition (`--attention single-head|view`
export the nn.Linear forms; the README says what they give). The export
checks that the per-head model equals the usual nn.Linear + view/transpose
formulation with the same weights.

Usage (needs torch, torch-mlir and ml_dtypes; the test suite does not):

  PYTHONPATH=python python -m sp_tools.export_llama --out-dir test/Fixtures/torch-mlir

The export runs in-process; the normalization, partitioning and checks run
`mlir-opt` (default: Debian's /usr/lib/llvm-22/bin/mlir-opt) and, when it
exists, the repository's build/bin/sp-opt as subprocesses.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys

# Model sizes.
TOKENS, HIDDEN, INTERMEDIATE, LAYERS, HEADS = 32, 64, 128, 2, 4
HEAD_DIM = HIDDEN // HEADS
EPS = 1e-6
SEED = 0
FUNC_NAME = "forward"


# ----------------------------------------------------------------------------
# The PyTorch model (torch is imported only here).
# ----------------------------------------------------------------------------

ATTENTION = ("heads", "single-head", "view")


def build_model(torch, attention="heads"):
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(hidden))
            self.variance_epsilon = EPS

        def forward(self, x):  # Hugging Face's LlamaRMSNorm
            input_dtype = x.dtype
            x = x.float()
            variance = x.pow(2).mean(-1, keepdim=True)
            x = x * torch.rsqrt(variance + self.variance_epsilon)
            return self.weight * x.to(input_dtype)

    class HeadLinear(nn.Module):
        """A bias-free linear layer whose weight is stored per head: [heads, out, in]."""

        def __init__(self, heads, out_features, in_features):
            super().__init__()
            w = torch.empty(heads, out_features, in_features)
            nn.init.normal_(w, std=in_features ** -0.5)
            self.weight = nn.Parameter(w)

        def forward(self, x):  # x: [heads, tokens, in] -> [heads, tokens, out]
            return torch.bmm(x, self.weight.transpose(1, 2))

    class HeadAttention(nn.Module):
        """The default: heads as a batch dimension, per-head weights."""

        def __init__(self):
            super().__init__()
            self.q_proj = HeadLinear(HEADS, HEAD_DIM, HIDDEN)
            self.k_proj = HeadLinear(HEADS, HEAD_DIM, HIDDEN)
            self.v_proj = HeadLinear(HEADS, HEAD_DIM, HIDDEN)
            self.o_proj = HeadLinear(HEADS, HIDDEN, HEAD_DIM)

        def forward(self, x):  # x: [T, H]
            xb = x.expand(HEADS, TOKENS, HIDDEN)
            q, k, v = self.q_proj(xb), self.k_proj(xb), self.v_proj(xb)  # [heads, T, hd]
            scores = torch.bmm(q, k.transpose(1, 2)) * (1.0 / HEAD_DIM ** 0.5)
            mask = torch.ones(TOKENS, TOKENS, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
            probs = torch.softmax(scores.float(), dim=-1).to(x.dtype)
            out = torch.bmm(probs, v)  # [heads, T, hd]
            return self.o_proj(out).sum(0)  # row-parallel: sum over the heads

    class LinearAttention(nn.Module):
        """--attention single-head / view: nn.Linear q/k/v/o ([out, in]
        weights). single-head: one head of 64. view: 4 heads of 16 through
        view/transpose, as in Hugging Face (shard cannot partition it)."""

        def __init__(self, heads):
            super().__init__()
            self.heads = heads
            self.q_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
            self.k_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
            self.v_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
            self.o_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)

        def forward(self, x):
            hd = HIDDEN // self.heads
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
            if self.heads > 1:
                q, k, v = (t.view(TOKENS, self.heads, hd).transpose(0, 1) for t in (q, k, v))
            scores = (q @ k.transpose(-2, -1)) * (1.0 / hd ** 0.5)
            mask = torch.ones(TOKENS, TOKENS, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
            probs = torch.softmax(scores.float(), dim=-1).to(x.dtype)
            out = probs @ v
            if self.heads > 1:
                out = out.transpose(0, 1).reshape(TOKENS, HIDDEN)
            return self.o_proj(out)

    def Attention():
        if attention == "heads":
            return HeadAttention()
        return LinearAttention(1 if attention == "single-head" else HEADS)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
            self.up_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
            self.down_proj = nn.Linear(INTERMEDIATE, HIDDEN, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class DecoderLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm(HIDDEN)
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(HIDDEN)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.self_attn(self.input_layernorm(x))
            x = x + self.mlp(self.post_attention_layernorm(x))
            return x

    class TinyLlama(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([DecoderLayer() for _ in range(LAYERS)])
            self.norm = RMSNorm(HIDDEN)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.norm(x)

    class WeightsAsArguments(nn.Module):
        """forward(x, *weights): the weights become func.func arguments."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.names = [n for n, _ in model.named_parameters()]

        def forward(self, x, *weights):
            return torch.func.functional_call(self.model, dict(zip(self.names, weights)), (x,))

    return TinyLlama, WeightsAsArguments


def reference_forward(torch, model, x):
    """The usual formulation (nn.Linear weights, view/transpose heads) with
    the model's weights, to check that the per-head layout changes nothing."""
    F = torch.nn.functional

    def rms(x, w):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)
        return w * x.to(dt)

    def heads(t):  # [T, H] -> [heads, T, hd]
        return t.view(TOKENS, HEADS, HEAD_DIM).transpose(0, 1)

    for layer in model.layers:
        a = layer.self_attn
        h = rms(x, layer.input_layernorm.weight)
        wq = a.q_proj.weight.reshape(HIDDEN, HIDDEN)  # [heads*hd, in] = nn.Linear's [out, in]
        wk = a.k_proj.weight.reshape(HIDDEN, HIDDEN)
        wv = a.v_proj.weight.reshape(HIDDEN, HIDDEN)
        wo = a.o_proj.weight.permute(1, 0, 2).reshape(HIDDEN, HIDDEN)  # [out, heads*hd]
        q, k, v = heads(F.linear(h, wq)), heads(F.linear(h, wk)), heads(F.linear(h, wv))
        s = (q @ k.transpose(1, 2)) * (1.0 / HEAD_DIM ** 0.5)
        s = s.masked_fill(torch.ones(TOKENS, TOKENS, dtype=torch.bool).triu(1), float("-inf"))
        p = torch.softmax(s.float(), dim=-1).to(x.dtype)
        o = (p @ v).transpose(0, 1).reshape(TOKENS, HIDDEN)
        x = x + F.linear(o, wo)
        m = layer.mlp
        h = rms(x, layer.post_attention_layernorm.weight)
        x = x + F.linear(F.silu(F.linear(h, m.gate_proj.weight)) * F.linear(h, m.up_proj.weight),
                         m.down_proj.weight)
    return rms(x, model.norm.weight)


def export(dtype_name, attention="heads"):
    """Returns (torch-mlir module text, [(arg name, parameter name, shape)])."""
    import torch
    from torch_mlir import fx

    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    TinyLlama, WeightsAsArguments = build_model(torch, attention)
    torch.manual_seed(SEED)
    model = TinyLlama().to(dtype).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():  # norm weights != 1, so they matter
            if n.endswith("layernorm.weight") or n == "norm.weight":
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    x = torch.randn(TOKENS, HIDDEN, dtype=dtype)
    wrapper = WeightsAsArguments(model).eval()
    params = [p.detach() for p in model.parameters()]
    with torch.no_grad():
        out = model(x)
        assert torch.equal(wrapper(x, *params), out)
        ref = reference_forward(torch, model, x) if attention == "heads" else out
        tol = 1e-5 if dtype == torch.float32 else 3e-2
        if not torch.allclose(out.float(), ref.float(), rtol=tol, atol=tol):
            raise SystemExit(f"per-head model != reference formulation ({dtype_name}): "
                             f"max |diff| {(out.float() - ref.float()).abs().max().item()}")
        module = fx.export_and_import(wrapper, x, *params, output_type="linalg-on-tensors",
                                      func_name=FUNC_NAME)
    args = [("%arg0", "x", tuple(x.shape))]
    args += [(f"%arg{i + 1}", n, tuple(p.shape)) for i, (n, p) in enumerate(model.named_parameters())]
    return str(module), args


# ----------------------------------------------------------------------------
# MLIR text transformations (pure Python, no torch).
# ----------------------------------------------------------------------------

# linalg-fold-unit-extent-dims: torch-mlir writes keepdim reductions and their
#   broadcasts with unit dimensions and maps such as (d0, d1) -> (d0, 0), which
#   the linalg sharding interface rejects ("fail to get sharding option");
# test-erase-unused-operands-and-results: torch's softmax takes the max with
#   aten.max.dim, lowered to a 2-result linalg.generic (max, argmax); the unused
#   argmax result gets no sharding from sharding-propagation, and shard-partition
#   then crashes (segfault in shard::shardShapedType). Debian's mlir-opt has the
#   test passes; linalg-fuse-elementwise-ops also erases it (--fuse-elementwise).
NORMALIZE = ("builtin.module(func.func(linalg-fold-unit-extent-dims,"
             "test-linalg-transform-patterns{test-erase-unused-operands-and-results}),"
             "canonicalize,cse)")
NORMALIZE_FUSED = ("builtin.module(func.func(linalg-fold-unit-extent-dims,"
                   "linalg-fuse-elementwise-ops),canonicalize,cse)")
PARTITION = ("builtin.module(func.func(sharding-propagation,shard-partition),"
             "canonicalize,cse,canonicalize)")

_VALUE_END = r"(?![\w#$.-])"


def _sub_value(name, new, text, count=0):
    return re.sub(re.escape(name) + _VALUE_END, new, text, count=count)


def unshare_inits(text):
    """Gives every use of a top-level `tensor.empty` / `linalg.fill` of a
    tensor.empty its own copy, placed right before the user.

    torch-mlir's export is CSE'd: one zero-filled init serves GEMMs whose
    results are sharded differently, and sharding-propagation then gives the
    shared init one sharding, which shard-partition turns into collectives on
    the init (all_slice / all_gather / all_to_all of tensor.empty, an scf.if
    on the process index). The canonicalize + cse after partitioning merges
    the copies again."""
    out, defs, counter = [], {}, [0]
    in_func = False
    for line in text.split("\n"):
        if line.startswith("  func.func"):
            in_func = True
            out.append(line)
            continue
        if in_func and line.startswith("  }"):
            in_func = False
        if not in_func or not line.startswith("    ") or line.startswith("     "):
            out.append(line)
            continue
        m = re.match(r"    (%[\w]+) = tensor\.empty\(\) : (.*)$", line)
        if m:
            defs[m.group(1)] = ("empty", line, None)
            continue
        m = re.match(r"    (%[\w]+) = linalg\.fill ins\(%[\w]+ : [\w]+\) outs\((%[\w]+) : ", line)
        if m and m.group(2) in defs:
            defs[m.group(1)] = ("fill", line, m.group(2))
            continue

        def materialize(name):
            kind, def_line, init = defs[name]
            counter[0] += 1
            new = f"%init{counter[0]}"
            new_line = _sub_value(name, new, def_line, count=1)
            if kind == "fill":
                new_line = _sub_value(init, materialize(init), new_line)
            out.append(new_line)
            return new

        for name in dict.fromkeys(re.findall(r"%[\w]+", line)):
            if name in defs and re.search(re.escape(name) + _VALUE_END, line):
                line = _sub_value(name, materialize(name), line)
        out.append(line)
    return "\n".join(out)


class Layout:
    """How one grid shards the model: split_axes per argument role, for the
    argument ([out, in] / per-head weights) and for the weight as the GEMM
    uses it (torch-mlir transposes every weight with linalg.transpose)."""

    def __init__(self, name, grid_shape, act, head_batch, col, col_t, row, row_t, head_sum):
        self.name, self.grid_shape, self.act = name, grid_shape, act
        self.arg = {"act": act, "rep": "[[]]", "head_col": head_batch, "head_row": head_batch,
                    "col": col, "row": row}
        self.transposed = {"head_col": head_batch, "head_row": head_batch, "col": col_t,
                           "row": row_t}
        self.head_sum = head_sum  # the [heads, T, H] o_proj output, before the sum over heads


# TP 2: grid @tp(shape = 2). Column-parallel weights split OUT, row-parallel IN.
TP2 = Layout("tp2", "2", act="[[]]", head_batch="[[0]]",
             col="[[0]]", col_t="[[], [0]]", row="[[], [0]]", row_t="[[0]]", head_sum="[[0]]")
# DP 2 x TP 2: grid @tp(shape = 2x2); tokens over axis 0, weights over axis 1.
DP2TP2 = Layout("dp2tp2", "2x2", act="[[0]]", head_batch="[[1]]",
                col="[[1]]", col_t="[[], [1]]", row="[[], [1]]", row_t="[[1]]", head_sum="[[1], [0]]")
LAYOUTS = {"tp2": TP2, "dp2tp2": DP2TP2}


def role_of(param, shape):
    if param == "x":
        return "act"
    if param.endswith("layernorm.weight") or param == "norm.weight":
        return "norm"
    if re.search(r"\.(q|k|v)_proj\.weight$", param):
        return "head_col" if len(shape) == 3 else "col"
    if param.endswith(".o_proj.weight"):
        return "head_row" if len(shape) == 3 else "row"
    if re.search(r"\.(gate|up)_proj\.weight$", param):
        return "col"
    if param.endswith(".down_proj.weight"):
        return "row"
    raise ValueError(f"no sharding role for {param}")


def annotate(text, args, layout, grid="tp"):
    """Inserts shard.grid, shard.sharding and shard.shard ops into the
    (normalized) module and marks the replicated arguments `sp.replicated`
    (the same on every rank) or `sp.replicated_axes` (along some axes)."""
    text = unshare_inits(text)
    m = re.search(r"  func\.func @\w+\((.*?)\) -> ([^{]*)\{\n", text)
    if not m:
        raise ValueError("no func.func found")
    sig = m.group(1)
    sig_args = re.findall(r"(%arg\d+): (tensor<[^>]*>)", sig)
    if [a for a, _ in sig_args] != [a for a, _, _ in args]:
        raise ValueError(f"unexpected signature: {sig_args}")
    roles = [role_of(p, shape) for _, p, shape in args]
    new_sig = sig
    # Split activations are still the same along the grid axes they are not
    # split over (under DP x TP: within each TP group): sp.replicated_axes.
    grid_rank = len(layout.grid_shape.split("x"))
    act_split = {axis for axes in ast.literal_eval(layout.act) for axis in axes}
    act_same = [axis for axis in range(grid_rank) if axis not in act_split]
    for (name, ty), role in zip(sig_args, roles):
        if role == "norm" or (role == "act" and not act_split):
            mark = "{sp.replicated}"
        elif role == "act" and act_same:
            mark = "{sp.replicated_axes = array<i64: " + ", ".join(map(str, act_same)) + ">}"
        else:
            continue
        new_sig = re.sub(re.escape(f"{name}: {ty}") + r"(?=,|$)", f"{name}: {ty} {mark}", new_sig)
    head = [f"    %s_{r} = shard.sharding @{grid} split_axes = {layout.arg[r]} : !shard.sharding"
            for r in ("act", "rep", "col", "row")]
    head.insert(2, f"    %s_heads = shard.sharding @{grid} split_axes = {layout.arg['head_col']} : !shard.sharding")
    head += [f"    %s_{r}_t = shard.sharding @{grid} split_axes = {layout.transposed[r]} : !shard.sharding"
             for r in ("col", "row")]
    head.append(f"    %s_head_sum = shard.sharding @{grid} split_axes = {layout.head_sum} : !shard.sharding")
    sharding_of = {"act": "%s_act", "norm": "%s_rep", "head_col": "%s_heads", "head_row": "%s_heads",
                   "col": "%s_col", "row": "%s_row"}
    for (name, ty), role in zip(sig_args, roles):
        head.append(f"    %sharded_{name[1:]} = shard.shard {name} to {sharding_of[role]} : {ty}")
    body_start = m.end()
    body_end = text.index("\n  }\n", body_start)
    body = re.sub(r"%arg(\d+)" + _VALUE_END, r"%sharded_arg\1", text[body_start:body_end])

    # The weights as the GEMMs use them: the results of their linalg.transpose.
    t_sharding = {"head_col": "%s_heads", "head_row": "%s_heads", "col": "%s_col_t", "row": "%s_row_t"}
    lines, renames, index_ops, head_sums = [], {}, 0, 0
    generic, uses_index = None, False
    for line in body.split("\n"):
        for old, new in renames.items():
            line = _sub_value(old, new, line)
        lines.append(line)
        # The causal mask: iota tensors (linalg.index in a linalg.generic),
        # their difference, comparisons (i64 / i1 tensors). Partitioning a
        # dimension that linalg.index reads would give local indices
        # (shard-partition adds no offset), and with tokens split,
        # sharding-propagation splits the iota that feeds both the rows and
        # the columns of one linalg.generic and shard-partition emits invalid
        # IR ("inferred input/output operand #2 has shape's dimension #1 to be
        # 16, but found 32"). Keep the whole mask chain replicated.
        gm = re.match(r"    (%[\w]+) = linalg\.generic ", line)
        if gm:
            generic, uses_index = gm.group(1), False
        elif generic and "linalg.index" in line:
            uses_index = True
        elif generic and line.startswith("    } -> "):
            if uses_index or re.fullmatch(r"tensor<[\dx]*xi(1|64)>", line[len("    } -> "):]):
                new = f"%replicated_mask{index_ops}"
                index_ops += 1
                lines.append(f"    {new} = shard.shard {generic} to %s_rep : {line[len('    } -> '):]}")
                renames[generic] = new
            generic = None
        tm = re.match(r"    (%[\w]+) = linalg\.transpose ins\(%sharded_arg(\d+) : [^)]*\) "
                      r"outs\([^:]*: (tensor<[^>]*>)\)", line)
        if tm and roles[int(tm.group(2))] in t_sharding:
            role = roles[int(tm.group(2))]
            new = f"%sharded_w{len(renames)}"
            lines.append(f"    {new} = shard.shard {tm.group(1)} to {t_sharding[role]} : {tm.group(3)}")
            renames[tm.group(1)] = new
            continue
        # o_proj: batch_matmul(attn, o weight) -> [heads, T, H] (in bf16: an f32
        # accumulator, then arith.truncf), then the sum over heads, a
        # linalg.generic with iterators (reduction, parallel, parallel).
        # Without an annotation of the summed operand, sharding-propagation
        # all-gathers the heads before the sum instead of summing locally and
        # all-reducing the partial sums.
        sm = re.match(r"    %[\w]+ = linalg\.generic \{indexing_maps = \[[^]]*\], iterator_types = "
                      r"\[\"reduction\", \"parallel\", \"parallel\"\]\} ins\((%[\w]+) : "
                      rf"(tensor<{HEADS}x{TOKENS}x{HIDDEN}x[^>]*>)\)", line)
        if sm:
            new = f"%sharded_heads{head_sums}"
            head_sums += 1
            lines[-1] = f"    {new} = shard.shard {sm.group(1)} to %s_head_sum : {sm.group(2)}"
            lines.append(_sub_value(sm.group(1), new, line, count=1))
    body = "\n".join(lines)
    rm = re.search(r"\n    return (%[\w#]+) : (tensor<[^>]*>)", body)
    body = (body[:rm.start()] +
            f"\n    %sharded_result = shard.shard {rm.group(1)} to %s_act annotate_for_users : {rm.group(2)}"
            f"\n    return %sharded_result : {rm.group(2)}" + body[rm.end():])
    out = (text[:m.start(1)] + new_sig + text[m.end(1):body_start] + "\n".join(head) + "\n" +
           body + text[body_end:])
    out = out.replace("module {\n", f"module {{\n  shard.grid @{grid}(shape = {layout.grid_shape})\n", 1)
    weights = sum(r in t_sharding for r in roles)
    expected_sums = roles.count("head_row")
    if len(renames) != weights + index_ops or head_sums != expected_sums:
        raise ValueError(f"annotated {len(renames)} weights and {head_sums} head sums, "
                         f"expected {weights} and {expected_sums}")
    return out


def count_ops(text):
    counts = {}
    for op in re.findall(r"= (shard\.[a-z_]+|linalg\.[a-z_]+|tensor\.[a-z_]+|scf\.[a-z_]+)", text):
        counts[op] = counts.get(op, 0) + 1
    for op in re.findall(r"^\s*(shard\.grid) ", text, re.M):  # ops without results
        counts[op] = counts.get(op, 0) + 1
    return dict(sorted(counts.items()))


def header(lines):
    return "".join(f"// {line}\n" if line else "//\n" for line in lines)


# ----------------------------------------------------------------------------
# Driver.
# ----------------------------------------------------------------------------

def read_export(path):
    """Reads back a module written by this script: (module text, arguments)."""
    with open(path) as f:
        text = f.read()
    args = [(m.group(1), m.group(2), tuple(int(d) for d in m.group(3).split(", ") if d))
            for m in re.finditer(r"^//   (%arg\d+): (\S+) \[([\d, ]*)\]$", text, re.M)]
    return "\n".join(l for l in text.split("\n") if not l.startswith("//")), args


def run_tool(cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-4000:]}")
    return r.stdout


def default_sp_opt():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.environ.get("SP_BUILD_DIR", os.path.join(here, "..", "..", "build"))
    path = os.path.join(build, "bin", "sp-opt")
    return path if os.path.exists(path) else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", required=True)
    p.add_argument("--mlir-opt", default="/usr/lib/llvm-22/bin/mlir-opt",
                   help="runs the normalization and the shard passes")
    p.add_argument("--sp-opt", default=default_sp_opt(),
                   help="checks that every output parses (default: the repository's build/bin/sp-opt)")
    p.add_argument("--dtypes", default="f32,bf16")
    p.add_argument("--layouts", default="tp2,dp2tp2")
    p.add_argument("--fuse-elementwise", action="store_true",
                   help="normalize with linalg-fuse-elementwise-ops (RMSNorm becomes 2 linalg.generic)")
    p.add_argument("--attention", choices=ATTENTION, default="heads",
                   help="heads (default): per-head weights, heads as a batch dimension; "
                        "single-head / view: nn.Linear q/k/v/o (see the fixtures' README)")
    p.add_argument("--reuse-export", action="store_true",
                   help="read llama2l_<dtype>.mlir from --out-dir instead of exporting (no torch needed)")
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    normalize = NORMALIZE_FUSED if a.fuse_elementwise else NORMALIZE
    regen = "PYTHONPATH=python python -m sp_tools.export_llama --out-dir test/Fixtures/torch-mlir"
    for dt in a.dtypes.split(","):
        raw_path = os.path.join(a.out_dir, f"llama2l_{dt}.mlir")
        if a.reuse_export:
            raw, args = read_export(raw_path)
        else:
            raw, args = export(dt, a.attention)
        arg_doc = [f"  {name}: {param} {list(shape)}" for name, param, shape in args]
        if not a.reuse_export:
            with open(raw_path, "w") as f:
                f.write(header([f"Generated by `{regen}` (python/sp_tools/export_llama.py): torch-mlir",
                                f"export (linalg-on-tensors) of a 2-layer Llama-style decoder, {dt}"
                                f"{'' if a.attention == 'heads' else f', --attention {a.attention}'}.",
                                "Arguments:"] + arg_doc) + raw)
        normalized = run_tool([a.mlir_opt, "-p", normalize], stdin=raw)
        print(f"{raw_path}: {count_ops(raw)}")
        for name in a.layouts.split(","):
            layout = LAYOUTS[name]
            annotated = annotate(normalized, args, layout)
            doc = [f"Generated by `{regen}` (python/sp_tools/export_llama.py) from llama2l_{dt}.mlir:",
                   f"mlir-opt -p '{normalize}',",
                   f"then shard annotations for grid @tp(shape = {layout.grid_shape}) ({name}).",
                   "Arguments:"] + [f"{d}  ({role_of(p, shape)})" for d, (_, p, shape) in zip(arg_doc, args)]
            ann_path = os.path.join(a.out_dir, f"llama2l_{dt}.{name}.annotated.mlir")
            with open(ann_path, "w") as f:
                f.write(header(doc) + annotated)
            part = run_tool([a.mlir_opt, ann_path, "-p", PARTITION])
            part_path = os.path.join(a.out_dir, f"llama2l_{dt}.{name}.mlir")
            with open(part_path, "w") as f:
                f.write(header([f"Generated by `{regen}` (python/sp_tools/export_llama.py):",
                                f"mlir-opt llama2l_{dt}.{name}.annotated.mlir -p '{PARTITION}'",
                                "Arguments (global shapes; the signature has this rank's shards):"]
                               + arg_doc) + part)
            print(f"{part_path}: {count_ops(part)}")
            if "sp.replicated" in annotated and "sp.replicated" not in part:
                raise SystemExit(f"{part_path}: sp.replicated did not survive partitioning")
        if a.sp_opt:
            for path in sorted(os.listdir(a.out_dir)):
                if path.startswith(f"llama2l_{dt}") and path.endswith(".mlir"):
                    run_tool([a.sp_opt, os.path.join(a.out_dir, path), "-o", os.devnull])
            print(f"sp-opt parses every llama2l_{dt}*.mlir")
    return 0


if __name__ == "__main__":
    sys.exit(main())
