"""``uiflow drill``: the chaos run of issue 22 (section 3 and 5).

It starts its own stack with :mod:`cli.bench.stack` (two workers and two API processes against one
Temporal dev server, the simulators and a fresh case database), runs N claims through the public
API while it kills and restarts processes and injects faults, and then checks that every claim
ended where it should, none was lost, no month was paid twice and the audit chain is whole.

The drill knows the system from outside: the API's routes, the simulators' admin and fault
routes, and three tables read for the checks (``case_record``, ``payment_order``, ``audit_log``)
with the bank's ledger. Nothing here imports a workflow or an activity, so it keeps working while
those change."""
