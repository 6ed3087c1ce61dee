"""exceptions.py holds every exception of the package; old names keep working, the renamed one warns."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import pytest

import airflow_provider_rtk
from airflow_provider_rtk import exceptions


def _package_modules() -> list[str]:
    """Every module of the package but the emulator (an independent oracle with its own errors)."""
    return [
        info.name
        for info in pkgutil.walk_packages(airflow_provider_rtk.__path__, "airflow_provider_rtk.")
        if not info.name.startswith("airflow_provider_rtk.emulator")
    ]


def test_every_exception_class_of_the_package_is_defined_in_exceptions() -> None:
    elsewhere = []
    for name in _package_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            defined_here = value.__module__ == name
            if defined_here and issubclass(value, BaseException) and name != exceptions.__name__:
                elsewhere.append(f"{name}.{value.__qualname__}")
    assert elsewhere == []


def test_the_docstring_tree_names_every_public_exception() -> None:
    public = [
        name
        for name, value in vars(exceptions).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_")
    ]
    assert public
    for name in public:
        assert name in (exceptions.__doc__ or ""), name


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("airflow_provider_rtk.hooks._api", "RealtimeKitTlsError"),
        ("airflow_provider_rtk.hooks._api", "RealtimeKitBadAnswerError"),
        ("airflow_provider_rtk.operators.copy", "RealtimeKitDownloadLinksExpiredError"),
        ("airflow_provider_rtk.operators.copy", "RealtimeKitFilesNotDownloadableError"),
        ("airflow_provider_rtk.operators.copy", "RealtimeKitCopyError"),
    ],
)
def test_old_import_paths_give_the_same_class(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(exceptions, name)


@pytest.mark.parametrize(
    "module",
    ["airflow_provider_rtk.exceptions", "airflow_provider_rtk.sensors", "airflow_provider_rtk.sensors.base"],
)
def test_the_old_sensor_failure_name_is_a_deprecated_alias(module: str) -> None:
    with pytest.warns(DeprecationWarning, match="RealtimeKitRecordingFailedNoRetryError"):
        alias = importlib.import_module(module).RealtimeKitRecordingFailed
    assert alias is exceptions.RealtimeKitRecordingFailedNoRetryError
    with pytest.warns(DeprecationWarning, match="is deprecated"):  # on every use, not only the first
        exec(f"from {module} import RealtimeKitRecordingFailed", {})


def test_the_new_name_says_it_fails_without_retry_and_differs_from_the_retried_one() -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    no_retry = exceptions.RealtimeKitRecordingFailedNoRetryError
    assert issubclass(no_retry, AirflowFailException)
    assert issubclass(no_retry, exceptions.RealtimeKitRecordingFailedError)
    assert not issubclass(exceptions.RealtimeKitRecordingFailedError, AirflowFailException)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from airflow_provider_rtk.sensors import RealtimeKitRecordingFailedNoRetryError

    assert RealtimeKitRecordingFailedNoRetryError is no_retry


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Nope"):
        _ = exceptions.Nope  # type: ignore[attr-defined]
    sensors = importlib.import_module("airflow_provider_rtk.sensors")
    with pytest.raises(AttributeError, match="Nope"):
        _ = sensors.Nope


def test_transport_error_takes_a_status_and_bad_answer_uses_its_constructor() -> None:
    error = exceptions.RealtimeKitTransportError("x", operation="op", maybe_delivered=True, status_code=502)
    assert (error.status_code, error.maybe_delivered, error.maybe_in_progress) == (502, True, False)
    bad = exceptions.RealtimeKitBadAnswerError("not JSON", operation="op", status_code=404)
    assert (bad.status_code, bad.maybe_delivered, bad.maybe_took_effect, bad.is_retryable) == (
        404,
        False,
        False,
        False,
    )
    assert "op: HTTP 404" in str(bad)
    assert exceptions.RealtimeKitBadAnswerError("x", operation="op", status_code=200).maybe_delivered
