"""Closed vocabularies of the contract: districts, certification kinds, standard levels, roles."""

from enum import StrEnum


class District(StrEnum):
    """Suzhou's ten county-level districts (docs/contract.md §1)."""

    GUSU = "GUSU"
    HUQIU = "HUQIU"
    WUZHONG = "WUZHONG"
    XIANGCHENG = "XIANGCHENG"
    WUJIANG = "WUJIANG"
    SIP = "SIP"
    CHANGSHU = "CHANGSHU"
    ZHANGJIAGANG = "ZHANGJIAGANG"
    KUNSHAN = "KUNSHAN"
    TAICANG = "TAICANG"


DISTRICT_NAMES_ZH: dict[District, str] = {
    District.GUSU: "姑苏区",
    District.HUQIU: "苏州高新区",
    District.WUZHONG: "吴中区",
    District.XIANGCHENG: "相城区",
    District.WUJIANG: "吴江区",
    District.SIP: "苏州工业园区",
    District.CHANGSHU: "常熟市",
    District.ZHANGJIAGANG: "张家港市",
    District.KUNSHAN: "昆山市",
    District.TAICANG: "太仓市",
}

# The districts' English names, for pages and reports read in English.
DISTRICT_NAMES_EN: dict[District, str] = {
    District.GUSU: "Gusu",
    District.HUQIU: "Suzhou New District",
    District.WUZHONG: "Wuzhong",
    District.XIANGCHENG: "Xiangcheng",
    District.WUJIANG: "Wujiang",
    District.SIP: "Suzhou Industrial Park",
    District.CHANGSHU: "Changshu",
    District.ZHANGJIAGANG: "Zhangjiagang",
    District.KUNSHAN: "Kunshan",
    District.TAICANG: "Taicang",
}


class CertificationKind(StrEnum):
    """What a certification recognises (docs/rules.md, the rule table's trigger column)."""

    NATIONAL_PLATFORM = "NATIONAL_PLATFORM"
    PROVINCIAL_KEY_LAB = "PROVINCIAL_KEY_LAB"
    PROVINCIAL_JOINT_LAB = "PROVINCIAL_JOINT_LAB"
    PROVINCIAL_INNOVATION_CENTER = "PROVINCIAL_INNOVATION_CENTER"
    PROVINCIAL_ENGINEERING_CENTER = "PROVINCIAL_ENGINEERING_CENTER"
    PROVINCIAL_MANUFACTURING_CENTER = "PROVINCIAL_MANUFACTURING_CENTER"
    MUNICIPAL_KEY_LAB = "MUNICIPAL_KEY_LAB"
    KEY_COMPONENT_PROJECT = "KEY_COMPONENT_PROJECT"
    INNOVATION_CONSORTIUM = "INNOVATION_CONSORTIUM"
    HIGH_TECH_ENTERPRISE = "HIGH_TECH_ENTERPRISE"
    SINGLE_CHAMPION = "SINGLE_CHAMPION"
    SPECIALIZED_SME = "SPECIALIZED_SME"
    GAZELLE = "GAZELLE"
    UNICORN = "UNICORN"
    OVERSEAS_EXPANSION = "OVERSEAS_EXPANSION"
    TYPICAL_SCENARIO = "TYPICAL_SCENARIO"
    VERTICAL_LLM = "VERTICAL_LLM"
    FIRST_UNIT_EQUIPMENT = "FIRST_UNIT_EQUIPMENT"
    HIGH_VALUE_PATENT = "HIGH_VALUE_PATENT"
    LISTED_COMPANY = "LISTED_COMPANY"
    TRAINING_BASE = "TRAINING_BASE"
    TOP_TALENT = "TOP_TALENT"


class StandardLevel(StrEnum):
    """Level of a published standard."""

    INTERNATIONAL = "INTERNATIONAL"
    NATIONAL = "NATIONAL"
    INDUSTRY = "INDUSTRY"
    LOCAL = "LOCAL"


class StandardRole(StrEnum):
    """The enterprise's part in drafting a standard."""

    LEAD = "LEAD"
    PARTICIPANT = "PARTICIPANT"
