"""The sharing service (art. 3, 6, 14, 19): an HTTP API over the shared store for items shared by interface,
online verification for other systems, file extracts per approved application, and an audit chain of every
request and decision. Plain Python; the HTTP layer (FastAPI, ``pipelines.serving.api``) is imported only when
the service is served."""
