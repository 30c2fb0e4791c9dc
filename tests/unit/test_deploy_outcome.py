"""DeployOutcome: one push's status across its targets, and when the invocation must fail to be retried."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pushdeploy.domain.errors import DeployError
from pushdeploy.domain.report import TargetReport
from pushdeploy.usecases.deploy import DeployIncompleteError, DeployOutcome
from tests.unit.builders import DIGEST, deploying_report, failed_report, image_push, skipped_report


@pytest.mark.parametrize(
    ("reports", "status"),
    [
        ([], "SKIPPED"),
        ([skipped_report()], "SKIPPED"),
        ([skipped_report(), deploying_report()], "DEPLOYING"),
        ([deploying_report(), deploying_report(target="qa")], "DEPLOYING"),
        ([deploying_report(), failed_report(target="qa")], "FAILED"),
        ([skipped_report(), failed_report()], "FAILED"),
        ([failed_report(), deploying_report(target="qa"), skipped_report()], "FAILED"),
    ],
)
def test_status_is_the_worst_of_the_targets(reports: list[TargetReport], status: str) -> None:
    # Given the reports of a push's targets
    outcome = DeployOutcome(image_push(), list(reports))

    # When the outcome's status is read
    # Then FAILED beats DEPLOYING beats SKIPPED
    assert outcome.status == status


def test_result_summarises_the_push_and_each_target() -> None:
    # Given one deploy and one skip
    outcome = DeployOutcome(image_push(), [deploying_report(), skipped_report()])

    # When the invocation's result is built
    result = outcome.as_result()

    # Then it names the image and lists both targets
    assert result["status"] == "DEPLOYING"
    assert (result["repository"], result["tag"], result["digest"]) == ("api", "staging-42", DIGEST)
    assert [target["target"] for target in result["targets"]] == ["staging", "prod"]
    assert "notificationErrors" not in result
    assert "reason" not in result


def test_result_without_a_push_gives_the_reason() -> None:
    # Given an outcome with no push (nothing to deploy)
    outcome = DeployOutcome(None, reason="no target config for repository api")

    # When the invocation's result is built
    # Then it says why
    assert outcome.as_result() == {"status": "SKIPPED", "reason": "no target config for repository api", "targets": []}


@pytest.mark.parametrize(
    "reports",
    [
        [],
        [deploying_report(), skipped_report()],
        [failed_report(reason="service api in cluster main is DRAINING, not ACTIVE", retryable=False)],
    ],
)
def test_permanent_failures_and_successes_are_not_retried(reports: list[TargetReport]) -> None:
    # Given targets that deployed, were skipped or failed for a reason a retry cannot fix
    outcome = DeployOutcome(image_push(), list(reports))

    # When asked to raise if a retry may help
    # Then nothing is raised
    outcome.raise_if_retryable()


def test_retryable_flag_on_a_target_that_did_not_fail_is_ignored() -> None:
    # Given a deploying report that (oddly) says retryable
    outcome = DeployOutcome(image_push(), [replace(deploying_report(), retryable=True)])

    # When asked to raise if a retry may help
    # Then nothing is raised
    outcome.raise_if_retryable()


def test_retryable_failure_fails_the_invocation() -> None:
    # Given one target failed for throttling and another for good
    outcome = DeployOutcome(
        image_push(),
        [
            failed_report(
                target="staging", reason="UpdateService failed: ThrottlingException: slow down", retryable=True
            ),
            failed_report(target="qa", reason="service api in cluster main is INACTIVE, not ACTIVE"),
            deploying_report(target="demo"),
        ],
    )

    # When asked to raise if a retry may help
    with pytest.raises(DeployIncompleteError) as caught:
        outcome.raise_if_retryable()

    # Then the error lists only the retryable failure, and is itself retryable
    assert str(caught.value) == (
        "deploy incomplete, to be retried: staging: UpdateService failed: ThrottlingException: slow down"
    )
    assert caught.value.retryable is True
    assert isinstance(caught.value, DeployError)


def test_lost_notification_fails_the_invocation() -> None:
    # Given every target deployed but one notification was not published
    outcome = DeployOutcome(
        image_push(),
        [
            replace(
                deploying_report(), notification_error="notification not published: Publish failed: InternalError: oops"
            )
        ],
    )

    # When asked to raise if a retry may help
    with pytest.raises(DeployIncompleteError) as caught:
        outcome.raise_if_retryable()

    # Then the error carries the notification problem
    assert str(caught.value) == (
        "deploy incomplete, to be retried: staging: notification not published: Publish failed: InternalError: oops"
    )


def test_retryable_failures_and_lost_notifications_are_listed_together() -> None:
    # Given a retryable failure and a lost notification
    outcome = DeployOutcome(
        image_push(),
        [
            replace(
                failed_report(target="qa", reason="timeout", retryable=True),
                notification_error="notification not published",
            )
        ],
    )

    # When asked to raise if a retry may help
    with pytest.raises(DeployIncompleteError) as caught:
        outcome.raise_if_retryable()

    # Then both are listed, failures first
    assert str(caught.value) == "deploy incomplete, to be retried: qa: timeout; qa: notification not published"
    # And the result reports the lost notification too
    assert outcome.as_result()["notificationErrors"] == ["qa: notification not published"]
