"""Read a request's context into a typed situation: device, source, language, time, evidence.

Example::

    from intent.situation import ContextInput, SituationReader

    reader = SituationReader(internal_hosts=["shop.example"])
    context = ContextInput(user_agent=ua, referrer=ref, url=page, timezone="Europe/Berlin")
    situation = reader.read(context)
"""

from intent.situation.context import ContextInput, client_hints
from intent.situation.models import Device, Evidence, Language, Situation, Source
from intent.situation.reader import SituationReader

__all__ = [
    "ContextInput",
    "Device",
    "Evidence",
    "Language",
    "Situation",
    "SituationReader",
    "Source",
    "client_hints",
]
