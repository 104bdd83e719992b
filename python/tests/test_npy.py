import math

import pytest

from sp_tools import npy


@pytest.mark.parametrize("descr,shape,values", [
    ("<f4", (2, 3), [0.5, -1.0, 2.0, 3.25, 0.0, -0.0]),
    ("<f4", (), [1.5]),
    ("<u2", (4,), [0, 1, 0x3F80, 0xFFFF]),
    ("|u1", (2, 2), [0, 0x7E, 0x7F, 0xFF]),
    ("<i8", (1, 1, 2), [-5, 7]),
])
def test_round_trip(tmp_path, descr, shape, values):
    path = tmp_path / "a.npy"
    npy.write(str(path), descr, shape, values)
    d, s, v = npy.read(str(path))
    assert (d, s, v) == (descr, shape, values)
    data = path.read_bytes()
    assert (10 + int.from_bytes(data[8:10], "little")) % 64 == 0  # aligned header


def test_numpy_reads_it(tmp_path):
    np = pytest.importorskip("numpy")
    path = tmp_path / "a.npy"
    npy.write(str(path), "<f4", (2, 2), [1.0, 2.0, 3.0, 4.0])
    assert np.load(path).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    np.save(tmp_path / "b.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    assert npy.read(str(tmp_path / "b.npy")) == ("<i4", (3, 2), [0, 1, 2, 3, 4, 5])


def test_bf16_bits():
    assert npy.bf16_bits(1.0) == 0x3F80
    assert npy.from_bf16_bits(0x3F80) == 1.0
    assert npy.bf16_bits(1.0 + 2 ** -8) == 0x3F80  # tie to even
    assert npy.bf16_bits(1.0 + 3 * 2 ** -8) == 0x3F82
    assert math.isnan(npy.from_bf16_bits(npy.bf16_bits(float("nan"))))


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="unsupported dtype"):
        npy.write(str(tmp_path / "x.npy"), "<c8", (1,), [0])
    with pytest.raises(ValueError, match="values for shape"):
        npy.write(str(tmp_path / "x.npy"), "<f4", (2,), [0.0])
    (tmp_path / "bad.npy").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not an .npy"):
        npy.read(str(tmp_path / "bad.npy"))
