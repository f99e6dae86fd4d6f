"""Schemathesis over real HTTP: every operation of an OpenAPI document, generated cases each,
and no response may be a server error (5xx)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


def fuzz_openapi(
    url: str, document: dict, headers: dict[str, str], examples: int, skip: tuple[str, ...] = ()
) -> list[str]:
    """Call each operation of `document` (but those labelled in `skip`) with `examples`
    generated cases at `url`; returns the labels fuzzed. A 5xx fails the test."""
    # A fresh connection per case: under load, generating the next case can outlast the
    # server's keep-alive (5 s), and a POST on the closed socket is not retried by the client.
    headers = {**headers, "Connection": "close"}
    fuzzed = []
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases every CI run: a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case) -> None:
            case.call_and_validate(base_url=url, headers=headers, checks=[not_a_server_error])

        call()
        fuzzed.append(operation.label)
    return fuzzed
