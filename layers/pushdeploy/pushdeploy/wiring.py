"""The composition root: AWS clients and adapters, built on first use (never at import)."""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

from pushdeploy.adapters.ecr import EcrImages
from pushdeploy.adapters.ecs import EcsServices
from pushdeploy.adapters.sns import SnsPublisher
from pushdeploy.adapters.ssm import SecretParameterCatalog, TargetConfigStore
from pushdeploy.settings import Settings
from pushdeploy.usecases.deploy import Deployer

# Standard retry mode backs off on throttling (ECS: ~1 RegisterTaskDefinition/s sustained); the timeouts keep
# a stuck call from eating the function's whole timeout.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
)


def build_deployer(settings: Settings, session: boto3.Session | None = None) -> Deployer:
    """Wire the deploy use case to AWS."""
    session = session or boto3.Session(region_name=settings.region)
    ssm = session.client("ssm", config=CLIENT_CONFIG)
    return Deployer(
        configs=TargetConfigStore(ssm, settings.config_prefix, settings.config_cache_seconds),
        ecs=EcsServices(session.client("ecs", config=CLIENT_CONFIG)),
        parameters=SecretParameterCatalog(ssm),
        images=EcrImages(session.client("ecr", config=CLIENT_CONFIG)),
        publisher=SnsPublisher(session.client("sns", config=CLIENT_CONFIG), settings.topic_arn),
        region=settings.region,
    )


@cache
def deployer() -> Deployer:
    """The function's deployer, built once per execution environment."""
    return build_deployer(Settings.from_environment())
