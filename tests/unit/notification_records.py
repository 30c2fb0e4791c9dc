"""Notification records of every status, built by the same domain code that publishes them; shared by the
notifier's tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pushdeploy.domain.gates import GateSettings, ScanFindings, ScanGate, judge_gates
from pushdeploy.domain.messages import render_notification
from pushdeploy.domain.outcome import HookEvent, Outcome, render_awaiting, render_outcome
from pushdeploy.domain.push import Trigger
from pushdeploy.domain.report import DeployStatus
from pushdeploy.domain.taskdef import Change
from pushdeploy.domain.times import parse_time
from tests.helpers import notification_schema
from tests.unit.builders import ACCOUNT, REGION, deploying_report, image_push, skipped_report

LAYER = Path(__file__).resolve().parents[2] / "layers" / "pushdeploy"
PUBLISHED = "2026-11-20T10:15:31+00:00"
FINISHED = "2026-11-20T10:17:36+00:00"
SECRET_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/staging/DATABASE_URL"
ROTATED_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/staging/DATABASE_URL_V2"
WEBHOOK = "https://hooks.slack.com/services/T0PUSHDPL/B0DEFAULT/Xy9TokenThatIsSecret"
TEAM_A_WEBHOOK = "https://hooks.slack.com/services/T0PUSHDPL/B0TEAMAAA/TeamATokenThatIsSecret"
PATH = "/pushdeploy-slack"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: task failed to start."


# --- Records for every status, built by the same domain code that publishes them ----------------------------


def deploying_record(trigger: Trigger = Trigger.PUSH, requested_by: str | None = None) -> dict[str, Any]:
    """A DEPLOYING record with an image, an environment and a secret change, and a warning."""
    push = replace(image_push(trigger=trigger), requested_by=requested_by)
    report = replace(
        deploying_report(push),
        changes=(
            *deploying_report(push).changes,
            Change("app", "secret", "DATABASE_URL", SECRET_ARN, ROTATED_ARN),
            Change("app", "secret", "STRIPE_KEY", None, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/api/STRIPE_KEY"),
        ),
        warnings=("secretsPath /api/staging/env holds no parameters",),
    )
    return render_notification(report, time=PUBLISHED).message


APPROVAL = {
    "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "timeoutMinutes": 120,
    "onTimeout": "ROLLBACK",
    "approvers": ["U0123ABCD"],
}
SERVICE_DEPLOYMENT_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/staging/api/Abc123xyZ_7890"


def canary_record() -> dict[str, Any]:
    """A DEPLOYING record of a canary target with an approval (what domain.strategy adds to it)."""
    report = replace(
        deploying_report(),
        extra={"strategy": "CANARY", "earliestCompletionMinutes": 20, "approval": dict(APPROVAL)},
    )
    return render_notification(report, time=PUBLISHED).message


def waiting_record() -> dict[str, Any]:
    """The WAITING record of a push whose scan findings are not ready yet (what domain.gates adds to it)."""
    verdict = judge_gates(
        GateSettings(scan=ScanGate("HIGH", 30)),
        digest="sha256:" + "4f" * 32,
        scan=ScanFindings("IN_PROGRESS"),
        signing=None,
        findings_url=f"https://{REGION}.console.aws.amazon.com/ecr/repositories/private/{ACCOUNT}/api/_/image/x/details",
    )
    report = replace(
        deploying_report(),
        status=DeployStatus.WAITING,
        task_definition_arn=None,
        deployment_id=None,
        changes=(),
        code="gate-wait",
        reason=f"waiting for {verdict.waiting_for} until 2026-11-20T10:45:31Z (then it fails): {verdict.reason}",
        extra=verdict.notification_fields(deadline="2026-11-20T10:45:31Z"),
    )
    return render_notification(report, time=PUBLISHED).message


def awaiting_record() -> dict[str, Any]:
    """The AWAITING_APPROVAL record of the canary deploy, paused before its first shift."""
    pause = HookEvent(
        "HOOK_AWAITING_ACTION",
        "arn:aws:ecs:us-east-1:123456789012:service/staging/api",
        SERVICE_DEPLOYMENT_ARN,
        "pre_production_traffic_shift-0-5",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        parse_time("2026-11-20T12:16:00Z"),
        parse_time("2026-11-20T10:16:00Z"),
    )
    return render_awaiting(canary_record(), pause, time=FINISHED).message


def records() -> dict[str, dict[str, Any]]:
    """One record of each status, as the deploy and track functions publish them."""
    started = deploying_record()
    return {
        "DEPLOYING": started,
        "COMPLETED": render_outcome(
            started, Outcome.COMPLETED, reason=None, duration_seconds=125.3, time=FINISHED
        ).message,
        "FAILED": render_outcome(
            started, Outcome.FAILED, reason=CIRCUIT_BREAKER, duration_seconds=310.0, time=FINISHED
        ).message,
        "ROLLED_BACK": render_outcome(
            started,
            Outcome.ROLLED_BACK,
            reason=f"ECS rolled the deployment back (deployment ecs-svc/99): {CIRCUIT_BREAKER}",
            duration_seconds=3725.0,
            time=FINISHED,
        ).message,
        "RETRYING": render_notification(
            replace(
                deploying_report(),
                status=DeployStatus.RETRYING,
                deployment_id=None,
                code="unknown",
                reason="ecs:UpdateService failed: ReadTimeoutError: Read timeout; whether the service was updated "
                "is unknown: being retried",
            ),
            time=PUBLISHED,
        ).message,
        "SKIPPED": render_notification(
            skipped_report(replace(image_push(trigger=Trigger.MANUAL), requested_by="alice@example.com")),
            time=PUBLISHED,
        ).message,
        "AWAITING_APPROVAL": awaiting_record(),
        "PREPARING": preparing_record(),
        "WAITING": waiting_record(),
    }


def preparing_record() -> dict[str, Any]:
    """The PREPARING record of a deploy whose beforeDeploy migration started on the registered revision."""
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/staging/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    report = replace(
        deploying_report(),
        status=DeployStatus.PREPARING,
        deployment_id=None,
        code="beforeDeploy",
        reason=f"beforeDeploy[0] (python manage.py migrate) started in container api ({task_arn}); the service is "
        "updated once it exits with code 0, or stopped and reported FAILED after 15 min",
        extra={
            "task": {
                "phase": "beforeDeploy",
                "index": 0,
                "taskArn": task_arn,
                "container": "api",
                "command": ["python", "manage.py", "migrate"],
                "timeoutMinutes": 15,
                "logs": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
                "log-group/$252Fecs$252Fapi-staging/log-events/api$252Fapi$252F0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            }
        },
    )
    return render_notification(report, time=PUBLISHED).message


def published_record(status: str) -> dict[str, Any]:
    """The record of ``status``, checked against the published schema (every record the tests use is valid)."""
    built = records()[status]
    notification_schema().validate(built)
    return built
