"""What the visitor is after right now: the taxonomy of topics and the reader of them.

Example::

    from intent.interest import InterestReader, InterestSignals, load_taxonomy

    reader = InterestReader(load_taxonomy())
    interests = reader.read(InterestSignals(search_term="leichtes zelt 2 personen"))
    interests[0].category, interests[0].confidence   # ("camping", 0.85)
"""

from intent.interest.models import Interest, InterestEvidence, InterestSignals
from intent.interest.reader import InterestReader
from intent.interest.taxonomy import (
    DEFAULT_TAXONOMY,
    Category,
    Taxonomy,
    dump_taxonomy,
    load_taxonomy,
    parse_taxonomy,
)

__all__ = [
    "DEFAULT_TAXONOMY",
    "Category",
    "Interest",
    "InterestEvidence",
    "InterestReader",
    "InterestSignals",
    "Taxonomy",
    "dump_taxonomy",
    "load_taxonomy",
    "parse_taxonomy",
]
