"""sp_tools.sharded_check: which part of a global tensor each rank holds."""

import numpy as np

from sp_tools import sharded_check as sc


def test_coordinates_are_row_major():
    assert [sc.coordinates(r, (2, 4)) for r in (0, 3, 4, 7)] == [[0, 0], [0, 3], [1, 0], [1, 3]]


def test_shard_of_follows_split_axes():
    x = np.arange(8 * 6).reshape(8, 6)
    grid = (2, 2)
    rows_over_0 = sc.Sharding("g", [[0]])
    cols_over_1 = sc.Sharding("g", [[], [1]])
    # rank 3 = (1, 1): second half of the rows, second half of the columns.
    assert (sc.shard_of(x, rows_over_0, grid, 3) == x[4:]).all()
    assert (sc.shard_of(x, cols_over_1, grid, 3) == x[:, 3:]).all()
    # rank 1 = (0, 1): axis 0 picks the first half whatever axis 1 is.
    assert (sc.shard_of(x, rows_over_0, grid, 1) == x[:4]).all()
    # Split over both axes, in the order listed: (1, 0) -> chunk 0 * 2 + 1.
    both = sc.Sharding("g", [[1, 0]])
    assert (sc.shard_of(x, both, grid, 2) == x[2:4]).all()
    assert sc.shard_of(x, None, grid, 2) is x


def test_parse_annotations(tmp_path):
    text = """
  shard.grid @tp(shape = 2x2)
  func.func @forward(%arg0: tensor<32x64xf32>, %arg1: tensor<64xf32>) -> tensor<32x64xf32> {
    %s_act = shard.sharding @tp split_axes = [[0]] : !shard.sharding
    %s_rep = shard.sharding @tp split_axes = [[]] : !shard.sharding
    %sharded_arg0 = shard.shard %arg0 to %s_act : tensor<32x64xf32>
    %sharded_arg1 = shard.shard %arg1 to %s_rep : tensor<64xf32>
    %sharded_result = shard.shard %7 to %s_act annotate_for_users : tensor<32x64xf32>
    return %sharded_result : tensor<32x64xf32>
  }
"""
    path = tmp_path / "m.mlir"
    path.write_text(text)
    grids, args, results = sc.parse_annotations(str(path))
    assert grids == {"tp": (2, 2)}
    assert args[0].split_axes == [[0]] and args[1].split_axes == [[]]
    assert [r.split_axes for r in results] == [[[0]]]
    signature = sc.entry_signature(str(path), "forward")
    assert signature == ([((32, 64), "f32"), ((64,), "f32")], [((32, 64), "f32")])
