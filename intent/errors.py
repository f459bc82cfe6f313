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
└── TaxonomyError (ValueError)         the interest taxonomy cannot be used (with place and reason)
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
    """The interest taxonomy cannot be used; the message lists every problem with its place."""
