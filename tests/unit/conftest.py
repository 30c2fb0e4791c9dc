"""Unit-test isolation: no socket may connect anywhere, so nothing reaches AWS (or anything else)."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError("network blocked in unit tests")


@pytest.fixture(autouse=True)
def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unit test runs with outgoing connections refused."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
