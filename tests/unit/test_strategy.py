"""A target's ``deployment`` and ``approval`` blocks, checked with the ECS API's rules, and the
``deploymentConfiguration`` they make over the service's own (``domain.strategy``), without AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeploy.domain.config import TargetConfig, parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.strategy import DeploymentChange, deployment_change, earliest_completion_minutes

PARAMETER = "/pushdeploy/api/prod"
# DescribeServices' deploymentConfiguration of a rolling service with the circuit breaker on and a Lambda hook.
ROLLING_SERVICE: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "alarms": {"alarmNames": [], "rollback": False, "enable": False},
    "strategy": "ROLLING",
}
LAMBDA_HOOK = {
    "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:smoke",
    "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    "targetType": "AWS_LAMBDA",
}
BALANCER = {
    "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
    "containerName": "api",
    "containerPort": 8080,
}


def target(**blocks: Any) -> TargetConfig:
    document = {"cluster": "prod", "service": "api", "tags": ["v*"], **blocks}
    return parse_target_config(PARAMETER, json.dumps(document))


def change_for(config: TargetConfig, current: dict[str, Any], **kwargs: Any) -> DeploymentChange:
    change = deployment_change(PARAMETER, config.deployment, config.approval, current, **kwargs)
    assert change is not None
    return change


# -- what ECS receives, per strategy ----------------------------------------------------------------------


def test_no_block_leaves_the_service_settings_untouched() -> None:
    # Given a target without a deployment or approval block
    config = target()
    # Then there is nothing to send: the service keeps its own settings
    assert deployment_change(PARAMETER, config.deployment, config.approval, ROLLING_SERVICE) is None


def test_rolling_single_instance_dev_service_merges_over_the_current_configuration() -> None:
    # Given a dev target that needs room to replace its only task
    config = target(deployment={"minimumHealthyPercent": 0, "maximumPercent": 100})
    # When merged over the service's configuration
    change = change_for(config, ROLLING_SERVICE)
    # Then the named fields change and every other field keeps its value
    assert change.configuration == {**ROLLING_SERVICE, "minimumHealthyPercent": 0, "maximumPercent": 100}
    assert change.strategy == "ROLLING"
    assert change.bake_minutes == 0


def test_canary_with_alarms_is_sent_with_ecs_field_names_and_its_bakes_add_up() -> None:
    # Given the canary target
    config = target(
        deployment={
            "circuitBreaker": {"enable": False},
            "alarms": {"names": ["api-prod-5xx"], "rollback": True},
            "strategy": "CANARY",
            "bakeTimeMinutes": 15,
            "canary": {"percent": 10, "bakeTimeMinutes": 5},
        }
    )
    # When merged over a rolling service
    change = change_for(config, ROLLING_SERVICE)
    # Then ECS receives the canary settings under its own names
    assert change.configuration == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "alarms": {"alarmNames": ["api-prod-5xx"], "rollback": True, "enable": True},
        "strategy": "CANARY",
        "bakeTimeInMinutes": 15,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
    }
    # And the deployment can complete 5 + 15 minutes after it starts, at the earliest
    assert change.bake_minutes == 20
    assert change.alarm_names == ("api-prod-5xx",)
    assert change.describe() == "CANARY: 10% for 5 min, then 100%; bake 15 min"


def test_linear_defaults_are_ecs_defaults_and_steps_bake_between_shifts() -> None:
    # Given a linear target naming only its step
    config = target(
        deployment={"strategy": "LINEAR", "linear": {"stepPercent": 20}, "circuitBreaker": {"enable": False}}
    )
    # When merged
    change = change_for(config, ROLLING_SERVICE)
    # Then the step bake is ECS's default (6) and five steps bake four times: 4 x 6 + 0
    assert change.configuration["linearConfiguration"] == {"stepPercent": 20.0, "stepBakeTimeInMinutes": 6}
    assert change.configuration["bakeTimeInMinutes"] == 0
    assert change.bake_minutes == 24


def test_blue_green_bake_and_switching_strategy_drops_the_old_strategy_settings() -> None:
    # Given a LINEAR service moving to BLUE_GREEN
    current = {**ROLLING_SERVICE, "deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    current |= {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}}
    config = target(deployment={"strategy": "BLUE_GREEN", "bakeTimeMinutes": 30})
    # When merged
    change = change_for(config, current)
    # Then the linear settings are gone (ECS refuses them with BLUE_GREEN) and the bake is the block's
    assert "linearConfiguration" not in change.configuration
    assert change.configuration["strategy"] == "BLUE_GREEN"
    assert change.bake_minutes == 30


def test_approval_adds_a_pause_hook_and_keeps_the_service_other_hooks() -> None:
    # Given a canary service with a Lambda hook and an earlier pushdeploy PAUSE hook at the same stage
    current = {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 0,
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10},
        "lifecycleHooks": [
            LAMBDA_HOOK,
            {"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]},
        ],
    }
    config = target(
        approval={"stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "timeoutMinutes": 120, "approvers": ["U0123ABCD"]}
    )
    # When merged
    change = change_for(config, current)
    # Then the Lambda hook stays, the PAUSE hook at that stage is replaced by the approval's
    assert change.configuration["lifecycleHooks"] == [
        LAMBDA_HOOK,
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 120, "action": "ROLLBACK"},
        },
    ]
    assert change.notification_fields()["approval"] == {
        "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "timeoutMinutes": 120,
        "onTimeout": "ROLLBACK",
        "approvers": ["U0123ABCD"],
    }


def test_load_balanced_canary_needs_advanced_configuration() -> None:
    # Given a load-balanced service without the alternate target group and listener rule
    config = target(deployment={"strategy": "CANARY", "circuitBreaker": {"enable": False}})
    # When merged, Then the target is refused naming what is missing
    with pytest.raises(ConfigError) as raised:
        change_for(config, ROLLING_SERVICE, load_balancers=[BALANCER])
    assert "loadBalancers[0]" in str(raised.value)
    assert '"alternateTargetGroupArn", "productionListenerRule", "roleArn"' in str(raised.value)
    # And with them, it is accepted
    advanced = {
        "alternateTargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
        "productionListenerRule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/3",
        "roleArn": "arn:aws:iam::123456789012:role/ecs-elb",
    }
    change_for(config, ROLLING_SERVICE, load_balancers=[{**BALANCER, "advancedConfiguration": advanced}])


def test_inherited_circuit_breaker_with_another_strategy_is_refused() -> None:
    # Given a rolling service with its circuit breaker on, moving to CANARY without saying what of the breaker
    config = target(deployment={"strategy": "CANARY"})
    # Then the target is told how to proceed
    with pytest.raises(ConfigError, match=r"circuit breaker on.*ROLLING strategy only.*enable"):
        change_for(config, ROLLING_SERVICE)


def test_approval_on_a_rolling_service_is_refused() -> None:
    # Given an approval on a target whose service deploys ROLLING
    config = target(approval={"stage": "POST_SCALE_UP"})
    # Then it is refused naming the strategy
    with pytest.raises(ConfigError, match=r"ROLLING strategy.*BLUE_GREEN, LINEAR, CANARY deployments only"):
        change_for(config, ROLLING_SERVICE)


# -- every validation error, before any AWS call ----------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ({"deployment": []}, "field 'deployment' must be an object, got an array"),
        ({"deployment": {"strategy": "SIDEWAYS"}}, "field 'deployment.strategy' must be one of ROLLING, BLUE_GREEN"),
        ({"deployment": {"minimumHealthyPercent": -1}}, "'deployment.minimumHealthyPercent' must be from 0 to 100"),
        ({"deployment": {"minimumHealthyPercent": 50.5}}, "must be a whole number from 0 to 100, got 50.5"),
        ({"deployment": {"maximumPercent": 99}}, "'deployment.maximumPercent' must be from 100 to 2000"),
        ({"deployment": {"strategy": "CANARY", "maximumPercent": 300}}, "must be from 100 to 200"),
        ({"deployment": {"bakeTimeMinutes": 1441}}, "'deployment.bakeTimeMinutes' must be from 0 to 1440"),
        ({"deployment": {"strategy": "BLUE_GREEN"}}, "'deployment.bakeTimeMinutes' is required for the BLUE_GREEN"),
        (
            {"deployment": {"strategy": "LINEAR", "circuitBreaker": {"enable": True}}},
            "'deployment.circuitBreaker' applies to the ROLLING strategy only, not LINEAR",
        ),
        ({"deployment": {"circuitBreaker": {"enable": "yes"}}}, "'deployment.circuitBreaker.enable' must be true or"),
        ({"deployment": {"strategy": "CANARY", "linear": {}}}, "'deployment.linear' applies to the LINEAR strategy"),
        ({"deployment": {"strategy": "LINEAR", "canary": {}}}, "'deployment.canary' applies to the CANARY strategy"),
        ({"deployment": {"linear": {"stepPercent": 2.9}}}, "'deployment.linear.stepPercent' must be from 3.0 to 100.0"),
        ({"deployment": {"linear": {"stepPercent": 3.05}}}, "must be a multiple of 0.1 (3.0-100.0)"),
        ({"deployment": {"canary": {"percent": 0.05}}}, "'deployment.canary.percent' must be from 0.1 to 100.0"),
        ({"deployment": {"canary": {"bakeTimeMinutes": 2000}}}, "'deployment.canary.bakeTimeMinutes' must be from 0"),
        (
            {"deployment": {"linear": {"stepBakeTimeMinutes": -1}}},
            "'deployment.linear.stepBakeTimeMinutes' must be from 0 to 1440",
        ),
        ({"deployment": {"alarms": {"names": []}}}, "'deployment.alarms.names' must list at least one"),
        ({"deployment": {"alarms": {"names": ["a", "a"]}}}, "lists the same alarm twice"),
        ({"deployment": {"bake": 1}}, "unknown field \"deployment.bake\"; 'deployment' takes alarms, bakeTimeMinutes"),
        ({"approval": {"stage": "SOMEWHERE"}}, "'approval.stage' must be one of RECONCILE_SERVICE"),
        ({"approval": {"stage": "TEST_TRAFFIC_SHIFT"}}, "ECS runs no PAUSE hook at TEST_TRAFFIC_SHIFT"),
        ({"approval": {"stage": "PRODUCTION_TRAFFIC_SHIFT"}}, "ECS runs no PAUSE hook at PRODUCTION_TRAFFIC_SHIFT"),
        (
            {"deployment": {"strategy": "ROLLING"}, "approval": {"stage": "POST_SCALE_UP"}},
            "deploys with the ROLLING strategy, and ECS runs lifecycle hooks",
        ),
        ({"approval": {"stage": "POST_SCALE_UP", "timeoutMinutes": 0}}, "'approval.timeoutMinutes' must be from 1 to"),
        ({"approval": {"stage": "POST_SCALE_UP", "onTimeout": "WAIT"}}, "'approval.onTimeout' must be ROLLBACK or"),
        ({"approval": {"stage": "POST_SCALE_UP", "approvers": ["alice"]}}, "'approval.approvers[0]' must be a Slack"),
    ],
)
def test_every_validation_error_names_the_field_and_the_allowed_range(blocks: dict[str, Any], message: str) -> None:
    # Given a target with a block ECS would refuse, When it is parsed, Then the message names field and range
    with pytest.raises(ConfigError) as raised:
        target(**blocks)
    assert message in str(raised.value)
    assert PARAMETER in str(raised.value)


def test_earliest_completion_of_a_rolling_deployment_counts_no_bake() -> None:
    # Given a rolling configuration that carries a bake time from an earlier strategy, Then no bake counts
    assert earliest_completion_minutes({"strategy": "ROLLING", "bakeTimeInMinutes": 30}) == 0
