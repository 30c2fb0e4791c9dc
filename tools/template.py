"""Reading template.yaml: CloudFormation short tags, and the SAM transform done offline."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
# The AWS managed policies SAM attaches by name; the translator only needs their ARNs.
MANAGED_POLICIES = ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess")


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that reads !Ref, !Sub, !GetAtt... as their long forms."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict, short tags expanded."""
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return loaded


class _ManagedPolicies(ManagedPolicyLoader):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(None)

    def load(self) -> dict[str, str]:
        return {name: f"arn:aws:iam::aws:policy/{name}" for name in MANAGED_POLICIES}


def sam_transform(template: dict[str, Any], code_locations: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation that SAM makes of ``template``, with each function's or layer's local code
    replaced by the ``s3://`` location in ``code_locations`` (logical id to URI), as `sam package` does."""
    packaged = copy.deepcopy(template)
    for logical_id, uri in code_locations.items():
        properties = packaged["Resources"][logical_id]["Properties"]
        key = "ContentUri" if "ContentUri" in properties else "CodeUri"
        properties[key] = uri
    result: dict[str, Any] = transform(packaged, {}, _ManagedPolicies())
    return result


_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def resolve_pseudo_parameters(node: Any, values: dict[str, str]) -> Any:
    """Replace each ``Fn::Sub`` that uses only pseudo parameters (``${AWS::Region}``...) by its value.

    moto's CloudFormation cannot take an ``Fn::Sub`` as an ``Fn::Join`` delimiter, as real CloudFormation
    can; with the pseudo parameters known locally, the string means the same.
    """
    if isinstance(node, list):
        return [resolve_pseudo_parameters(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    sub = node.get("Fn::Sub")
    if len(node) == 1 and isinstance(sub, str) and all(name in values for name in _VARIABLE.findall(sub)):
        return _VARIABLE.sub(lambda match: values[match.group(1)], sub)
    return {key: resolve_pseudo_parameters(value, values) for key, value in node.items()}


def condition_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """The value of each of the template's Conditions, for the given parameter values (defaults otherwise).
    Understands Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and Ref to parameters."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(parameters)
    conditions: dict[str, Any] = template.get("Conditions", {})

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return values.get(argument, argument)
            if key == "Condition":
                return evaluate(conditions[argument])
            if key == "Fn::Equals":
                return evaluate(argument[0]) == evaluate(argument[1])
            if key == "Fn::Not":
                return not evaluate(argument[0])
            if key == "Fn::And":
                return all(evaluate(item) for item in argument)
            if key == "Fn::Or":
                return any(evaluate(item) for item in argument)
        return node

    return {name: bool(evaluate(spec)) for name, spec in conditions.items()}


def code_directories(template: dict[str, Any]) -> dict[str, Path]:
    """Logical id to local code directory of every SAM function and layer."""
    found: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        uri = properties.get("CodeUri") or properties.get("ContentUri")
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::Serverless::LayerVersion"} and isinstance(uri, str):
            found[logical_id] = ROOT / uri
    return found
