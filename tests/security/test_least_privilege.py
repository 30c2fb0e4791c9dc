"""Least privilege: each function's role grants exactly what its code calls, bounded by the template's
AllowedClusters/AllowedFamilies, and the notifications topic is encrypted and refuses non-TLS publishing.

The roles are read from the SAM-transformed template.yaml (inline statements and expanded SAM policy templates;
the managed AWSLambdaBasicExecutionRole/X-Ray policies concern no service the code calls), their intrinsics
resolved by tools.iam_policy. The calls are recorded while the real handlers run on the local AWS through the
main scenarios (tests/security/__init__.py), mapped to the IAM requests they are authorized as, and evaluated
against the role of the function that made them.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pushdeploy.services import OPERATIONS
from tests.helpers import load_event
from tests.security.harness import (
    FUNCTION,
    MAIN_SCENARIOS,
    TEST_ENVIRONMENT,
    WHERE,
    Recorded,
    RecordingLocalAws,
    ScenarioContext,
    decisions,
    function_statements,
    functions,
    main_recording,
    push_event,
    run_scenarios,
    stack_values,
    transformed_template,
)
from tests.security.harness import Scenario as ScenarioFunction
from tools.iam_policy import (
    Decision,
    Request,
    Statement,
    UnsupportedPolicyError,
    action_matches,
    evaluate,
    parse_policy,
    resolve_intrinsics,
    unused_permissions,
)
from tools.localaws import Delivery

ROLE_ARN = WHERE.arn("iam", "role/pushdeploy-DeployFunctionRole-EXAMPLE", region=False)
# Actions that support no resource-level permission: "*" is the only resource they can be granted on.
RESOURCE_STAR_ALLOWED = {
    "ecs:DescribeTaskDefinition": "DescribeTaskDefinition supports no resource-level permissions",
    "ssm:DescribeParameters": "DescribeParameters supports no resource-level permissions (metadata only)",
    "ecs:RegisterTaskDefinition": "RegisterTaskDefinition supports no resource-level permissions "
    "(aws/containers-roadmap#929); the family is bounded by TagResource on register, and by the function",
}
# Findings the general test leaves out while a test of their own tracks them (none now).
KNOWN_RESOURCE_STAR: set[str] = set()
# Parameters that make the template create its optional functions, so that their roles are checked too.
OPTIONAL_FUNCTIONS_ON = {"SlackWebhookPath": "/pushdeploy-slack"}


def service_arn(cluster: str, service: str = "api") -> str:
    return WHERE.arn("ecs", f"service/{cluster}/{service}")


def task_definition_arn(family: str, revision: int = 2) -> str:
    return WHERE.arn("ecs", f"task-definition/{family}:{revision}")


ON_SERVICE_DEPLOYMENTS = frozenset(
    {"ecs:StopServiceDeployment", "ecs:DescribeServiceDeployments", "ecs:ContinueServiceDeployment"}
)


def on_service(action: str, cluster: str) -> Request:
    return Request(action, service_arn(cluster), {"ecs:cluster": WHERE.arn("ecs", f"cluster/{cluster}")})


def table(found: list[Decision]) -> str:
    """One line per distinct request: action, resource, and the statements that allow or deny it."""
    rows = sorted(
        {(d.request.action, d.request.resource, ",".join(d.allowed_by) or "-", ",".join(d.denied_by)) for d in found}
    )
    return "\n".join(f"{a} | {r} | allowed by {s}" + (f" | DENIED by {x}" if x else "") for a, r, s, x in rows)


def held_policies(documents: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A role's inline policies as moto returns them: a document CloudFormation gave as an object comes
    back as that object's repr."""
    return {
        name: document if isinstance(document, dict) else ast.literal_eval(document)
        for name, document in documents.items()
    }


# -- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", WHERE.region)  # the SAM translator needs a Region
        return transformed_template()


@pytest.fixture(scope="module")
def roles(template: dict[str, Any]) -> dict[str, list[Statement]]:
    """Each function's role as the template's defaults make it (AllowedClusters, AllowedFamilies "*"), with
    every optional function the template has switched on."""
    parameters = {name: value for name, value in OPTIONAL_FUNCTIONS_ON.items() if name in template["Parameters"]}
    return {
        function: function_statements(template, parameters, function=function)
        for function in functions(template, parameters)
    }


@pytest.fixture(scope="module")
def statements(roles: dict[str, list[Statement]]) -> list[Statement]:
    """The deploy function's role."""
    return roles[FUNCTION]


@pytest.fixture(scope="module")
def local() -> Iterator[RecordingLocalAws]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        with RecordingLocalAws() as running:
            yield running


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    """The main scenarios (run once per session, shared with test_secrets_never_read.py)."""
    return main_recording()[0]


def _push_v142_now(context: ScenarioContext) -> list[Delivery]:
    return [context.local.deliver(context.stack, push_event("v1.4.2", "9", "00000000-0000-4000-8000-000000000142"))]


OUT_OF_SCOPE: dict[str, ScenarioFunction] = {
    "push to prod": _push_v142_now,
    "manual deploy to prod": lambda context: [
        context.local.run_event(context.stack, load_event("manual-deploy-targets.json"))
    ],
    "rollback of prod": lambda context: [context.local.run_event(context.stack, load_event("manual-rollback.json"))],
    "push to staging": MAIN_SCENARIOS["push"],
}


@pytest.fixture(scope="module")
def scoped(local: RecordingLocalAws) -> Recorded:
    """The stack deployed with AllowedClusters=staging, then deploys and a rollback aimed at prod, and a push
    to staging."""
    parameters = {"AllowedClusters": "staging"}
    return run_scenarios(local, local.deploy_quietly(parameters), OUT_OF_SCOPE, parameters)


def stack_statements(template: dict[str, Any], run: Recorded, function: str = FUNCTION) -> list[Statement]:
    """A function's role as this stack has it: its parameters, its resources' physical ids."""
    physical_ids = {logical_id: physical for logical_id, (_, physical) in run.stack.resources.items() if physical}
    return function_statements(template, run.parameters, physical_ids, function, run.stack.stack_id)


def stack_decisions(template: dict[str, Any], run: Recorded) -> dict[str, tuple[list[Statement], list[Decision]]]:
    """For each function of the stack: its role, and its recorded calls evaluated against that role."""
    found: dict[str, tuple[list[Statement], list[Decision]]] = {}
    for function in run.stack.functions:
        statements = stack_statements(template, run, function)
        calls = [call for call in run.calls if call.function == function]
        found[function] = (statements, decisions(statements, calls, run.topic_keys))
    return found


# -- the roles' breadth, read from the template ---------------------------------------------------------------


def test_no_statement_grants_a_wildcard_action(roles: dict[str, list[Statement]]) -> None:
    # Given each function's role (inline statements and SAM policy templates)
    assert roles[FUNCTION]

    # When listing their actions
    actions = [(f, s.sid, action) for f, statements in roles.items() for s in statements for action in s.actions]

    # Then each names one API action: no "*", "ecs:*", "ssm:*" or "ssm:Get*"
    assert [(f, sid, action) for f, sid, action in actions if "*" in action or "?" in action] == []
    assert all(":" in action for _, _, action in actions)


def test_pass_role_is_granted_only_towards_ecs_tasks_and_the_timer_role_towards_scheduler(
    roles: dict[str, list[Statement]],
) -> None:
    # Given the statements that allow iam:PassRole, in any role
    pass_role = [
        s
        for statements in roles.values()
        for s in statements
        if any(action_matches(a, "iam:PassRole") for a in s.actions)
    ]
    assert pass_role
    timer_role = WHERE.arn("iam", "role/pushdeploy-TimerRole-EXAMPLE", region=False)

    # Then each is conditioned on StringEquals iam:PassedToService and nothing else: ECS tasks, or Scheduler
    # for the stack's own timer role only
    for statement in pass_role:
        conditions = [(c.operator, c.key, c.values) for c in statement.conditions]
        if statement.resources == (timer_role,):
            assert conditions == [("StringEquals", "iam:PassedToService", ("scheduler.amazonaws.com",))], statement
        else:
            assert conditions == [("StringEquals", "iam:PassedToService", ("ecs-tasks.amazonaws.com",))], statement
    # And so the deploy function may pass a role to ECS tasks, the timer role to Scheduler, and nothing else
    role, statements = WHERE.arn("iam", "role/api-staging-task", region=False), roles[FUNCTION]
    assert evaluate(
        statements, Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
    ).allowed
    assert evaluate(
        statements, Request("iam:PassRole", timer_role, {"iam:PassedToService": "scheduler.amazonaws.com"})
    ).allowed
    for service in ("lambda.amazonaws.com", "scheduler.amazonaws.com"):
        assert not evaluate(statements, Request("iam:PassRole", role, {"iam:PassedToService": service})).allowed
    assert not evaluate(
        statements, Request("iam:PassRole", timer_role, {"iam:PassedToService": "lambda.amazonaws.com"})
    ).allowed
    assert not evaluate(statements, Request("iam:PassRole", role)).allowed


def test_resource_star_only_where_the_api_takes_no_resource(roles: dict[str, list[Statement]]) -> None:
    # Given the allow-list of actions that support no resource ARN (each with its reason)
    assert all(RESOURCE_STAR_ALLOWED.values())

    # When listing the actions granted on every resource
    on_everything = {
        action
        for statements in roles.values()
        for statement in statements
        if "*" in statement.resources
        for action in statement.actions
    }

    # Then they are only those of the allow-list
    assert on_everything - KNOWN_RESOURCE_STAR <= set(RESOURCE_STAR_ALLOWED)
    # And every other resource is an ARN of this partition and account (never another account's)
    for function, statements in roles.items():
        for statement in statements:
            for resource in statement.resources:
                if resource != "*":
                    assert resource.startswith(f"arn:{WHERE.partition}:"), (function, statement.sid, resource)
                    assert resource.split(":")[4] in {WHERE.account, ""}, (function, statement.sid, resource)


def test_pass_role_names_the_roles_it_may_pass(statements: list[Statement]) -> None:
    # Given the statements that allow iam:PassRole
    pass_role = [s for s in statements if "iam:PassRole" in s.actions]

    # Then they name role ARNs of this account, not every resource
    for statement in pass_role:
        for resource in statement.resources:
            assert resource.startswith(WHERE.arn("iam", "role/", region=False)), (statement.sid, resource)


@pytest.mark.parametrize(
    ("allowed_clusters", "allowed", "denied"),
    [
        ("staging", ["staging"], ["prod", "staging-eu", "staging2"]),
        ("staging,staging-*", ["staging", "staging-eu"], ["prod", "production"]),
        ("*", ["staging", "prod"], []),  # the documented default: every cluster
    ],
)
def test_allowed_clusters_bound_the_services_the_role_may_change(
    template: dict[str, Any], allowed_clusters: str, allowed: list[str], denied: list[str]
) -> None:
    # Given the deploy function's role in a stack deployed with AllowedClusters
    statements = function_statements(template, {"AllowedClusters": allowed_clusters})
    service_actions = [a for s in statements for a in s.actions if a.startswith("ecs:") and "Service" in a]
    assert "ecs:UpdateService" in service_actions

    # Then every service action (UpdateService, DescribeServices...) is allowed in those clusters only
    for action in service_actions:
        if action in ON_SERVICE_DEPLOYMENTS:
            continue  # on service-deployment/<cluster>/<service>/<id>: below
        for cluster in allowed:
            assert evaluate(statements, on_service(action, cluster)).allowed, (action, cluster)
        for cluster in denied:
            assert not evaluate(statements, on_service(action, cluster)).allowed, (action, cluster)
    # Stopping, describing and continuing a service deployment: in those clusters' service deployments only
    for action in sorted(ON_SERVICE_DEPLOYMENTS & set(service_actions)):
        for cluster in allowed:
            resource = WHERE.arn("ecs", f"service-deployment/{cluster}/api/1a2b3c")
            assert evaluate(statements, Request(action, resource)).allowed, (action, cluster)
        for cluster in denied:
            resource = WHERE.arn("ecs", f"service-deployment/{cluster}/api/1a2b3c")
            assert not evaluate(statements, Request(action, resource)).allowed, (action, cluster)


def test_allowed_families_bound_the_task_definitions_the_role_may_register(template: dict[str, Any]) -> None:
    # Given the deploy function's role in a stack deployed with AllowedFamilies=api-staging
    statements = function_statements(template, {"AllowedFamilies": "api-staging"})
    tagging = {"ecs:CreateAction": "RegisterTaskDefinition"}

    # Then tagging on register a revision of api-staging is allowed, of api-prod not: every registration of
    # pushdeploy's carries tags, so IAM refuses to register api-prod (RegisterTaskDefinition itself takes no
    # resource-level permission and is granted on "*")
    assert evaluate(statements, Request("ecs:RegisterTaskDefinition", task_definition_arn("api-staging"))).allowed
    assert evaluate(statements, Request("ecs:TagResource", task_definition_arn("api-staging"), tagging)).allowed
    assert not evaluate(statements, Request("ecs:TagResource", task_definition_arn("api-prod"), tagging)).allowed
    # And tagging outside a RegisterTaskDefinition call is denied even for api-staging
    assert not evaluate(statements, Request("ecs:TagResource", task_definition_arn("api-staging"))).allowed


def test_the_scope_parameters_document_their_default() -> None:
    # Given the template's parameters as written
    from tools.template import load_template  # noqa: PLC0415 - only this test reads the untransformed file

    parameters = load_template()["Parameters"]

    # Then AllowedClusters and AllowedFamilies are lists of patterns whose default, "*", is explained
    for name in ("AllowedClusters", "AllowedFamilies"):
        assert parameters[name]["Type"] == "CommaDelimitedList"
        assert parameters[name]["Default"] == "*"
        assert "the default, *, allows every" in parameters[name]["Description"].lower(), name


# -- the notifications topic ----------------------------------------------------------------------------------


def topic_policy(template: dict[str, Any]) -> tuple[str, list[Statement]]:
    """The deploy topic's ARN, and its policy's statements."""
    topic = WHERE.arn("sns", "pushdeploy-DeployTopic-EXAMPLE")
    values = stack_values(template, {}, {"DeployTopic": topic})
    properties = resolve_intrinsics(template["Resources"]["DeployTopicPolicy"]["Properties"], values)
    assert properties["Topics"] == [topic]
    return topic, parse_policy(properties["PolicyDocument"], "DeployTopicPolicy")


def test_the_topic_is_encrypted_with_the_stacks_own_key(template: dict[str, Any]) -> None:
    # Given the topic and its key
    resources = template["Resources"]
    topic, key = resources["DeployTopic"]["Properties"], resources["TopicKey"]

    # Then the topic is encrypted with the customer managed key the stack creates, which rotates
    assert topic["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    # And CloudWatch alarms (which publish to it) may use the key, as they must for an encrypted topic
    [alarms] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(alarms["Action"])


def test_the_topic_policy_denies_publishing_without_tls(template: dict[str, Any], statements: list[Statement]) -> None:
    # Given the topic policy, evaluated together with the deploy function's role (same account)
    topic, policy = topic_policy(template)
    combined = [*statements, *policy]
    function = ("AWS", ROLE_ARN)

    # When the function publishes over TLS and without it
    over_tls = evaluate(combined, Request("sns:Publish", topic, {"aws:SecureTransport": "true"}, function))
    plain = evaluate(combined, Request("sns:Publish", topic, {"aws:SecureTransport": "false"}, function))

    # Then only the TLS publish is allowed: the other is explicitly denied, whatever the role allows
    assert over_tls.allowed
    assert not plain.allowed
    assert plain.denied_by == ("DenyPublishingWithoutTls",)
    assert plain.allowed_by  # the role allows it: the Deny is what stops it
    # And the same holds for CloudWatch alarms of this account, the other publisher
    cloudwatch = ("Service", "cloudwatch.amazonaws.com")
    alarm = {"aws:SourceArn": WHERE.arn("cloudwatch", "alarm:pushdeploy-DeployFailureAlarm")}
    assert evaluate(policy, Request("sns:Publish", topic, {**alarm, "aws:SecureTransport": "true"}, cloudwatch)).allowed
    assert not evaluate(
        policy, Request("sns:Publish", topic, {**alarm, "aws:SecureTransport": "false"}, cloudwatch)
    ).allowed
    # And an alarm of another account may not publish at all
    foreign = {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:999999999999:alarm:x", "aws:SecureTransport": "true"}
    assert not evaluate(policy, Request("sns:Publish", topic, foreign, cloudwatch)).allowed


# -- the evaluator itself -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "request_", "allowed"),
    [
        ({"Action": "ecs:Describe*", "Resource": "*"}, Request("ecs:DescribeServices", "x"), True),
        ({"Action": "ECS:describeservices", "Resource": "*"}, Request("ecs:DescribeServices", "x"), True),
        ({"Action": "ecs:Describe*", "Resource": "*"}, Request("ecs:UpdateService", "x"), False),
        ({"Action": "s:A", "Resource": "arn:aws:s:r:1:t/*"}, Request("s:A", "arn:aws:s:r:1:t/a/b:c"), True),
        ({"Action": "s:A", "Resource": "arn:aws:s:r:1:t/a?"}, Request("s:A", "arn:aws:s:r:1:t/ab"), True),
        ({"Action": "s:A", "Resource": "arn:aws:s:r:1:t/A*"}, Request("s:A", "arn:aws:s:r:1:t/ab"), False),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"StringEquals": {"k": ["x", "y"]}}},
            Request("s:A", "r", {"k": "y"}),
            True,
        ),
        ({"Action": "s:A", "Resource": "*", "Condition": {"StringEquals": {"k": "x"}}}, Request("s:A", "r"), False),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"StringLike": {"k": "a*"}}},
            Request("s:A", "r", {"k": "abc"}),
            True,
        ),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"ArnLike": {"k": "arn:aws:s:*:1:x/*"}}},
            Request("s:A", "r", {"k": "arn:aws:s:eu-west-1:1:x/y"}),
            True,
        ),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"ArnEquals": {"k": "arn:aws:s:r:1:x/y"}}},
            Request("s:A", "r", {"k": "arn:aws:s:r:2:x/y"}),
            False,
        ),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"Bool": {"k": False}}},
            Request("s:A", "r", {"k": "false"}),
            True,
        ),
        (
            {"Action": "s:A", "Resource": "*", "Condition": {"StringEquals": {"k": "x"}, "Bool": {"b": "true"}}},
            Request("s:A", "r", {"k": "x", "b": "false"}),
            False,
        ),
    ],
)
def test_the_evaluator_matches_as_iam_does(statement: dict[str, Any], request_: Request, allowed: bool) -> None:
    # Given one Allow statement
    policy = parse_policy({"Statement": {"Effect": "Allow", **statement}})

    # Then the request is allowed exactly when IAM would allow it
    assert evaluate(policy, request_).allowed is allowed


def test_the_evaluator_lets_an_explicit_deny_win_and_refuses_what_it_cannot_judge() -> None:
    # Given an Allow of everything and a Deny of one action
    policy = parse_policy(
        {
            "Statement": [
                {"Sid": "All", "Effect": "Allow", "Action": "s:*", "Resource": "*"},
                {"Sid": "NoB", "Effect": "Deny", "Action": "s:B", "Resource": "*"},
            ]
        }
    )

    # Then the Deny wins where both apply
    assert evaluate(policy, Request("s:A", "r")).allowed
    decision = evaluate(policy, Request("s:B", "r"))
    assert (decision.allowed, decision.allowed_by, decision.denied_by) == (False, ("All",), ("NoB",))
    # And what the evaluator does not implement is an error, never a silent answer
    for unsupported in (
        {"Effect": "Allow", "NotAction": "s:A", "Resource": "*"},
        {"Effect": "Allow", "Action": "s:A", "Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}}},
        {"Effect": "Allow", "Action": "s:A", "Resource": "arn:aws:s:r:1:${Unresolved}"},
    ):
        with pytest.raises(UnsupportedPolicyError):
            parse_policy({"Statement": unsupported})


# -- the calls the functions make, recorded on the local AWS -------------------------------------------------


@pytest.mark.e2e
def test_the_scenarios_did_what_they_are_named_for(recorded: Recorded) -> None:
    # Given the main scenarios run through the local AWS
    runs = recorded.runs

    def code(name: str, target: str) -> str:
        report = runs[name].report(target)
        return str(report.get("code") or report["status"])

    # Then each exercised the path it is named for
    assert (code("push", "staging"), code("push", "prod")) == ("DEPLOYING", "no-match")
    assert runs["redelivery"].result == runs["push"].result
    # (a redelivery's first result comes from the ledger: the target's claim is refused, returning it)
    assert [call.operation for call in runs["redelivery"].calls] == ["GetParametersByPath", "UpdateItem"]
    assert code("second tag", "staging") == "duplicate"
    assert runs["dry run"].result.get("dryRun") is True
    assert code("manual deploy", "prod") == "DEPLOYING"
    # (a deployment's COMPLETED reaches the deploy function too, for afterDeploy tasks: none here)
    [completed] = [i for i in runs["deployment completed"].invocations if i.function == "TrackFunction"]
    assert completed.result["status"] == "COMPLETED"
    assert runs["rollback started by ECS"].result["status"] == "ROLLING_BACK"
    assert [d["tag"] for d in runs["history"].result["deploys"]] == ["v1.4.2"]
    assert runs["rollback"].result["status"] == "ROLLING_BACK"
    assert runs["create service"].report("canary")["status"] == "DEPLOYING"
    assert runs["create service"].report("canary").get("created") is True
    assert code("broken config", "broken") == "config"
    assert code("missing secret", "prod") == "missing-secret"
    [failing] = runs["update fails"].invocations
    assert (failing.attempts, failing.sent_to_on_failure) == (3, True)
    assert "ThrottlingException" in str(failing.error)
    [tracker_failing] = [i for i in runs["tracker fails"].invocations if i.function == "TrackFunction"]
    assert (tracker_failing.attempts, tracker_failing.sent_to_on_failure) == (3, True)
    assert runs["canary with alarms"].report("prod")["status"] == "DEPLOYING"
    assert "AWAITING_APPROVAL" in [str(i.result["status"]) for i in runs["canary paused"].invocations]
    assert (runs["console approve"].result["status"], runs["console approve"].result["decidedBy"]) == (
        "APPROVED",
        "alice",
    )
    # And one-off tasks: a migration started, its STOPPED event updated the service, a timeout stopped one
    assert code("migration", "staging") == "beforeDeploy"
    assert [r["task"]["status"] for r in runs["migration succeeds"].deploy_results] == ["DEPLOYING"]
    assert [r["task"]["status"] for r in runs["migration times out"].deploy_results] == ["FAILED"]
    assert runs["run task"].result["task"]["status"] == "PREPARING"
    assert runs["gated push waits"].report("staging")["status"] == "WAITING"
    assert [str(i.result["status"]) for i in runs["scan completes"].invocations] == ["RESUMED"]
    assert all(i.error is None for i in runs["promotion soaks"].invocations)
    assert [i.result["targets"][0]["status"] for i in runs["soak ends"].invocations] == ["DEPLOYING"]
    # And the tracker ran for the ECS events, the deploy function for everything else (and, for a deployment's
    # COMPLETED, read the ledger and the target's config only: no afterDeploy task is configured)
    tracked = ("deployment completed", "rollback started by ECS", "tracker fails", "canary paused", "promotion soaks")
    assert {call.function for name in tracked for call in runs[name].calls if call.function != FUNCTION} == {
        "TrackFunction"
    }
    assert {
        call.operation
        for name in tracked
        for call in runs[name].calls
        if call.function == FUNCTION and not call.by_lambda
    } <= {"GetItem", "GetParametersByPath"}
    # (stopping a task delivers the local ECS's queued deployment events too: the tracker's)
    mixed = ("slack reject",)  # a push (deploy function), its pause (tracker), the answer (approval endpoint)
    delivering = (*tracked, *mixed, "migration succeeds", "migration times out")
    assert {call.function for name in runs if name not in delivering for call in runs[name].calls} == {FUNCTION}
    [slack_answer] = [i for i in runs["slack reject"].invocations if i.function == "SlackApprovalFunction"]
    assert slack_answer.result["statusCode"] == 200, slack_answer.result
    assert {call.function for call in runs["slack reject"].calls} == {
        FUNCTION,
        "TrackFunction",
        "SlackApprovalFunction",
    }
    # And every function the stack creates was exercised (its role is checked against what it called)
    assert {call.function for call in recorded.calls} == set(recorded.stack.functions)
    # And every call was made by the functions' code, but the on-failure records Lambda sends with their roles
    assert {(call.function, call.operation) for call in recorded.calls if call.by_lambda} == {
        (FUNCTION, "SendMessage"),
        ("TrackFunction", "SendMessage"),
    }


@pytest.mark.e2e
def test_every_call_each_function_makes_is_allowed_by_its_role(template: dict[str, Any], recorded: Recorded) -> None:
    # Given each function's role as the stack has it, and the IAM requests of the calls it made
    found = stack_decisions(template, recorded)

    # Then each request is allowed
    for function, (_, function_decisions) in found.items():
        denied = [d for d in function_decisions if not d.allowed]
        assert denied == [], f"{function}:\n{table(denied)}"
    # And the requests cover every service the deploy function uses, publishing to the encrypted topic included
    services = {d.request.action.split(":")[0] for d in found[FUNCTION][1]}
    assert services == {"ecs", "iam", "ssm", "ecr", "dynamodb", "sns", "kms", "sqs", "cloudwatch", "scheduler"}
    assert recorded.topic_keys, "the deploy topic is not encrypted"


@pytest.mark.e2e
def test_every_operation_the_functions_call_is_one_the_built_layers_models_keep(recorded: Recorded) -> None:
    # Given the calls the functions' code made in the scenarios (not Lambda's own for them)
    called = {(call.client_service, call.operation) for call in recorded.calls if not call.by_lambda}

    # Then each is listed in pushdeploy.services: the built layer keeps the models of those operations only
    kept = {(service, operation) for service, operations in OPERATIONS.items() for operation in operations}
    assert called - kept == set(), "add these to layers/pushdeploy/pushdeploy/services.py"
    assert len(called) > 20, "the scenarios made fewer calls than they are known to"


@pytest.mark.e2e
def test_every_permission_each_role_grants_is_used(template: dict[str, Any], recorded: Recorded) -> None:
    # Given each function's role and the requests of the calls it made
    found = stack_decisions(template, recorded)

    # When listing each statement's actions that allowed no request
    unused = {function: unused_permissions(statements, made) for function, (statements, made) in found.items()}

    # Then there are none: every permission is one the code needs
    assert unused == {function: [] for function in found}, "\n".join(table(made) for _, made in found.values())


@pytest.mark.e2e
def test_the_local_stacks_roles_are_the_templates_roles(template: dict[str, Any], recorded: Recorded) -> None:
    # Given each role's inline policies as moto's CloudFormation created them
    for function, documents in recorded.role_policies.items():
        held = held_policies(documents)
        resources = [
            resource
            for document in held.values()
            for statement in document["Statement"]
            for resource in (
                [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            )
        ]

        # Then every resource is resolved, and the statements are those the template gives the role
        assert [resource for resource in resources if "${" in resource] == [], function
        theirs = sorted(repr(s) for name, doc in held.items() for s in parse_policy(doc, name))
        assert theirs == sorted(repr(s) for s in stack_statements(template, recorded, function)), function


@pytest.mark.e2e
def test_a_cluster_outside_allowed_clusters_is_refused_by_the_function_and_the_role(
    template: dict[str, Any], scoped: Recorded
) -> None:
    # Given the stack deployed with AllowedClusters=staging, its deploy function told so in its environment
    assert scoped.stack.functions[FUNCTION].environment["ALLOWED_CLUSTERS"] == "staging"

    # Then a push and a manual deploy aimed at prod end FAILED for that reason, and are announced
    for name in ("push to prod", "manual deploy to prod"):
        prod = scoped.runs[name].report("prod")
        assert (prod["status"], prod["code"]) == ("FAILED", "out-of-scope"), name
        assert "outside what this pushdeploy may deploy to" in prod["reason"]
    announced = [r.message for r in scoped.received if r.message.get("target") == "prod"]
    assert [m["status"] for m in announced] == ["FAILED", "FAILED"]
    # And a rollback of prod is refused for the same reason
    [rollback] = scoped.runs["rollback of prod"].invocations
    assert "outside what this pushdeploy may deploy to" in json.dumps(rollback.result) + str(rollback.error)
    # And no ECS call touched prod: not its service, not its task definitions
    ecs_calls = [call for call in scoped.calls if call.service == "ecs"]
    assert [call for call in ecs_calls if "prod" in json.dumps(call.params) + str(call.response)] == []
    # And staging is still deployed
    assert scoped.runs["push to staging"].report("staging")["status"] == "DEPLOYING"
    # And that stack's role allows every call made, and would refuse UpdateService on prod's service
    statements = stack_statements(template, scoped)
    calls = [call for call in scoped.calls if call.function == FUNCTION]
    assert [d for d in decisions(statements, calls, scoped.topic_keys) if not d.allowed] == []
    assert not evaluate(statements, on_service("ecs:UpdateService", "prod")).allowed
    assert evaluate(statements, on_service("ecs:UpdateService", "staging")).allowed


@pytest.mark.e2e
def test_the_local_stacks_role_is_bounded_by_allowed_clusters(scoped: Recorded) -> None:
    # Given the deploy function's inline policies as moto's CloudFormation created them for AllowedClusters=staging
    held = held_policies(scoped.role_policies[FUNCTION])
    [services] = [
        statement
        for document in held.values()
        for statement in document["Statement"]
        if statement.get("Sid") == "ReadAndUpdateServices"
    ]

    # Then the service actions are granted on the staging cluster's services only
    assert services["Resource"] == [service_arn("staging", "*")]
