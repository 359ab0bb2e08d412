"""A tiny case that continues as new once, for the timeline and archive tests of continue-as-new
chains (the claim never continues as new; benefit periods will). Each run waits for one staff
decision (an Update carrying a StaffActor, as real decisions do)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.claim import ApproveCommand


class ChainInput(BaseModel):
    run: int = 1
    runs: int = 2
    decided_by: list[str] = Field(default_factory=list)


@workflow.defn
class ChainedCaseWorkflow:
    def __init__(self) -> None:
        self.decided: list[str] = []

    @workflow.run
    async def run(self, inp: ChainInput) -> list[str]:
        await workflow.wait_condition(lambda: bool(self.decided))
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = [*inp.decided_by, *self.decided]
        if inp.run < inp.runs:
            workflow.continue_as_new(ChainInput(run=inp.run + 1, runs=inp.runs, decided_by=carried))
        return carried

    @workflow.update
    def decide(self, cmd: ApproveCommand) -> str:
        self.decided.append(cmd.actor.login)
        return "已受理"
