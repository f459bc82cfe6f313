"""Saved intent models: head parameters plus a JSON config, matched to data by hash.

Layout under ``root``::

    <root>/<version>/config.json   version, training-data hash, encoder, classes, thresholds,
                                   evaluation figures, catalogue, hyperparameters, created_at
    <root>/<version>/head.npz      coef and intercept of the embedding head, and the arrays of
                                   the lexical and nearest-example components

Only numbers and JSON are stored (no pickle), so loading a model cannot run code. A model is
written to a temporary directory and renamed into place, so readers never see half a model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from intent.errors import ModelNotReady

_CONFIG = "config.json"
_HEAD = "head.npz"
FORMAT_VERSION = 1


@dataclass
class SavedModel:
    """Everything needed to rebuild an :class:`~intent.model.IntentModel` given its encoder."""

    version: str
    data_hash: str
    encoder: str
    classes: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    thresholds: dict[str, float]
    catalog: list[dict[str, str]]
    temperature: float = 1.0
    components: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def config(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "version": self.version,
            "data_hash": self.data_hash,
            "encoder": self.encoder,
            "classes": self.classes,
            "thresholds": self.thresholds,
            "temperature": self.temperature,
            "catalog": self.catalog,
            "params": self.params,
            "metrics": self.metrics,
            "created_at": self.created_at,
        }


class ModelRegistry:
    """A directory of saved models, one sub-directory per version."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, model: SavedModel) -> Path:
        """Write ``model`` atomically; an existing copy of the same version is replaced."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / model.version
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{model.version}."))
        try:
            arrays: dict[str, Any] = {
                **model.components,
                "coef": model.coef,
                "intercept": model.intercept,
            }
            np.savez(tmp / _HEAD, **arrays)
            (tmp / _CONFIG).write_text(
                json.dumps(model.config(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def versions(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / _CONFIG).exists())

    def load(self, version: str) -> SavedModel:
        """Load one version; raises :class:`ModelNotReady` if it is missing or unreadable."""
        path = self.root / version
        try:
            config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
            with np.load(path / _HEAD, allow_pickle=False) as head:
                coef, intercept = head["coef"], head["intercept"]
                components = {k: head[k] for k in head.files if k not in ("coef", "intercept")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotReady(f"saved intent model {version!r} cannot be read: {exc}") from exc
        if config.get("format") != FORMAT_VERSION:
            raise ModelNotReady(f"saved intent model {version!r} has an unknown format")
        return SavedModel(
            version=config["version"],
            data_hash=config["data_hash"],
            encoder=config["encoder"],
            classes=list(config["classes"]),
            coef=coef,
            intercept=intercept,
            thresholds=dict(config["thresholds"]),
            catalog=list(config["catalog"]),
            temperature=float(config.get("temperature", 1.0)),
            components=components,
            params=dict(config.get("params", {})),
            metrics=dict(config.get("metrics", {})),
            created_at=config.get("created_at", ""),
        )

    def find(self, data_hash: str, encoder: str, params: dict[str, Any]) -> SavedModel | None:
        """The saved model trained on exactly this data with this encoder and these params."""
        for version in self.versions():
            try:
                config = json.loads((self.root / version / _CONFIG).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (
                config.get("data_hash") == data_hash
                and config.get("encoder") == encoder
                and config.get("params") == params
            ):
                return self.load(version)
        return None
