"""Errors raised by the intent package.

IntentError
├── InvalidContext (ValueError)        a context field is malformed (not merely unrecognised)
├── TrainingDataError (ValueError)     training data that cannot be used (with file and reason)
├── UnknownIntent (LookupError)        an intent name that the catalogue does not know
├── ModelNotReady (RuntimeError)       no trained model is loaded yet
├── ReferrerDataError (ValueError)     a referrer list (vendored or project) cannot be read
├── EvidenceRuleError (ValueError)     a situation evidence rule file cannot be used
├── UnknownEncoder (LookupError)       an encoder name that build_encoder does not know
├── TrainingJobNotFound (LookupError)  a retraining job id that is unknown
├── TaxonomyError (ValueError)         the interest taxonomy cannot be used (with place and reason)
└── TaxonomyInUse                      a replacement would drop categories live content names
"""

from __future__ import annotations


class IntentError(Exception):
    """Root of every error raised by :mod:`intent`."""


class InvalidContext(IntentError, ValueError):
    """A context field is malformed; the message names the field and what is wrong."""


class TrainingDataError(IntentError, ValueError):
    """Training data cannot be used; the message names the file, intent or line."""


class UnknownIntent(IntentError, LookupError):
    """An intent name that the catalogue does not contain."""


class ModelNotReady(IntentError, RuntimeError):
    """Prediction was asked for before a model was trained or loaded."""


class ReferrerDataError(IntentError, ValueError):
    """A referrer list cannot be read or has the wrong shape; the message names the file."""


class EvidenceRuleError(IntentError, ValueError):
    """A situation evidence rule is invalid; the message names the file and the rule."""


class UnknownEncoder(IntentError, LookupError):
    """An encoder name that :func:`intent.encoder.build_encoder` does not know."""


class TrainingJobNotFound(IntentError, LookupError):
    """A training job id that the intent service has never started."""


class TaxonomyError(IntentError, ValueError):
    """The interest taxonomy cannot be used; the message lists every problem with its place.

    ``errors`` is the same as JSON-ready ``{"field", "message"}`` dicts (empty when the problem
    has no place, e.g. a file that is not YAML).
    """

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, str]] = list(errors or [])


class TaxonomyInUse(IntentError):
    """A replaced taxonomy would drop categories that live content still names.

    ``errors`` names each category with the items that name it.
    """

    def __init__(self, in_use: dict[str, list[str]]) -> None:
        self.in_use = in_use
        self.errors = [
            {"field": f"categories.{category}", "message": "named by " + ", ".join(items)}
            for category, items in in_use.items()
        ]
        parts = "; ".join(f"{c!r} by {', '.join(items)}" for c, items in in_use.items())
        super().__init__(
            f"categories still named by live content cannot be removed ({parts}); "
            "re-tag those items first"
        )
