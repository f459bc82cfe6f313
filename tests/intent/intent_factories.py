"""Small training sets and models for the intent tests (HashingEncoder, trains in ~1 s)."""

from __future__ import annotations

from pathlib import Path

import yaml

from intent.encoder import HashingEncoder
from intent.model import IntentModel
from intent.training import load_training_data

SMALL_DATA: dict[str, object] = {
    "version": 1,
    "intents": {
        "track_order": {
            "phase": "use",
            "moment": "service",
            "examples": {
                "de": [
                    "wo ist mein paket",
                    "sendungsverfolgung paket",
                    "paket status",
                    "wann kommt mein paket",
                    "paket verfolgen bitte",
                    "paketnummer",
                ],
                "en": [
                    "where is my parcel",
                    "track my parcel",
                    "parcel status",
                    "when does my parcel arrive",
                    "parcel tracking please",
                    "parcel number",
                ],
            },
        },
        "return_item": {
            "phase": "use",
            "moment": "service",
            "examples": {
                "de": [
                    "retoure anmelden",
                    "rücksendung starten",
                    "retourenschein drucken",
                    "retoure etikett",
                    "wie geht die rücksendung",
                    "retoure bitte",
                ],
                "en": [
                    "start a return",
                    "return label print",
                    "returns label",
                    "how do returns work",
                    "return this item",
                    "return please",
                ],
            },
        },
        "store_locator": {
            "phase": "consider",
            "moment": "go",
            "examples": {
                "de": [
                    "filiale in der nähe",
                    "filialfinder",
                    "nächste filiale",
                    "filiale münchen",
                    "wo ist eine filiale",
                    "filialen suchen",
                ],
                "en": [
                    "store near me",
                    "store locator",
                    "nearest store",
                    "munich store",
                    "where is a store",
                    "find stores",
                ],
            },
        },
        "payment_methods": {
            "phase": "purchase",
            "moment": "know",
            "examples": {
                "de": [
                    "zahlungsarten",
                    "mit paypal zahlen",
                    "zahlung per rechnung",
                    "welche zahlungsarten",
                    "zahlung mit karte",
                    "zahlungsmöglichkeiten",
                ],
                "en": [
                    "payment methods",
                    "pay with paypal",
                    "payment by invoice",
                    "which payment methods",
                    "payment by card",
                    "payment options",
                ],
            },
        },
        "cancel_subscription": {
            "phase": "churn",
            "moment": "service",
            "examples": {
                "de": [
                    "abo kündigen",
                    "abonnement kündigen",
                    "kündigung abo",
                    "abo beenden",
                    "mein abo kündigen",
                    "abo kündigung bitte",
                ],
                "en": [
                    "cancel subscription",
                    "cancel my subscription",
                    "subscription cancel",
                    "end subscription",
                    "stop my subscription",
                    "subscription end please",
                ],
            },
        },
    },
    "out_of_scope": {
        "de": [
            "wetter morgen",
            "erzähl einen witz",
            "fußball ergebnis",
            "rezept lasagne",
            "wie spät ist es",
            "hauptstadt frankreich",
        ],
        "en": [
            "weather tomorrow",
            "tell a joke",
            "football score",
            "lasagna recipe",
            "what time is it",
            "capital of france",
        ],
    },
}


def write_small_data(path: Path, data: dict[str, object] | None = None) -> Path:
    path.write_text(
        yaml.safe_dump(data or SMALL_DATA, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return path


def train_small_model(tmp_path: Path, random_state: int = 0) -> IntentModel:
    data = load_training_data([write_small_data(tmp_path / "small.yml")])
    return IntentModel.train(
        data, encoder=HashingEncoder(), random_state=random_state, progress=lambda s, f: None
    )
