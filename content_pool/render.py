"""Rendering marketer-written templates, which are untrusted, in jinja2's immutable sandbox.

Templates of the ``web`` and ``email`` channels produce HTML and are autoescaped: every value
printed with ``{{ ... }}`` is HTML-escaped, so a profile value such as ``<script>`` arrives as
``&lt;script&gt;``. Templates of ``chat``, ``sms`` and ``push`` produce plain text and are **not**
HTML-escaped; they are still sandboxed, and clients must place the result as text (never as
HTML). Undefined variables are errors (``StrictUndefined``).

Variables a template can use (nothing else exists):

``first_name``
    The person's first name, but only when the caller says consent is given; ``""`` otherwise.
``situation``
    ``device`` {``type``: mobile|desktop|tablet|app|bot, ``os``, ``browser``},
    ``source`` {``medium``: search|email|social|ads|referral|direct, ``name``, ``term``,
    ``campaign``}, ``language``, ``country``, ``daypart`` (morning|afternoon|evening|night),
    ``weekday`` (monday..sunday), ``returning`` (bool). Keys the caller does not know are
    ``None`` (or ``""`` for strings), never missing.
``item``
    The item's own fields: ``id``, ``title``, ``slot``, ``channel``, ``language``, ``priority``,
    ``tags``, ``categories``.
``profile``
    A small safe subset, filled only with consent: ``lifecycle`` (a lifecycle stage or ``""``)
    and ``interests`` (up to three topics, strongest first; ``[]`` without consent).

What the sandbox adds to jinja's: no globals (no ``range``, ``lipsum``, ``cycler``...), a
whitelist of harmless filters (no ``safe``), no ``include``/``extends``/``import``, no
``{% autoescape %}`` blocks, ``*`` and ``**`` that cannot build huge values, and a cap on the
length of the output.

On save, :meth:`Renderer.validate` compiles the template and renders it against
:data:`SAMPLE_SITUATION` and :data:`SAMPLE_PROFILE`, with and without consent; any failure is a
:class:`~content_pool.errors.TemplateRejected` with the line and the reason.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from content_pool.errors import ContentRenderError, FieldError, InvalidContent, TemplateRejected
from content_pool.models import HTML_CHANNELS, Channel, ContentDraft

MAX_OUTPUT_CHARS: Final = 100_000
MAX_SEQUENCE_FROM_OPERATOR: Final = 10_000

SAMPLE_SITUATION: Final[Mapping[str, Any]] = {
    "device": {"type": "mobile", "os": "iOS", "browser": "Safari"},
    "source": {"medium": "search", "name": "google", "term": "wanderschuhe", "campaign": ""},
    "language": "de",
    "country": "DE",
    "daypart": "evening",
    "weekday": "saturday",
    "returning": True,
}
"""The situation templates are rendered against when they are saved or previewed."""

SAMPLE_PROFILE: Final[Mapping[str, Any]] = {
    "lifecycle": "active",
    "interests": ["hiking", "camping"],
}
SAMPLE_FIRST_NAME: Final = "Alex"

_SITUATION_SHAPE: Final[Mapping[str, Any]] = {
    "device": {"type": "", "os": "", "browser": ""},
    "source": {"medium": "", "name": "", "term": "", "campaign": ""},
    "language": "",
    "country": "",
    "daypart": "",
    "weekday": "",
    "returning": None,
}
_ALLOWED_FILTERS: Final = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float",
        "forceescape", "int", "join", "last", "length", "list", "lower", "max", "min",
        "replace", "reverse", "round", "sort", "string", "striptags", "sum", "title", "trim",
        "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip


def template_variables(
    item: ContentDraft,
    *,
    situation: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    first_name: str | None = None,
    consent: bool = False,
) -> dict[str, Any]:
    """The variables a template sees, built from what the caller knows.

    ``profile`` may carry ``lifecycle`` and either ``interests`` (list, strongest first) or
    ``affinities`` (``{topic: weight}``); only those are read, and only when ``consent`` is true.
    """
    return {
        "first_name": (first_name or "").strip()[:60] if consent else "",
        "situation": _shape(_SITUATION_SHAPE, situation or {}),
        "item": {
            "id": item.id,
            "title": item.title,
            "slot": item.slot,
            "channel": item.channel,
            "language": item.language,
            "priority": item.priority,
            "tags": list(item.tags),
            "categories": list(item.targeting.categories),
        },
        "profile": _profile_view(profile) if consent and profile else _profile_view({}),
    }


def _shape(shape: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, blank in shape.items():
        value = given.get(key)
        if isinstance(blank, Mapping):
            out[key] = _shape(blank, value if isinstance(value, Mapping) else {})
        elif isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = blank
    return out


def _profile_view(profile: Mapping[str, Any]) -> dict[str, Any]:
    lifecycle = profile.get("lifecycle")
    interests: Sequence[Any] = ()
    if isinstance(profile.get("interests"), list | tuple):
        interests = profile["interests"]
    elif isinstance(profile.get("affinities"), Mapping):
        weights = profile["affinities"]
        interests = sorted(weights, key=lambda topic: -float(weights[topic]))
    return {
        "lifecycle": lifecycle if isinstance(lifecycle, str) else "",
        "interests": [topic for topic in interests if isinstance(topic, str)][:3],
    }


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float):
            base_bits = abs(int(left)).bit_length() if isinstance(left, int | float) else 1
            if abs(right) > 64 or base_bits * abs(right) > 4096:
                raise SecurityError("power too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_SEQUENCE_FROM_OPERATOR:
                        raise SecurityError("repetition builds a value that is too large")
        return super().call_binop(context, operator, left, right)


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, auto_reload=False)
    env.globals.clear()
    env.filters = {name: f for name, f in env.filters.items() if name in _ALLOWED_FILTERS}
    return env


def _template_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class _Failure(Exception):
    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SecurityError):
        return f"not allowed in templates: {exc}"
    if isinstance(exc, TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Renderer:
    """Compiles, checks and renders content templates. Compiled templates are cached.

    >>> renderer = Renderer()
    >>> renderer.validate(draft)                       # raises TemplateRejected
    >>> renderer.render(item, situation={...}, profile={...}, first_name="Ada", consent=True)
    """

    def __init__(self, *, max_output_chars: int = MAX_OUTPUT_CHARS, cache_size: int = 2048) -> None:
        assert max_output_chars > 0 and cache_size > 0, "limits must be positive"
        self.max_output_chars = max_output_chars
        self.cache_size = cache_size
        self._html = _environment(autoescape=True)
        self._text = _environment(autoescape=False)
        self._cache: OrderedDict[tuple[bool, str], Template] = OrderedDict()

    def validate(self, draft: ContentDraft) -> None:
        """Compile ``draft.template`` and render it on the sample context, with and without
        consent. Raises :class:`TemplateRejected` (line, reason)."""
        for consent in (True, False):
            variables = template_variables(
                draft,
                situation=SAMPLE_SITUATION,
                profile=SAMPLE_PROFILE,
                first_name=SAMPLE_FIRST_NAME,
                consent=consent,
            )
            self.preview(draft.template, draft.channel, variables)

    def validate_all(self, drafts: Iterable[ContentDraft]) -> None:
        """:meth:`validate` every draft; raises one :class:`InvalidContent` naming each failing
        item (``<id>.template``)."""
        errors: list[FieldError] = []
        for draft in drafts:
            try:
                self.validate(draft)
            except TemplateRejected as exc:
                errors.extend(
                    FieldError(f"{draft.id}.{e.loc}", e.message) for e in exc.field_errors
                )
        if errors:
            raise InvalidContent(errors)

    def preview(self, template: str, channel: Channel, variables: Mapping[str, Any]) -> str:
        """Render a template that is not saved yet. Raises :class:`TemplateRejected`."""
        try:
            return self._render(template, channel, variables)
        except _Failure as failure:
            raise TemplateRejected(failure.reason, failure.line) from None

    def render(
        self,
        item: ContentDraft,
        *,
        situation: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
        first_name: str | None = None,
        consent: bool = False,
    ) -> str:
        """Render a saved item for one request. Raises :class:`ContentRenderError`.

        Without ``consent`` neither ``first_name`` nor anything from ``profile`` reaches the
        template. See the module docstring for the variables.
        """
        variables = template_variables(
            item, situation=situation, profile=profile, first_name=first_name, consent=consent
        )
        try:
            return self._render(item.template, item.channel, variables)
        except _Failure as failure:
            raise ContentRenderError(failure.reason, item.id, failure.line) from None

    def _compile(self, source: str, html: bool) -> Template:
        key = (html, source)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        env = self._html if html else self._text
        try:
            _check_tree(env.parse(source))
            template = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise _Failure(_reason(exc), exc.lineno) from None
        except TemplateError as exc:  # pragma: no cover - jinja raises syntax errors above
            raise _Failure(_reason(exc), None) from None
        self._cache[key] = template
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return template

    def _render(self, source: str, channel: Channel, variables: Mapping[str, Any]) -> str:
        template = self._compile(source, channel in HTML_CHANNELS)
        try:
            output = template.render(variables)
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise _Failure(_reason(exc), _template_line(exc.__traceback__)) from None
        if len(output) > self.max_output_chars:
            raise _Failure(f"output longer than {self.max_output_chars} characters", None)
        return output


def _check_tree(tree: nodes.Template) -> None:
    forbidden: tuple[tuple[type[nodes.Node], str], ...] = (
        (nodes.Extends, "extends is not allowed: a content template stands alone"),
        (nodes.Include, "include is not allowed: a content template stands alone"),
        (nodes.Import, "import is not allowed: a content template stands alone"),
        (nodes.FromImport, "import is not allowed: a content template stands alone"),
        (nodes.EvalContextModifier, "autoescape blocks are not allowed: escaping is fixed"),
    )
    for node_type, reason in forbidden:
        for node in tree.find_all(node_type):
            raise TemplateSyntaxError(reason, node.lineno)
