"""The HTTP face of the sharing service: FastAPI routes over ``SharingService``, served by uvicorn.

Every route but ``/health`` authenticates with ``Authorization: Bearer <token>`` and writes one audit row,
including requests FastAPI itself refuses for their shape (422).
"""

# No "from __future__ import annotations": FastAPI reads the routes' annotations at runtime.

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from pipelines.serving.service import MAX_PAGE, Refused, SharingService
from pipelines.serving.tokens import Caller

STATUS = {"unauthenticated": 401, "forbidden": 403, "not_found": 404, "invalid": 400}
ITEM = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="the catalogue item's code")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(Frozen):
    detail: str = Field(description="why the request was refused (also in the audit chain)")


class ItemAccess(Frozen):
    item: str
    name: str
    unit: str = Field(description="the owning unit")
    sharing_type: str
    access: str = Field(description="why the caller may read it: owner, unconditional share, an application")
    application: int | None
    fields: list[str]
    masked: list[str] = Field(description="personal fields served masked")


class Records(Frozen):
    item: str
    application: int | None = Field(description="the sharing application the read was served under")
    count: int
    limit: int
    offset: int
    records: list[dict[str, str | None]]


class QueryRequest(Frozen):
    where: dict[str, str] = Field(default_factory=dict, description="field: value, all equal (canonical text)")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class VerifyRequest(Frozen):
    key: dict[str, str] = Field(description="the item's primary key: field: value")
    attributes: dict[str, str] = Field(default_factory=dict, description="other fields to compare, e.g. a name")


class VerifyAnswer(Frozen):
    item: str
    found: bool = Field(description="the key exists in the authoritative item")
    match: bool = Field(description="found, and every attribute equals the item's value")
    mismatched: list[str] = Field(description="the attributes that differ (names only, never values)")


REFUSALS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (400, 401, 403, 404, 422)}
bearer = HTTPBearer(auto_error=False, description="a token issued by `python -m pipelines sharing token issue`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def create_app(service: SharingService) -> FastAPI:
    app = FastAPI(title="govdata sharing service", version="1",
                  description="Interface sharing and online verification over the shared store (docs/sharing.md)")

    def caller(event: str, item: str | None, request: Request, credentials: Credentials) -> Caller:
        # in the route's own thread, not a dependency's: one thread-pool hop per request instead of two
        token = credentials.credentials if credentials else None
        return service.caller(token, event, item, dict(request.query_params))

    @app.exception_handler(Refused)
    def refused(_request: Request, exc: Refused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.kind == "unauthenticated" else None
        return JSONResponse({"detail": exc.reason}, status_code=STATUS[exc.kind], headers=headers)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        service.refuse_malformed(_bearer_token(request), request.url.path, reason)
        return JSONResponse({"detail": reason}, status_code=422)

    @app.get("/health", summary="liveness (not audited)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/items", response_model=list[ItemAccess], responses=REFUSALS,
             summary="the items the caller may read through the interface")
    def items(request: Request, credentials: Credentials) -> list[ItemAccess]:
        who = caller("list", None, request, credentials)
        return [ItemAccess(item=i.code, name=i.name, unit=i.unit, sharing_type=i.sharing.type.value, access=a.reason,
                           application=a.application_id, fields=list(a.fields),
                           masked=[f.name for f in i.fields if f.personal and f.name in a.fields
                                   and f.name not in a.unmasked])
                for i, a in service.readable_items(who)]

    @app.get("/v1/items/{item}/records/{key}", response_model=Records, responses=REFUSALS,
             summary="one record by its primary key (composite keys: values in key order, comma-separated)")
    def record(item: ITEM, key: Annotated[str, Path(min_length=1, max_length=200)],
               request: Request, credentials: Credentials) -> Records:
        return _records(service.read_key(caller("read", item, request, credentials), item, key))

    @app.get("/v1/items/{item}/records", response_model=Records, responses=REFUSALS,
             summary="a page of records, ordered by primary key")
    def records(item: ITEM, request: Request, credentials: Credentials,
                limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Records:
        return _records(service.read(caller("read", item, request, credentials), item, {}, limit, offset))

    @app.post("/v1/items/{item}/query", response_model=Records, responses=REFUSALS,
              summary="records whose fields equal the given values, paged")
    def query(item: ITEM, body: QueryRequest, request: Request, credentials: Credentials) -> Records:
        who = caller("query", item, request, credentials)
        return _records(service.read(who, item, body.where, body.limit, body.offset, event="query"))

    @app.post("/v1/items/{item}/verify", response_model=VerifyAnswer, responses=REFUSALS,
              summary="online verification (art. 14): does the key exist and do the attributes match, no data")
    def verify(item: ITEM, body: VerifyRequest, request: Request, credentials: Credentials) -> VerifyAnswer:
        answer = service.verify(caller("verify", item, request, credentials), item, body.key, body.attributes)
        return VerifyAnswer(item=answer.item, found=answer.found, match=answer.match,
                            mismatched=list(answer.mismatched))

    return app


def _records(page: Any) -> Records:
    return Records(item=page.item, application=page.application_id, count=len(page.records), limit=page.limit,
                   offset=page.offset, records=page.records)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
