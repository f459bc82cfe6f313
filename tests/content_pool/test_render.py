"""Sandboxed rendering: SSTI payloads never execute, values are escaped, bad templates rejected."""

from __future__ import annotations

import pytest

from content_pool.errors import ContentRenderError, InvalidContent, TemplateRejected
from content_pool.models import ContentDraft
from content_pool.render import Renderer, template_variables
from tests.content_pool.factories import make_draft

SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[2].__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ item.__class__.__init__.__globals__ }}",
    "{{ item.title.__class__.__base__.__subclasses__() }}",
    "{{ item|attr('__class__') }}",
    "{{ (item|attr('\\x5f\\x5fclass\\x5f\\x5f')) }}",
    "{{ '{0.__class__}'.format(item) }}",
    "{{ '%s'|format(item.__class__) }}",
    "{{ item.tags.append('x') }}",
    "{{ item.update({'id': 'pwned'}) }}",
    "{{ range.__init__.__globals__ }}",
    "{% set x = item.tags.pop() %}{{ x }}",
    "{{ 'a' * 100000000 }}",
    "{{ 99999999 ** 99999999 }}",
    "{{ first_name|safe }}",
    "{% autoescape false %}{{ first_name }}{% endautoescape %}",
    "{% include '/etc/passwd' %}",
    "{% extends 'base.html' %}",
    "{% import 'macros.html' as m %}",
    "{% from 'macros.html' import x %}",
]


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
@pytest.mark.parametrize("channel", ["web", "chat"])
def test_known_sandbox_escapes_are_rejected_on_save(payload: str, channel: str) -> None:
    draft = make_draft(channel=channel, template=payload)
    with pytest.raises(TemplateRejected) as caught:
        Renderer().validate(draft)
    assert caught.value.line == 1
    assert caught.value.reason


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_known_sandbox_escapes_never_execute_when_rendered(payload: str) -> None:
    # an item stored before the checks existed (or by another tool) still cannot escape
    draft = make_draft(template=payload)
    with pytest.raises(ContentRenderError):
        Renderer().render(draft, first_name="Ana", consent=True)
    assert draft.tags == []


def test_inert_payloads_render_as_text() -> None:
    draft = make_draft(template="{{ self }} {{ '{{7*7}}' }}")
    output = Renderer().render(draft)
    assert "49" not in output and "{{7*7}}" in output


def test_profile_values_are_html_escaped_in_web_and_email() -> None:
    template = "<p>Hallo {{ first_name }}, {{ profile.interests|join(', ') }}</p>"
    for channel in ("web", "email"):
        draft = make_draft(channel=channel, template=template)
        output = Renderer().render(
            draft,
            first_name="<script>alert(1)</script>",
            profile={"interests": ['"><img src=x onerror=alert(1)>']},
            consent=True,
        )
        assert "<script>" not in output and "<img" not in output
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in output
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in output
        assert output.startswith("<p>Hallo ")  # the marketer's own markup stays HTML


def test_situation_values_are_escaped_too() -> None:
    draft = make_draft(template="Gesucht: {{ situation.source.term }}")
    output = Renderer().render(draft, situation={"source": {"term": "<b>zelt</b>"}})
    assert output == "Gesucht: &lt;b&gt;zelt&lt;/b&gt;"


def test_text_channels_are_not_html_escaped() -> None:
    draft = make_draft(channel="sms", template="Hallo {{ first_name }} & willkommen")
    assert Renderer().render(draft, first_name="Tom & Jerry", consent=True) == (
        "Hallo Tom & Jerry & willkommen"
    )


def test_without_consent_no_profile_data_reaches_the_template() -> None:
    draft = make_draft(
        template="[{{ first_name }}][{{ profile.lifecycle }}][{{ profile.interests|join(',') }}]"
    )
    profile = {"lifecycle": "loyal", "affinities": {"hiking": 0.9}}
    renderer = Renderer()
    assert renderer.render(draft, first_name="Ana", profile=profile) == "[][][]"
    with_consent = renderer.render(draft, first_name="Ana", profile=profile, consent=True)
    assert with_consent == "[Ana][loyal][hiking]"


def test_profile_subset_is_top_three_interests_and_nothing_else() -> None:
    variables = template_variables(
        make_draft(),
        profile={
            "affinities": {"a": 0.1, "b": 0.9, "c": 0.5, "d": 0.7},
            "email": "ana@example.org",
            "lifecycle": "active",
        },
        consent=True,
    )
    assert variables["profile"] == {"lifecycle": "active", "interests": ["b", "d", "c"]}


def test_undocumented_situation_keys_are_dropped_and_missing_ones_blank() -> None:
    variables = template_variables(make_draft(), situation={"ip": "10.0.0.1", "daypart": "night"})
    assert "ip" not in variables["situation"]
    assert variables["situation"]["daypart"] == "night"
    assert variables["situation"]["device"]["type"] == ""


def test_template_rejected_with_line_number_and_reason() -> None:
    template = "<h1>{{ item.title }}</h1>\n<p>{{ first_name }}</p>\n<p>{{ profile.email }}</p>\n"
    with pytest.raises(TemplateRejected) as caught:
        Renderer().validate(make_draft(template=template))
    assert caught.value.line == 3
    assert "email" in caught.value.reason
    assert caught.value.errors == [
        {"field": "template", "message": f"line 3: {caught.value.reason}"}
    ]


def test_syntax_error_rejected_with_line_number() -> None:
    with pytest.raises(TemplateRejected) as caught:
        Renderer().validate(make_draft(template="ok\n{{ item.title }}\n{% for x in %}{% endfor %}"))
    assert caught.value.line == 3
    assert "Expected an expression" in caught.value.reason


def test_runtime_failure_on_sample_context_is_rejected() -> None:
    with pytest.raises(TemplateRejected) as caught:
        Renderer().validate(make_draft(template="a\nb\n{{ item.priority / 0 }}"))
    assert caught.value.line == 3
    assert "division" in caught.value.reason


def test_validate_checks_without_consent_too() -> None:
    # a template that only works when the first name is set fails for anonymous visitors
    template = "{{ first_name[0] }}"
    with pytest.raises(TemplateRejected):
        Renderer().validate(make_draft(template=template))


def test_validate_all_names_every_failing_item() -> None:
    drafts = [
        make_draft(id="good"),
        make_draft(id="bad-one", template="{{ nope }}"),
        make_draft(id="bad-two", template="{% if %}"),
    ]
    with pytest.raises(InvalidContent) as caught:
        Renderer().validate_all(drafts)
    assert [e["field"] for e in caught.value.errors] == ["bad-one.template", "bad-two.template"]


def test_output_length_is_capped() -> None:
    renderer = Renderer(max_output_chars=50)
    draft = make_draft(template="x" * 60)
    with pytest.raises(TemplateRejected, match="longer than 50"):
        renderer.validate(draft)


def test_render_error_names_the_item() -> None:
    draft: ContentDraft = make_draft(id="hero-broken", template="line\n{{ profile.nope }}")
    with pytest.raises(ContentRenderError) as caught:
        Renderer().render(draft)
    assert caught.value.item_id == "hero-broken" and caught.value.line == 2
