"""A tiny workflow carrying personal data, used to prove the payload codec end to end."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class Person(BaseModel):
    id_number: str
    name: str
    phone: str


@activity.defn
async def greet(p: Person) -> str:
    return f"您好，{p.name}"


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, p: Person) -> str:
        return await workflow.execute_activity(greet, p, start_to_close_timeout=timedelta(seconds=10))
