"""DynamoDB's attribute values, to and from plain Python.

boto3's TypeSerializer does this, but importing anything of boto3 imports all of it (s3transfer included):
about 140 ms of the deploy function's cold start, for two small functions. The ledger needs only strings,
numbers, booleans, null, maps and lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def to_attribute(value: Any) -> dict[str, Any]:
    """``value`` as a DynamoDB attribute value; None inside a map is left out (DynamoDB stores no null there
    that the ledger wants)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, Mapping):
        return {"M": {str(key): to_attribute(item) for key, item in value.items() if item is not None}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    raise TypeError(f"no DynamoDB attribute value for {type(value).__name__}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """The plain Python of a DynamoDB attribute value (numbers as int when whole, else float)."""
    [(kind, value)] = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: from_attribute(item) for key, item in value.items()}
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {_number(item) for item in value}
    if kind in {"B", "BS"}:
        return value
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)
