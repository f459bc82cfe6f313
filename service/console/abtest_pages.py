"""Console pages for A/B tests: list, create (slot, variants, goal), watch the verdict, stop.

A test is defined and started exactly as ``/v1/abtests`` does it
(:class:`personalization.experiments.abtests.ABTests`): the form becomes
:class:`~personalization.experiments.abtest.ABTestFields` (its checks are the API's, shown on the
form with the values as typed), a started test takes the slot's traffic, and its page shows the
results of :func:`personalization.experiments.abresults.analyse` with the sequential test's
verdict, refreshed while it runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from content_pool.storage import ContentStore
from personalization.errors import ABTestConflict, ABTestNotFound, InvalidABTest
from personalization.experiments.abresults import ABTestResults
from personalization.experiments.abtest import ABTest, ABTestFields
from personalization.experiments.abtests import ABTests
from service.console.error_pages import error_page
from service.console.forms import field_errors, text
from service.console.web import CsrfDep, SessionDep, is_htmx, page

router = APIRouter(prefix="/console/abtests", include_in_schema=False)

VARIANT_ROWS = 4
GOALS = ("click", "conversion", "purchase", "add_to_cart", "newsletter_signup")


def _tests(request: Request) -> ABTests:
    tests: ABTests = request.state.components.abtests
    return tests


async def _slots_and_items(request: Request) -> tuple[list[str], list[dict[str, str]]]:
    store: ContentStore = request.state.components.content_store
    items = [i for i in await store.all() if i.status != "archived"]
    slots = sorted({i.slot for i in items})
    listed = [{"id": i.id, "slot": i.slot, "title": i.title, "language": i.language}
              for i in sorted(items, key=lambda i: (i.slot, i.id))]  # fmt: skip
    return slots, listed


_SETTINGS = ("id", "slot", "description", "goal", "stop_rule", "alpha", "baseline_rate",
             "minimum_effect", "max_participants")  # fmt: skip
_DEFAULTS = {"id": "", "slot": "", "description": "", "goal": "click", "stop_rule": "sequential",
             "alpha": "0.05", "baseline_rate": "5", "minimum_effect": "20",
             "max_participants": ""}  # fmt: skip


def _values(form: FormData | None) -> dict[str, Any]:
    """What the form shows: defaults, or what was typed."""
    if form is None:
        variants = [{"name": name, "item_id": "", "share": "50"}
                    for name in ("control", "variant_b")]  # fmt: skip
        variants += [{"name": "", "item_id": "", "share": ""}] * (VARIANT_ROWS - 2)
        return {**_DEFAULTS, "variants": variants, "start": True}
    variants = [
        {"name": text(form, f"variant_{i}_name"), "item_id": text(form, f"variant_{i}_item"),
         "share": text(form, f"variant_{i}_share")}
        for i in range(VARIANT_ROWS)
    ]  # fmt: skip
    values: dict[str, Any] = {key: text(form, key) for key in _SETTINGS}
    return values | {"variants": variants, "start": text(form, "start") == "on"}


def verdict_text(results: ABTestResults) -> str:
    """The verdict in the page's units: differences in percentage points, like the table."""
    winners = [c for c in results.comparisons if c.significant and c.difference is not None]
    if not winners:
        return results.verdict
    how = ("by the sequential test" if results.stop_rule == "sequential"
           else "at the planned sample size")  # fmt: skip
    parts = [
        f"{c.variant} {'beats' if (c.difference or 0) > 0 else 'loses to'} the control by "
        f"{(c.difference or 0) * 100:+.1f} pp (p = {c.p_value or 0:.2g})"
        for c in winners
    ]
    return "; ".join(parts) + f", decided {how}"


def _number(value: str, *, percent: bool = False) -> float | str:
    try:
        number = float(value.replace(",", ".").replace("%", "").strip())
    except ValueError:
        return value  # pydantic names the field and the reason
    return number / 100 if percent else number


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """The ``ABTestFields`` data the form describes (shares and rates are typed in per cent)."""
    variants = [
        {"name": v["name"].strip(), "item_id": v["item_id"].strip(),
         "share": _number(v["share"], percent=True)}
        for v in values["variants"] if v["name"].strip() or v["item_id"].strip()
    ]  # fmt: skip
    data: dict[str, Any] = {
        "slot": values["slot"], "description": values["description"],
        "goal": values["goal"] or "click", "stop_rule": values["stop_rule"] or "sequential",
        "variants": variants, "alpha": _number(values["alpha"] or "0.05"),
        "baseline_rate": _number(values["baseline_rate"] or "5", percent=True),
        "minimum_effect": _number(values["minimum_effect"] or "20", percent=True),
    }  # fmt: skip
    if values["max_participants"].strip():
        data["max_participants"] = values["max_participants"].strip()
    return data


@router.get("")
async def list_tests(request: Request, session: SessionDep) -> Response:
    tests = await _tests(request).all()
    verdicts = {}
    for test in tests:
        if test.status != "draft":
            verdicts[test.id] = verdict_text(await _tests(request).results(test.id))
    order = {"running": 0, "draft": 1, "stopped": 2}
    tests.sort(key=lambda t: (order[t.status], t.slot, t.id))
    return page(request, "abtests.html",
                {"section": "abtests", "tests": tests, "verdicts": verdicts})  # fmt: skip


@router.get("/new")
async def new_test(request: Request, session: SessionDep) -> Response:
    return await _form_page(request, _values(None), [], status_code=200)


async def _form_page(
    request: Request, values: dict[str, Any], errors: list[dict[str, str]], *, status_code: int
) -> Response:
    slots, items = await _slots_and_items(request)
    context = {"section": "abtests", "values": values, "errors": errors, "slots": slots,
               "items": items, "goals": GOALS}  # fmt: skip
    return page(request, "abtest_new.html", context, status_code=status_code)


@router.post("")
async def create_test(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    values = _values(await request.form())
    tests = _tests(request)
    try:
        fields = ABTestFields.model_validate(_fields(values))
        test = await tests.put(values["id"].strip(), fields)
    except ValidationError as exc:
        errors = [{**e, "message": e["message"].replace("add up to 1", "add up to 100 %")}
                  for e in field_errors(exc)]  # the form takes shares in per cent
        return await _form_page(request, values, errors, status_code=422)
    except (InvalidABTest, ABTestConflict) as exc:
        return await _form_page(request, values, [{"field": "id", "message": str(exc)}],
                                status_code=422 if isinstance(exc, InvalidABTest) else 409)
    if values["start"]:
        try:
            await tests.start(test.id)
        except ABTestConflict as exc:  # another test runs on the slot: the draft stays
            return await _watch(request, test, problem=str(exc), status_code=409)
    return RedirectResponse(f"/console/abtests/{test.id}", status_code=303)


async def _test_or_404(request: Request, test_id: str) -> ABTest | Response:
    try:
        return await _tests(request).get(test_id)
    except ABTestNotFound:
        return error_page(request, 404)


@router.get("/{test_id}")
async def watch_test(request: Request, test_id: str, session: SessionDep) -> Response:
    test = await _test_or_404(request, test_id)
    if isinstance(test, Response):
        return test
    return await _watch(request, test)


async def _watch(
    request: Request, test: ABTest, *, problem: str | None = None, status_code: int = 200
) -> Response:
    """The test's page (or, for htmx, its results section), with why an action was refused."""
    results = await _tests(request).results(test.id)  # may stop it: its stop rule is met
    if results.status != test.status:
        if is_htmx(request):  # the refreshing section of a test that just ended: reload all
            return Response(status_code=204, headers={"HX-Refresh": "true"})
        test = await _tests(request).get(test.id)
    context = {"section": "abtests", "test": test, "results": results,
               "comparisons": {c.variant: c for c in results.comparisons},
               "verdict": verdict_text(results), "problem": problem}  # fmt: skip
    name = "abtest_results.html" if is_htmx(request) else "abtest.html"
    return page(request, name, context, status_code=status_code)


@router.post("/{test_id}/{verb}")
async def change_test(
    request: Request, test_id: str, verb: str, session: SessionDep, _: CsrfDep
) -> Response:
    tests = _tests(request)
    test = await _test_or_404(request, test_id)
    if isinstance(test, Response):
        return test
    try:
        if verb == "start":
            await tests.start(test_id)
        elif verb == "stop":
            await tests.stop(test_id, reason="stopped in the console")
        elif verb == "delete":
            await tests.delete(test_id)
            return RedirectResponse("/console/abtests?deleted=" + test_id, status_code=303)
        else:
            return error_page(request, 404)
    except ABTestConflict as exc:
        return await _watch(request, test, problem=str(exc), status_code=409)
    return RedirectResponse(f"/console/abtests/{test_id}", status_code=303)
