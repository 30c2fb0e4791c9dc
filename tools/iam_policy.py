"""A small IAM policy evaluator, the policies a CloudFormation template gives a role, and the IAM requests
an AWS API call is authorized as.

Enough of IAM's policy language to check the template's statements against the calls the code makes:
Action (wildcards, case-insensitive), Resource (ARN wildcards), Principal (for resource policies), the
condition operators StringEquals, StringLike, ArnEquals, ArnLike and Bool, and an explicit Deny overriding
every Allow. Anything else (NotAction, NotResource, NotPrincipal, other operators, policy variables, a call
with no known IAM mapping) raises UnsupportedPolicyError rather than be guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]
Principal = tuple[str, str]  # ("AWS", arn), ("Service", "cloudwatch.amazonaws.com") or ("*", "*")

CONDITION_OPERATORS = frozenset({"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"})


class UnsupportedPolicyError(ValueError):
    """A policy or a call uses something this evaluator does not implement."""


# -- requests and statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorization request: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    principal: Principal | None = None  # needed only against resource policies


@dataclass(frozen=True)
class Condition:
    """One ``operator: {key: values}`` entry of a statement's Condition block."""

    operator: str
    key: str
    values: tuple[str, ...]

    def holds(self, context: Mapping[str, str]) -> bool:
        """True when the request's value of ``key`` matches one of ``values``; a missing key never does."""
        actual = context.get(self.key)
        if actual is None:
            return False
        match self.operator:
            case "StringEquals":
                return actual in self.values
            case "StringLike":
                return any(_wildcard(value, ignore_case=False).fullmatch(actual) for value in self.values)
            case "ArnEquals" | "ArnLike":
                return any(arn_matches(value, actual) for value in self.values)
            case "Bool":
                return actual.lower() in {value.lower() for value in self.values}
        raise UnsupportedPolicyError(f"condition operator {self.operator}")


@dataclass(frozen=True)
class Statement:
    """One policy statement."""

    sid: str
    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    principals: tuple[Principal, ...] | None = None  # None in an identity policy

    @classmethod
    def parse(cls, document: Mapping[str, Any], default_sid: str) -> Statement:
        """A statement from its JSON form (``Action`` and ``Resource`` as a string or a list)."""
        unsupported = sorted(set(document) & {"NotAction", "NotResource", "NotPrincipal"})
        if unsupported:
            raise UnsupportedPolicyError(f"statement {default_sid} uses {', '.join(unsupported)}")
        effect = document.get("Effect")
        if effect not in {"Allow", "Deny"}:
            raise UnsupportedPolicyError(f"statement {default_sid} has Effect {effect!r}")
        resources = _strings(document.get("Resource", []))
        for resource in resources:
            if "${" in resource:
                raise UnsupportedPolicyError(f"statement {default_sid}: unresolved variable in {resource}")
        conditions: list[Condition] = []
        for operator, keys in document.get("Condition", {}).items():
            if operator not in CONDITION_OPERATORS:
                raise UnsupportedPolicyError(f"statement {default_sid}: condition operator {operator}")
            conditions.extend(Condition(operator, key, _strings(values)) for key, values in keys.items())
        return cls(
            sid=str(document.get("Sid") or default_sid),
            effect="Allow" if effect == "Allow" else "Deny",
            actions=_strings(document.get("Action", [])),
            resources=resources,
            conditions=tuple(conditions),
            principals=_principals(document["Principal"]) if "Principal" in document else None,
        )

    def applies_to(self, request: Request) -> bool:
        """True when action, resource, principal and every condition match ``request``."""
        return (
            any(action_matches(pattern, request.action) for pattern in self.actions)
            and any(resource_matches(pattern, request.resource) for pattern in self.resources)
            and self._principal_matches(request.principal)
            and all(condition.holds(request.context) for condition in self.conditions)
        )

    def _principal_matches(self, principal: Principal | None) -> bool:
        if self.principals is None:
            return True
        if ("*", "*") in self.principals:
            return True
        return principal is not None and principal in self.principals


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating one request: allowed unless denied, and by which statements."""

    request: Request
    allowed_by: tuple[str, ...]
    denied_by: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        """An explicit Deny wins over every Allow; no Allow at all is an implicit deny."""
        return bool(self.allowed_by) and not self.denied_by


def parse_policy(document: Mapping[str, Any], name: str = "policy") -> list[Statement]:
    """The statements of a policy document (``Statement`` as an object or a list)."""
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return [Statement.parse(item, f"{name}[{index}]") for index, item in enumerate(items)]


def evaluate(statements: Sequence[Statement], request: Request) -> Decision:
    """Evaluate ``request`` against ``statements`` as IAM does within one policy set."""
    matching = [statement for statement in statements if statement.applies_to(request)]
    return Decision(
        request=request,
        allowed_by=tuple(s.sid for s in matching if s.effect == "Allow"),
        denied_by=tuple(s.sid for s in matching if s.effect == "Deny"),
    )


def action_matches(pattern: str, action: str) -> bool:
    """``ecs:Describe*`` matches ``ecs:DescribeServices``; actions compare case-insensitively."""
    return bool(_wildcard(pattern, ignore_case=True).fullmatch(action))


def resource_matches(pattern: str, resource: str) -> bool:
    """IAM resource matching: case-sensitive, ``*`` and ``?`` match across ``:`` and ``/`` too."""
    return bool(_wildcard(pattern, ignore_case=False).fullmatch(resource))


def arn_matches(pattern: str, arn: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts is matched on its own, with wildcards."""
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return pattern == "*"
    return all(
        _wildcard(part, ignore_case=False).fullmatch(actual)
        for part, actual in zip(pattern_parts, arn_parts, strict=True)
    )


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if not isinstance(item, str | bool):
            raise UnsupportedPolicyError(f"expected strings, got {item!r} (an unresolved intrinsic?)")
    return tuple(str(item).lower() if isinstance(item, bool) else item for item in items)


def _principals(value: Any) -> tuple[Principal, ...]:
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, Mapping):
        raise UnsupportedPolicyError(f"Principal {value!r}")
    return tuple((kind, name) for kind, names in value.items() for name in _strings(names))


# -- policies from a CloudFormation template --------------------------------------------------------------


@dataclass(frozen=True)
class StackValues:
    """What CloudFormation substitutes: pseudo parameters, parameter values (a CommaDelimitedList as a
    tuple), each resource's Ref value and its GetAtt values (``"Logical.Attribute"``)."""

    pseudo: Mapping[str, str]
    parameters: Mapping[str, str | tuple[str, ...]]
    refs: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)  # the template's Conditions, unevaluated

    def ref(self, name: str) -> str | tuple[str, ...]:
        for table in (self.pseudo, self.parameters, self.refs):
            if name in table:
                return table[name]
        raise UnsupportedPolicyError(f"no value for Ref {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        key = f"{logical_id}.{attribute}"
        if key not in self.attributes:
            raise UnsupportedPolicyError(f"no value for Fn::GetAtt {key}")
        return self.attributes[key]


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str | tuple[str, ...]]:
    """Every template parameter's value: ``given``, else its Default; a CommaDelimitedList split on commas."""
    values: dict[str, str | tuple[str, ...]] = {}
    for name, declaration in template.get("Parameters", {}).items():
        raw = given.get(name, declaration.get("Default"))
        if raw is None:
            raise UnsupportedPolicyError(f"parameter {name} has no value and no Default")
        text = str(raw)
        values[name] = tuple(text.split(",")) if declaration.get("Type") == "CommaDelimitedList" else text
    unknown = sorted(set(given) - set(values))
    if unknown:
        raise UnsupportedPolicyError(f"the template has no parameter {', '.join(unknown)}")
    return values


_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def resolve_intrinsics(node: Any, values: StackValues) -> Any:
    """``node`` with Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::Select and Fn::GetAtt evaluated, and the condition
    functions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) as booleans."""
    if isinstance(node, list):
        return [resolve_intrinsics(item, values) for item in node]
    if not isinstance(node, Mapping):
        return node
    if len(node) == 1:
        [(name, argument)] = node.items()
        if name == "Ref":
            return values.ref(str(argument))
        if name == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return values.get_att(str(logical_id), str(attribute))
        if name == "Fn::Sub":
            return _sub(argument, values)
        if name == "Fn::Join":
            delimiter, items = (resolve_intrinsics(part, values) for part in argument)
            return str(delimiter).join(_string_items(items))
        if name == "Fn::Split":
            delimiter, source = (resolve_intrinsics(part, values) for part in argument)
            return str(source).split(str(delimiter))
        if name == "Fn::Select":
            index, items = (resolve_intrinsics(part, values) for part in argument)
            return _string_items(items)[int(index)]
        if name == "Condition":
            if argument not in values.conditions:
                raise UnsupportedPolicyError(f"no condition {argument}")
            return bool(resolve_intrinsics(values.conditions[argument], values))
        if name == "Fn::Equals":
            left, right = (resolve_intrinsics(part, values) for part in argument)
            return bool(left == right)
        if name == "Fn::Not":
            [operand] = argument
            return not resolve_intrinsics(operand, values)
        if name in {"Fn::And", "Fn::Or"}:
            operands = [bool(resolve_intrinsics(part, values)) for part in argument]
            return all(operands) if name == "Fn::And" else any(operands)
        if name.startswith("Fn::"):
            raise UnsupportedPolicyError(f"intrinsic {name}")
    return {key: resolve_intrinsics(value, values) for key, value in node.items()}


def _sub(argument: Any, values: StackValues) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    resolved = {name: resolve_intrinsics(value, values) for name, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in resolved:
            value = resolved[name]
        elif "." in name and not name.startswith("AWS::"):
            value = values.get_att(*name.split(".", 1))
        else:
            value = values.ref(name)
        if not isinstance(value, str):
            raise UnsupportedPolicyError(f"Fn::Sub variable {name} is a list: {value!r}")
        return value

    return _SUB_VARIABLE.sub(substitute, str(text))


def _string_items(items: Any) -> list[str]:
    if not isinstance(items, list | tuple):
        raise UnsupportedPolicyError(f"expected a list, got {items!r}")
    return [str(item) for item in items]


def created(template: Mapping[str, Any], logical_id: str, values: StackValues) -> bool:
    """Whether the stack creates the resource: it has no Condition, or its Condition holds."""
    condition = template["Resources"][logical_id].get("Condition")
    return condition is None or bool(resolve_intrinsics({"Condition": condition}, values))


def function_role(template: Mapping[str, Any], function_id: str) -> str:
    """The logical id of the AWS::IAM::Role a (transformed) AWS::Lambda::Function runs as."""
    role = template["Resources"][function_id]["Properties"]["Role"]
    if not (isinstance(role, Mapping) and "Fn::GetAtt" in role):
        raise UnsupportedPolicyError(f"{function_id}'s Role is not a GetAtt of a role in the template: {role!r}")
    logical_id = role["Fn::GetAtt"][0] if isinstance(role["Fn::GetAtt"], list) else role["Fn::GetAtt"].split(".")[0]
    return str(logical_id)


def role_statements(template: Mapping[str, Any], role_id: str, values: StackValues) -> list[Statement]:
    """The statements of a role's inline Policies, intrinsics resolved; Sid-less ones are named
    ``<PolicyName>[<index>]``. ManagedPolicyArns are not included."""
    properties = template["Resources"][role_id]["Properties"]
    statements: list[Statement] = []
    for policy in properties.get("Policies", []):
        document = resolve_intrinsics(policy["PolicyDocument"], values)
        statements.extend(parse_policy(document, str(policy["PolicyName"])))
    return statements


# -- API calls as IAM sees them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRegion:
    """Where the calls are made: partition, Region and account."""

    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def parameter_arn(self, name: str) -> str:
        """``/a/b`` is ``parameter/a/b``; a flat name ``a`` is ``parameter/a``."""
        return self.arn("ssm", "parameter/" + name.lstrip("/"))


_ECS_TASKS = "ecs-tasks.amazonaws.com"
_TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def requests_for_call(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any] | None,
    *,
    where: AccountRegion,
    topic_keys: Mapping[str, str] | None = None,
) -> list[Request]:
    """The IAM requests one API call is authorized as (Service Authorization Reference).

    ``service`` is the client's signing name (``ecs``, ``ssm``, ``ecr``...); ``response`` is the call's
    response when it succeeded (RegisterTaskDefinition's resource is the revision it creates);
    ``topic_keys`` maps an encrypted topic's ARN to its KMS key ARN (a publisher needs the key too).
    """
    action = f"{service}:{operation}"
    match service, operation:
        case "ecs", "DescribeServices" | "UpdateService" | "ListServiceDeployments":
            cluster = _ecs_cluster_arn(params.get("cluster", "default"), where)
            names = params["services"] if operation == "DescribeServices" else [params["service"]]
            return [Request(action, _ecs_service_arn(cluster, name), {"ecs:cluster": cluster}) for name in names]
        case "ecs", "CreateService":
            cluster = _ecs_cluster_arn(params.get("cluster", "default"), where)
            arn = _ecs_service_arn(cluster, str(params["serviceName"]))
            requests = [Request(action, arn, {"ecs:cluster": cluster})]
            if params.get("tags"):
                requests.append(Request("ecs:TagResource", arn, {"ecs:CreateAction": operation}))
            return requests
        case "ecs", "StopServiceDeployment" | "ContinueServiceDeployment":
            return [Request(action, str(params["serviceDeploymentArn"]))]
        case "ecs", "DescribeServiceDeployments":
            return [Request(action, str(arn)) for arn in params["serviceDeploymentArns"]]
        case "cloudwatch", "DescribeAlarms":
            return [Request(action, where.arn("cloudwatch", f"alarm:{name}")) for name in params.get("AlarmNames", [])]
        case "ecs", "DescribeTaskDefinition":
            return [Request(action, "*")]
        case "ecs", "RunTask" | "StopTask":
            return _ecs_task_requests(operation, params, response, where)
        case "ecs", "RegisterTaskDefinition":
            registered = (response or {}).get("taskDefinition", {}).get("taskDefinitionArn")
            arn = str(registered or where.arn("ecs", f"task-definition/{params['family']}:*"))
            requests = [Request(action, arn)]
            if params.get("tags"):
                requests.append(Request("ecs:TagResource", arn, {"ecs:CreateAction": operation}))
            requests.extend(
                Request("iam:PassRole", str(params[key]), {"iam:PassedToService": _ECS_TASKS})
                for key in ("taskRoleArn", "executionRoleArn")
                if params.get(key)
            )
            return requests
        case "ecr", "DescribeImages" | "DescribeImageScanFindings" | "DescribeImageSigningStatus":
            registry = str(params.get("registryId", where.account))
            arn = f"arn:{where.partition}:ecr:{where.region}:{registry}:repository/{params['repositoryName']}"
            return [Request(action, arn)]
        case "ssm", "GetParametersByPath":
            return [Request(action, where.parameter_arn(str(params["Path"])))]
        case "ssm", "GetParameter":
            requests = [Request(action, where.parameter_arn(str(params["Name"])))]
            if params.get("WithDecryption") and (response or {}).get("Parameter", {}).get("Type") == "SecureString":
                # SSM decrypts with the caller's permissions, through KMS; the response names no key (the
                # AWS managed aws/ssm key, or the parameter's own): any key of the account stands for it.
                requests.append(
                    Request(
                        "kms:Decrypt",
                        where.arn("kms", "key/ssm-parameter-key"),
                        {"kms:ViaService": f"ssm.{where.region}.amazonaws.com"},
                    )
                )
            return requests
        case "ssm", "GetParameters":
            return [Request(action, where.parameter_arn(str(name))) for name in params["Names"]]
        case "ssm", "DescribeParameters":
            return [Request(action, "*")]
        case "dynamodb", "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query":
            return [Request(action, _table_arn(str(params["TableName"]), where))]
        case "dynamodb", "TransactWriteItems":
            requests = []
            for item in params["TransactItems"]:
                [(kind, body)] = item.items()
                requests.append(Request(_TRANSACT_WRITE_ACTIONS[kind], _table_arn(str(body["TableName"]), where)))
            return requests
        case "dynamodb", "TransactGetItems":
            return [
                Request("dynamodb:GetItem", _table_arn(str(item["Get"]["TableName"]), where))
                for item in params["TransactItems"]
            ]
        case "sns", "Publish":
            topic = str(params["TopicArn"])
            requests = [Request(action, topic)]
            key = (topic_keys or {}).get(topic)
            if key:
                requests += [Request("kms:GenerateDataKey", key), Request("kms:Decrypt", key)]
            return requests
        case "scheduler", "CreateSchedule" | "DeleteSchedule":
            return _schedule_requests(action, params, where)
        case "sqs", "SendMessage":
            name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
            return [Request(action, where.arn("sqs", name))]
    raise UnsupportedPolicyError(f"no IAM mapping for the call {service}:{operation}; add one to requests_for_call")


def _schedule_requests(action: str, params: Mapping[str, Any], where: AccountRegion) -> list[Request]:
    """A schedule's creation or deletion, and the role a creation passes to Scheduler."""
    group = str(params.get("GroupName") or "default")
    requests = [Request(action, where.arn("scheduler", f"schedule/{group}/{params['Name']}"))]
    role = (params.get("Target") or {}).get("RoleArn")
    if action == "scheduler:CreateSchedule" and role:
        requests.append(Request("iam:PassRole", str(role), {"iam:PassedToService": "scheduler.amazonaws.com"}))
    return requests


def _ecs_cluster_arn(cluster: str, where: AccountRegion) -> str:
    return cluster if cluster.startswith("arn:") else where.arn("ecs", f"cluster/{cluster}")


def _ecs_task_requests(
    operation: str, params: Mapping[str, Any], response: Mapping[str, Any] | None, where: AccountRegion
) -> list[Request]:
    """RunTask: the revision it runs, in a cluster (ecs:cluster); the tags it puts on the task it starts are a
    TagResource of that task (ecs:CreateAction RunTask). StopTask: the task."""
    cluster = _ecs_cluster_arn(params.get("cluster", "default"), where)
    if operation == "StopTask":
        return [Request("ecs:StopTask", _ecs_task_arn(cluster, str(params["task"])), {"ecs:cluster": cluster})]
    definition = str(params["taskDefinition"])
    if not definition.startswith("arn:"):
        definition = where.arn("ecs", f"task-definition/{definition}" + ("" if ":" in definition else ":*"))
    requests = [Request("ecs:RunTask", definition, {"ecs:cluster": cluster})]
    if params.get("tags"):
        started = [str(task["taskArn"]) for task in (response or {}).get("tasks", [])]
        for arn in started or [_ecs_task_arn(cluster, "*")]:
            requests.append(Request("ecs:TagResource", arn, {"ecs:CreateAction": operation}))
    return requests


def _ecs_task_arn(cluster_arn: str, task: str) -> str:
    if task.startswith("arn:"):
        return task
    prefix, cluster = cluster_arn.split(":cluster/", 1)
    return f"{prefix}:task/{cluster}/{task}"


def _ecs_service_arn(cluster_arn: str, service: str) -> str:
    if service.startswith("arn:"):
        return service
    prefix, cluster = cluster_arn.split(":cluster/", 1)
    return f"{prefix}:service/{cluster}/{service}"


def _table_arn(name: str, where: AccountRegion) -> str:
    return name if name.startswith("arn:") else where.arn("dynamodb", f"table/{name}")


def unused_permissions(statements: Iterable[Statement], decisions: Iterable[Decision]) -> list[tuple[str, str]]:
    """``(Sid, action)`` of every Allow statement action that no allowed request was granted by."""
    used = {
        (sid, decision.request.action.lower())
        for decision in decisions
        if decision.allowed
        for sid in decision.allowed_by
    }
    return [
        (statement.sid, action)
        for statement in statements
        if statement.effect == "Allow"
        for action in statement.actions
        if not any(sid == statement.sid and action_matches(action, used_action) for sid, used_action in used)
    ]
