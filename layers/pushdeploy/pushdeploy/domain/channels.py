"""One notification, each subscriber its own form: JSON for programs, text for e-mail, the chat format for
Amazon Q Developer in chat applications (AWS Chatbot, over HTTPS); and what every form shares (the headline,
the changes in words, the console links). A webhook channel's form is its own renderer (``domain.slack``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pushdeploy.domain.names import short_digest
from pushdeploy.domain.notification import REGION, Notification
from pushdeploy.domain.times import describe_time, parse_time

STATUS_MARKERS = {
    "DEPLOYING": ":rocket:",
    "COMPLETED": ":white_check_mark:",
    "FAILED": ":x:",
    "ROLLED_BACK": ":leftwards_arrow_with_hook:",
    "RETRYING": ":hourglass_flowing_sand:",
    "SKIPPED": ":fast_forward:",
    "AWAITING_APPROVAL": ":raised_hand:",
    "PREPARING": ":hammer_and_wrench:",
    "WAITING": ":hourglass:",
}
STATUS_WORDS = {
    "DEPLOYING": "is deploying",
    "COMPLETED": "is deployed",
    "FAILED": "failed to deploy",
    "ROLLED_BACK": "was rolled back",
    "RETRYING": "is being retried (the service update's result is unknown)",
    "SKIPPED": "was skipped",
    "AWAITING_APPROVAL": "awaits approval",
    "PREPARING": "runs a one-off task before deploying",
    "WAITING": "waits for its gates",
}


def protocol_bodies(notification: Notification, *, region: str | None = None) -> dict[str, str]:
    """The SNS ``MessageStructure="json"`` message: a body per subscriber protocol.

    ``region`` is the Region the console links fall back to when the record names none (the topic's).
    """
    record = json.dumps(notification.message, separators=(",", ":"))
    chat = json.dumps(render_chatbot(notification.message, region=region), separators=(",", ":"))
    return {
        "default": record,
        "sqs": record,
        "lambda": record,
        "email-json": record,
        "application": record,
        "firehose": record,
        "email": render_email(notification.message, region=region),
        "https": chat,
        "http": chat,
    }


def revision(arn: str | None) -> str:
    """``api-staging:7`` from a task-definition ARN."""
    return arn.rsplit("/", 1)[-1] if arn else "-"


def headline(message: Mapping[str, Any]) -> str:
    """``api:staging-42 is deploying to staging`` (one line, for titles and fallbacks)."""
    status = str(message.get("status"))
    action = "rollback of " if message.get("trigger") == "rollback" else ""
    where = "to" if status in {"DEPLOYING", "COMPLETED", "FAILED"} else "on"
    return (
        f"{action}{message.get('repository')}:{message.get('tag')} {STATUS_WORDS.get(status, status.lower())} "
        f"{where} {message.get('target')}"
    )


def region_of(message: Mapping[str, Any], default: str | None = None) -> str | None:
    """The Region of the message's service: the record's ``region``, else the one an ARN in it names, else
    ``default``."""
    region = message.get("region")
    if isinstance(region, str) and REGION.fullmatch(region):
        return region
    for key in ("taskDefinitionArn", "previousTaskDefinitionArn", "cluster", "service"):
        parts = str(message.get(key) or "").split(":")
        if len(parts) >= 6 and parts[0] == "arn" and REGION.fullmatch(parts[3]):
            return parts[3]
    return default


def console_links(message: Mapping[str, Any], *, region: str | None = None) -> dict[str, str]:
    """Links to the service and the task definition in the AWS console, for what the message names.

    The service link needs a cluster, a service and a Region (``region_of``; ``region`` is the fallback), so
    a failure before any task definition was read still links to the service.
    """
    links: dict[str, str] = {}
    cluster, service = message.get("cluster"), message.get("service")
    service_region = region_of(message, region)
    if cluster and service and service_region:
        cluster_name, service_name = (str(name).rsplit("/", 1)[-1] for name in (cluster, service))
        links["service"] = (
            f"{_console(service_region)}/clusters/{quote(cluster_name)}/services/{quote(service_name)}"
            f"/health?region={service_region}"
        )
    arn = str(message.get("taskDefinitionArn") or message.get("previousTaskDefinitionArn") or "")
    parts = arn.split(":")
    if len(parts) >= 7 and arn.startswith("arn:"):
        arn_region, family, number = parts[3], parts[5].rsplit("/", 1)[-1], parts[6]
        links["taskDefinition"] = (
            f"{_console(arn_region)}/task-definitions/{quote(family)}/{number}/containers?region={arn_region}"
        )
    task = message.get("task")
    if isinstance(task, Mapping) and isinstance(task.get("logs"), str) and task["logs"].startswith("https://"):
        links["taskLogs"] = task["logs"]
    return links


def describe_task(message: Mapping[str, Any]) -> str | None:
    """A one-off task in words: ``beforeDeploy[0]: python manage.py migrate in container api (task 1a2b...),
    exit code 1: <reason>``, when the record names one."""
    task = message.get("task")
    if not isinstance(task, Mapping):
        return None
    phase = str(task.get("phase") or "task")
    where = f"{phase}[{task['index']}]" if isinstance(task.get("index"), int) else phase
    command = " ".join(str(part) for part in task.get("command") or [])[:300]
    task_id = str(task.get("taskArn") or "").rsplit("/", 1)[-1][:12]
    text = f"{where}: {command} in container {task.get('container')}" + (f" (task {task_id})" if task_id else "")
    if task.get("timedOut"):
        text += f", timed out after {task.get('timeoutMinutes')} min"
    elif isinstance(task.get("exitCode"), int):
        text += f", exit code {task['exitCode']}"
        if task.get("stoppedReason"):
            text += f": {str(task['stoppedReason'])[:300]}"
    return text


def _console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/ecs/v2"


def describe_changes(message: Mapping[str, Any]) -> list[str]:
    """One line per changed field; secrets by name (and the parameter they come from), never a value."""
    lines = []
    for change in message.get("changes") or []:
        container, field, name = change.get("container"), change.get("field"), change.get("name")
        before, after = change.get("before"), change.get("after")
        if field == "image":
            lines.append(f"{container}: image {_image_name(before)} -> {_image_name(after)}")
        elif field == "secret":
            verb = "added" if before is None else "removed" if after is None else "changed"
            source = f" (from {_parameter(after)})" if after else ""
            lines.append(f"{container}: secret {name} {verb}{source}")
        else:
            lines.append(f"{container}: {name} = {after if after is not None else '(removed)'}")
    return lines


def describe_account(message: Mapping[str, Any]) -> str | None:
    """``222222222222 (payments-prod), us-east-1``: the workload account of a target that names one (the console
    links open in that Region; sign in to that account to follow them)."""
    account = message.get("account")
    if not isinstance(account, str) or not account:
        return None
    alias = message.get("accountAlias")
    named = f"{account} ({alias})" if isinstance(alias, str) and alias else account
    region = message.get("region")
    return f"{named}, {region}" if isinstance(region, str) and region else named


def render_email(message: Mapping[str, Any], *, region: str | None = None) -> str:
    """Plain text for e-mail subscribers (``region``: where console links point when the record says not)."""
    lines = [headline(message) + ".", ""]
    rows = [
        ("Status", message.get("status")),
        ("Image", f"{message.get('repository')}:{message.get('tag')} ({short_digest(message.get('digest'))})"),
        ("Target", f"{message.get('target')} (cluster {message.get('cluster')}, service {message.get('service')})"),
        (
            "Revision",
            f"{revision(message.get('previousTaskDefinitionArn'))} -> {revision(message.get('taskDefinitionArn'))}",
        ),
        ("Account", describe_account(message)),
        ("Trigger", describe_trigger(message)),
        ("Deployment", message.get("deploymentId")),
        ("Duration", f"{message['durationSeconds']:.0f} s" if message.get("durationSeconds") is not None else None),
        ("Reason", message.get("reason")),
        ("Strategy", describe_strategy(message)),
        ("Approval", describe_approval(message)),
        ("Task", describe_task(message)),
        ("Gates", describe_gates(message)),
        ("Promotion", describe_promotion(message)),
    ]
    lines += [f"{label + ':':<12}{value}" for label, value in rows if value not in (None, "")]
    changes = describe_changes(message)
    if changes:
        lines += ["", "Changes:", *(f"  - {line}" for line in changes)]
    if message.get("warnings"):
        lines += ["", "Warnings:", *(f"  - {warning}" for warning in message["warnings"])]
    links = console_links(message, region=region)
    if links:
        lines += ["", *(f"{name}: {url}" for name, url in sorted(links.items()))]
    lines += [
        "",
        f"Event {message.get('eventId')} at {message.get('time')}. The JSON record is in the SQS/Lambda body.",
    ]
    return "\n".join(lines)


def render_chatbot(message: Mapping[str, Any], *, region: str | None = None) -> dict[str, Any]:
    """The custom-notification format of Amazon Q Developer in chat applications (formerly AWS Chatbot).

    Every update of one deploy shares a ``threadId``, so DEPLOYING and its outcome land in one thread.
    ``region``: where console links point when the record says not.
    """
    status = str(message.get("status"))
    description = [
        f"*{message.get('repository')}:{message.get('tag')}* `{short_digest(message.get('digest'))}`",
        f"{message.get('cluster')} / {message.get('service')}: "
        f"{revision(message.get('previousTaskDefinitionArn'))} → {revision(message.get('taskDefinitionArn'))}",
        describe_trigger(message),
    ]
    if message.get("reason"):
        description.append(f"*Reason:* {message['reason']}")
    for label, text in (
        ("Account", describe_account(message)),
        ("Strategy", describe_strategy(message)),
        ("Approval", describe_approval(message)),
        ("Task", describe_task(message)),
        ("Gates", describe_gates(message)),
        ("Promotion", describe_promotion(message)),
    ):
        if text:
            description.append(f"*{label}:* {text}")
    description += [f"• {line}" for line in describe_changes(message)[:10]]
    next_steps = [
        f"<{url}|Open the {name.replace('taskDefinition', 'task definition').replace('taskLogs', 'task logs')}>"
        for name, url in sorted(console_links(message, region=region).items())
    ]
    if message.get("warnings"):
        next_steps += [str(warning) for warning in message["warnings"]]
    context = {key: str(message[key]) for key in ("status", "deploymentId", "eventId") if message.get(key)}
    return {
        "version": "1.0",
        "source": "custom",
        "id": f"{message.get('eventId')}-{status}"[:128],
        "content": {
            "textType": "client-markdown",
            "title": f"{STATUS_MARKERS.get(status, '')} {headline(message)}".strip()[:250],
            "description": "\n".join(description)[:8000],
            "nextSteps": next_steps,
            "keywords": [value[:75] for value in (status, str(message.get("repository")), str(message.get("target")))],
        },
        "metadata": {
            "threadId": thread_id(message),
            "summary": headline(message)[:500],
            "additionalContext": context,
        },
    }


def describe_strategy(message: Mapping[str, Any]) -> str | None:
    """``CANARY, can complete at 10:35:35Z at the earliest (20 min of bake times)``, when the record names one."""
    strategy = message.get("strategy")
    if not isinstance(strategy, str):
        return None
    minutes = message.get("earliestCompletionMinutes")
    if message.get("status") != "DEPLOYING" or not isinstance(minutes, int) or isinstance(minutes, bool):
        return strategy
    try:
        earliest = describe_time(parse_time(str(message.get("time"))) + minutes * 60)
    except ValueError:
        return f"{strategy}, {minutes} min of bake times"
    paused = " plus the approval's wait" if isinstance(message.get("approval"), Mapping) else ""
    return f"{strategy}, can complete at {earliest} at the earliest ({minutes} min of bake times{paused})"


def describe_approval(message: Mapping[str, Any]) -> str | None:
    """The approval in words: what is asked, how to answer by when, or what became of it."""
    approval = message.get("approval")
    if not isinstance(approval, Mapping):
        return None
    stage = approval.get("stage")
    decision = approval.get("decision")
    if decision in {"approved", "rejected"}:
        return f"{decision} by {approval.get('decidedBy')} at {approval.get('decidedAt')} ({stage})"
    if decision == "timed-out":
        return f"timed out at {approval.get('deadline')} ({stage})"
    if message.get("status") == "AWAITING_APPROVAL":
        answer = json.dumps(approval.get("approve"), separators=(", ", ": "))
        who = approval.get("approvers")
        slack = f"; in Slack: {', '.join(map(str, who))}" if isinstance(who, list) and who else ""
        return (
            f"paused at {stage} until {approval.get('deadline')} (then {approval.get('onTimeout')}); approve by "
            f'invoking the deploy function with {answer}, or reject with "action": "reject"{slack}'
        )
    timeout = f"timeout {approval.get('timeoutMinutes')} min, then {approval.get('onTimeout')}"
    return f"paused for approval at {stage} ({timeout})"


def thread_id(message: Mapping[str, Any]) -> str:
    """One thread per deploy: the target and the image it deploys."""
    return f"pushdeploy/{message.get('repository')}/{message.get('target')}/{short_digest(message.get('digest'))}"[:128]


def describe_trigger(message: Mapping[str, Any]) -> str:
    """``docker push``, ``manual deploy by alice``, ``rollback``."""
    trigger = str(message.get("trigger"))
    who = f" by {message['requestedBy']}" if message.get("requestedBy") else ""
    promoted = message.get("promotion")
    source = f" from {promoted.get('from')}" if isinstance(promoted, Mapping) else ""
    return {
        "push": "docker push",
        "manual": f"manual deploy{who}",
        "rollback": f"rollback{who}",
        "promote": f"promotion{source}",
    }.get(trigger, trigger)


def describe_gates(message: Mapping[str, Any]) -> str | None:
    """The gates in words: overridden (by whom, why), what a WAITING deploy waits for until when, each answer."""
    gates = message.get("gates")
    if not isinstance(gates, Mapping):
        return None
    override = gates.get("override")
    if isinstance(override, Mapping):
        return f"OVERRIDDEN by {override.get('requestedBy')}: {override.get('reason')}"
    parts = [
        f"{check.get('gate')} {check.get('outcome')}: {check.get('reason')}"
        for check in gates.get("checks") or []
        if isinstance(check, Mapping)
    ]
    if gates.get("waitingFor"):
        parts.insert(0, f"waiting for {gates['waitingFor']} until {gates.get('deadline')}")
    if gates.get("findingsUrl") and gates.get("decision") != "PASS":
        parts.append(f"findings: {gates['findingsUrl']}")
    return "; ".join(parts) or str(gates.get("decision"))


def describe_promotion(message: Mapping[str, Any]) -> str | None:
    """``promoted from staging (COMPLETED 10:02, soaked 30 min)``."""
    promotion = message.get("promotion")
    return str(promotion.get("summary")) if isinstance(promotion, Mapping) and promotion.get("summary") else None


def _image_name(image: Any) -> str:
    name = str(image or "-").rsplit("/", 1)[-1]
    return name.split("@", 1)[0] + "@" + short_digest(name.split("@", 1)[1]) if "@" in name else name


def _parameter(value_from: Any) -> str:
    text = str(value_from)
    return "/" + text.split(":parameter/", 1)[1] if ":parameter/" in text else text
