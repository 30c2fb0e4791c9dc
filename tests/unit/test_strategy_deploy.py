"""A target's deployment settings through the Deployer over in-memory ports: the UpdateService carries the
merged ``deploymentConfiguration``, the DEPLOYING notification names the strategy and the earliest completion,
the dry run shows what would be sent, and an alarm that does not exist fails the target before any write."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pushdeploy.domain.push import ImagePush
from pushdeploy.domain.report import DeployStatus
from pushdeploy.domain.service import ServiceDeploymentState, ServiceState
from pushdeploy.domain.times import parse_time
from pushdeploy.usecases.deploy import Deployer
from tests.fakes import FakeConfigs, FakeEcs, FakeImages, FakeParameters, FakePublisher, InMemoryLedger
from tests.unit.builders import ACCOUNT, PARAMETER, REGION, SERVICE_ARN, described_task_definition, image_push

NOW = parse_time("2026-11-20T10:15:35Z")
CURRENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:7"
CANARY = {
    "cluster": "main",
    "service": "api",
    "tags": ["staging-*"],
    "deployment": {
        "circuitBreaker": {"enable": False},
        "alarms": {"names": ["api-prod-5xx"], "rollback": True},
        "strategy": "CANARY",
        "bakeTimeMinutes": 15,
        "canary": {"percent": 10, "bakeTimeMinutes": 5},
    },
    "approval": {"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "timeoutMinutes": 120, "approvers": ["U0123ABCD"]},
}


@dataclass
class ControlledEcs(FakeEcs):
    """FakeEcs with the DeploymentControl port: an update with a configuration is recorded as
    ``("update-configured", cluster, service, arn, configuration)``."""

    paused: dict[str, ServiceDeploymentState] = field(default_factory=dict)

    def update_service_configured(
        self, cluster: str, service: str, task_definition_arn: str, deployment_configuration: Mapping[str, Any]
    ) -> str | None:
        self.calls.append(
            ("update-configured", cluster, service, task_definition_arn, copy.deepcopy(dict(deployment_configuration)))
        )
        deployment_id = self._start_deployment()
        self.service = replace(
            self.service, task_definition_arn=task_definition_arn, primary_deployment_id=deployment_id
        )
        return deployment_id

    def describe_service_deployment(self, service_deployment_arn: str) -> ServiceDeploymentState | None:
        return self.paused.get(service_deployment_arn)

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> None:
        self.calls.append(("continue", service_deployment_arn, hook_id, action))


@dataclass
class Alarms:
    existing: set[str]
    asked: list[list[str]] = field(default_factory=list)

    def missing_alarms(self, names: Iterable[str]) -> list[str]:
        wanted = list(names)
        self.asked.append(wanted)
        return [name for name in wanted if name not in self.existing]


def deployer(config: Mapping[str, Any], alarms: Alarms) -> tuple[Deployer, ControlledEcs, FakePublisher]:
    service = ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/main",
        status="ACTIVE",
        task_definition_arn=CURRENT,
        circuit_breaker=True,
        deployment_configuration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "strategy": "ROLLING",
        },
    )
    ecs = ControlledEcs(service)
    ecs.add_task_definition(*described_task_definition())
    publisher = FakePublisher()
    built = Deployer(
        configs=FakeConfigs({PARAMETER: json.dumps(config)}),
        ecs=ecs,
        parameters=FakeParameters(),
        images=FakeImages(),
        publisher=publisher,
        ledger=InMemoryLedger(),
        region=REGION,
        clock=lambda: NOW,
        control=ecs,
        alarms=alarms,
    )
    return built, ecs, publisher


def pushed(*, dry_run: bool = False) -> ImagePush:
    return replace(image_push(), pushed_at=NOW - 5, dry_run=dry_run)


def test_canary_update_sends_the_merged_configuration_and_announces_strategy_and_earliest_completion() -> None:
    # Given a canary target with an approval, its alarm existing
    alarms = Alarms({"api-prod-5xx"})
    built, ecs, publisher = deployer(CANARY, alarms)
    # When a push deploys it
    outcome = built.deploy(pushed(), remaining_ms=lambda: 600_000)
    # Then the alarm was checked, and the UpdateService carried the configuration with the PAUSE hook
    assert alarms.asked == [["api-prod-5xx"]]
    assert ecs.call_names == ["register", "update-configured"]
    sent = ecs.calls[1][4]
    assert sent["strategy"] == "CANARY"
    assert sent["deploymentCircuitBreaker"] == {"enable": False, "rollback": True}
    assert sent["lifecycleHooks"] == [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 120, "action": "ROLLBACK"},
        }
    ]
    # And DEPLOYING names the strategy, the bakes added up and the approval
    assert outcome.reports[0].status is DeployStatus.DEPLOYING
    message = publisher.published[0].message
    assert message["strategy"] == "CANARY"
    assert message["earliestCompletionMinutes"] == 20
    assert message["approval"]["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"


def test_dry_run_shows_the_configuration_it_would_send() -> None:
    # Given the canary target
    built, ecs, publisher = deployer(CANARY, Alarms({"api-prod-5xx"}))
    # When dry-run
    outcome = built.deploy(pushed(dry_run=True), remaining_ms=lambda: 600_000)
    # Then the plan's update step names the strategy, and the report carries the configuration; nothing is sent
    result = outcome.as_result()["targets"][0]
    update = next(step for step in result["steps"] if step["step"] == "update-service")
    assert "CANARY: 10% for 5 min, then 100%; bake 15 min; paused for approval" in update["description"]
    assert result["deploymentConfiguration"]["canaryConfiguration"] == {
        "canaryPercent": 10.0,
        "canaryBakeTimeInMinutes": 5,
    }
    assert ecs.calls == [] and publisher.published == []


def test_an_alarm_that_does_not_exist_fails_the_target_before_any_write() -> None:
    # Given a canary target whose alarm is not in CloudWatch
    built, ecs, publisher = deployer(CANARY, Alarms(set()))
    # When a push deploys it
    outcome = built.deploy(pushed(), remaining_ms=lambda: 600_000)
    # Then it fails naming the field and the alarm, and nothing was registered or updated
    report = outcome.reports[0]
    assert report.status is DeployStatus.FAILED
    assert report.code == "config"
    assert "'deployment.alarms.names': no CloudWatch alarm named \"api-prod-5xx\"" in str(report.reason)
    assert ecs.calls == []
    assert publisher.statuses == ["FAILED"]


def test_a_target_without_blocks_updates_the_service_as_before() -> None:
    # Given a target without deployment settings
    built, ecs, _ = deployer({"cluster": "main", "service": "api", "tags": ["staging-*"]}, Alarms(set()))
    # When a push deploys it, Then the plain UpdateService is sent (the service's settings untouched)
    built.deploy(pushed(), remaining_ms=lambda: 600_000)
    assert ecs.call_names == ["register", "update"]
