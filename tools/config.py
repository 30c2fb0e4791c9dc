"""Check a target config before it goes to Parameter Store, and put it there.

    python -m tools.config validate staging.json
    python -m tools.config validate prod.json --tag v1.4.2 --tag v1.3.9   # which pattern decides each tag, and why
    python -m tools.config put staging.json --repository api --target staging --endpoint-url http://127.0.0.1:PORT
    python -m tools.config put staging.json --repository api --target staging --aws   # your real account

`put` never reaches a real AWS account unless --aws says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import boto3

from pushdeploy.domain.artifacts import artifact_reason
from pushdeploy.domain.config import TargetConfig, parse_target_config
from pushdeploy.domain.errors import ConfigError
from pushdeploy.domain.policy import tag_policy


def validate(path: Path, parameter: str | None = None) -> TargetConfig:
    """Parse and check the config in ``path``; ConfigError names the field at fault."""
    return parse_target_config(parameter or str(path), path.read_text())


def explain_tag(config: TargetConfig, tag: str) -> str:
    """Whether a push of ``tag`` deploys to the target, and which pattern decided (or why none matched), as
    the deploy function judges it."""
    artifact = artifact_reason(tag)
    if artifact is not None:
        return f"ignored: {artifact}"
    match = tag_policy(config.parameter, config.tags, config.exclude).match(tag)
    return f"{'deploys' if match.matched else 'skipped'}: {match.reason}"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``validate FILE`` or ``put FILE --repository R --target T``."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.config", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check a target config file")
    check.add_argument("file", type=Path)
    check.add_argument(
        "--tag", action="append", default=[], help="a tag to judge against the target's patterns (repeatable)"
    )
    put = commands.add_parser("put", help="check a target config file and store it in Parameter Store")
    put.add_argument("file", type=Path)
    put.add_argument("--repository", required=True, help="ECR repository name, e.g. api or team/api")
    put.add_argument("--target", required=True, help="target name, e.g. staging")
    put.add_argument("--prefix", default="/pushdeploy", help="the stack's ConfigPrefix (default /pushdeploy)")
    where = put.add_mutually_exclusive_group()
    where.add_argument("--endpoint-url", help="a local AWS, e.g. http://127.0.0.1:PORT (default: $AWS_ENDPOINT_URL)")
    where.add_argument("--aws", action="store_true", help="store it in the real AWS account of your credentials")
    args = parser.parse_args(argv)

    name = f"{args.prefix.rstrip('/')}/{args.repository}/{args.target}" if args.command == "put" else None
    try:
        config = validate(args.file, name)
    except (ConfigError, OSError) as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(
        f"valid: target {config.name}: cluster {config.cluster}, service {config.service}, "
        f"tags {list(config.tags)}{f', exclude {list(config.exclude)}' if config.exclude else ''}, "
        f"{len(config.secrets)} secret(s), "
        f"secretsPath {config.secrets_path or '-'}, {len(config.environment)} variable(s)"
    )
    if args.command == "validate":
        for tag in args.tag:
            print(f"tag {tag}: {explain_tag(config, tag)}")
        return 0

    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint and not args.aws:
        print(
            "refusing to reach AWS: give --endpoint-url for a local AWS, or --aws for your real account",
            file=sys.stderr,
        )
        return 2
    ssm = boto3.client("ssm", endpoint_url=endpoint) if endpoint else boto3.client("ssm")
    value = json.dumps(json.loads(args.file.read_text()), indent=2)
    ssm.put_parameter(
        Name=str(name),
        Value=value,
        Type="String",
        Overwrite=True,
        Description=f"pushdeploy target {args.target} of repository {args.repository}",
    )
    print(f"stored {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
