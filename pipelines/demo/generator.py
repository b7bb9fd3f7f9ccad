"""Seeded synthetic data for the demo province (Guangxi, 450000) and large synthetic catalogues.

``generate_demo`` reads the demo catalogue, builds realistic rows for every item, injects faults at
fixed rates into known rows (one fault per row at most) and writes the unit submissions, the
database the HRSS item is pulled from, and a manifest with the counts the platform must reproduce.
Faults include keys the authoritative item does not hold (held back by online verification, art. 14);
the manifest also records the submissions intake refuses (an uncatalogued column, an expired temporary
collection, art. 12) and the looked-up values a submission carries anyway (flagged, art. 13).
``generate_large_catalogue`` writes a valid catalogue with thousands of items for load tests.

Everything is derived from one ``random.Random(seed)`` in a fixed order, so a seed and an as-of date
always give the same bytes.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
import sqlite3
import zipfile
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from stdnum.cn import ric, uscc

from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import (
    Catalogue,
    DatabaseCollection,
    FieldType,
    Item,
    ItemField,
    Level,
    Standard,
    UnitKind,
    UpdateCycle,
    region_level,
)
from pipelines.clock import Clock, province_day
from pipelines.connected import city_of
from pipelines.standards import STANDARD_CHECKS, TYPE_CHECKS, _divisions_in_use, division_name

DEFAULT_SEED = 20261127
MIN_ROWS = 20  # below this the fixed fault quotas would leave too few clean rows to reference

Row = dict[str, str | None]

# =============================================================================================
# Identifiers: GB 32100-2015 (USCC), GB 11714 (organization code), GB 11643-1999 (citizen ID)
# =============================================================================================
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_RIC_ALPHABET = "0123456789X"


def org_code_check_char(body8: str) -> str:
    check = 11 - sum(int(c) * w for c, w in zip(body8, _ORG_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(rng: random.Random, authority_and_type: str, region: str) -> str:
    """Positions 9-17 are a GB 11714 organization code, which carries its own check character."""
    org_body = f"{rng.randrange(10**8):08d}"
    body = authority_and_type + region + org_body + org_code_check_char(org_body)
    code = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(code), code
    return code


def make_ric(rng: random.Random, region: str, birth: date, male: bool) -> str:
    order = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    code = body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check character
    assert ric.is_valid(code), code
    return code


def corrupt_check_char(rng: random.Random, code: str, standard: Standard) -> str:
    alphabet = _USCC_ALPHABET if standard is Standard.USCC else _RIC_ALPHABET
    wrong = code[:-1] + rng.choice([c for c in alphabet if c != code[-1]])
    assert not STANDARD_CHECKS[standard](wrong), wrong
    return wrong


# =============================================================================================
# The demo region and realistic vocabularies
# =============================================================================================
@dataclass(frozen=True)
class Division:
    code: str
    name: str
    city: str
    postcode: str
    streets: tuple[str, ...]

    @property
    def city_code(self) -> str:
        return city_of(self.code)


DIVISIONS = (
    Division("450102", "兴宁区", "南宁市", "530012", ("民族大道", "朝阳路", "兴宁路", "望州路")),
    Division("450103", "青秀区", "南宁市", "530022", ("东葛路", "竹溪大道", "金湖路", "云景路")),
    Division("450105", "江南区", "南宁市", "530031", ("星光大道", "白沙大道", "亭洪路", "淡村路")),
    Division("450107", "西乡塘区", "南宁市", "530001", ("大学东路", "明秀西路", "北湖北路", "秀灵路")),
    Division("450123", "隆安县", "南宁市", "532700", ("城厢镇兴隆街", "城厢镇震东路", "那桐镇那桐街")),
    Division("450202", "城中区", "柳州市", "545001", ("文惠路", "中山中路", "五一路")),
    Division("450203", "鱼峰区", "柳州市", "545005", ("箭盘路", "屏山大道", "荣军路")),
    Division("450205", "柳北区", "柳州市", "545002", ("胜利路", "跃进路", "雅儒路")),
    Division("450222", "柳城县", "柳州市", "545200", ("大埔镇解放路", "大埔镇建设路", "龙头镇新街")),
    Division("450302", "秀峰区", "桂林市", "541001", ("中山中路", "解放西路", "丽君路")),
)
CITY_CODES = ("450100", "450200", "450300")
PROVINCE = "450000"

SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢唐韦覃蒙莫廖陆黎蓝农潘邓苏卢钟甘")
MALE_CHARS = tuple("伟强磊军勇杰涛明超刚华宇浩凯健俊帆鹏斌东亮波辉飞海林文志建国")
FEMALE_CHARS = tuple("芳娜敏静丽艳娟秀霞桂英玉兰萍红琳婷雪梅欣怡佳燕丹春思雨慧颖倩")
BRANDS = tuple("桂鑫华邕龙盛泰源达恒丰正宏鸿嘉瑞兴祥博创信安绿森锦阳海柳山新")
INDUSTRIES = ("商贸", "科技", "建筑工程", "餐饮管理", "物流", "农业开发", "食品", "机械制造", "汽车配件",
              "房地产开发", "医药", "文化传媒", "信息技术", "环保科技", "建材")
CROPS = ("甘蔗", "香蕉", "火龙果", "沃柑", "水稻", "桑蚕", "中药材")
VILLAGES = ("那门", "那湾", "岜独", "渌龙", "定标", "龙念", "古朗", "敬团", "仁良", "巴发", "爱华", "南圩")
SOCIAL_WORK_ORGS = ("南宁市青秀区阳光社会工作服务中心", "广西启明社会工作服务中心",
                    "柳州市鱼峰区同心社会工作服务中心", "桂林市秀峰区和谐社会工作服务中心")
WATER_PLANT_CODES = {"陈村水厂": "CC", "河南水厂": "HN", "三津水厂": "SJ", "凌铁水厂": "LT", "西郊水厂": "XJ",
                     "东镇门水厂": "DZ", "瓦窑水厂": "WY", "净瓶山水厂": "JP"}
WATER_METER_PREFIX = {"450100": "NNSW", "450200": "LZSW", "450300": "GLSW"}
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "157", "158", "159", "177", "178", "180", "182", "183", "186", "187", "188", "199")
# Values a clerk plausibly types that no value set declares.
OUT_OF_SET_VALUES = ("未知", "其他", "待核实", "不详", "暂无")


def person_name(rng: random.Random, male: bool | None = None) -> str:
    chars = MALE_CHARS if (rng.random() < 0.5 if male is None else male) else FEMALE_CHARS
    given = "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def street_address(rng: random.Random, division: Division) -> str:
    street = rng.choice(division.streets)
    return f"广西壮族自治区{division.city}{division.name}{street}{rng.randint(1, 399)}号"


def company_name(rng: random.Random, division: Division, entity_type: str) -> str:
    place = division.city.removesuffix("市")
    brand = "".join(rng.sample(BRANDS, 2))
    if entity_type == "农民专业合作社":
        county = division.name if division.name.endswith("县") else division.city + division.name
        return f"{county}{rng.choice(VILLAGES)}{rng.choice(CROPS)}种植专业合作社"
    suffix = {"股份有限公司": "股份有限公司", "个人独资企业": "商行", "合伙企业": "企业（有限合伙）"}
    return f"{place}{brand}{rng.choice(INDUSTRIES)}{suffix.get(entity_type, '有限公司')}"


def money(value: float) -> str:
    return f"{value:.2f}"


def iso(day: date) -> str:
    return day.isoformat()


def years(n: float) -> timedelta:
    return timedelta(days=round(n * 365))


@cache
def assigned_since(code: str) -> int:
    """The year stdnum's division table starts the code: ric.is_valid rejects IDs born earlier."""
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    current = info.get("county", "").split(",")[-1]
    return int(current[1:5]) if current.startswith("[") and current[1:5].isdigit() else 1900


# =============================================================================================
# Row building
# =============================================================================================
@dataclass(frozen=True)
class Person:
    citizen_id: str
    name: str
    gender: str
    birth_date: date
    region: str


@dataclass(frozen=True)
class Enterprise:
    uscc: str
    name: str
    region: str


@dataclass
class Pools:
    """Clean records of the authoritative items, so other items reference people and firms that exist."""

    persons: list[Person] = field(default_factory=list)
    enterprises: list[Enterprise] = field(default_factory=list)
    keys: dict[str, set[str]] = field(default_factory=dict)  # item -> the keys that converge (single-key items)


@dataclass
class RowContext:
    rng: random.Random
    as_of: date
    item: Item
    pools: Pools
    seen_keys: set[str] = field(default_factory=set)

    def choose(self, name: str, weights: tuple[int, ...] | None = None) -> str:
        values = self._field(name).values
        assert values, f"{self.item.code}.{name} has no value set"
        if weights is None or len(weights) != len(values):
            return self.rng.choice(values)
        return self.rng.choices(values, weights=weights)[0]

    def record_date(self) -> date:
        """A date recent enough for the update cycle, kept a day clear of the staleness boundary."""
        fresh_days = max(0, self.item.update_cycle.max_age.days - 1)
        return self.as_of - timedelta(days=self.rng.randint(0, fresh_days))

    def day_before(self, latest: date, newest_years: float, oldest_years: float) -> date:
        return latest - timedelta(days=self.rng.randint(round(newest_years * 365), round(oldest_years * 365)))

    def decimal(self, low: float, high: float) -> str:
        return money(self.rng.uniform(low, high))

    def choose_or(self, name: str, fallback: tuple[str, ...]) -> str:
        """From the field's value set, or from a plausible list when the item declares none."""
        return self.choose(name) if self._field(name).values else self.rng.choice(fallback)

    def maybe(self, value: str, blank_rate: float = 0.1) -> str | None:
        """Optional fields are sometimes left empty, as real submissions do."""
        return None if self.rng.random() < blank_rate else value

    def unique(self, make: Callable[[], Any], key: Callable[[Any], str] = str) -> Any:
        for _ in range(10_000):
            value = make()
            if key(value) not in self.seen_keys:
                self.seen_keys.add(key(value))
                return value
        raise RuntimeError(f"{self.item.code}: ran out of distinct primary keys; lower --rows")

    def division(self, city_prefix: str = "45") -> Division:
        return self.rng.choice([d for d in DIVISIONS if d.code.startswith(city_prefix)])

    def local_division(self) -> Division:
        """A division inside the item's own region: its city's for a city item, anywhere for the province."""
        prefix = {Level.PROVINCE: "45", Level.CITY: self.item.region[:4]}.get(self.item.level, self.item.region)
        return self.division(prefix)

    def person(self) -> Person:
        return self.rng.choice(self.pools.persons)

    def enterprise(self) -> Enterprise:
        return self.rng.choice(self.pools.enterprises)

    def company(self) -> Enterprise:
        """An enterprise that is a company (USCC type 91), e.g. to build or contract a project."""
        companies = [e for e in self.pools.enterprises if e.uscc.startswith("91") and e.name.endswith("公司")]
        return self.rng.choice(companies or self.pools.enterprises)

    def new_person(self) -> Person:
        division, earliest, latest = self._birth_window()
        birth = earliest + timedelta(days=self.rng.randint(0, (latest - earliest).days))
        male = self.rng.random() < 0.5
        citizen_id = self.unique(lambda: make_ric(self.rng, division.code, birth, male))
        return Person(citizen_id, person_name(self.rng, male), "男" if male else "女", birth, division.code)

    def _birth_window(self) -> tuple[Division, date, date]:
        latest = self.as_of - years(18)
        usable = [d for d in DIVISIONS if date(max(assigned_since(d.code), 1955), 1, 1) <= latest]
        if not usable:
            raise ValueError(f"as_of {self.as_of} is too early for any demo division to issue adult IDs")
        division = self.rng.choice(usable)
        return division, date(max(assigned_since(division.code), 1955), 1, 1), latest

    def _field(self, name: str) -> ItemField:
        found = self.item.field(name)
        assert found is not None, f"{self.item.code} has no field {name!r}"
        return found


def market_entity_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    entity_type = ctx.choose("entity_type", (60, 8, 14, 6, 12))
    division = ctx.division()
    region = rng.choice((division.code, division.city_code, PROVINCE))
    type_digit = "3" if entity_type == "农民专业合作社" else "1"
    updated = ctx.record_date()
    return {
        "uscc": ctx.unique(lambda: make_uscc(rng, "9" + type_digit, region)),
        "entity_name": company_name(rng, division, entity_type),
        "entity_type": entity_type,
        "legal_representative": person_name(rng),
        "registered_capital": money(10 ** rng.uniform(0, 4.5)),
        "established_date": iso(ctx.day_before(updated, 0.1, 30)),
        "region_code": region,
        "address": street_address(rng, division),
        "postcode": ctx.maybe(division.postcode),
        "phone": ctx.maybe(mobile(rng)),
        "status": ctx.choose("status", (70, 15, 4, 9, 2)),
        "updated_at": iso(updated),
    }


def resident_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person = ctx.new_person()
    division = next(d for d in DIVISIONS if d.code == person.region)
    marital_weights = (10, 80, 6, 4) if (ctx.as_of - person.birth_date).days > 30 * 365 else (70, 28, 2, 0)
    return {
        "citizen_id": person.citizen_id,
        "name": person.name,
        "gender": person.gender,
        "ethnicity": ctx.choose("ethnicity", (58, 32, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
        "birth_date": iso(person.birth_date),
        "household_region": person.region,
        "address": street_address(rng, division),
        "phone": ctx.maybe(mobile(rng), 0.2),
        "marital_status": ctx.maybe(ctx.choose("marital_status", marital_weights)),
        "status": ctx.choose("status", (92, 4, 2, 2)),
        "updated_at": iso(ctx.record_date()),
    }


def food_licence_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    firm = ctx.enterprise()
    updated = ctx.record_date()
    issued = ctx.day_before(updated, 0, 6)
    expiry = issued + years(5) - timedelta(days=1)
    status = "过期" if expiry < ctx.as_of else rng.choices(("有效", "注销", "撤销"), (88, 9, 3))[0]
    return {
        "licence_no": ctx.unique(lambda: f"JY{rng.choice('123')}{firm.region}{rng.randrange(10**7):07d}"),
        "uscc": firm.uscc,
        "operator_name": firm.name,
        "business_category": ctx.choose("business_category", (40, 10, 25, 10, 8, 7)),
        "issue_date": iso(issued),
        "expiry_date": iso(expiry),
        "region_code": firm.region,
        "status": status,
        "updated_at": iso(updated),
    }


_SOCIAL_ORG_KINDS = {  # type -> (USCC type digit, name pattern, business scope, funds range in 10k yuan)
    "社会团体": ("1", "{place}{industry}协会", "开展行业交流、业务培训、咨询服务和行业自律", (3, 50)),
    "民办非企业单位": (
        "2", "{place}{brand}社会工作服务中心", "提供社区服务、养老照护和社会工作专业服务", (3, 100)
    ),
    "基金会": ("3", "广西{brand}慈善基金会", "接受社会捐赠，开展助学、助医、扶贫济困等公益活动", (200, 5000)),
}


def social_organization_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    org_type = ctx.choose("org_type", (55, 40, 5))
    type_digit, pattern, scope, (low, high) = _SOCIAL_ORG_KINDS[org_type]
    division = ctx.division()
    region = rng.choice((PROVINCE, division.city_code, division.code))
    place = {PROVINCE: "广西", division.city_code: division.city}.get(region, division.city + division.name)
    updated = ctx.record_date()
    return {
        "uscc": ctx.unique(lambda: make_uscc(rng, "5" + type_digit, region)),
        "org_name": pattern.format(place=place, industry=rng.choice(INDUSTRIES),
                                   brand="".join(rng.sample(BRANDS, 2))),
        "org_type": org_type,
        "legal_representative": person_name(rng),
        "business_scope": scope,
        "registered_funds": ctx.decimal(low, high),
        "established_date": iso(ctx.day_before(updated, 0.2, 25)),
        "region_code": region,
        "evaluation_grade": ctx.maybe(ctx.choose("evaluation_grade", (2, 5, 10, 8, 3, 72))),
        "status": ctx.choose("status", (92, 6, 2)),
        "updated_at": iso(updated),
    }


def subsistence_survey_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person = ctx.person()
    updated = ctx.record_date()
    surveyed = ctx.day_before(updated, 0, 0.15)
    return {
        "survey_no": ctx.unique(lambda: f"HC{surveyed:%Y%m%d}{rng.randrange(10**5):05d}"),
        "citizen_id": person.citizen_id,
        "applicant_name": person.name,
        "household_size": str(rng.randint(1, 6)),
        "per_capita_income": ctx.decimal(200, 2500),
        "survey_date": iso(surveyed),
        "result": ctx.choose("result", (62, 30, 8)),
        "surveyor_org": rng.choice(SOCIAL_WORK_ORGS),
        "region_code": person.region,
        "updated_at": iso(updated),
    }


def social_insurance_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person, kind = ctx.unique(
        lambda: (ctx.person(), ctx.choose("insurance_type", (45, 25, 15, 15))),
        key=lambda pair: f"{pair[0].citizen_id}|{pair[1]}",
    )
    resident_scheme = kind == "城乡居民基本养老保险"
    updated = ctx.record_date()
    earliest = max(person.birth_date + years(18), date(1995, 1, 1))
    enrolled = earliest + timedelta(days=rng.randint(0, max(0, (updated - earliest).days)))
    months = max(0, min(600, (ctx.as_of - enrolled).days // 30 - rng.randint(0, 12)))
    return {
        "citizen_id": person.citizen_id,
        "insurance_type": kind,
        "name": person.name,
        "employer_uscc": None if resident_scheme else ctx.enterprise().uscc,
        "enrol_date": iso(enrolled),
        # the residents' scheme pays a chosen yearly grade, employees a monthly wage base
        "contribution_base": money(rng.choice((300, 500, 1000, 2000))) if resident_scheme
        else ctx.decimal(4200, 25000),
        "months_paid": str(months),
        "status": ctx.choose("status", (85, 10, 5)),
        "updated_at": iso(updated),
    }


def unemployment_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person = ctx.person()
    updated = ctx.record_date()
    registered = ctx.day_before(updated, 0, 2)
    region = person.region
    return {
        "registration_no": ctx.unique(lambda: f"SY{region}{registered:%Y%m}{rng.randrange(10**4):04d}"),
        "citizen_id": person.citizen_id,
        "name": person.name,
        "registration_date": iso(registered),
        "region_code": person.region,
        "education": ctx.maybe(ctx.choose("education", (25, 25, 15, 18, 15, 2))),
        "reason": ctx.choose("reason", (35, 25, 30, 10)),
        "phone": ctx.maybe(mobile(rng)),
        "status": ctx.choose("status", (60, 30, 10)),
        "updated_at": iso(updated),
    }


_WATER_USAGE = {"居民生活用水": (3, 40), "非居民用水": (20, 3000), "特种行业用水": (10, 500)}


def water_account_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    kind = ctx.choose("customer_type", (88, 10, 2))
    division = ctx.local_division()
    status = ctx.choose("status", (90, 4, 6))
    owes = status == "欠费停水" or rng.random() < 0.15
    updated = ctx.record_date()
    return {
        "account_no": ctx.unique(lambda: f"01{rng.randrange(10**8):08d}"),
        "customer_name": person_name(rng) if kind == "居民生活用水" else ctx.enterprise().name,
        "customer_type": kind,
        "address": street_address(rng, division),
        "meter_no": f"{WATER_METER_PREFIX[division.city_code]}{rng.randrange(10**8):08d}",
        "phone": ctx.maybe(mobile(rng)),
        "monthly_usage": ctx.decimal(*_WATER_USAGE[kind]),
        "arrears": ctx.decimal(10, 3000) if owes else "0.00",
        "opened_date": iso(ctx.day_before(updated, 0.1, 25)),
        "status": status,
        "updated_at": iso(updated),
    }


def water_quality_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    plant = ctx.choose("plant")
    plant_code = WATER_PLANT_CODES[plant]
    sampled = ctx.record_date()
    return {
        "sample_id": ctx.unique(lambda: f"{plant_code}{sampled:%Y%m%d}-{rng.randint(1, 999):03d}"),
        "plant": plant,
        "sample_date": iso(sampled),
        "turbidity": ctx.decimal(0.05, 0.6),
        "residual_chlorine": ctx.decimal(0.4, 1.2),
        "ph": ctx.decimal(6.9, 8.0),
        "coliform_count": "0",
        "qualified": "是",
        "sampler": person_name(rng),
    }


_FLOOR_AREA = {"住宅": (45, 180), "商业": (30, 800), "办公": (60, 1500), "工业": (500, 4800),
               "仓储": (200, 3000)}


def real_estate_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    owner = ctx.person()
    division = ctx.local_division()
    updated = ctx.record_date()
    registered = ctx.day_before(updated, 0, 3)
    year = registered.year
    use = ctx.choose("property_use", (78, 10, 6, 3, 3))
    unit_no = (f"{division.code}{rng.randint(1, 19):03d}{rng.randint(1, 49):03d}GB"
               f"{rng.randrange(10**5):05d}F{rng.randrange(10**8):08d}")
    return {
        "certificate_no": ctx.unique(lambda: f"桂({year}){division.city}不动产权第{rng.randrange(10**7):07d}号"),
        "unit_no": unit_no,
        "owner_name": owner.name,
        "owner_id": owner.citizen_id,
        "property_use": use,
        "building_area": ctx.decimal(*_FLOOR_AREA[use]),
        "registration_type": ctx.choose("registration_type", (20, 60, 15, 5)),
        "registration_date": iso(registered),
        "region_code": division.code,
        "location": (f"{division.city}{division.name}{rng.choice(division.streets)}{rng.randint(1, 399)}号"
                     f"{rng.randint(1, 30)}栋{rng.randint(1, 33)}{rng.randint(1, 8):02d}号"),
        "updated_at": iso(updated),
    }


def construction_permit_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    division = ctx.local_division()
    builder, contractor = ctx.company(), ctx.company()
    updated = ctx.record_date()
    issued = ctx.day_before(updated, 0, 3)
    project = f"{''.join(rng.sample(BRANDS, 2))}{rng.choice(('花园', '广场', '产业园', '学校', '医院'))}"
    return {
        "permit_no": ctx.unique(lambda: f"{division.code}{issued:%Y%m%d}{rng.randrange(10**4):04d}"),
        "project_name": f"{division.city}{division.name}{project}{rng.choice(('一期', '二期', ''))}工程",
        "builder_uscc": builder.uscc,
        "builder_name": builder.name,
        "contractor_uscc": contractor.uscc,
        "contract_amount": ctx.decimal(100, 50000),
        "floor_area": ctx.maybe(ctx.decimal(1000, 200000)),
        "issue_date": iso(issued),
        "region_code": division.code,
        "status": ctx.choose("status", (70, 25, 5)),
        "updated_at": iso(updated),
    }


FARMLAND_RATE = 89.6  # yuan per mu


def farmland_subsidy_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    # Past years only, so every payment date (March to November) lies before as_of.
    year, farmer = ctx.unique(
        lambda: (ctx.as_of.year - rng.randint(1, 5), ctx.person()),
        key=lambda pair: f"{pair[0]}|{pair[1].citizen_id}",
    )
    area = round(rng.uniform(0.5, 15), 2)
    return {
        "subsidy_year": str(year),
        "citizen_id": farmer.citizen_id,
        "farmer_name": farmer.name,
        "township": ctx.choose("township"),
        "village": f"{rng.choice(VILLAGES)}村",
        "area_mu": money(area),
        "amount": money(area * FARMLAND_RATE),
        "phone": ctx.maybe(mobile(rng)),
        "paid_date": iso(date(year, 3, 1) + timedelta(days=rng.randint(0, 274))),
    }


CHARITY_PREFIX = {"450222": "LCCS"}  # the provincial charity federation numbers its own as GXCS
_ASSISTANCE_AMOUNT = {"助学": (1000, 5000), "助医": (2000, 20000), "助困": (300, 3000), "助老": (300, 2000),
                      "救灾": (500, 5000)}


def charity_assistance_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    recipient = ctx.person()
    kind = ctx.choose("assistance_type", (25, 30, 25, 15, 5))
    updated = ctx.record_date()
    granted = ctx.day_before(updated, 0, 1)
    return {
        "assistance_no": ctx.unique(
            lambda: f"{CHARITY_PREFIX.get(ctx.item.region, 'GXCS')}{granted.year}{rng.randrange(10**5):05d}"),
        "recipient_name": recipient.name,
        "citizen_id": recipient.citizen_id,
        "assistance_type": kind,
        "amount": ctx.decimal(*_ASSISTANCE_AMOUNT[kind]),
        "grant_date": iso(granted),
        "township": ctx.choose_or("township", tuple(d.name for d in DIVISIONS)),
        "handler": person_name(rng),
        "updated_at": iso(updated),
    }


_RELAPSE_ASSISTANCE = ("产业帮扶", "就业帮扶", "医疗救助", "教育资助", "纳入低保", "临时救助", "小额信贷")


def relapse_risk_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person = ctx.person()
    monitored = ctx.record_date()
    return {
        "household_no": ctx.unique(lambda: f"FP{person.region}{rng.randrange(10**6):06d}"),
        "citizen_id": person.citizen_id,
        "risk_type": ctx.choose("risk_type", (40, 15, 15, 10, 5, 15)),
        "household_size": str(rng.randint(1, 7)),
        "per_capita_income": ctx.decimal(4000, 12000),
        "region_code": person.region,
        "assistance": "、".join(rng.sample(_RELAPSE_ASSISTANCE, rng.randint(1, 3))),
        "monitored_at": iso(monitored),
    }


def returning_worker_row(ctx: RowContext) -> Row:
    rng = ctx.rng
    person = ctx.person()
    assert ctx.item.temporary is not None
    surveyed = ctx.item.temporary.expires - timedelta(days=rng.randint(0, 60))  # taken while it ran
    return {
        "survey_no": ctx.unique(lambda: f"FX{surveyed:%Y%m}{rng.randrange(10**5):05d}"),
        "citizen_id": person.citizen_id,
        "return_date": iso(surveyed - timedelta(days=rng.randint(1, 30))),
        "intention": ctx.choose("intention", (45, 30, 10, 15)),
        "surveyed_at": iso(surveyed),
    }


# =============================================================================================
# Per-item plan: builder, default size, output format
# =============================================================================================
@dataclass(frozen=True)
class Output:
    format: str  # csv | xlsx | json | sqlite
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | gbk
    label_header: bool = False  # head the columns with the Chinese labels instead of field names


@dataclass(frozen=True)
class ItemPlan:
    builder: Callable[[RowContext], Row]
    rows: int
    output: Output


# Authoritative items come first: later items draw people and firms from their clean rows.
ITEM_PLANS: dict[str, ItemPlan] = {
    "market_entity_registration": ItemPlan(market_entity_row, 1200, Output("csv", "utf-8-sig")),
    "resident_register": ItemPlan(resident_row, 1500, Output("csv", "gbk", label_header=True)),
    "food_business_licence": ItemPlan(food_licence_row, 800, Output("xlsx")),
    "social_organization_registration": ItemPlan(social_organization_row, 400, Output("json")),
    "subsistence_allowance_survey": ItemPlan(subsistence_survey_row, 500, Output("csv")),
    "social_insurance_enrolment": ItemPlan(social_insurance_row, 1200, Output("sqlite")),
    "unemployment_registration": ItemPlan(unemployment_row, 600, Output("csv")),
    "water_accounts": ItemPlan(water_account_row, 1000, Output("csv", "utf-8-sig")),
    "water_quality_monitoring": ItemPlan(water_quality_row, 360, Output("json")),
    "real_estate_registration": ItemPlan(real_estate_row, 900, Output("xlsx")),
    "construction_permit": ItemPlan(construction_permit_row, 300, Output("csv")),
    "la_farmland_subsidy": ItemPlan(farmland_subsidy_row, 800, Output("csv", "gbk", label_header=True)),
    "charity_assistance": ItemPlan(charity_assistance_row, 300, Output("xlsx")),
    "lc_farmland_subsidy": ItemPlan(farmland_subsidy_row, 300, Output("csv")),
    # The provincial items the city and county items map onto (connected catalogues), with their own rows.
    "water_supply_account": ItemPlan(water_account_row, 150, Output("csv")),
    "drinking_water_quality": ItemPlan(water_quality_row, 120, Output("json")),
    "building_permit": ItemPlan(construction_permit_row, 120, Output("csv")),
    "real_estate_title": ItemPlan(real_estate_row, 150, Output("xlsx")),
    "farmland_subsidy": ItemPlan(farmland_subsidy_row, 150, Output("csv")),
    "charity_relief": ItemPlan(charity_assistance_row, 120, Output("csv")),
    # Temporary collections (art. 12): one running, one whose submission comes in after its expiry.
    "relapse_risk_monitoring": ItemPlan(relapse_risk_row, 200, Output("csv")),
    "returning_worker_survey": ItemPlan(returning_worker_row, 100, Output("csv")),
}
# This submission carries a column the catalogue does not know, so intake refuses it whole (art. 12).
REJECTED_ITEM = "construction_permit"
UNCATALOGUED = "uncatalogued_column"
EXPIRED = "expired_temporary_collection"
UNCATALOGUED_COLUMN = ("remark", ("", "", "", "补录", "按季度汇总报送", "已电话核实"))

INACTIVE_STATUSES = {"死亡", "注销", "迁出", "吊销"}


def refresh_pools(pools: Pools, item: Item, rows: list[Row], faulty: set[int]) -> None:
    if len(item.primary_key) == 1:
        pools.keys[item.code] = {str(r[item.primary_key[0]]) for i, r in enumerate(rows) if i not in faulty}
    clean = [r for i, r in enumerate(rows) if i not in faulty and r.get("status") not in INACTIVE_STATUSES]
    if item.code == "resident_register":
        pools.persons = [
            Person(str(r["citizen_id"]), str(r["name"]), str(r["gender"]),
                   date.fromisoformat(str(r["birth_date"])), str(r["household_region"]))
            for r in clean
        ]
    elif item.code == "market_entity_registration":
        pools.enterprises = [
            Enterprise(str(r["uscc"]), str(r["entity_name"]), str(r["region_code"])) for r in clean
        ]


# =============================================================================================
# Faults
# =============================================================================================
HOLD_BACK_FAULTS = ("bad_check_digit", "missing_required", "duplicate_key", "out_of_set", "out_of_range",
                    "unknown_key")
WARNING_FAULTS = ("stale",)
FAULT_RATES = {
    "bad_check_digit": 0.02,
    "missing_required": 0.02,
    "duplicate_key": 0.01,  # share of rows involved: each duplicated key appears in exactly two rows
    "out_of_set": 0.015,
    "out_of_range": 0.015,
    "stale": 0.03,
    "unknown_key": 0.01,  # a well-formed key the authoritative item does not hold (online verification)
}
_CHECKED_STANDARDS = (Standard.USCC, Standard.RIC)


def check_digit_fields(item: Item) -> list[ItemField]:
    return [f for f in item.fields if f.standard in _CHECKED_STANDARDS]


def blankable_fields(item: Item) -> list[ItemField]:
    """Required plain-text fields: blanking one breaks the required rule and nothing else."""
    return [
        f for f in item.fields
        if f.required and not f.primary_key and f.type is FieldType.STRING and f.values is None
        and f.standard is None and f.name != item.timestamp_field
    ]


def value_set_fields(item: Item) -> list[ItemField]:
    # Key fields are left alone so that a fault never creates or hides a duplicate key.
    return [f for f in item.fields if f.values is not None and not f.primary_key]


def reference_fields(item: Item) -> list[ItemField]:
    return [f for f in item.fields if f.references is not None]


def range_fields(item: Item) -> list[ItemField]:
    return [f for f in item.fields if f.range is not None and not f.primary_key]


def applicable_faults(item: Item) -> list[str]:
    present = {
        "bad_check_digit": bool(check_digit_fields(item)),
        "missing_required": bool(blankable_fields(item)),
        "duplicate_key": True,
        "out_of_set": bool(value_set_fields(item)),
        "out_of_range": bool(range_fields(item)),
        "stale": item.timestamp_field is not None,
        "unknown_key": bool(reference_fields(item)),
    }
    return [kind for kind in FAULT_RATES if present[kind]]


def plan_faults(rng: random.Random, item: Item, n_rows: int) -> dict[str, list[int]]:
    """Disjoint row sets per fault kind, so each row carries one fault at most."""
    kinds = applicable_faults(item)
    quotas = {kind: max(1, round(FAULT_RATES[kind] * n_rows)) for kind in kinds}
    if "duplicate_key" in quotas:
        quotas["duplicate_key"] = 2 * max(1, round(FAULT_RATES["duplicate_key"] * n_rows / 2))
    chosen = rng.sample(range(n_rows), sum(quotas.values()))
    plan: dict[str, list[int]] = {}
    for kind in kinds:
        plan[kind], chosen = sorted(chosen[: quotas[kind]]), chosen[quotas[kind]:]
    return plan


def inject_faults(rng: random.Random, item: Item, rows: list[Row], plan: dict[str, list[int]],
                  as_of: date, known: dict[str, set[str]]) -> None:
    for kind, indices in plan.items():
        if kind == "duplicate_key":
            duplicate_keys(item, rows, indices)
            continue
        if kind == "unknown_key":
            unknown_keys(rng, item, [rows[i] for i in indices], known)
            continue
        for index in indices:
            FAULT_INJECTORS[kind](rng, item, rows[index], as_of)


def duplicate_keys(item: Item, rows: list[Row], indices: list[int]) -> None:
    for original, duplicate in zip(indices[::2], indices[1::2], strict=True):
        for name in item.primary_key:
            rows[duplicate][name] = rows[original][name]


def unknown_keys(rng: random.Random, item: Item, rows: list[Row], known: dict[str, set[str]]) -> None:
    """Put a well-formed key the authority does not hold into one referencing field of each row."""
    used = {str(v) for row in rows for f in reference_fields(item) for v in [row[f.name]] if v}
    for row in rows:
        target = rng.choice([f for f in reference_fields(item) if row[f.name]] or reference_fields(item))
        assert target.references is not None and target.standard is not None
        authority = known[target.references.item]
        for _ in range(1000):
            value = fresh_key(rng, target.standard)
            if value not in authority and value not in used:
                break
        else:
            raise RuntimeError(f"{item.code}: no key outside the authority's left to make up")
        used.add(value)
        row[target.name] = value


def fresh_key(rng: random.Random, standard: Standard) -> str:
    division = rng.choice([d for d in DIVISIONS if assigned_since(d.code) <= 1995])
    if standard is Standard.USCC:
        return make_uscc(rng, "91", division.code)
    earliest = date(max(assigned_since(division.code), 1955), 1, 1)  # ric.is_valid: born after the code existed
    birth = earliest + timedelta(days=rng.randint(0, (date(2005, 1, 1) - earliest).days))
    return make_ric(rng, division.code, birth, rng.random() < 0.5)


def break_check_digit(rng: random.Random, item: Item, row: Row, _as_of: date) -> None:
    target = rng.choice([f for f in check_digit_fields(item) if row[f.name]])
    assert target.standard is not None
    row[target.name] = corrupt_check_char(rng, str(row[target.name]), target.standard)


def blank_required(rng: random.Random, item: Item, row: Row, _as_of: date) -> None:
    row[rng.choice(blankable_fields(item)).name] = None


def leave_value_set(rng: random.Random, item: Item, row: Row, _as_of: date) -> None:
    target = rng.choice(value_set_fields(item))
    row[target.name] = rng.choice([v for v in OUT_OF_SET_VALUES if v not in (target.values or ())])


def leave_range(rng: random.Random, item: Item, row: Row, _as_of: date) -> None:
    target = rng.choice(range_fields(item))
    row[target.name] = out_of_range_value(rng, target)


def out_of_range_value(rng: random.Random, target: ItemField) -> str:
    assert target.range is not None
    low, high = target.range.min, target.range.max
    # A negative amount is the commonest real slip, an order of magnitude too much the next.
    if low is not None and low >= 0 and (high is None or rng.random() < 0.5):
        value = -rng.uniform(1, 999)
    else:
        assert high is not None
        value = high + max(1.0, abs(high)) * rng.uniform(0.5, 9)
    return str(round(value)) if target.type is FieldType.INTEGER else money(value)


def make_stale(rng: random.Random, item: Item, row: Row, as_of: date) -> None:
    assert item.timestamp_field is not None
    max_days = item.update_cycle.max_age.days
    row[item.timestamp_field] = iso(as_of - timedelta(days=rng.randint(max_days + 1, max_days + 365)))


FAULT_INJECTORS: dict[str, Callable[[random.Random, Item, Row, date], None]] = {
    "bad_check_digit": break_check_digit,
    "missing_required": blank_required,
    "out_of_set": leave_value_set,
    "out_of_range": leave_range,
    "stale": make_stale,
}


# =============================================================================================
# Self-check: every row must break exactly the rule its fault names, and clean rows none
# =============================================================================================
def row_problems(item: Item, rows: list[Row], as_of: date, known: dict[str, set[str]]) -> list[set[str]]:
    problems = [field_problems(item, row) | staleness(item, row, as_of) | unknown_references(item, row, known)
                for row in rows]
    for index in duplicated_key_rows(item, rows):
        problems[index].add("duplicate_key")
    return problems


def field_problems(item: Item, row: Row) -> set[str]:
    found: set[str] = set()
    for f in item.fields:
        value = row.get(f.name)
        if value is None or value == "":
            if f.not_null:
                found.add("missing_required")
            continue
        found |= value_problems(f, value)
    return found


def value_problems(f: ItemField, value: str) -> set[str]:
    found: set[str] = set()
    if not TYPE_CHECKS[f.type](value):
        found.add("type")
    elif f.range is not None and not _within(float(value), f.range.min, f.range.max):
        found.add("out_of_range")
    if f.standard is not None and not STANDARD_CHECKS[f.standard](value):
        found.add("bad_check_digit" if f.standard in _CHECKED_STANDARDS else "standard")
    if f.values is not None and value not in f.values:
        found.add("out_of_set")
    if f.max_length is not None and len(value) > f.max_length:
        found.add("max_length")
    return found


def unknown_references(item: Item, row: Row, known: dict[str, set[str]]) -> set[str]:
    """A well-formed referencing value the authority does not hold (a malformed one is a check-digit fault)."""
    for f in reference_fields(item):
        value = row.get(f.name)
        if value and f.references and not value_problems(f, value) and value not in known[f.references.item]:
            return {"unknown_key"}
    return set()


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def staleness(item: Item, row: Row, as_of: date) -> set[str]:
    stamp = row.get(item.timestamp_field) if item.timestamp_field else None
    if not stamp:
        return set()
    return {"stale"} if date.fromisoformat(stamp) < as_of - item.update_cycle.max_age else set()


def duplicated_key_rows(item: Item, rows: list[Row]) -> list[int]:
    keys = [tuple(row.get(k) for k in item.primary_key) for row in rows]
    counts = Counter(k for k in keys if all(k))
    return [i for i, k in enumerate(keys) if counts.get(k, 0) > 1]


def verify_faults(item: Item, rows: list[Row], plan: dict[str, list[int]], as_of: date,
                  known: dict[str, set[str]]) -> None:
    expected = {index: {kind} for kind, indices in plan.items() for index in indices}
    for index, found in enumerate(row_problems(item, rows, as_of, known)):
        if found != expected.get(index, set()):
            planned = expected.get(index, set())
            raise AssertionError(f"{item.code} row {index}: planned {planned}, found {found}: {rows[index]}")


# =============================================================================================
# Writers
# =============================================================================================
def header_of(item: Item, output: Output) -> list[str]:
    return [f.label if output.label_header else f.name for f in item.fields]


def write_csv(path: Path, header: list[str], records: list[list[str | None]], encoding: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # what Excel and most unit systems export
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in record] for record in records])
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_json(path: Path, header: list[str], records: list[list[str | None]]) -> None:
    document = [dict(zip(header, record, strict=True)) for record in records]
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_xlsx(path: Path, header: list[str], records: list[list[str | None]], title: str,
               stamp: datetime) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(header)
    for record in records:
        sheet.append(record)  # text cells: codes keep their leading zeros, dates stay ISO
    workbook.properties.creator = "pipelines.demo"
    workbook.properties.created = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(pin_zip_timestamps(buffer.getvalue(), stamp))


def pin_zip_timestamps(xlsx: bytes, stamp: datetime) -> bytes:
    """openpyxl stamps the wall clock into docProps/core.xml and the zip entries: pin both for equal bytes."""
    modified = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + modified, content)
            pinned = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            pinned.create_system = 0
            target.writestr(pinned, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


_SQL_TYPES = {FieldType.INTEGER: "INTEGER", FieldType.DECIMAL: "REAL"}


def source_table(item: Item) -> str:
    assert isinstance(item.collection, DatabaseCollection)
    found = re.search(r"\bfrom\s+([A-Za-z_][A-Za-z0-9_]*)", item.collection.query, re.IGNORECASE)
    if not found:
        raise ValueError(f"{item.code}: cannot tell which table the collection query reads")
    return found.group(1)


def write_sqlite(path: Path, item: Item, rows: list[Row]) -> None:
    table = source_table(item)
    path.unlink(missing_ok=True)
    columns = ", ".join(f"{f.name} {_SQL_TYPES.get(f.type, 'TEXT')}" for f in item.fields)
    marks = ", ".join("?" for _ in item.fields)
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE {table} ({columns})")
        db.executemany(f"INSERT INTO {table} VALUES ({marks})",
                       [tuple(sql_value(f, row.get(f.name)) for f in item.fields) for row in rows])
        db.commit()


def sql_value(f: ItemField, value: str | None) -> str | int | float:
    # Missing text is stored as '' rather than NULL: pandas' read_sql(dtype=str) turns NULL into 'None'.
    if value is None:
        return ""
    if f.type is FieldType.INTEGER:
        return int(value)
    if f.type is FieldType.DECIMAL:
        return float(value)
    return value


# =============================================================================================
# The demo run
# =============================================================================================
def generate_demo(
    catalogue_dir: str | Path,
    intake_dir: str | Path,
    data_dir: str | Path,
    seed: int = DEFAULT_SEED,
    as_of: date | str | None = None,
    rows: int | None = None,
    well_behaved: bool = False,
) -> dict[str, Any]:
    """Write the demo submissions, the HRSS source database and ``<data>/demo_manifest.json``.

    ``well_behaved``: a month in which every unit submits as it should (the demo's history): of the injected
    faults only stale records (warnings) remain, no file carries an uncatalogued column or looked-up values, and
    nothing is sent to a temporary collection that has expired. Its held-back rows and refusals would otherwise
    stand as violations months overdue by today and decide today's verdicts."""
    as_of = _as_date(as_of)
    if rows is not None and rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS}")
    catalogue = load_catalogue(catalogue_dir)
    _check_plans_match(catalogue)
    intake, data = Path(intake_dir).resolve(), Path(data_dir).resolve()
    rng = random.Random(seed)
    pools = Pools()
    entries = {}
    for code, plan in ITEM_PLANS.items():
        item = catalogue.item(code)
        if well_behaved and refusal_of(item, as_of) == EXPIRED:
            continue  # nobody submits to a collection that has expired
        entries[code] = _generate_item(rng, item, plan, rows or plan.rows, as_of, pools, intake, data, well_behaved)
    manifest = _manifest(seed, as_of, catalogue_dir, intake, data, entries)
    data.mkdir(parents=True, exist_ok=True)
    (data / "demo_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                             encoding="utf-8")
    return manifest


def _as_date(as_of: date | str | None) -> date:
    if as_of is None:
        return Clock().today()  # the province's day, as the platform judges the files it generates
    if isinstance(as_of, datetime):
        return province_day(as_of)
    return as_of if isinstance(as_of, date) else date.fromisoformat(as_of)


def _check_plans_match(catalogue: Catalogue) -> None:
    catalogued = {i.code for i in catalogue.items}
    if catalogued != set(ITEM_PLANS):
        raise ValueError(
            f"the demo generator knows {sorted(ITEM_PLANS)}, the catalogue has {sorted(catalogued)}: "
            "add a row builder to ITEM_PLANS for every demo item"
        )


def refusal_of(item: Item, as_of: date) -> str | None:
    """Why intake refuses this item's whole submission, if it does (art. 12)."""
    if item.code == REJECTED_ITEM:
        return UNCATALOGUED
    if item.temporary is not None and item.temporary.expired(as_of):
        return EXPIRED
    return None


def _generate_item(rng: random.Random, item: Item, plan: ItemPlan, n_rows: int, as_of: date, pools: Pools,
                   intake: Path, data: Path, well_behaved: bool = False) -> dict[str, Any]:
    refusal = None if well_behaved else refusal_of(item, as_of)
    ctx = RowContext(rng, as_of, item, pools)
    rows = [_in_field_order(item, plan.builder(ctx)) for _ in range(n_rows)]
    faults = {} if refusal else plan_faults(rng, item, n_rows)
    if well_behaved:
        faults = {kind: chosen if kind in WARNING_FAULTS else [] for kind, chosen in faults.items()}
        for row in rows:  # what is obtained through sharing is left to the look-up (art. 13)
            row.update({f.name: None for f in item.fields if f.lookup is not None})
    inject_faults(rng, item, rows, faults, as_of, pools.keys)
    if refusal is None:  # a refused submission never reaches validation: its rows are not checked
        verify_faults(item, rows, faults, as_of, pools.keys)
    refresh_pools(pools, item, rows, set(range(n_rows)) if refusal else
                  {i for kind in HOLD_BACK_FAULTS for i in faults.get(kind, [])})
    path = _write_item(rng, item, plan.output, rows, as_of, intake, data, refusal == UNCATALOGUED)
    entry = _manifest_entry(item, plan.output, path, n_rows, faults, refusal)
    carried = [] if refusal else carried_lookups(item, rows)
    if carried:
        entry["repeated_collection"] = carried
    if item.temporary is not None:
        entry["temporary"] = {"expires": item.temporary.expires.isoformat(),
                              "status": "expired" if item.temporary.expired(as_of) else "active"}
    return entry


def carried_lookups(item: Item, rows: list[Row]) -> list[dict[str, Any]]:
    """Looked-up fields the submission fills in anyway: the platform flags them (art. 13)."""
    return [{"field": f.name, "source": str(f.lookup), "rows": sum(1 for row in rows if row[f.name])}
            for f in item.fields if f.lookup is not None and any(row[f.name] for row in rows)]


def _in_field_order(item: Item, row: Row) -> Row:
    if set(row) != set(item.field_names):
        raise ValueError(f"{item.code}: builder fields {sorted(row)} differ from {item.field_names}")
    return {name: row[name] for name in item.field_names}


def _write_item(rng: random.Random, item: Item, output: Output, rows: list[Row], as_of: date, intake: Path,
                data: Path, uncatalogued_column: bool) -> Path:
    if output.format == "sqlite":
        path = data / "demo_sources" / "hrss.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sqlite(path, item, rows)
        return path
    path = intake / item.unit / f"{item.code}.{output.format}"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header_of(item, output)
    records = [list(row.values()) for row in rows]
    if uncatalogued_column:
        name, samples = UNCATALOGUED_COLUMN
        header.append(name)
        records = [[*record, rng.choice(samples)] for record in records]
    if output.format == "csv":
        write_csv(path, header, records, output.encoding)
    elif output.format == "json":
        write_json(path, header, records)
    else:
        write_xlsx(path, header, records, item.name, datetime.combine(as_of, datetime.min.time()))
    return path


def _manifest_entry(item: Item, output: Output, path: Path, n_rows: int, plan: dict[str, list[int]],
                    refusal: str | None) -> dict[str, Any]:
    held = n_rows if refusal else sum(len(plan.get(kind, [])) for kind in HOLD_BACK_FAULTS)
    entry: dict[str, Any] = {
        "unit": item.unit,
        "file": str(path),
        "format": output.format,
        "encoding": "utf-8" if output.format in ("xlsx", "sqlite", "json") else output.encoding,
        "header": "labels" if output.label_header else "names",
        "rows": n_rows,
        "faults": {kind: len(plan.get(kind, [])) for kind in HOLD_BACK_FAULTS},
        "expected_held_back": held,
        "expected_valid": n_rows - held,
        "stale": len(plan.get("stale", [])),
        "rejected_submission": refusal is not None,
        "refusal": refusal,
        # 0-based data-row positions (header excluded); the platform's row_no is position + 1.
        "fault_rows": {kind: plan.get(kind, []) for kind in (*HOLD_BACK_FAULTS, *WARNING_FAULTS)},
    }
    if refusal == UNCATALOGUED:
        entry["uncatalogued_columns"] = [UNCATALOGUED_COLUMN[0]]
    if isinstance(item.collection, DatabaseCollection):
        entry["collection"] = {"method": "database", "url_env": item.collection.url_env,
                               "url": sqlite_url(path), "table": source_table(item)}
    return entry


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _manifest(seed: int, as_of: date, catalogue_dir: str | Path, intake: Path, data: Path,
              entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    env = {e["collection"]["url_env"]: e["collection"]["url"] for e in entries.values() if "collection" in e}
    totals: dict[str, Any] = {key: sum(e[key] for e in entries.values())
                              for key in ("rows", "expected_held_back", "expected_valid", "stale")}
    totals["faults"] = {kind: sum(e["faults"][kind] for e in entries.values()) for kind in HOLD_BACK_FAULTS}
    totals["rejected_submissions"] = sum(e["rejected_submission"] for e in entries.values())
    totals["refusals"] = dict(Counter(e["refusal"] for e in entries.values() if e["refusal"]))
    totals["repeated_collection_flags"] = sum(len(e.get("repeated_collection", [])) for e in entries.values())
    return {
        "seed": seed,
        "as_of": as_of.isoformat(),
        "catalogue": str(catalogue_dir),
        "intake": str(intake),
        "data": str(data),
        "env": env,
        "fault_rates": FAULT_RATES,
        "totals": totals,
        "items": entries,
    }


# =============================================================================================
# Large synthetic catalogue (load and scale tests)
# =============================================================================================
# code, province-level name, city/county-level name, kind
DEPARTMENTS: tuple[tuple[str, str, str, UnitKind], ...] = (
    ("amr", "市场监督管理局", "市场监督管理局", UnitKind.STATE_ORGAN),
    ("psd", "公安厅", "公安局", UnitKind.STATE_ORGAN),
    ("civil", "民政厅", "民政局", UnitKind.STATE_ORGAN),
    ("hrss", "人力资源和社会保障厅", "人力资源和社会保障局", UnitKind.STATE_ORGAN),
    ("nr", "自然资源厅", "自然资源局", UnitKind.STATE_ORGAN),
    ("edu", "教育厅", "教育局", UnitKind.STATE_ORGAN),
    ("health", "卫生健康委员会", "卫生健康局", UnitKind.STATE_ORGAN),
    ("transport", "交通运输厅", "交通运输局", UnitKind.STATE_ORGAN),
    ("agri", "农业农村厅", "农业农村局", UnitKind.STATE_ORGAN),
    ("housing", "住房和城乡建设厅", "住房和城乡建设局", UnitKind.STATE_ORGAN),
    ("waterres", "水利厅", "水利局", UnitKind.STATE_ORGAN),
    ("env", "生态环境厅", "生态环境局", UnitKind.STATE_ORGAN),
    ("stats", "统计局", "统计局", UnitKind.STATE_ORGAN),
    ("emergency", "应急管理厅", "应急管理局", UnitKind.STATE_ORGAN),
    ("culture", "文化和旅游厅", "文化广电和旅游局", UnitKind.STATE_ORGAN),
    ("finance", "财政厅", "财政局", UnitKind.STATE_ORGAN),
    ("realestate", "不动产登记中心", "不动产登记中心", UnitKind.PUBLIC_INSTITUTION),
    ("cdc", "疾病预防控制中心", "疾病预防控制中心", UnitKind.PUBLIC_INSTITUTION),
    ("sib", "社会保险事业局", "社会保险事业管理中心", UnitKind.PUBLIC_INSTITUTION),
    ("trading", "公共资源交易中心", "公共资源交易中心", UnitKind.PUBLIC_INSTITUTION),
    ("charity", "慈善总会", "慈善总会", UnitKind.SOCIAL_ORGANIZATION),
    ("redcross", "红十字会", "红十字会", UnitKind.SOCIAL_ORGANIZATION),
    ("selfemp", "个体劳动者私营企业协会", "个体劳动者私营企业协会", UnitKind.SOCIAL_ORGANIZATION),
    ("watersupply", "水务集团有限公司", "供水有限责任公司", UnitKind.PUBLIC_SERVICE_ENTERPRISE),
    ("gas", "燃气集团有限公司", "燃气有限责任公司", UnitKind.PUBLIC_SERVICE_ENTERPRISE),
    ("bus", "公共交通集团有限公司", "公共交通有限责任公司", UnitKind.PUBLIC_SERVICE_ENTERPRISE),
)
CITY_UNITS_EACH = 3
COUNTY_UNITS = 32  # with 26 province and 14 x 3 city units: 100 units

TOPICS = (
    ("licence", "行政许可"), ("registration", "登记"), ("penalty", "行政处罚"), ("inspection", "监督检查"),
    ("subsidy", "补贴发放"), ("statistics", "统计报表"), ("ledger", "业务台账"), ("directory", "名录"),
    ("service", "服务办件"), ("asset", "资产"),
)

KEY_FIELD = {"name": "record_no", "label": "记录编号", "primary_key": True, "max_length": 32}
LARGE_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "uscc", "label": "统一社会信用代码", "standard": "uscc"},
    {"name": "entity_name", "label": "单位名称", "max_length": 100},
    {"name": "citizen_id", "label": "公民身份号码", "standard": "ric", "personal": True},
    {"name": "person_name", "label": "姓名", "personal": True, "max_length": 30},
    {"name": "phone", "label": "联系电话", "standard": "phone", "personal": True},
    {"name": "email", "label": "电子邮箱", "standard": "email", "personal": True},
    {"name": "region_code", "label": "行政区划代码", "standard": "adcode"},
    {"name": "postcode", "label": "邮政编码", "standard": "postcode"},
    {"name": "address", "label": "地址", "max_length": 200},
    {"name": "amount", "label": "金额（元）", "type": "decimal", "range": {"min": 0, "max": 100000000}},
    {"name": "quantity", "label": "数量", "type": "integer", "range": {"min": 0, "max": 1000000}},
    {"name": "area", "label": "面积（平方米）", "type": "decimal", "range": {"min": 0, "max": 10000000}},
    {"name": "category", "label": "类别", "values": ["甲类", "乙类", "丙类"]},
    {"name": "status", "label": "状态", "values": ["有效", "注销", "撤销"]},
    {"name": "approved", "label": "是否通过", "type": "boolean"},
    {"name": "issue_date", "label": "发证日期", "type": "date"},
    {"name": "expiry_date", "label": "有效期至", "type": "date"},
    {"name": "event_time", "label": "发生时间", "type": "datetime"},
    {"name": "description", "label": "描述", "max_length": 500},
    {"name": "handler", "label": "经办人", "personal": True, "max_length": 30},
    {"name": "updated_at", "label": "更新日期", "type": "date"},
)
CYCLE_LABELS = {
    UpdateCycle.REALTIME: "实时", UpdateCycle.DAILY: "每日", UpdateCycle.WEEKLY: "每周",
    UpdateCycle.MONTHLY: "每月", UpdateCycle.QUARTERLY: "每季度", UpdateCycle.HALF_YEARLY: "每半年",
    UpdateCycle.YEARLY: "每年",
}


def generate_large_catalogue(out_dir: str | Path, items: int = 5000,
                             seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write ``units.yaml`` and ``items/<unit>.yaml`` with ``items`` valid items over about 100 units."""
    if items < 1:
        raise ValueError("items must be at least 1")
    rng = random.Random(seed)
    out = Path(out_dir)
    (out / "items").mkdir(parents=True, exist_ok=True)
    units = large_units(rng)
    _dump_yaml(out / "units.yaml", {"units": units})
    written: list[str] = []
    for unit, count in zip(units, _spread(items, len(units)), strict=True):
        if count:
            docs = [large_item(rng, unit, n, written) for n in range(1, count + 1)]
            _dump_yaml(out / "items" / f"{unit['code']}.yaml", {"items": docs})
    return {"out": str(out), "units": len(units), "items": len(written)}


def large_units(rng: random.Random) -> list[dict[str, Any]]:
    province = [_unit(dept, PROVINCE) for dept in DEPARTMENTS]
    cities = [_unit(dept, city) for city in guangxi_codes(Level.CITY)
              for dept in rng.sample(DEPARTMENTS, CITY_UNITS_EACH)]
    counties = [_unit(rng.choice(DEPARTMENTS), county)
                for county in sorted(rng.sample(guangxi_codes(Level.COUNTY), COUNTY_UNITS))]
    return province + cities + counties


def guangxi_codes(level: Level) -> list[str]:
    """Division codes in use in Guangxi, without the '市辖区' placeholders that name no real area."""
    return sorted(
        code for code in _divisions_in_use()
        if code.startswith("45") and region_level(code) is level and division_name(code) != "市辖区"
    )


def _unit(dept: tuple[str, str, str, UnitKind], region: str) -> dict[str, Any]:
    code, province_name, local_name, kind = dept
    level = region_level(region)
    return {
        "code": f"{code}_{region}",
        "name": _place_name(region) + (province_name if level is Level.PROVINCE else local_name),
        "kind": kind.value,
        "level": level.value,
        "region": region,
        "owner": f"team:{code}_{region}",
    }


def _place_name(region: str) -> str:
    own = division_name(region) or region
    if region_level(region) is Level.COUNTY:
        return (division_name(region[:4] + "00") or "") + own
    return own


def _spread(total: int, buckets: int) -> list[int]:
    return [total // buckets + (1 if i < total % buckets else 0) for i in range(buckets)]


def large_item(rng: random.Random, unit: dict[str, Any], n: int, earlier: list[str]) -> dict[str, Any]:
    topic, topic_label = rng.choice(TOPICS)
    code = f"{unit['code']}_{topic}_{n:04d}"
    cycle = rng.choice(list(UpdateCycle))
    fields = large_fields(rng)
    item: dict[str, Any] = {
        "code": code,
        "name": f"{unit['name']}{topic_label}信息（{n:04d}）",
        "abstract": f"{unit['name']}履职过程中形成的{topic_label}数据，{CYCLE_LABELS[cycle]}更新。",
        "unit": unit["code"],
        "obtained": _obtained(rng, unit),
        "level": unit["level"],
        "region": unit["region"],
        "classification": rng.choice(("basic", "theme", "department")),
        "update_cycle": cycle.value,
        "sharing": _sharing(rng),
        "opening": _opening(rng),
        "fields": fields,
    }
    if any(f["name"] == "updated_at" for f in fields):
        item["timestamp_field"] = "updated_at"
    if earlier and rng.random() < 0.15:
        item["related"] = [rng.choice(earlier)]
    earlier.append(code)
    return item


def large_fields(rng: random.Random) -> list[dict[str, Any]]:
    # deep copies: shared nested dicts would come out as YAML anchors and aliases
    chosen = [copy.deepcopy(f) for f in rng.sample(LARGE_FIELDS, rng.randint(4, 14))]
    for f in chosen:
        if rng.random() < 0.4:
            f["required"] = True
        if f["name"] == "region_code" and rng.random() < 0.3:
            f["primary_key"] = True  # a compound key (record_no, region_code) now and then
    return [dict(KEY_FIELD), *chosen]


def _obtained(rng: random.Random, unit: dict[str, Any]) -> str:
    if unit["kind"] == UnitKind.PUBLIC_SERVICE_ENTERPRISE.value:
        return "franchise"
    return rng.choices(("duty", "purchased_service"), (9, 1))[0]


def _sharing(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(("unconditional", "conditional", "not_shared"), (5, 4, 1))[0]
    sharing: dict[str, Any] = {"type": kind, "mode": rng.choice(("interface", "file", "database"))}
    if kind == "conditional":
        sharing["condition"] = "限于依法履职需要，按最小必要原则使用"
    return sharing


def _opening(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(("not_open", "open", "conditional"), (7, 2, 1))[0]
    return {"type": kind, "condition": "仅开放统计汇总结果"} if kind == "conditional" else {"type": kind}


def _dump_yaml(path: Path, document: dict[str, Any]) -> None:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml is ~10x faster on 5000 items
    text = yaml.dump(document, Dumper=dumper, allow_unicode=True, sort_keys=False, width=120)
    path.write_text(text, encoding="utf-8")
