"""The executor switch: default unless GOVDATA_EXECUTOR=celery, whose broker, backend and queue come from the env."""

from __future__ import annotations

import pytest

from pipelines.executors import CelerySettings, ExecutorChoiceError, executor_from_env


def test_no_choice_keeps_dagsters_default() -> None:
    assert executor_from_env({}) is None
    assert executor_from_env({"GOVDATA_EXECUTOR": " Default "}) is None


def test_celery_is_configured_from_the_environment() -> None:
    env = {"GOVDATA_EXECUTOR": "celery", "GOVDATA_CELERY_BROKER": "pyamqp://govdata@mq.example:5672/gov",
           "GOVDATA_CELERY_QUEUE": "govdata"}
    executor = executor_from_env(env)
    assert executor.name == "govdata_celery"
    assert CelerySettings.from_env(env).executor_config() == {
        "broker": "pyamqp://govdata@mq.example:5672/gov", "backend": "rpc://",
        "config_source": {"task_default_queue": "govdata"}}
    assert CelerySettings.from_env({}) == CelerySettings("pyamqp://guest@127.0.0.1:5672//", "rpc://", "dagster")


def test_an_unknown_executor_is_refused() -> None:
    with pytest.raises(ExecutorChoiceError, match="GOVDATA_EXECUTOR='k8s': expected empty"):
        executor_from_env({"GOVDATA_EXECUTOR": "k8s"})
