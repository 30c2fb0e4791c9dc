"""Exactly once, newest wins: the real deploy handler over in-process moto, fed push events redelivered,
tagged twice, untagged (an image index's manifests) and out of order, and then many pushes at once.

Every example starts from the sample world as seeded (services on their first revision, an empty deploy
table, an empty inbox) and checks what ECS runs, the revisions registered, the deploy ledger and the
notifications against what the events ask for.
"""

from __future__ import annotations

import copy
import itertools
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from boto3.dynamodb.types import TypeDeserializer
from botocore.client import BaseClient
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from moto import mock_aws

from pushdeploy import wiring
from pushdeploy.domain.times import describe_time, parse_time
from pushdeploy.usecases.deploy import DeployIncompleteError
from tests.helpers import Inbox, LambdaContext, load_event, load_function
from tools.sample_world import CONFIG_PREFIX, World, create_deploy_table, seed_world

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Pushes that end without an application metric (an ignored untagged event) make powertools warn.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SAMPLE_PUSH = load_event("ecr-push.json")
BASE_TIME = parse_time(SAMPLE_PUSH["time"])
# Each target of the sample world: its cluster, its task-definition family and its tag patterns.
TARGETS = {"staging": ("staging", "api-staging", ("staging-*", "build-*")), "prod": ("prod", "api-prod", ("v*",))}
STALE_REASON = re.compile(
    r"stale: tag (?P<tag>\S+) \(pushed (?P<at>\S+)\) is older than tag (?P<newer>\S+) \(pushed (?P<newer_at>\S+)\), "
    r"which is (?:deployed|being deployed)"
)


# --- the world, reset for every example ----------------------------------------------------------------


@dataclass
class Rig:
    """The sample world in in-process moto, the deploy handler, the team's inbox, and clients to look."""

    session: boto3.Session
    world: World
    inbox: Inbox
    handler: Handler
    table: str
    baseline: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ecs = self.session.client("ecs")
        self.dynamodb = self.session.client("dynamodb")

    def reset(self) -> None:
        """Services back on their first revision, an empty deploy table (no ledger records),
        no notification pending. Revisions registered before stay: the tests count the ones they add."""
        for cluster, revision in self.world.task_definitions.items():
            self.ecs.update_service(cluster=cluster, service="api", taskDefinition=revision)
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table, ProjectionExpression="pk, sk"):
            for item in page["Items"]:
                self.dynamodb.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})
        self.inbox.receive()
        self.baseline = {family: set(self.revisions(family)) for _, family, _ in TARGETS.values()}

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """One invocation of the real handler with a copy of ``event`` (as Lambda would pass it)."""
        return self.handler(copy.deepcopy(event), LambdaContext())

    def revisions(self, family: str) -> list[str]:
        arns: list[str] = []
        for page in self.ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family):
            arns.extend(arn for arn in page["taskDefinitionArns"] if arn.rsplit("/", 1)[-1].startswith(f"{family}:"))
        return arns

    def new_revisions(self, family: str) -> list[str]:
        """Revisions registered since the last reset, in the order they were registered."""
        added = [arn for arn in self.revisions(family) if arn not in self.baseline[family]]
        return sorted(added, key=lambda arn: int(arn.rsplit(":", 1)[-1]))

    def app_digest(self, task_definition_arn: str) -> str:
        """The digest the ``api`` container of a revision is pinned to (or its image, when not pinned)."""
        described = self.ecs.describe_task_definition(taskDefinition=task_definition_arn)
        [api] = [c for c in described["taskDefinition"]["containerDefinitions"] if c["name"] == "api"]
        return str(api["image"]).rsplit("@", 1)[-1]

    def running(self, cluster: str) -> str:
        return str(self.ecs.describe_services(cluster=cluster, services=["api"])["services"][0]["taskDefinition"])

    def ledger(self, target: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": f"TARGET#api#{target}"}, "sk": {"S": "STATE"}}, ConsistentRead=True
        )
        return {key: TypeDeserializer().deserialize(value) for key, value in item.get("Item", {}).items()}


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        world = seed_world(session)
        monkeypatch.setenv("TOPIC_ARN", world.topic_arn)
        monkeypatch.setenv("TABLE_NAME", create_deploy_table(session))
        monkeypatch.setenv("CONFIG_PREFIX", CONFIG_PREFIX)
        monkeypatch.setenv("CONFIG_CACHE_SECONDS", "0")
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")  # hundreds of deploys: keep the output short
        wiring.reset()
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        app = load_function("deploy")
        built = Rig(session, world, Inbox(session, world.topic_arn), app.handler, os.environ["TABLE_NAME"])
        built.reset()
        yield built
    wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


# --- push events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    """One push event: ``tag`` empty for an image index's untagged manifest."""

    event_id: str
    tag: str
    digest: str
    at: float

    def event(self) -> dict[str, Any]:
        """The sample ECR push event, copied, with this push's id, time, tag and digest."""
        event = copy.deepcopy(SAMPLE_PUSH)
        event["id"], event["time"] = self.event_id, describe_time(self.at)
        event["detail"].update({"image-tag": self.tag, "image-digest": self.digest})
        return event

    def targets(self) -> list[str]:
        """The sample world's targets whose tag patterns match (none for an untagged event)."""
        return [name for name, (_, _, patterns) in TARGETS.items() if self.tag and _matches(patterns, self.tag)]


def _matches(patterns: tuple[str, ...], tag: str) -> bool:
    return any(fnmatchcase(tag, pattern) for pattern in patterns)


def digest_of(number: int) -> str:
    return f"sha256:{number:064x}"


@st.composite
def deliveries(draw: st.DrawFn) -> list[Push]:
    """Pushes a minute apart (each a new digest), each with its events: the tag that matches one target (or
    both, through a second tag), maybe another tag for the same target, maybe untagged manifests; a later tag
    may come up to 2.5 minutes after its push, after newer pushes (a re-tag). Event times are distinct (a tie
    is the unit tests' subject). Then some events are delivered again, and everything is shuffled."""
    count = draw(st.integers(1, 4))
    used = {BASE_TIME + 60 * index for index in range(count)}

    def free(at: float) -> float:
        while at in used:
            at += 1
        used.add(at)
        return at

    events: list[Push] = []
    for index in range(count):
        digest, at = digest_of(index + 1), BASE_TIME + 60 * index
        kind = draw(st.sampled_from(["staging", "prod", "both"]))
        first = f"staging-{index}" if kind != "prod" else f"v1.{index}.0"
        events.append(Push(f"push-{index}", first, digest, at))
        later_tags = [f"v1.{index}.0"] if kind == "both" else []
        if draw(st.booleans()):  # another tag for the same target
            later_tags.append(f"build-{index}" if kind != "prod" else f"v1.{index}")
        for number, tag in enumerate(later_tags):
            events.append(Push(f"push-{index}-tag-{number}", tag, digest, free(at + draw(st.integers(1, 150)))))
        for number in range(draw(st.integers(0, 2))):  # an index's per-platform manifests: untagged
            events.append(Push(f"push-{index}-manifest-{number}", "", digest_of(1000 + 10 * index + number), at))
    again = draw(st.lists(st.sampled_from(events), max_size=3))
    return draw(st.permutations(events + again))


# --- (a) any delivery order, one at a time -------------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=deliveries())
def test_each_target_ends_on_its_newest_push_and_nothing_is_deployed_twice(rig: Rig, order: list[Push]) -> None:
    # Given the sample world as seeded
    rig.reset()

    # When the events are delivered in this order, one after another
    results: dict[str, dict[str, Any]] = {}
    for push in order:
        result = rig.deliver(push.event())
        # Then every delivery ends in a result; a redelivered event returns its first result
        assert results.setdefault(push.event_id, result) == result, f"{push.event_id} redelivered ran again"
        if not push.tag:
            assert result["status"] == "IGNORED"
    received = rig.inbox.receive()
    by_id = {push.event_id: push for push in order}

    for name, (cluster, family, _) in TARGETS.items():
        matching = [push for push in by_id.values() if name in push.targets()]
        reports = [(by_id[event_id], report) for event_id, result in results.items() for report in _reports(result)]
        reports = [(push, report) for push, report in reports if report["target"] == name]

        # Then the target runs the digest of its newest push (or its first revision when none matched), and
        # the ledger records that push
        running = rig.running(cluster)
        if matching:
            newest = max(matching, key=lambda push: push.at)
            assert rig.app_digest(running) == newest.digest, f"{name} is not on its newest push {newest}"
            recorded = rig.ledger(name)["deployed"]["push"]
            assert (recorded["tag"], float(recorded["pushedAt"])) == (newest.tag, newest.at)
        else:
            assert running == rig.world.task_definitions[cluster]
        assert "claim" not in rig.ledger(name), f"{name}'s claim was left behind"

        # And nothing was deployed twice: one revision and one notification per DEPLOYING event, never the
        # digest the target already ran (a digest comes back only when re-tagged after another one)
        deployed = Counter(push.digest for push, report in reports if report["status"] == "DEPLOYING")
        registered = [rig.app_digest(arn) for arn in rig.new_revisions(family)]
        assert Counter(registered) == deployed, f"{name}: revisions {registered}, deploys {deployed}"
        assert all(a != b for a, b in itertools.pairwise(registered)), f"{name} deployed a digest twice in a row"
        announced = Counter(m.message["digest"] for m in received if _is(m.message, name, "DEPLOYING"))
        assert announced == deployed

        # And every FAILED target was notified
        failed = [push.digest for push, report in reports if report["status"] == "FAILED"]
        assert sorted(failed) == sorted(m.message["digest"] for m in received if _is(m.message, name, "FAILED"))

        # And every stale push is told apart from the newer one by both tags and both times
        for push, report in reports:
            label(f"{report['status']}/{report.get('code', '-')}")
            if report.get("code") == "stale":
                _assert_names_both_pushes(report["reason"], push, matching)


def _reports(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result.get("targets", []))


def _target(result: dict[str, Any], name: str) -> dict[str, Any]:
    [report] = [report for report in _reports(result) if report["target"] == name]
    return report


def _is(message: dict[str, Any], target: str, status: str) -> bool:
    return bool(message["target"] == target and message["status"] == status)


def _assert_names_both_pushes(reason: str, push: Push, matching: list[Push]) -> None:
    found = STALE_REASON.fullmatch(reason)
    assert found, f"stale reason does not name both pushes: {reason!r}"
    assert (found["tag"], found["at"]) == (push.tag, describe_time(push.at))
    newer = [other for other in matching if other.tag == found["newer"]]
    assert newer, f"stale reason names a tag no matching push had: {reason!r}"
    assert found["newer_at"] == describe_time(newer[0].at)
    assert newer[0].at > push.at


def test_the_target_ends_on_the_same_image_whatever_the_order_of_a_digests_two_tags(rig: Rig) -> None:
    # Given image X tagged staging-42 (10:15:30) and build-42 (10:15:32), and image Y pushed as staging-43 in
    # between (10:15:31)
    x_first = Push("x-staging-42", "staging-42", digest_of(0xA), BASE_TIME)
    x_second = Push("x-build-42", "build-42", digest_of(0xA), BASE_TIME + 2)
    y_between = Push("y-staging-43", "staging-43", digest_of(0xB), BASE_TIME + 1)
    ends_on: dict[str, str] = {}
    for name, order in {"y-first": (y_between, x_first, x_second), "x-first": (x_first, x_second, y_between)}.items():
        rig.reset()

        # When the three events arrive in this order
        for push in order:
            rig.deliver(push.event())
        ends_on[name] = rig.app_digest(rig.running("staging"))

    # Then staging ends on X, the image of the newest event, in both orders
    assert ends_on == {"y-first": x_first.digest, "x-first": x_first.digest}


# --- (b) many pushes to one target at once -------------------------------------------------------------


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    """Each AWS request is applied atomically, as AWS applies it. moto evaluates a DynamoDB condition and then
    writes, without a lock: two threads can both pass ``attribute_not_exists(claim)``, which DynamoDB never
    allows (seen here as TransactionCanceledException on the commit). moto's threaded HTTP server
    (tools.localaws.LocalAws) shares that code, so it would not help. Requests still interleave freely."""
    lock = threading.Lock()
    original = vars(BaseClient)["_make_api_call"]  # not in botocore-stubs

    def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return original(client, operation, params)

    with patch.object(BaseClient, "_make_api_call", call):
        yield


@dataclass
class Waits:
    """The Deployer's sleeps while another push holds the target's claim, made 50 times shorter."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.count += 1
        time.sleep(seconds / 50)


def deliver_like_lambda(rig: Rig, event: dict[str, Any], start: threading.Barrier) -> dict[str, Any]:
    """Lambda's asynchronous invoke: run the handler; on a retryable failure, run it again (twice at most,
    as the template's MaximumRetryAttempts says). A duplicate whose first run is still in progress is IGNORED
    (the ledger finds the event's claim held by another invocation): that one deploys."""
    start.wait()
    retries = 0
    while True:
        try:
            return rig.deliver(event)
        except DeployIncompleteError:
            retries += 1
            if retries > 2:
                raise


WORKERS = 8
PUSHES = 6  # and 2 more deliveries: 8 at once
ROUNDS = 6


def test_pushes_to_one_target_at_once_end_on_the_newest_each_digest_registered_once(
    rig: Rig, atomic_requests: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the Deployer waits for a claim 50 times faster than it does on Lambda
    waits = Waits()
    wiring.reset(wiring.Seams(sleep=waits.sleep))
    outcomes: Counter[str] = Counter()
    shuffle = random.Random(20261120)
    for round_number in range(ROUNDS):
        rig.reset()
        wiring.entry_point()  # built before the threads (as one execution environment would be)
        pushes = [
            Push(f"round-{round_number}-push-{index}", f"staging-{index}", digest_of(index + 1), BASE_TIME + index)
            for index in range(PUSHES)
        ]
        # And two of them delivered twice (EventBridge delivers at least once); in every other round, one
        # redelivery and a second tag of the newest push, a second later (the newest event of all)
        extra = shuffle.sample(pushes, WORKERS - PUSHES)
        if round_number % 2:
            last = pushes[-1]
            extra[-1] = Push(f"round-{round_number}-build", f"build-{PUSHES - 1}", last.digest, last.at + 1)
        events = [push.event() for push in pushes + extra]
        shuffle.shuffle(events)
        newest = max(pushes + extra, key=lambda push: push.at)

        # When they are all delivered at the same moment, each in a thread of its own
        start = threading.Barrier(len(events))
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [pool.submit(deliver_like_lambda, rig, event, start) for event in events]
            results = [future.result() for future in futures]  # re-raises whatever a thread raised

        # Then the service runs the newest push, and the ledger records it, with no claim left
        assert rig.app_digest(rig.running("staging")) == newest.digest, f"round {round_number}: {results}"
        state = rig.ledger("staging")
        assert (state["deployed"]["push"]["digest"], state["deployed"]["push"]["tag"]) == (newest.digest, newest.tag)
        assert "claim" not in state
        # And no digest was registered twice, nor more revisions than pushes
        registered = [rig.app_digest(arn) for arn in rig.new_revisions("api-staging")]
        assert len(registered) == len(set(registered)) <= PUSHES
        assert registered[-1] == newest.digest
        # And a redelivered event got its first result; each deploy was announced once; nothing failed
        by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for result in results:
            by_tag[result["tag"]].append(result)
        # (a redelivery that arrives while its first delivery is still running is IGNORED: that one deploys)
        for tag, same in list(by_tag.items()):
            running = [r for r in same if r["status"] == "IGNORED" and "another invocation" in r["reason"]]
            by_tag[tag] = [r for r in same if r not in running] or same
            assert all(r == by_tag[tag][0] for r in by_tag[tag]), same
        statuses = {tag: _target(same[0], "staging") for tag, same in by_tag.items() if "targets" in same[0]}
        deployed = sorted(tag for tag, report in statuses.items() if report["status"] == "DEPLOYING")
        announced = [m.message["tag"] for m in rig.inbox.receive() if m.message["status"] == "DEPLOYING"]
        assert sorted(announced) == deployed
        digests = {push.tag: push.digest for push in pushes + extra}
        assert sorted(registered) == sorted(digests[tag] for tag in deployed)
        assert {report["status"] for report in statuses.values()} <= {"DEPLOYING", "SKIPPED"}
        for tag, report in statuses.items():
            if report.get("code") == "stale":
                _assert_names_both_pushes(report["reason"], next(p for p in pushes if p.tag == tag), pushes + extra)
        outcomes.update(report.get("code") or report["status"] for report in statuses.values())

    # And the target really was contended: deploys waited for one another, and older pushes were skipped
    assert waits.count > 0, outcomes
    assert outcomes["stale"] > 0, outcomes
