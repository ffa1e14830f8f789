"""Connect's records: tolerant .NET timestamps and run times, jobs, log rows, import responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from toolkit.connect.models import (
    ImportResponse,
    Job,
    JobLogEntry,
    ValidationSummary,
    parse_run_time,
    parse_timestamp,
)
from toolkit.entities import JobStatus

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T12:00:00",
        "2024-05-01T12:00:00Z",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01T12:00:00.0000000",
        "2024-05-01T12:00:00.0000000Z",
        "2024-05-01 12:00:00",
        "/Date(1714564800000)/",
        "/Date(1714564800000+0200)/",
        "\\/Date(1714564800000)\\/",
        1714564800000,
        1714564800,
    ],
)
def test_timestamps_in_every_dotnet_shape(text: object) -> None:
    assert parse_timestamp(text) == NOON


def test_timestamp_fractions_and_nulls() -> None:
    assert parse_timestamp("2024-05-01T12:00:00.1234567Z") == NOON.replace(microsecond=123456)
    assert parse_timestamp(None) is None
    assert parse_timestamp("") is None
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00:00:05", timedelta(seconds=5)),
        ("01:02:03.5", timedelta(hours=1, minutes=2, seconds=3.5)),
        ("00:00:00.1234567", timedelta(microseconds=123457)),
        ("2.03:00:00", timedelta(days=2, hours=3)),
        ("-00:00:01", timedelta(seconds=-1)),
        (12, timedelta(seconds=12)),
        ("12.5", timedelta(seconds=12.5)),
        (None, None),
    ],
)
def test_run_times(value: object, expected: timedelta | None) -> None:
    assert parse_run_time(value) == expected


def test_run_time_garbage_names_the_value() -> None:
    with pytest.raises(ValueError, match="'soon'"):
        parse_run_time("soon")


def test_job_from_a_full_jobdto() -> None:
    job = Job.from_json(
        {
            "JobId": 12,
            "StatusId": 3,
            "StorageName": "f.json",
            "Totals": 10,
            "Insert": 4,
            "Updates": 3,
            "Fail": 3,
            "Start": "2024-05-01T12:00:00",
            "Stop": "/Date(1714564805000)/",
            "LastUpdated": "2024-05-01T12:00:05Z",
            "IsFinished": True,
            "RunTime": "00:00:05",
        }
    )
    assert job.status is JobStatus.Failed
    assert (job.inserts, job.updates, job.fail, job.totals) == (4, 3, 3, 10)
    assert job.stop - job.start == timedelta(seconds=5) == job.run_time
    assert job.is_done and not job.succeeded


def test_job_tolerates_camel_case_and_missing_members() -> None:
    job = Job.from_json({"jobId": "5", "statusId": 6, "inserts": None})
    assert (job.job_id, job.status, job.inserts, job.start) == (5, JobStatus.Queued, None, None)
    assert not job.is_done


def test_job_is_done_by_status_even_without_the_flag() -> None:
    assert Job(1, JobStatus.Succeeded).is_done
    assert Job(1, JobStatus.Succeeded).succeeded
    assert not Job(1, JobStatus.Validating).is_done


def test_job_without_ids_is_refused() -> None:
    with pytest.raises(ValueError, match="JobId and StatusId"):
        Job.from_json({"Totals": 3})


def test_jobs_are_frozen() -> None:
    job = Job(1, JobStatus.Queued)
    with pytest.raises(AttributeError):
        job.status = JobStatus.Succeeded  # type: ignore[misc]


def test_log_entries() -> None:
    entry = JobLogEntry.from_json(
        {"SeverityId": 3, "Message": "bad row", "TimeStamp": "2024-05-01T12:00:00", "ImportedRow": 7}
    )
    assert entry == JobLogEntry(3, "bad row", NOON, 7)


def test_import_response_job_id_is_an_int() -> None:
    r = ImportResponse.from_json(
        {
            "JobId": "42",
            "StatusCode": 200,
            "Description": "ok",
            "ValidationSummary": {"NrOfItemsInTotal": 5, "NrOfValidationFailures": 1, "Messages": ["row 2"]},
        }
    )
    assert r == ImportResponse(42, "200", "ok", ValidationSummary(5, 1, ("row 2",)))
    assert ImportResponse.from_json({"JobId": 7}).validation == ValidationSummary()
    with pytest.raises(ValueError, match="JobId"):
        ImportResponse.from_json({"StatusCode": "Error"})
