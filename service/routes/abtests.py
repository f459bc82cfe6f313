"""A/B tests for marketers (``/v1/abtests``, admin key): define, start, stop, results.

A test is defined as a draft (``PUT``), started (``POST .../start``: 409 when another test runs
on the slot), and stopped by a marketer or by its own stop rule (a fixed horizon reached, or a
significant sequential test). ``GET .../results`` shows participants, conversions and rates with
intervals per variant, each variant against the control, and the verdict.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from personalization.experiments.abresults import ABTestResults
from personalization.experiments.abtest import ID_PATTERN, ABTest, ABTestFields
from service.deps import ABTestsDep

TestId = Annotated[str, Path(pattern=ID_PATTERN)]

router = APIRouter(prefix="/v1/abtests", tags=["abtests"])


@router.get("")
async def list_tests(tests: ABTestsDep) -> list[ABTest]:
    return await tests.all()


@router.get("/{test_id}")
async def get_test(test_id: TestId, tests: ABTestsDep) -> ABTest:
    return await tests.get(test_id)


@router.put("/{test_id}")
async def put_test(test_id: TestId, fields: ABTestFields, tests: ABTestsDep) -> ABTest:
    """Define or redefine a draft (a running or stopped test cannot change: 409)."""
    return await tests.put(test_id, fields)


@router.post("/{test_id}/start")
async def start_test(test_id: TestId, tests: ABTestsDep) -> ABTest:
    return await tests.start(test_id)


@router.post("/{test_id}/stop")
async def stop_test(test_id: TestId, tests: ABTestsDep) -> ABTest:
    return await tests.stop(test_id)


@router.delete("/{test_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_test(test_id: TestId, tests: ABTestsDep) -> Response:
    await tests.delete(test_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{test_id}/results")
async def test_results(test_id: TestId, tests: ABTestsDep) -> ABTestResults:
    return await tests.results(test_id)
