"""Code tables that belong to the external systems, not to uiflow.

The insurance record system owns the stop-insurance reason (停保原因) codes, the medical-insurance
bureau owns its refusal reasons, and the skill-appraisal site owns certificate levels. The
simulator keeps its own copies here so that uiflow's rules are tested against codes it does not
control, as in production; uiflow must read ``involuntary`` from the response, never from this file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StopReason:
    code: str
    label: str
    involuntary: bool


STOP_REASONS: dict[str, StopReason] = {
    r.code: r
    for r in (
        StopReason("contract_expired", "劳动合同期满终止", True),
        StopReason("employer_dismissal", "用人单位解除劳动合同", True),
        StopReason("economic_layoff", "经济性裁员", True),
        StopReason("employer_closed", "用人单位破产、关闭、撤销", True),
        StopReason("mutual_employer_initiated", "协商一致解除（用人单位提出）", True),
        StopReason("forced_resignation", "因用人单位过错被迫解除", True),
        StopReason("voluntary_resignation", "个人原因主动辞职", False),
        StopReason("mutual_employee_initiated", "协商一致解除（劳动者提出）", False),
        StopReason("retirement", "退休", False),
        StopReason("death", "死亡", False),
    )
}

#: The code employers most often report by mistake, which the dispute flow changes.
VOLUNTARY_RESIGNATION = "voluntary_resignation"
RETIREMENT = "retirement"
INVOLUNTARY_CODES: tuple[str, ...] = tuple(c for c, r in STOP_REASONS.items() if r.involuntary)


def stop_reason(code: str) -> StopReason:
    """The catalogue entry, or a visible "unknown" entry for a code set by hand in a test, so the
    record system answers rather than failing; an unknown code never counts as involuntary."""
    return STOP_REASONS.get(code) or StopReason(code, "未登记的停保原因代码", False)


#: Refusals by the medical-insurance system when the agency pays a premium on someone's behalf.
MEDICAL_REFUSALS: dict[str, str] = {
    "already_insured_flexible": "该人员已以灵活就业人员身份参加职工基本医疗保险，无法办理代缴",
    "already_insured_employee": "该人员在用人单位参加职工基本医疗保险，无法办理代缴",
    "receiving_pension": "该人员已领取基本养老金，按规定不再办理代缴",
    "person_unknown": "医保系统中未查询到该人员的参保信息",
}

PREMIUM_ITEM_LABELS: dict[str, str] = {
    "basic_medical": "职工基本医疗保险（含生育保险）",
    "large_amount_supplementary": "职工大额补充医疗保险",
}

#: Vocational-skill levels as printed on certificates (一级 is the highest).
CERTIFICATE_LEVELS: dict[int, str] = {
    1: "一级/高级技师",
    2: "二级/技师",
    3: "三级/高级工",
    4: "四级/中级工",
    5: "五级/初级工",
}

OCCUPATIONS: tuple[tuple[str, str], ...] = (
    ("6-31-01-03", "电工"),
    ("6-18-02-04", "焊工"),
    ("4-10-01-02", "育婴员"),
    ("4-10-01-03", "保育师"),
    ("4-03-02-01", "中式烹调师"),
    ("4-12-01-01", "汽车维修工"),
    ("4-10-01-05", "养老护理员"),
    ("4-07-03-02", "企业人力资源管理师"),
    ("4-04-05-02", "网络与信息安全管理员"),
    ("5-05-01-01", "农业技术员"),
)

CERT_ISSUERS: tuple[str, ...] = (
    "内蒙古自治区职业技能鉴定指导中心",
    "呼和浩特市职业技能鉴定中心",
    "包头市职业技能鉴定中心",
    "鄂尔多斯市技能人才评价中心",
    "赤峰市职业技能鉴定所",
)
#: An evaluation body that issues many certificates in a few days: the pattern the notice (item 6)
#: tells agencies to refer to the skill-appraisal department.
BURST_ISSUER = "某某职业技能培训学校（社会评价组织）"

#: Divisions outside Inner Mongolia where some insured people's ID numbers were issued.
OTHER_PROVINCE_ISSUERS: tuple[str, ...] = ("130102", "110105", "140105", "210102", "620102", "610113")

#: Provinces where someone may already be receiving benefit (cross-province check).
ELSEWHERE_PROVINCES: dict[str, str] = {
    "13": "河北省",
    "14": "山西省",
    "21": "辽宁省",
    "62": "甘肃省",
    "64": "宁夏回族自治区",
}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩凯"
    "健俊帆帅旭宁瑞雪梅琳晨婷欣悦阳斌波峰巴特尔图雅苏和额尔敦其其格萨仁"
)

EMPLOYER_BRANDS: tuple[str, ...] = (
    "青城",
    "草原",
    "北疆",
    "鹿城",
    "塞上",
    "阴山",
    "黄河",
    "大漠",
    "金川",
    "蒙元",
    "敕勒",
    "河套",
    "昭君",
    "兴安",
    "锡林",
    "乌兰",
)
EMPLOYER_TRADES = (
    "建材有限责任公司",
    "乳业有限公司",
    "煤炭运销有限公司",
    "物流有限公司",
    "餐饮管理有限公司",
    "商贸有限公司",
    "稀土材料有限公司",
    "物业服务有限公司",
    "羊绒制品有限公司",
    "机械制造有限公司",
    "信息技术有限公司",
    "酒店管理有限公司",
)

#: Card BIN prefixes of banks that pay benefits in the region (account numbers carry a Luhn digit).
BANKS: tuple[tuple[str, str], ...] = (
    ("621700", "中国建设银行"),
    ("622848", "中国农业银行"),
    ("621226", "中国工商银行"),
    ("621661", "中国银行"),
    ("621098", "中国邮政储蓄银行"),
    ("623061", "内蒙古农村信用社"),
)
