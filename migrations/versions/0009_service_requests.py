"""consultations and complaints: request-to-case links and the catalogue of policy answers

Revision ID: 0009
Revises: 0007 (re-chained onto main's head; the lead re-chains at merge)
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED = [
    (
        "claim-how",
        "claim",
        "如何申领失业保险金？",
        "非因本人意愿中断就业、已办理失业登记并有求职要求、缴费满一年的，可通过网上办事大厅或到参保地经办机构"
        "窗口申领；经办机构自受理之日起10个工作日内审核并告知结果。",
        "社会保险经办条例第二十四条；内蒙古自治区失业保险实施办法",
    ),
    (
        "amount",
        "amount",
        "失业保险金每月领多少？",
        "按本地最低工资标准的一定比例按月发放，领取期限按缴费年限确定，最长24个月；具体金额以审核结果为准。",
        "内蒙古自治区失业保险实施办法第七条",
    ),
    (
        "refund",
        "refund",
        "医保费退费怎么办理？",
        "领取失业保险金期间由失业保险基金代缴基本医疗保险费；个人重复缴纳的部分，可凭缴费凭证到经办机构申请退费。",
        "失业保险金领取期间基本医疗保险费代缴政策",
    ),
    (
        "subsidy",
        "subsidy",
        "技能提升补贴申领条件是什么？",
        "参保职工取得职业资格证书或职业技能等级证书，符合缴费年限条件的，可在发证之日起12个月内申领技能提升补贴，"
        "每人每年享受一次。",
        "技能提升补贴政策",
    ),
    (
        "stop-reason",
        "stop_reason",
        "单位登记的停保原因有误怎么办？",
        "可由原用人单位网上申请或本人持仲裁裁决书、法院文书等到窗口申请变更停保原因，经初审、复审、终审后变更。",
        "停保原因争议办理规程",
    ),
]


def upgrade() -> None:
    op.create_table(
        "service_request_link",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("linked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_service_request_link_case_id", "service_request_link", ["case_id"])
    answers = op.create_table(
        "policy_answer",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("question_zh", sa.String(200), nullable=False),
        sa.Column("answer_zh", sa.String(4000), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False, server_default=""),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_policy_answer_topic", "policy_answer", ["topic"])
    now = datetime.now(UTC)
    op.bulk_insert(
        answers,
        [
            {
                "id": i,
                "topic": t,
                "question_zh": q,
                "answer_zh": a,
                "effective_from": date(2024, 1, 1),
                "source": s,
                "updated_at": now,
            }
            for i, t, q, a, s in SEED
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_policy_answer_topic", table_name="policy_answer")
    op.drop_table("policy_answer")
    op.drop_index("ix_service_request_link_case_id", table_name="service_request_link")
    op.drop_table("service_request_link")
