from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from intent.encoder import CachedEncoder, ConcatEncoder, HashingEncoder, build_encoder
from intent.errors import UnknownEncoder


class CountingEncoder:
    """Records every batch it is asked to encode."""

    name = "counting"
    dim = 8

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, len(text) % self.dim] = 1.0
        return out


def test_hashing_rows_are_unit_length_and_deterministic() -> None:
    enc = HashingEncoder(dim=256)
    a = enc.encode(["wo ist meine bestellung", "where is my order", ""])
    assert a.shape == (3, 256) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a[:2], axis=1), 1.0)
    assert np.array_equal(
        a, HashingEncoder(dim=256).encode(["wo ist meine bestellung", "where is my order", ""])
    )
    near = float(a[0] @ enc.encode(["wo ist meine bestelung"])[0])
    far = float(a[0] @ enc.encode(["tell me a joke"])[0])
    assert near > far


def test_cache_encodes_each_text_once_and_is_bounded() -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, max_size=2)
    first = cached.encode(["a", "bb", "a"])
    assert inner.calls == [["a", "bb"]]
    assert np.array_equal(first[0], first[2])
    cached.encode(["bb", "a"])
    assert len(inner.calls) == 1 and cached.hits == 2
    cached.encode(["ccc"])  # evicts the least recently used ("bb")
    assert len(cached) == 2
    cached.encode(["bb"])
    assert inner.calls[-1] == ["bb"]


def test_concat_is_normalised_and_has_summed_dim() -> None:
    enc = ConcatEncoder([HashingEncoder(dim=64), HashingEncoder(dim=32)])
    out = enc.encode(["hallo welt"])
    assert enc.dim == 96 and out.shape == (1, 96)
    assert np.isclose(np.linalg.norm(out[0]), 1.0)


def test_unknown_encoder_name_lists_the_choices() -> None:
    with pytest.raises(UnknownEncoder, match="hashing"):
        build_encoder("bert-huge")


def test_build_hashing_is_cached() -> None:
    enc = build_encoder("hashing", cache_size=10)
    assert isinstance(enc, CachedEncoder)
    assert enc.encode(["x"]).shape == (1, enc.dim)


def test_the_services_use_encoder_gives_the_training_vectors_without_pytorch() -> None:
    texts = ["wo ist meine bestellung", "ich suche ein leichtes Zelt für zwei", "🙂", ""]
    trained_with = build_encoder("use", cache_size=0)  # through sentence-transformers
    served_with = build_encoder("use", cache_size=0, serving=True)
    assert served_with.name == trained_with.name == "use"
    assert np.allclose(served_with.encode(texts), trained_with.encode(texts), atol=1e-6)
    # and in a fresh process the service's encoder never loads PyTorch
    import subprocess
    import sys

    probe = ("import sys; from intent.encoder import build_encoder; "
             "build_encoder('use', serving=True).encode(['hallo']); "
             "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
