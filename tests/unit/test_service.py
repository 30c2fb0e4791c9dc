"""Whether a service can take a new task definition."""

from __future__ import annotations

import pytest

from pushdeploy.domain.errors import DeployError, ServiceNotDeployableError
from pushdeploy.domain.service import ServiceState, check_deployable
from tests.unit.builders import SERVICE_ARN


def service(status: str = "ACTIVE", controller: str = "ECS") -> ServiceState:
    return ServiceState(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/main",
        status=status,
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        deployment_controller=controller,
    )


def test_active_service_with_ecs_controller_is_deployable() -> None:
    # Given an ACTIVE service driven by the ECS controller
    # When it is checked
    # Then nothing is raised
    check_deployable(service(), "main")


def test_ecs_controller_is_the_default() -> None:
    # Given a service state built without a controller
    state = ServiceState(SERVICE_ARN, "api", "arn:aws:ecs:us-east-1:123456789012:cluster/main", "ACTIVE", "td")

    # When it is checked
    # Then it is deployable
    assert state.deployment_controller == "ECS"
    check_deployable(state, "main")


@pytest.mark.parametrize("status", ["DRAINING", "INACTIVE"])
def test_service_that_is_not_active_is_refused(status: str) -> None:
    # Given a service being deleted or deleted
    # When it is checked
    with pytest.raises(ServiceNotDeployableError) as caught:
        check_deployable(service(status=status), "main")

    # Then the error names the service, the cluster and the status, and says what to do
    assert str(caught.value) == (
        f"service api in cluster main is {status}, not ACTIVE: it is being deleted or was deleted; "
        "recreate it or point the target elsewhere"
    )
    assert caught.value.retryable is False


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
def test_service_with_another_deployment_controller_is_refused(controller: str) -> None:
    # Given an ACTIVE service driven by CodeDeploy or an external controller
    # When it is checked
    with pytest.raises(ServiceNotDeployableError) as caught:
        check_deployable(service(controller=controller), "main")

    # Then the error names the controller and the one pushdeploy supports
    message = str(caught.value)
    assert message.startswith(f"service api in cluster main uses the {controller} deployment controller; ")
    assert "pushdeploy updates services that use the ECS controller" in message
    assert isinstance(caught.value, DeployError)
    assert caught.value.retryable is False


def test_status_is_checked_before_the_controller() -> None:
    # Given a draining service with a CodeDeploy controller
    # When it is checked
    with pytest.raises(ServiceNotDeployableError) as caught:
        check_deployable(service(status="DRAINING", controller="CODE_DEPLOY"), "main")

    # Then the status is what is reported
    assert "is DRAINING, not ACTIVE" in str(caught.value)
