"""A workflow to plan resumes of: every kind of reason shows up against plan_snapshot().

Versions come from CK_VERSION_<TASK> so a test can change one; every body appends its name
to CK_CALLS, so a test can tell that --plan ran nothing.
"""

from __future__ import annotations

import os

from flow_tui import TaskStep, Workflow


def _body(name: str) -> object:
    def body(ctx: object) -> None:
        with open(os.environ["CK_CALLS"], "a") as fh:
            fh.write(name + "\n")

    return body


SHAPE = {
    "kept": [],
    "failed": [],
    "cancelled": [],
    "skipped": ["failed"],
    "interrupted": [],
    "charge": [],  # interrupted and not idempotent: needs consent
    "versioned": [],
    "downstream": ["versioned"],
    "brand_new": [],
}

workflow = Workflow(
    name="plan-flow",
    steps=[
        TaskStep(
            name=name,
            run=_body(name),  # type: ignore[arg-type]
            dependencies=deps,
            idempotent=name != "charge",
            version=os.environ.get(f"CK_VERSION_{name.upper()}", "1"),
        )
        for name, deps in SHAPE.items()
    ],
)
