"""A deliberately non-deterministic change of the benefit claim, for the replay tests: the same
workflow type name, but an extra activity (the pension check) before anything else. A history
recorded with the real workflow cannot be explained by this code, and replay must say so."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.claim import ClaimActivities, PersonRef
    from models.claim import ClaimInput, ClaimResult
    from workflows.benefit_claim import BenefitClaimWorkflow


@workflow.defn(name="BenefitClaimWorkflow")
class ExtraActivityClaimWorkflow(BenefitClaimWorkflow):
    @workflow.run
    async def run(self, inp: ClaimInput) -> ClaimResult:
        # The change a developer might make without workflow.patched(): a new first step.
        await self.act(
            ClaimActivities.check_pension,
            PersonRef(id_number=inp.application.id_number),
        )
        return await super().run(inp)


@workflow.defn(name="BenefitClaimWorkflow")
class ExtraTimerClaimWorkflow(BenefitClaimWorkflow):
    @workflow.run
    async def run(self, inp: ClaimInput) -> ClaimResult:
        # Another unpatched change: a pause before the first step (a timer command).
        await workflow.sleep(1)
        return await super().run(inp)


@workflow.defn(name="BenefitClaimWorkflow")
class BlockingClaimWorkflow(BenefitClaimWorkflow):
    @workflow.run
    async def run(self, inp: ClaimInput) -> ClaimResult:
        # Code that never yields (a busy loop): the replay must fail it, not hang.
        while True:
            pass
