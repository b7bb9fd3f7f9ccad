"""Typed, frozen models of the government data catalogue (articles 2, 6, 11, 12, 18).

Plain pydantic, no Dagster: the catalogue is domain data that tests, the CLI and the asset
factory all read the same way.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from stdnum.cn import uscc

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{5}$")]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class UnitKind(StrEnum):
    STATE_ORGAN = "state_organ"
    PUBLIC_INSTITUTION = "public_institution"
    SOCIAL_ORGANIZATION = "social_organization"
    PUBLIC_SERVICE_ENTERPRISE = "public_service_enterprise"


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class Obtained(StrEnum):
    """How the unit obtains the data (art. 2)."""

    DUTY = "duty"
    FRANCHISE = "franchise"
    PURCHASED_SERVICE = "purchased_service"


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


class Standard(StrEnum):
    USCC = "uscc"  # GB 32100-2015 unified social credit code
    RIC = "ric"  # GB 11643-1999 citizen identity number
    ADCODE = "adcode"  # GB/T 2260 administrative division code
    PHONE = "phone"
    POSTCODE = "postcode"
    DATE = "date"
    EMAIL = "email"


class UpdateCycle(StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"

    @property
    def max_age(self) -> timedelta:
        """How old the newest data may be before the item counts as stale."""
        return _CYCLE_AGE[self]


_CYCLE_AGE = {
    UpdateCycle.REALTIME: timedelta(days=1),
    UpdateCycle.DAILY: timedelta(days=1),
    UpdateCycle.WEEKLY: timedelta(days=7),
    UpdateCycle.MONTHLY: timedelta(days=31),
    UpdateCycle.QUARTERLY: timedelta(days=92),
    UpdateCycle.HALF_YEARLY: timedelta(days=183),
    UpdateCycle.YEARLY: timedelta(days=366),
}


class SharingType(StrEnum):
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"


class OpeningType(StrEnum):
    OPEN = "open"
    CONDITIONAL = "conditional"
    NOT_OPEN = "not_open"


class CarriedValues(StrEnum):
    """What intake does with a submission carrying values of looked-up fields, which the platform obtains through
    sharing (art. 13)."""

    STRIP = "strip"  # discard the values, flag the submission, take the rest in
    REFUSE = "refuse"  # refuse the whole submission, naming each field and its source


class Severity(StrEnum):
    ERROR = "error"  # blocks convergence of the rows (row rules) or of the item (table rules)
    WARNING = "warning"  # reported, never blocks


class Unit(Frozen):
    code: Code
    name: str = Field(min_length=1)
    kind: UnitKind
    level: Level
    region: RegionCode
    owner: str | None = Field(default=None, description="Dagster owner: an email or team:<name>")
    platform: str | None = Field(
        default=None, pattern=r"^(province|city_\d{6})$",
        description="The collection and sharing platform hosting the unit (art. 19): `province` for a provincial unit, "
                    "`city_<city code>` for a city's; a county builds none, its city's platform hosts it")

    @model_validator(mode="after")
    def _region_matches_level(self) -> Unit:
        _check_region_level(self.region, self.level)
        return self

    @field_validator("platform")
    @classmethod
    def _no_county_platform(cls, platform: str | None, info: ValidationInfo) -> str | None:
        """Art. 19: platforms are built at the province and city levels only; a county's data converges into
        its city's platform. A declared platform must be the unit's own level's."""
        level, region = info.data.get("level"), info.data.get("region")
        if platform is None or level is None or region is None:
            return platform
        if level is Level.COUNTY:
            raise ValueError(f"a county unit builds no platform of its own (art. 19): its data converges into "
                             f"its city's platform city_{region[:4]}00; remove 'platform'")
        own = "province" if level is Level.PROVINCE else f"city_{region[:4]}00"
        if platform != own:
            raise ValueError(f"a {level.value} unit of region {region} is hosted by the platform {own!r}, "
                             f"not {platform!r}")
        return platform


class Division(Frozen):
    """A GB/T 2260 division the units sit in, with its extent for the directory's ``dct:spatial``
    (DCAT-AP recommends ``dcat:bbox`` and ``dcat:centroid``). WGS 84 degrees, longitude first."""

    code: RegionCode
    name: str = Field(min_length=1)
    bbox: tuple[float, float, float, float] = Field(description="west, south, east, north")
    centroid: tuple[float, float] = Field(description="longitude, latitude")

    @model_validator(mode="after")
    def _inside_the_world_and_the_box(self) -> Division:
        west, south, east, north = self.bbox
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(f"bbox {list(self.bbox)} is not west < east within ±180 and south < north within ±90")
        longitude, latitude = self.centroid
        if not (west <= longitude <= east and south <= latitude <= north):
            raise ValueError(f"centroid {list(self.centroid)} lies outside the bbox {list(self.bbox)}")
        return self


class ValueRange(Frozen):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is greater than max {self.max}")
        return self


class FieldRef(Frozen):
    """A field of another catalogued item: its authoritative source (art. 11, 13, 14)."""

    item: Code
    field: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]

    def __str__(self) -> str:
        return f"{self.item}.{self.field}"


class ItemField(Frozen):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    label: str = Field(min_length=1, description="the field's name as the unit knows it (Chinese)")
    type: FieldType = FieldType.STRING
    required: bool = False
    primary_key: bool = False
    standard: Standard | None = None
    values: tuple[str, ...] | None = Field(default=None, description="the value set, when declared")
    range: ValueRange | None = None
    max_length: int | None = Field(default=None, gt=0)
    personal: bool = Field(default=False, description="personal information: masked in reports")
    references: FieldRef | None = Field(
        default=None, description="values must exist as this key of the authoritative item (online verification)"
    )
    matches: FieldRef | None = Field(
        default=None,
        description="values must equal this field of the authoritative row found through the referencing key",
    )
    element: Code | None = Field(default=None, description="the data element (governance.yaml) this field carries")
    lookup: FieldRef | None = Field(
        default=None,
        description="not collected: filled from this authoritative field through the referencing key (art. 13)",
    )
    date_format: Literal["excel_serial"] | None = Field(
        default=None,
        description="excel_serial: the unit's system sends Excel serial day numbers (45962 = 2025-11-01) besides dates",
    )
    collected_here: str | None = Field(
        default=None, min_length=1,
        description="why this field, whose standard, name or label is a governed data element's, is this item's own "
                    "data and not that element (art. 11, 13 exception; e.g. a social organisation's own credit code, "
                    "registered by this unit)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ItemField:
        if self.range is not None and self.type not in (FieldType.INTEGER, FieldType.DECIMAL):
            raise ValueError("a range needs type integer or decimal")
        if self.values is not None and not self.values:
            raise ValueError("a value set must list at least one value")
        if self.date_format is not None and self.type not in (FieldType.DATE, FieldType.DATETIME):
            raise ValueError("a date_format needs type date or datetime")
        if self.lookup is not None and self.not_null:
            raise ValueError("a looked-up field is filled from the shared store: it cannot be required or a key")
        return self

    @property
    def not_null(self) -> bool:
        return self.required or self.primary_key


class Sharing(Frozen):
    type: SharingType
    condition: str | None = None
    mode: Literal["interface", "file", "database"] = "database"

    @model_validator(mode="after")
    def _condition_when_conditional(self) -> Sharing:
        if self.type is SharingType.CONDITIONAL and not self.condition:
            raise ValueError("conditional sharing needs a condition")
        return self


class Opening(Frozen):
    type: OpeningType = OpeningType.NOT_OPEN
    condition: str | None = None

    @model_validator(mode="after")
    def _condition_when_conditional(self) -> Opening:
        if self.type is OpeningType.CONDITIONAL and not self.condition:
            raise ValueError("conditional opening needs a condition")
        return self


class SubmissionCollection(Frozen):
    """Files submitted to the one-window intake (art. 14)."""

    method: Literal["submission"] = "submission"


class DatabaseCollection(Frozen):
    """Pulled from the unit's own business database; the URL stays in the environment."""

    method: Literal["database"]
    url_env: EnvVarName
    query: str = Field(min_length=1)


Collection = Annotated[SubmissionCollection | DatabaseCollection, Field(discriminator="method")]


class TemporaryCollection(Frozen):
    """A collection for a special or urgent need (art. 12): approved, with a reason and an end."""

    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    starts: date | None = Field(default=None, description="first day submissions are taken in (the approval's "
                                                          "start); the directory's temporal coverage before any data")
    expires: date = Field(description="last day submissions are taken in")

    @model_validator(mode="after")
    def _starts_before_it_expires(self) -> TemporaryCollection:
        if self.starts is not None and self.starts > self.expires:
            raise ValueError(f"starts {self.starts.isoformat()} is after expires {self.expires.isoformat()}")
        return self

    def expired(self, today: date) -> bool:
        return today > self.expires

    def started(self, today: date) -> bool:
        return self.starts is None or today >= self.starts


class QualityPolicy(Frozen):
    """Per-rule severity overrides; rule ids are listed in docs/catalogue.md."""

    severity: dict[str, Severity] = Field(default_factory=dict)
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=0)
    max_row_change: float | None = Field(
        default=None, gt=0, description="largest allowed relative change in row count between submissions"
    )


class Item(Frozen):
    code: Code
    name: str = Field(min_length=1)
    abstract: str = Field(min_length=1)
    unit: Code
    obtained: Obtained
    level: Level
    region: RegionCode
    classification: str = "basic"
    fields: tuple[ItemField, ...] = Field(min_length=1)
    update_cycle: UpdateCycle
    timestamp_field: str | None = Field(default=None, description="the field that dates each record")
    sharing: Sharing
    opening: Opening = Opening()
    collection: Collection = SubmissionCollection()
    published: date | None = None
    related: tuple[Code, ...] = ()
    # Made per item: pydantic deep-copies a default that holds a dict, 5,000 times per load; the schema shows it.
    quality: QualityPolicy = Field(default_factory=QualityPolicy, json_schema_extra={
        "default": {"severity": {}, "min_rows": None, "max_rows": None, "max_row_change": None}})
    maps_to: Code | None = Field(default=None, description="the provincial item a city/county item maps onto")
    temporary: TemporaryCollection | None = None
    carried_values: CarriedValues = Field(
        default=CarriedValues.STRIP,
        description="a submission carrying values of looked-up fields (art. 13): strip (discard them and flag the "
                    "submission) or refuse (refuse the whole submission at intake, with the field and its source)")

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        _check_region_level(self.region, self.level)
        if self.carried_values is CarriedValues.REFUSE and not any(f.lookup for f in self.fields):
            raise ValueError("carried_values: refuse concerns looked-up fields, and no field has a lookup")
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"field names repeat: {', '.join(duplicates)}")
        if not any(f.primary_key for f in self.fields):
            raise ValueError("no field is marked primary_key: convergence upserts by the primary key")
        if self.timestamp_field is not None:
            ts = self.field(self.timestamp_field)
            if ts is None or ts.type not in (FieldType.DATE, FieldType.DATETIME):
                raise ValueError(f"timestamp_field {self.timestamp_field!r} must name a date or datetime field")
        return self

    def field(self, name: str) -> ItemField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.primary_key)


def _check_region_level(region: str, level: Level) -> None:
    expected = region_level(region)
    if expected is not level:
        raise ValueError(f"region {region} is a {expected.value}-level code, not {level.value}")


def region_level(region: str) -> Level:
    """GB/T 2260: province codes end in 0000, city codes in 00."""
    if region.endswith("0000"):
        return Level.PROVINCE
    if region.endswith("00"):
        return Level.CITY
    return Level.COUNTY


class DataElement(Frozen):
    """One data element with its single authoritative source (art. 11: one number, one source)."""

    code: Code
    name: str = Field(min_length=1)
    key_standard: Standard | None = Field(default=None, description="the standard of the key identifying it")
    source: FieldRef


class Governance(Frozen):
    """``governance.yaml``: data elements and whether catalogues must connect (art. 11, 19)."""

    connected: bool = Field(default=True, description="every city/county item must map onto a provincial item")
    elements: tuple[DataElement, ...] = ()

    def element(self, code: str) -> DataElement | None:
        return next((e for e in self.elements if e.code == code), None)


class Work(StrEnum):
    """The data work a unit may entrust to a technical service unit (art. 7)."""

    COLLECTION = "collection"
    VALIDATION = "validation"
    CONVERGENCE = "convergence"
    SHARING = "sharing"


class Entrustment(Frozen):
    """A unit's entrustment of some of its data work to a technical service unit, for a period (art. 7)."""

    unit: Code
    work: tuple[Work, ...] = Field(min_length=1)
    valid_from: date = Field(description="first day the entrustment is in force")
    valid_until: date = Field(description="last day the entrustment is in force")
    reference: str = Field(min_length=1, description="the entrustment contract or letter")

    @field_validator("valid_until")
    @classmethod
    def _not_before_start(cls, valid_until: date, info: ValidationInfo) -> date:
        valid_from = info.data.get("valid_from")
        if valid_from is not None and valid_until < valid_from:
            raise ValueError(f"valid_until {valid_until} is before valid_from {valid_from}")
        return valid_until

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def covers(self, unit: str, work: Work) -> bool:
        return self.unit == unit and work in self.work


class Contractor(Frozen):
    """A technical service unit operating data work for units under entrustment (art. 7, 8)."""

    code: Code
    name: str = Field(min_length=1)
    credit_code: str = Field(description="GB 32100-2015 unified social credit code")
    entrustments: tuple[Entrustment, ...] = ()

    @field_validator("credit_code")
    @classmethod
    def _valid_credit_code(cls, credit_code: str) -> str:
        if not uscc.is_valid(credit_code):
            raise ValueError(f"'{credit_code}' is not a valid unified social credit code (GB 32100-2015)")
        return credit_code


class Catalogue(Frozen):
    units: tuple[Unit, ...]
    items: tuple[Item, ...]
    governance: Governance | None = None
    contractors: tuple[Contractor, ...] = ()
    divisions: tuple[Division, ...] = ()

    _units: dict[str, Unit] = PrivateAttr(default_factory=dict)
    _items: dict[str, Item] = PrivateAttr(default_factory=dict)
    _by_unit: dict[str, tuple[Item, ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        self._units = {u.code: u for u in self.units}
        self._items = {i.code: i for i in self.items}
        grouped: dict[str, list[Item]] = {u.code: [] for u in self.units}
        for item in self.items:
            grouped.setdefault(item.unit, []).append(item)
        self._by_unit = {code: tuple(items) for code, items in grouped.items()}

    def unit(self, code: str) -> Unit:
        return self._units[code]

    def item(self, code: str) -> Item:
        return self._items[code]

    def find_item(self, code: str) -> Item | None:
        return self._items.get(code)

    def items_of(self, unit_code: str) -> tuple[Item, ...]:
        return self._by_unit.get(unit_code, ())

    def division(self, code: str) -> Division | None:
        return next((d for d in self.divisions if d.code == code), None)

    def contractor(self, code: str) -> Contractor | None:
        return next((c for c in self.contractors if c.code == code), None)
