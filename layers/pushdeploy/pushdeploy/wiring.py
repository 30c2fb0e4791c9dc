"""The composition root: AWS clients and adapters, built on first use (never at import)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config

from pushdeploy.adapters.cloudwatch import CloudWatchAlarms
from pushdeploy.adapters.ecr import EcrImages
from pushdeploy.adapters.ecs import EcsServices
from pushdeploy.adapters.ledger import DynamoDbLedger
from pushdeploy.adapters.sns import SnsPublisher
from pushdeploy.adapters.ssm import SecretParameterCatalog, TargetConfigStore
from pushdeploy.adapters.tasks import EcsTasks
from pushdeploy.clients import PreparedClients
from pushdeploy.domain.accounts import TargetLocation
from pushdeploy.domain.report import DeployOutcome
from pushdeploy.entrypoint import DeployEntryPoint, record_metrics
from pushdeploy.services import SERVICES
from pushdeploy.settings import (
    DEFAULT_TIMER_PREFIX,
    RegistryTrust,
    Settings,
    SlackApprovalSettings,
    SlackSettings,
    TimerSettings,
    TrackerSettings,
)
from pushdeploy.usecases.announce import Announcer
from pushdeploy.usecases.deploy import BUSY_WAIT_SECONDS, Deployer
from pushdeploy.usecases.rollback import TargetOperations
from pushdeploy.usecases.targets import TargetClients, TargetClientsFactory
from pushdeploy.usecases.task_runner import TaskRunner
from pushdeploy.usecases.track import Tracker

if TYPE_CHECKING:  # each feature's modules are imported on its first use (below), never on a plain push
    import boto3
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ssm import SSMClient

    from pushdeploy.adapters.ledger_waits import DynamoDbWaitLedger
    from pushdeploy.adapters.scheduler import SchedulerTimers
    from pushdeploy.adapters.sts import RoleCredentials, WorkloadRoles
    from pushdeploy.adapters.webhook import RetryPolicy, WebhookClient
    from pushdeploy.domain.records import HistoryItem
    from pushdeploy.usecases.approvals import Approvals, SlackApprovals
    from pushdeploy.usecases.gating import GateKeeper, GateResumer
    from pushdeploy.usecases.notify import WebhookNotifier
    from pushdeploy.usecases.promotion import Promotions, SoakTimers
    from pushdeploy.usecases.tasks import TaskContinuation

# Standard retry mode backs off on throttling (ECS: ~1 RegisterTaskDefinition/s sustained) and treats
# LimitExceeded as throttling. Bounded: one call gives up after 3 attempts x (2 s connect + 5 s read) plus
# backoff (at most 1 + 2 s) = 24 s, inside usecases.steps.TARGET_TIME_BUDGET_MS (30 s), which a deploy
# must have left before each of its writes.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


Clients = Callable[..., Any]  # (service name, config=...) -> a botocore client
RegionalClients = Callable[..., Any]  # (service name, region, config, credentials) -> a botocore client


def regional_clients_of(session: boto3.Session | None) -> RegionalClients:
    """How clients in another account or Region are created: with the workload role's credentials."""

    def create(service_name: str, region: str, config: Config, credentials: RoleCredentials | None) -> Any:
        key_id, secret, token = (
            (credentials.access_key_id, credentials.secret_access_key, credentials.session_token)
            if credentials is not None
            else (None, None, None)
        )
        create_client: Callable[..., Any] = (
            session.client if session is not None else botocore.session.get_session().create_client
        )
        return create_client(
            shipped_service(service_name),
            region_name=region,
            config=config,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    return create


class WorkloadClients:
    """The "clients for target" seam: the ports of a target in a workload account (through its deploy role)
    or in another Region, built once per account and Region and rebuilt when the role's credentials are
    renewed."""

    def __init__(
        self, roles: WorkloadRoles, create: RegionalClients, *, config: Config, cache_seconds: int, seams: Seams
    ) -> None:
        self._roles = roles
        self._create = create
        self._config = config
        self._cache_seconds = cache_seconds
        self._seams = seams
        self._built: dict[tuple[str, str], tuple[RoleCredentials | None, TargetClients]] = {}

    def __call__(self, location: TargetLocation, session_name: str) -> TargetClients:
        credentials = (
            self._roles.credentials(location.account, session_name)
            if location.other_account and location.account
            else None
        )
        built = self._built.get(location.key)
        if built is not None and built[0] is credentials:
            return built[1]
        region, config = location.region, self._config

        def client(name: str, extra: Config | None = None) -> Any:
            return self._create(name, region, config.merge(extra) if extra else config, credentials)

        ecs = EcsServices(client("ecs"), register_client=client("ecs", NO_RETRIES), sleep=self._seams.sleep)
        clients = TargetClients(
            ecs=ecs,
            parameters=SecretParameterCatalog(client("ssm"), max_age=self._cache_seconds),
            control=ecs,
            alarms=CloudWatchAlarms(_OnFirstUse(lambda: client("cloudwatch"))),
        )
        self._built[location.key] = (credentials, clients)
        return clients


def clients_of(session: boto3.Session | None, region: str) -> Clients:
    """How the builders create clients: from ``session`` (tests pass moto's), else from botocore alone, as
    boto3 would (importing boto3 costs about 140 ms of a cold start: it imports s3transfer)."""
    if session is not None:
        given: Callable[..., Any] = session.client

        def create_from_session(service_name: str, *, config: Config) -> Any:
            return given(shipped_service(service_name), config=config)

        return create_from_session
    core = botocore.session.get_session()

    def create(service_name: str, *, config: Config) -> Any:
        return core.create_client(shipped_service(service_name), region_name=region, config=config)

    return create


def shipped_service(service_name: str) -> str:
    """``service_name``, if the built layer keeps its botocore model (``pushdeploy.services``); else an error that
    says so, raised wherever the client is created, in the tests first."""
    if service_name not in SERVICES:
        raise RuntimeError(
            f"no {service_name!r} client: the layer keeps botocore's models of {', '.join(sorted(SERVICES))} only; "
            "add it to pushdeploy/services.py"
        )
    return service_name


def prepared_first(client: Clients, session: boto3.Session | None, wanted: list[tuple[str, Config]]) -> Clients:
    """``client``, with the clients in ``wanted`` (in the order a request first calls them) made in the
    background while the first calls are in flight. Not with a given session: tests pass moto's, in-process."""
    if session is not None:
        return client
    prepared = PreparedClients(client)
    prepared.prepare(wanted)
    _preparing[:] = [*(other for other in _preparing if other.running), prepared]
    return prepared


_preparing: list[PreparedClients] = []  # the builds whose clients may still be being made (see forget_built)


def on_first_use[Built](build: Callable[[], Built]) -> Built:
    """What ``build`` returns, built when first used: a feature's modules (gates, promotions, timers, workload
    accounts) are imported then, so that a push to a target without the feature never loads them."""
    return cast("Built", _OnFirstUse(build))


class _OnFirstUse:
    """An object built when it is first used (an attribute is read): a client a push never needs (ECR, STS,
    Scheduler, CloudWatch: tens of milliseconds each on a cold start), or a feature's use case (``on_first_use``)."""

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._create()
        return getattr(self._client, name)


@dataclass(frozen=True)
class Seams:
    """What tests and the benchmark vary in the composition root: time, waiting, the AWS clients' settings."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    busy_wait_seconds: float = BUSY_WAIT_SECONDS
    client_config: Config = CLIENT_CONFIG
    webhook_retries: RetryPolicy | None = None  # the webhook client's own (None: its defaults)
    regional_clients: RegionalClients | None = None  # clients in workload accounts (None: from the session)


_seams = Seams()


def build_entry_point(
    settings: Settings, session: boto3.Session | None = None, seams: Seams | None = None
) -> DeployEntryPoint:
    """Wire the deploy use case (and the manual operations) to AWS."""
    seams = seams or _seams
    config = seams.client_config
    register_config = config.merge(NO_RETRIES)
    # A push calls SSM (its configs), DynamoDB (the claim), ECS, ECS's registration, then SNS.
    client = prepared_first(
        clients_of(session, settings.region),
        session,
        [("ssm", config), ("dynamodb", config), ("ecs", config), ("ecs", register_config), ("sns", config)],
    )
    ssm = client("ssm", config=config)
    dynamodb = client("dynamodb", config=config)
    configs = TargetConfigStore(ssm, settings.config_prefix, settings.config_cache_seconds)
    ecs_client = client("ecs", config=config)
    ecs = EcsServices(ecs_client, register_client=client("ecs", config=register_config), sleep=seams.sleep)
    publisher = SnsPublisher(client("sns", config=config), settings.topic_arn)
    ledger = DynamoDbLedger(dynamodb, settings.table_name)
    waits = on_first_use(lambda: wait_ledger(dynamodb, settings.table_name, seams))  # gates and promotions
    timers = build_timers(settings.timers, client, seams)
    timer_prefix = settings.timers.name_prefix if settings.timers else DEFAULT_TIMER_PREFIX
    soak = (
        on_first_use(
            lambda: soak_timers(configs=configs, ledger=waits, timers=timers, prefix=timer_prefix, seams=seams)
        )
        if timers is not None
        else None
    )
    # An ECS outcome that arrives before its deploy is recorded is handed back by the commit: the tracker's.
    tracker = Tracker(
        ledger=ledger,
        publisher=publisher,
        clock=seams.clock,
        approvals=ledger,
        stages=ecs,
        own_account=settings.account_id,
        on_completed=_completed_for(soak),
    )
    # Targets in workload accounts: STS is reached only for them (created on first use: a push to the stack's
    # own account makes no STS call, warm or cold).
    roles = on_first_use(lambda: workload_roles(settings, _OnFirstUse(lambda: client("sts", config=config)), seams))
    workload = WorkloadClients(
        roles,
        seams.regional_clients or regional_clients_of(session),
        config=config,
        cache_seconds=settings.config_cache_seconds,
        seams=seams,
    )
    # One-off tasks (beforeDeploy, afterDeploy, run-task): RunTask/StopTask, bounded by the timers.
    tasks = EcsTasks(ecs_client)
    task_runner = TaskRunner(
        ecs=tasks,
        ledger=ledger,
        timers=timers,
        timer_prefix=timer_prefix,
        announcer=Announcer(publisher, seams.clock, settings.region),
        clock=seams.clock,
        region=settings.region,
        record_result=ledger.record_result,
    )
    ecr = _OnFirstUse(lambda: client("ecr", config=config))
    deployer = Deployer(
        configs=configs,
        ecs=ecs,
        parameters=SecretParameterCatalog(ssm, max_age=settings.config_cache_seconds),
        images=EcrImages(cast("ECRClient", ecr)),
        publisher=publisher,
        ledger=ledger,
        region=settings.region,
        account=settings.account_id,
        allowed_clusters=settings.allowed_clusters,
        allowed_families=settings.allowed_families,
        notify_skipped=settings.notify_skipped,
        clock=seams.clock,
        sleep=seams.sleep,
        jitter=seams.jitter,
        busy_wait_seconds=seams.busy_wait_seconds,
        apply_early_outcome=tracker.track,
        control=ecs,
        alarms=CloudWatchAlarms(_OnFirstUse(lambda: client("cloudwatch", config=config))),
        allowed_accounts=settings.allowed_accounts,
        clients_for_target=workload,
        tasks=task_runner,
        gates=on_first_use(
            lambda: gate_keeper(
                ecr=ecr, ledger=waits, timers=timers, prefix=timer_prefix, region=settings.region, seams=seams
            )
        ),
    )
    operations = TargetOperations(
        configs=configs,
        ecs=ecs,
        publisher=publisher,
        ledger=ledger,
        allowed_clusters=settings.allowed_clusters,
        clock=seams.clock,
        apply_early_outcome=tracker.track,
        region=settings.region,
        account=settings.account_id,
        allowed_accounts=settings.allowed_accounts,
        clients_for_target=workload,
    )
    return DeployEntryPoint(
        deployer,
        operations,
        approvals=lambda: build_approvals(
            client=client,
            table_name=settings.table_name,
            config_prefix=settings.config_prefix,
            config_cache_seconds=settings.config_cache_seconds,
            seams=seams,
            workload=Workload(settings.account_id, settings.region, settings.allowed_accounts, workload),
        ),
        tasks=lambda: build_task_continuation(
            deployer=deployer,
            runner=task_runner,
            operations=operations,
            configs=configs,
            ecs=ecs,
            tasks=tasks,
            ledger=ledger,
            timers=timers,
            publisher=publisher,
            settings=settings,
            seams=seams,
        ),
        gates=on_first_use(lambda: gate_resumer(deployer, waits, timers, timer_prefix)),
        promotions=on_first_use(lambda: promotions(deployer, waits, ledger)),
    )


# The features' builders: each imports its modules when it is first used (see ``on_first_use``).


def wait_ledger(dynamodb: Any, table_name: str, seams: Seams) -> DynamoDbWaitLedger:
    """The pushes waiting for their gates and the pending promotions, in the deploy table."""
    from pushdeploy.adapters.ledger_waits import DynamoDbWaitLedger  # noqa: PLC0415

    return DynamoDbWaitLedger(dynamodb, table_name, clock=seams.clock)


def soak_timers(
    *, configs: TargetConfigStore, ledger: DynamoDbWaitLedger, timers: SchedulerTimers, prefix: str, seams: Seams
) -> SoakTimers:
    """A completed deployment's soak timers, towards the targets that promote from it."""
    from pushdeploy.usecases.promotion import SoakTimers  # noqa: PLC0415

    return SoakTimers(configs=configs, ledger=ledger, timers=timers, timer_prefix=prefix, clock=seams.clock)


def _completed_for(soak: SoakTimers | None) -> Callable[[HistoryItem, str, float], object] | None:
    """The tracker's hook on a COMPLETED deployment: the soak timers', built on the first completion."""
    if soak is None:
        return None

    def completed(item: HistoryItem, deployment_id: str, at: float) -> object:
        return soak.source_completed(item, deployment_id, at)

    return completed


def workload_roles(settings: Settings, sts: Any, seams: Seams) -> WorkloadRoles:
    """The deploy roles of workload accounts, assumed through STS (reached for other-account targets only)."""
    from pushdeploy.adapters.sts import WorkloadRoles  # noqa: PLC0415

    return WorkloadRoles(
        sts,
        role_name=settings.workload_role_name,
        external_id=settings.workload_external_id,
        caller_role=settings.function_role_arn,
        clock=seams.clock,
    )


def gate_keeper(
    *, ecr: Any, ledger: DynamoDbWaitLedger, timers: SchedulerTimers | None, prefix: str, region: str, seams: Seams
) -> GateKeeper:
    """A target's supply-chain gates: ECR's scan findings and signing statuses, and the wait for them."""
    from pushdeploy.adapters.ecr import EcrImageSignals  # noqa: PLC0415
    from pushdeploy.usecases.gating import GateKeeper  # noqa: PLC0415

    return GateKeeper(
        signals=EcrImageSignals(ecr),
        ledger=ledger,
        timers=timers,
        timer_prefix=prefix,
        region=region,
        clock=seams.clock,
    )


def gate_resumer(
    deployer: Deployer, waits: DynamoDbWaitLedger, timers: SchedulerTimers | None, prefix: str
) -> GateResumer:
    """Resumes a push waiting for its gates (a scan's completion, its wait's timer)."""
    from pushdeploy.usecases.gating import GateResumer  # noqa: PLC0415

    return GateResumer(
        deploy=lambda push: _counted(deployer.deploy(push)).reports, ledger=waits, timers=timers, timer_prefix=prefix
    )


def promotions(deployer: Deployer, waits: DynamoDbWaitLedger, history: DynamoDbLedger) -> Promotions:
    """Promotes what a target completed once its soak has passed."""
    from pushdeploy.usecases.promotion import Promotions  # noqa: PLC0415

    return Promotions(ledger=waits, history=history, deploy=lambda push: _counted(deployer.deploy(push)))


def build_task_continuation(
    *,
    deployer: Deployer,
    runner: TaskRunner,
    operations: TargetOperations,
    configs: TargetConfigStore,
    ecs: EcsServices,
    tasks: EcsTasks,
    ledger: DynamoDbLedger,
    timers: SchedulerTimers | None,
    publisher: SnsPublisher,
    settings: Settings,
    seams: Seams,
) -> TaskContinuation:
    """Wire the continuation of one-off tasks (a task's end, its timer, afterDeploy, run-task)."""
    from pushdeploy.usecases.tasks import TaskContinuation  # noqa: PLC0415 - only task events need it

    return TaskContinuation(
        deployer=deployer,
        runner=runner,
        operations=operations,
        configs=configs,
        ecs=ecs,
        tasks=tasks,
        ledger=ledger,
        task_ledger=ledger,
        find_deployment=ledger.find_deployment,
        timers=timers,
        announcer=Announcer(publisher, seams.clock, settings.region),
        clock=seams.clock,
        allowed_clusters=settings.allowed_clusters,
        account=settings.account_id,
        region=settings.region,
    )


def _counted(outcome: DeployOutcome) -> DeployOutcome:
    """A resumed or promoted deploy's outcome, its metrics recorded as a push's are."""
    record_metrics(outcome)
    return outcome


def build_timers(settings: TimerSettings | None, client: Clients, seams: Seams | None = None) -> SchedulerTimers | None:
    """The timers that wake the deploy function (None when the stack sets none); the Scheduler client is
    created on first use: most deploys set no timer."""
    if settings is None:
        return None
    config = (seams or _seams).client_config

    def build() -> SchedulerTimers:
        from pushdeploy.adapters.scheduler import SchedulerTimers  # noqa: PLC0415 - see on_first_use

        return SchedulerTimers(
            _OnFirstUse(lambda: client("scheduler", config=config)),
            target_arn=settings.function_arn,
            role_arn=settings.role_arn,
            dead_letter_arn=settings.dead_letter_arn,
        )

    return on_first_use(build)


def build_tracker(
    settings: TrackerSettings, session: boto3.Session | None = None, seams: Seams | None = None
) -> Tracker:
    """Wire the tracker to AWS."""
    seams = seams or _seams
    # An ECS event is matched to its deploy in DynamoDB, then announced on SNS.
    client = prepared_first(
        clients_of(session, settings.region), session, [("dynamodb", seams.client_config), ("sns", seams.client_config)]
    )
    dynamodb = client("dynamodb", config=seams.client_config)
    ledger = DynamoDbLedger(dynamodb, settings.table_name)
    timers = build_timers(settings.timers, client, seams)
    soak = None
    if timers is not None and settings.timers is not None and settings.config_prefix is not None:
        configs = TargetConfigStore(
            cast("SSMClient", _OnFirstUse(lambda: client("ssm", config=seams.client_config))),
            settings.config_prefix,
            max_age=30,
        )
        prefix = settings.timers.name_prefix
        table_name = settings.table_name
        soak = on_first_use(
            lambda: soak_timers(
                configs=configs,
                ledger=wait_ledger(dynamodb, table_name, seams),
                timers=timers,
                prefix=prefix,
                seams=seams,
            )
        )
    # Only a failing deployment asks ECS where it had got to: the client is made then.
    ecs = EcsServices(cast("ECSClient", _OnFirstUse(lambda: client("ecs", config=seams.client_config))))
    return Tracker(
        ledger=ledger,
        publisher=SnsPublisher(client("sns", config=seams.client_config), settings.topic_arn),
        clock=seams.clock,
        approvals=ledger,
        stages=ecs,
        own_account=settings.account_id,
        on_completed=_completed_for(soak),
    )


def now() -> float:
    """The composition root's clock (the functions judge event times by it, as the use cases do)."""
    return _seams.clock()


def reset(seams: Seams | None = None) -> None:
    """Forget every use case built so far: the next invocation builds them anew, with ``seams`` (tests and
    the benchmark vary time and clients this way; ``reset()`` puts the defaults back)."""
    global _seams  # noqa: PLW0603 - the composition root's one piece of state
    _seams = seams or Seams()
    forget_built()


def forget_built() -> None:
    """Forget every use case built so far, keeping the seams: the next invocation builds them anew. Returns once
    the clients they were making in the background are made, so that nothing of theirs runs on afterwards."""
    while _preparing:
        _preparing.pop().wait()
    for built in (entry_point, tracker, slack_notifier, slack_approvals):
        built.cache_clear()


@cache
def tracker() -> Tracker:
    """The tracker function's use case, built once per execution environment."""
    return build_tracker(TrackerSettings.from_environment())


def registry_trust() -> RegistryTrust:
    """The stack's TrustedAccounts and OrganizationId, as the deploy function's environment says (read on each
    event: a few variables, no AWS call)."""
    return RegistryTrust.from_environment()


@cache
def entry_point() -> DeployEntryPoint:
    """The function's entry point, built once per execution environment."""
    return build_entry_point(Settings.from_environment())


def build_slack_notifier(
    settings: SlackSettings,
    session: boto3.Session | None = None,
    webhook_client: WebhookClient | None = None,
    seams: Seams | None = None,
) -> WebhookNotifier:
    """Wire the Slack notifier: the webhook notifier with Slack's renderer, webhook URLs from Parameter Store,
    posted with the stdlib webhook client."""
    from pushdeploy.adapters.webhook import WebhookClient, WebhookParameters  # noqa: PLC0415
    from pushdeploy.domain.slack import SLACK  # noqa: PLC0415
    from pushdeploy.usecases.notify import WebhookNotifier  # noqa: PLC0415

    seams = seams or _seams
    client = clients_of(session, settings.region)
    webhooks = WebhookParameters(
        client("ssm", config=seams.client_config),
        settings.webhook_path,
        settings.webhook_cache_seconds,
        SLACK,
    )
    if webhook_client is None:
        webhook_client = WebhookClient(SLACK, seams.webhook_retries) if seams.webhook_retries else WebhookClient(SLACK)
    return WebhookNotifier(
        channel=SLACK,
        webhooks=webhooks,
        poster=webhook_client,
        region=settings.region,
        allow_loopback=settings.allow_loopback,
    )


@cache
def slack_notifier() -> WebhookNotifier:
    """The Slack notifier function's use case, built once per execution environment."""
    return build_slack_notifier(SlackSettings.from_environment())


def build_approvals(
    *,
    client: Clients,
    table_name: str,
    config_prefix: str,
    config_cache_seconds: int,
    seams: Seams | None = None,
    workload: Workload | None = None,
) -> Approvals:
    """Wire the approvals use case (console and Slack answers to a paused deployment); with ``workload``, a
    target in a workload account is answered there."""
    from pushdeploy.usecases.approvals import Approvals  # noqa: PLC0415 - with Slack's forms: approvals only

    seams = seams or _seams
    workload = workload or Workload()
    ledger = DynamoDbLedger(client("dynamodb", config=seams.client_config), table_name)
    return Approvals(
        configs=TargetConfigStore(client("ssm", config=seams.client_config), config_prefix, config_cache_seconds),
        ledger=ledger,
        approvals=ledger,
        control=EcsServices(client("ecs", config=seams.client_config), sleep=seams.sleep),
        clock=seams.clock,
        account=workload.account,
        region=workload.region,
        allowed_accounts=workload.allowed_accounts,
        clients_for_target=workload.clients,
    )


@dataclass(frozen=True)
class Workload:
    """Where the approvals use case may act besides the stack's own account (see ``WorkloadClients``)."""

    account: str | None = None
    region: str = ""
    allowed_accounts: tuple[str, ...] = ()
    clients: TargetClientsFactory | None = None


def build_slack_approvals(
    settings: SlackApprovalSettings,
    session: boto3.Session | None = None,
    seams: Seams | None = None,
    webhook_client: WebhookClient | None = None,
) -> SlackApprovals:
    """Wire the Slack interactivity endpoint: the signature checked with the SecureString signing secret, the
    updated message posted to the request's response_url with the stdlib webhook client."""
    from pushdeploy.adapters.signing import SigningSecretParameter  # noqa: PLC0415
    from pushdeploy.adapters.webhook import RetryPolicy, WebhookClient  # noqa: PLC0415
    from pushdeploy.domain.slack import SLACK  # noqa: PLC0415
    from pushdeploy.usecases.approvals import SlackApprovals  # noqa: PLC0415

    seams = seams or _seams
    client = clients_of(session, settings.region)
    approvals = build_approvals(
        client=client,
        table_name=settings.table_name,
        config_prefix=settings.config_prefix,
        config_cache_seconds=settings.config_cache_seconds,
        seams=seams,
    )
    if webhook_client is None:
        # Inside Slack's 3 seconds: short attempts, one quick retry.
        policy = seams.webhook_retries or RetryPolicy(timeout=1.5, base_delay=0.2, max_delay=0.5, max_attempts=2)
        webhook_client = WebhookClient(SLACK, policy, sleep=seams.sleep, jitter=seams.jitter)
    return SlackApprovals(
        approvals=approvals,
        ledger=DynamoDbLedger(client("dynamodb", config=seams.client_config), settings.table_name),
        signing_secret=SigningSecretParameter(
            client("ssm", config=seams.client_config), settings.signing_secret_parameter
        ),
        poster=webhook_client,
        clock=seams.clock,
        allow_loopback=settings.allow_loopback,
    )


@cache
def slack_approvals() -> SlackApprovals:
    """The Slack approval function's use case, built once per execution environment."""
    return build_slack_approvals(SlackApprovalSettings.from_environment())
