"""Every AWS call of a deploy can fail: nothing silent, nothing half-done.

A fault proxy between the handler and the local AWS fails chosen calls. A passing fault is absorbed by
botocore's retries; a lasting one ends either deployed, or with a FAILED notification naming the call (and,
for an event, the event in the on-failure queue), and the deploy run again once the fault is lifted finishes
without a second revision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pushdeploy import wiring
from pushdeploy.adapters.errors import error_code
from pushdeploy.usecases import deploy, steps
from tests.helpers import Received, load_event
from tests.resilience.conftest import Rig
from tools.faultproxy import (
    ACCESS_DENIED,
    DISCONNECT,
    INTERNAL_ERROR,
    LOST_RESPONSE,
    SERVICE_UNAVAILABLE,
    THROTTLING,
    Fault,
    FaultProxy,
    error,
    timeout,
)
from tools.localaws import Invocation, LocalAws
from tools.template import load_template

pytestmark = pytest.mark.e2e

FAMILY = "api-staging"  # the task-definition family of the staging target, which both sample requests deploy
CLUSTER = "staging"
TEMPLATE = load_template()
DEPLOY_FUNCTION = TEMPLATE["Resources"]["DeployFunction"]["Properties"]
MAX_RETRIES = int(DEPLOY_FUNCTION["EventInvokeConfig"]["MaximumRetryAttempts"])
FUNCTION_TIMEOUT = int(DEPLOY_FUNCTION.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))


# -- the proxy's faults, as botocore sees them -----------------------------------------------------------

PROBES: dict[str, tuple[str, Callable[[Any], object]]] = {
    # service: (operation, a call of it) - one service per protocol: JSON 1.1, JSON 1.0, query
    "ecs": ("ListClusters", lambda client: client.list_clusters()),
    "dynamodb": ("ListTables", lambda client: client.list_tables()),
    "sns": ("ListTopics", lambda client: client.list_topics()),
}
SHAPED = [
    # fault, the error code botocore reports (JSON protocols; query), whether standard mode retries it
    pytest.param(THROTTLING, ("ThrottlingException", "Throttling"), True, id="throttling"),
    pytest.param(INTERNAL_ERROR, ("InternalFailure", "InternalFailure"), True, id="500"),
    pytest.param(SERVICE_UNAVAILABLE, ("ServiceUnavailable", "ServiceUnavailable"), True, id="503"),
    pytest.param(ACCESS_DENIED, ("AccessDeniedException", "AccessDenied"), False, id="access-denied"),
    pytest.param(
        error("ClientException", 400, "Too many concurrent attempts"), ("ClientException",) * 2, False, id="custom"
    ),
    pytest.param(DISCONNECT, ("ConnectionClosedError",) * 2, True, id="disconnect"),
    pytest.param(timeout(1.0), ("ReadTimeoutError",) * 2, True, id="timeout"),
]


@pytest.mark.parametrize("service", sorted(PROBES))
@pytest.mark.parametrize(("fault", "codes", "retried"), SHAPED)
def test_each_fault_reaches_botocore_as_the_real_error(
    local: LocalAws, service: str, fault: Fault, codes: tuple[str, str], retried: bool
) -> None:
    # Given a client of the service through the proxy, two attempts per call, a short read timeout
    operation, call = PROBES[service]
    with FaultProxy(local.endpoint) as proxy:
        client = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=proxy.endpoint,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 2}, read_timeout=0.5),
        )
        proxy.fail(service, operation, times=None, error=fault)

        # When the call is made
        with pytest.raises((ClientError, BotoCoreError)) as raised:
            call(client)

    # Then botocore reports the error the real service would, and retries it if it is a passing one
    reported = error_code(raised.value) if isinstance(raised.value, ClientError) else type(raised.value).__name__
    assert reported == codes[service == "sns"]
    assert proxy.calls == [(service, operation)] * (2 if retried else 1)


# -- the two kinds of deploy, and the calls each makes ---------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """A kind of deploy: the request that starts it, the digest it deploys, and how Lambda runs it."""

    name: str
    event_file: str
    digest: Callable[[Rig, dict[str, Any]], str]
    # A push arrives through the rule (asynchronous: Lambda's retries, then the on-failure destination); a
    # manual deploy is invoked from the console (synchronous: the caller gets the error, and retries by hand).
    asynchronous: bool

    def run(self, rig: Rig, event: dict[str, Any]) -> Invocation:
        return rig.run(event)

    def __str__(self) -> str:
        return self.name


PUSH = Flow("push", "ecr-push.json", lambda rig, event: str(event["detail"]["image-digest"]), asynchronous=True)
MANUAL = Flow("manual", "manual-deploy.json", lambda rig, event: rig.world.image_digests[event["tag"]], False)


@dataclass(frozen=True)
class CallSite:
    """One AWS call of a deploy, and the flows that make it."""

    service: str
    operation: str
    flows: tuple[Flow, ...] = (PUSH, MANUAL)

    @property
    def name(self) -> str:
        """As the product names the call in its reasons: ``ecs:UpdateService``."""
        return f"{self.service}:{self.operation}"

    def __str__(self) -> str:
        return self.name


# In the order a deploy makes them.
IMAGE_LOOKUP = CallSite("ecr", "DescribeImages", (MANUAL,))  # the digest behind the requested tag
CONFIG_READ = CallSite("ssm", "GetParametersByPath")  # the repository's target configs
LEDGER_CLAIM = CallSite("dynamodb", "UpdateItem")  # the first UpdateItem of either flow
DESCRIBE_SERVICE = CallSite("ecs", "DescribeServices")
DESCRIBE_TASK_DEFINITION = CallSite("ecs", "DescribeTaskDefinition")
SECRET_CHECK = CallSite("ssm", "DescribeParameters")  # secretsPath listing, then the secrets' existence
REGISTER = CallSite("ecs", "RegisterTaskDefinition")
UPDATE_SERVICE = CallSite("ecs", "UpdateService")
PUBLISH = CallSite("sns", "Publish")
LEDGER_COMMIT = CallSite("dynamodb", "TransactWriteItems")  # deployed record + history item
CALL_SITES = (
    IMAGE_LOOKUP,
    CONFIG_READ,
    LEDGER_CLAIM,
    DESCRIBE_SERVICE,
    DESCRIBE_TASK_DEFINITION,
    SECRET_CHECK,
    REGISTER,
    UPDATE_SERVICE,
    PUBLISH,
    LEDGER_COMMIT,
)
WRITES = (LEDGER_CLAIM, REGISTER, UPDATE_SERVICE, PUBLISH, LEDGER_COMMIT)
# A passing fault is botocore's business, the same whichever flow makes the call: each call site once, in a
# flow that makes it.
PASSING_CASES = [pytest.param(site.flows[0], site, id=f"{site.flows[0]}-{site}") for site in CALL_SITES]

# A lasting fault: every call site of a push; the manual deploy's own call, and the calls whose failure
# leaves something for the next run to finish (a manual deploy is run again by hand, as another request).
MANUAL_LASTING = (IMAGE_LOOKUP, LEDGER_CLAIM, UPDATE_SERVICE, PUBLISH, LEDGER_COMMIT)


LASTING_CASES = [
    pytest.param(flow, site, id=f"{flow}-{site}")
    for site in CALL_SITES
    for flow in site.flows
    if flow is PUSH or site in MANUAL_LASTING
]


# -- reading the world back (straight from the server) ---------------------------------------------------


def revisions(rig: Rig) -> list[str]:
    """The ACTIVE revisions of the staging family, oldest first."""
    arns: list[str] = []
    for page in rig.shared.ecs.get_paginator("list_task_definitions").paginate(familyPrefix=FAMILY):
        arns.extend(arn for arn in page["taskDefinitionArns"] if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == FAMILY)
    return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[-1]))


def running(rig: Rig) -> str:
    """The revision the staging service runs."""
    [service] = rig.shared.ecs.describe_services(cluster=CLUSTER, services=["api"])["services"]
    return service["taskDefinition"]


def runs_digest(rig: Rig, digest: str) -> bool:
    """Whether the staging service's api container runs ``digest``."""
    definition = rig.shared.ecs.describe_task_definition(taskDefinition=running(rig))["taskDefinition"]
    [api] = [item for item in definition["containerDefinitions"] if item["name"] == "api"]
    return api["image"].endswith("@" + digest)


def failure_records(rig: Rig) -> list[dict[str, Any]]:
    """The on-failure destination's records (Lambda's invocation records), removed from the queue."""
    sqs, url = rig.shared.sqs, str(rig.function.on_failure_queue)
    records: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            records.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def by_status(received: list[Received], status: str) -> list[dict[str, Any]]:
    return [item.message for item in received if item.message["status"] == status]


def client_attempts(config: Config) -> int:
    """How many times botocore sends one call: ``retries.max_attempts`` counts the retries after the first
    (``total_max_attempts`` would count them all)."""
    retries = cast(dict[str, Any], getattr(config, "retries", None) or {})
    return int(retries.get("total_max_attempts") or retries.get("max_attempts", 2) + 1)


@pytest.fixture
def short_client_timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """The handler's clients with a 1.5 s read timeout (10 s in production), so that a timeout is quick (yet
    no slow answer of a busy moto is taken for one)."""
    read_timeout = 1.5
    wiring.reset(wiring.Seams(client_config=wiring.CLIENT_CONFIG.merge(Config(read_timeout=read_timeout))))
    yield read_timeout
    wiring.reset()


# -- a passing fault -------------------------------------------------------------------------------------


def assert_deployed_once(
    rig: Rig, flow: Flow, event: dict[str, Any], invocation: Invocation, before: list[str]
) -> None:
    """One Lambda attempt deployed the request: one new revision, running, and one DEPLOYING notification."""
    assert (invocation.attempts, invocation.error) == (1, None)
    assert invocation.result["status"] == "DEPLOYING"
    added = [arn for arn in revisions(rig) if arn not in before]
    assert len(added) == 1, f"revisions registered: {added}"
    assert running(rig) == added[0]
    assert runs_digest(rig, flow.digest(rig, event))
    notices = [(item.message["status"], item.message["taskDefinitionArn"]) for item in rig.inbox.receive()]
    assert notices == [("DEPLOYING", added[0])], f"notifications: {notices}"
    assert failure_records(rig) == []


@pytest.mark.parametrize("fault", [THROTTLING, INTERNAL_ERROR], ids=["throttling", "500"])
@pytest.mark.parametrize(("flow", "site"), PASSING_CASES)
def test_a_passing_fault_is_absorbed_by_the_client_retries(rig: Rig, flow: Flow, site: CallSite, fault: Fault) -> None:
    # Given the first call of the site failing once
    event = load_event(flow.event_file)
    before = revisions(rig)
    rig.proxy.fail(site.service, site.operation, error=fault)

    # When the deploy runs
    invocation = flow.run(rig, event)

    # Then the fault was met, and botocore's retry went through
    assert rig.proxy.injected == [(site.service, site.operation, fault.code)]
    # And the deploy is done, once, and told once
    assert_deployed_once(rig, flow, event, invocation, before)


@pytest.mark.parametrize("kind", ["disconnect", "timeout"])
@pytest.mark.parametrize("site", WRITES, ids=str)
def test_a_dropped_or_unanswered_call_is_sent_again(
    rig: Rig, site: CallSite, kind: str, short_client_timeouts: float
) -> None:
    # Given the first call of the site never reaching AWS: the connection drops, or nothing answers for longer
    # than the client's read timeout
    fault = DISCONNECT if kind == "disconnect" else timeout(short_client_timeouts + 1)
    event = load_event(PUSH.event_file)
    before = revisions(rig)
    rig.proxy.fail(site.service, site.operation, error=fault)

    # When staging-42 is pushed
    invocation = rig.deliver(event)

    # Then botocore sent it again, and the deploy is done once
    assert rig.proxy.injected == [(site.service, site.operation, fault.code)]
    assert_deployed_once(rig, PUSH, event, invocation, before)


@pytest.mark.parametrize(
    "site",
    [
        LEDGER_CLAIM,
        REGISTER,
        UPDATE_SERVICE,
        pytest.param(
            PUBLISH,
            marks=pytest.mark.xfail(
                strict=True,
                reason="LIMITATION: SNS Publish to a standard topic is at-least-once; a retry after a lost "
                "response publishes the notification twice (only a FIFO topic deduplicates)",
            ),
        ),
        LEDGER_COMMIT,
    ],
    ids=str,
)
def test_a_write_whose_response_is_lost_is_not_done_twice(rig: Rig, site: CallSite) -> None:
    # Given the first write of the site done by AWS, but its response lost (the client cannot tell)
    event = load_event(PUSH.event_file)
    before = revisions(rig)
    rig.proxy.fail(site.service, site.operation, error=LOST_RESPONSE)

    # When staging-42 is pushed
    invocation = rig.deliver(event)

    # Then botocore sent it again, and still the deploy is done once: one revision, one notification
    assert rig.proxy.injected == [(site.service, site.operation, LOST_RESPONSE.code)]
    assert_deployed_once(rig, PUSH, event, invocation, before)


# -- a lasting fault -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flow", "site"), LASTING_CASES)
def test_a_lasting_fault_ends_deployed_or_reported_and_running_again_finishes(
    rig: Rig, flow: Flow, site: CallSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every call of the site failing (503: botocore retries, then gives up)
    event = load_event(flow.event_file)
    digest = flow.digest(rig, event)
    before = revisions(rig)
    rig.proxy.fail(site.service, site.operation, times=None, error=SERVICE_UNAVAILABLE)
    # (a target found claimed is waited for 1 s instead of 45: the outcome is the same, sooner)
    wiring.reset(wiring.Seams(busy_wait_seconds=1))

    # When the deploy runs: a push through the rule (Lambda runs it up to 1 + MaximumRetryAttempts times),
    # a manual deploy once, from the console
    invocation = flow.run(rig, event)

    # Then the fault was met
    assert (site.service, site.operation, SERVICE_UNAVAILABLE.code) in rig.proxy.injected
    added = [arn for arn in revisions(rig) if arn not in before]
    received = rig.inbox.receive()
    failed = by_status(received, "FAILED")
    deployed = running(rig) in added and runs_digest(rig, digest)
    records = failure_records(rig)
    if invocation.error is None:
        assert records == []
    elif flow.asynchronous:
        # And a failed event was retried by Lambda, then handed to the on-failure destination
        assert invocation.attempts == 1 + MAX_RETRIES
        assert invocation.sent_to_on_failure
        assert [record["requestPayload"] for record in records] == [event]
    if not deployed:
        # And a deploy that did not happen failed the invocation and was reported FAILED, naming the call
        assert invocation.error is not None
        assert failed, f"no FAILED notification; the invocation failed with {invocation.error}"
        assert all(site.name in message["reason"] for message in failed), failed
        assert by_status(received, "DEPLOYING") == []
        # And nothing is half-done: the service runs what it ran; a revision registered before the failure
        # is the only one, and each notification names it
        assert running(rig) == rig.world.task_definitions[CLUSTER]
        assert len(added) == (1 if site is UPDATE_SERVICE else 0), f"revisions registered: {added}"
        for arn in added:
            assert all(message["taskDefinitionArn"] == arn and arn in message["reason"] for message in failed)

    # When the fault is lifted and the deploy runs again (the on-failure record's event, if there is one)
    rig.proxy.clear()
    again = flow.run(rig, records[0]["requestPayload"] if records else event)

    # Then it finishes: the service runs the pushed digest, on the one revision registered for it
    assert again.error is None, again.error
    finally_added = [arn for arn in revisions(rig) if arn not in before]
    assert len(finally_added) == 1, f"revisions registered: {finally_added}"
    registered = finally_added[0]
    assert added in ([], [registered])
    assert running(rig) == registered
    assert runs_digest(rig, digest)
    # And the team heard of the deploy exactly once, and of no failure after the fault was lifted
    later = rig.inbox.receive()
    assert by_status(later, "FAILED") == []
    deploying = by_status(received, "DEPLOYING") + by_status(later, "DEPLOYING")
    if flow.asynchronous:
        assert [message["taskDefinitionArn"] for message in deploying] == [registered]
    else:  # a manual deploy run again by hand is a deliberate redeploy of the same revision
        assert {message["taskDefinitionArn"] for message in deploying} == {registered}
    assert failure_records(rig) == []


def test_a_revision_registered_before_a_double_failure_is_still_reused(rig: Rig) -> None:
    # Given UpdateService failing for good, and the ledger write that follows it (the claim's release,
    # recording the registered revision) failing on all its attempts
    event = load_event(PUSH.event_file)
    before = revisions(rig)
    rig.proxy.fail("ecs", "UpdateService", times=None, error=SERVICE_UNAVAILABLE)
    claim_and_release = 1 + client_attempts(wiring.CLIENT_CONFIG)
    rig.proxy.fail("dynamodb", "UpdateItem", nth=2, times=claim_and_release - 1, error=SERVICE_UNAVAILABLE)

    # When staging-42 is pushed, and pushed again once the faults are lifted
    rig.deliver(event)
    rig.proxy.clear()
    again = rig.deliver(event)

    # Then the deploy finished on the one revision registered for it
    assert again.error is None
    added = [arn for arn in revisions(rig) if arn not in before]
    assert len(added) == 1, f"revisions registered: {added}"
    assert running(rig) == added[0]


# -- access denied ---------------------------------------------------------------------------------------


def test_access_denied_on_register_is_reported_and_nothing_is_registered(rig: Rig) -> None:
    # Given the function not allowed to register task definitions
    event = load_event(PUSH.event_file)
    before = revisions(rig)
    rig.proxy.fail("ecs", "RegisterTaskDefinition", times=None, error=ACCESS_DENIED)

    # When staging-42 is pushed
    invocation = rig.deliver(event)

    # Then botocore did not retry it (not a passing error): one call per Lambda attempt
    assert invocation.attempts == 1 + MAX_RETRIES
    assert rig.proxy.count("ecs", "RegisterTaskDefinition") == invocation.attempts
    # And each attempt told the team, naming the call and the error
    received = rig.inbox.receive()
    assert len(received) == invocation.attempts
    for item in received:
        assert item.message["status"] == "FAILED"
        assert "ecs:RegisterTaskDefinition failed: AccessDeniedException" in item.message["reason"]
        assert "nothing was registered" in item.message["reason"]
    # And the event is in the on-failure queue; nothing was registered, and the service did not move
    assert [record["requestPayload"] for record in failure_records(rig)] == [event]
    assert revisions(rig) == before
    assert running(rig) == rig.world.task_definitions[CLUSTER]


# -- bounded retries -------------------------------------------------------------------------------------


def test_a_throttled_call_is_given_up_on_well_inside_the_function_timeout(rig: Rig) -> None:
    # Given UpdateService throttled for good (throttling backs off longest: up to 1 s, 2 s, 4 s...)
    rig.proxy.fail("ecs", "UpdateService", times=None, error=THROTTLING)

    # When one invocation runs
    started = time.monotonic()
    with pytest.raises(deploy.DeployIncompleteError, match="ecs:UpdateService failed: ThrottlingException"):
        rig.invoke(load_event(PUSH.event_file))
    elapsed = time.monotonic() - started

    # Then botocore tried as often as the clients' config says, and the function gave up, reporting it, well
    # inside its timeout
    assert rig.proxy.count("ecs", "UpdateService") == client_attempts(wiring.CLIENT_CONFIG)
    assert elapsed < FUNCTION_TIMEOUT / 2, f"{elapsed:.1f} s of {FUNCTION_TIMEOUT} s"
    [notice] = rig.inbox.receive()
    assert notice.message["status"] == "FAILED"


def worst_case_call_seconds(config: Config) -> float:
    """The longest one call may take before botocore gives up: every attempt unanswered until the read
    timeout (after connecting as slowly as allowed), with the longest (throttling) backoff between attempts."""
    attempts = client_attempts(config)
    per_attempt = float(getattr(config, "connect_timeout", 60)) + float(getattr(config, "read_timeout", 60))
    backoff = sum(min(2.0**attempt, 20.0) for attempt in range(attempts - 1))
    return attempts * per_attempt + backoff


def test_one_call_gives_up_inside_half_the_function_timeout() -> None:
    # Given the clients' config; When one call fails every attempt as slowly as it can
    # Then botocore gives up inside half the function's timeout
    assert worst_case_call_seconds(wiring.CLIENT_CONFIG) < FUNCTION_TIMEOUT / 2


def test_a_target_is_started_only_with_time_for_its_slowest_call() -> None:
    # Given the clients' config and the time a target must have left to be started
    # Then the slowest possible call of the target fits in that time
    assert worst_case_call_seconds(wiring.CLIENT_CONFIG) <= steps.TARGET_TIME_BUDGET_MS / 1000
