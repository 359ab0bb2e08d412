"""The console summary (Chinese labels for the staff who run the drill) and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

EVENT_LABELS = {
    "sigkill": "强制终止（SIGKILL）",
    "restart": "重启",
    "died": "自行退出",
    "outage_start": "停机开始",
    "outage_end": "停机结束",
}


def print_summary(out: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    c = out["checks"]
    claims, pay, audit, procs = c["claims"], c["payments"], c["audit"], c["processes"]
    t = Table(title="演练结果（uiflow drill）", show_header=True, header_style="bold")
    t.add_column("检查项")
    t.add_column("结果", justify="right")
    t.add_column("", justify="center")

    def mark(ok: bool) -> str:
        return "[green]✓[/green]" if ok else "[red]✗[/red]"

    t.add_row("申领总数", str(claims["submitted"]), "")
    t.add_row("处于预期最终状态", f"{claims['in_expected_state']}/{claims['submitted']}", mark(claims["ok"]))
    t.add_row("丢失的申领", str(claims["lost"]), mark(claims["lost"] == 0))
    t.add_row(
        "已发放首月待遇的核准案件",
        f"{pay['periods_with_first_payment']}/{pay['approved_claims']}",
        mark(pay["periods_with_first_payment"] == pay["approved_claims"]),
    )
    t.add_row("重复支付（银行流水）", str(pay["paid_twice"]), mark(pay["paid_twice"] == 0))
    t.add_row(
        "银行与支付指令不一致",
        str(pay["paid_at_bank_without_paid_order"] + pay["paid_order_without_bank_entry"]),
        mark(pay["ok"]),
    )
    t.add_row("审计哈希链断裂", str(audit["chain_breaks"]), mark(audit["ok"]))
    t.add_row("进程退出码异常", str(len(procs["unexpected"])), mark(procs["ok"]))
    api = out["api_client"]
    t.add_row("API 请求 / 重试 / 无应答", f"{api['requests']} / {api['retried']} / {api['unanswered']}", "")
    t.add_row("回读确认的重复请求", str(api["readback_resolved"]), "")
    tl = out["timeline"]
    t.add_row("全部决定完成（秒）", str(tl["claims_decided_s"]), "")
    t.add_row("首月待遇全部发放（秒）", str(tl["first_payments_settled_s"]), "")
    console.print(t)
    e = Table(title="故障与恢复", show_header=True, header_style="bold")
    for col in ("时刻（秒）", "动作", "对象", "退出码", "就绪用时（秒）", "恢复进展用时（秒）"):
        e.add_column(col)
    for ev in out["events"]:
        e.add_row(
            str(ev["at_s"]),
            EVENT_LABELS.get(ev["kind"], ev["kind"]),
            ev["target"],
            "" if ev["exit_code"] is None else str(ev["exit_code"]),
            "" if ev["ready_after_s"] is None else str(ev["ready_after_s"]),
            "" if ev["progress_after_s"] is None else str(ev["progress_after_s"]),
        )
    console.print(e)
    console.print("[green]演练通过[/green]" if out["ok"] else "[red]演练未通过：见上表与 JSON[/red]")


def write_json(out: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
