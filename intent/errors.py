"""Errors raised by the intent package.

IntentError
├── InvalidContext (ValueError)        a context field is malformed (not merely unrecognised)
├── TrainingDataError (ValueError)     training data that cannot be used (with file and reason)
├── UnknownIntent (LookupError)        an intent name that the catalogue does not know
└── ModelNotReady (RuntimeError)       no trained model is loaded yet
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
