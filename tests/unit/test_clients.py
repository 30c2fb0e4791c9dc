"""The composition root's clients: those a push needs first made in the background while its first calls wait,
created from one session by one thread at a time, and only for services whose models the layer ships."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from pushdeploy import wiring
from pushdeploy.clients import PreparedClients
from pushdeploy.services import SERVICES

CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})
OTHER = Config(retries={"mode": "standard", "total_max_attempts": 1})


class FakeClient:
    def __init__(self, name: str) -> None:
        self.name = name

    def describe_services(self) -> str:
        return f"{self.name}: described"


class RecordingFactory:
    """Creates fake clients slowly, recording which thread made each and whether two creations overlapped."""

    def __init__(self, delay: float = 0.01, fail: str | None = None, hold: str | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.hold = hold  # a service whose creation waits for ``release`` (``creating`` is set once it started)
        self.creating = threading.Event()
        self.release = threading.Event()
        self.made: list[tuple[str, str]] = []
        self.overlapped = False
        self._busy = threading.Lock()

    def __call__(self, service_name: str, *, config: Config) -> Any:
        if not self._busy.acquire(blocking=False):
            self.overlapped = True
            self._busy.acquire()
        try:
            if service_name == self.hold:
                self.creating.set()
                self.release.wait(5)
            time.sleep(self.delay)
            if service_name == self.fail:
                raise ValueError(f"cannot create {service_name}")
            self.made.append((service_name, threading.current_thread().name))
            return FakeClient(service_name)
        finally:
            self._busy.release()


def test_prepared_clients_are_made_in_order_in_the_background_and_handed_out_at_once() -> None:
    # Given a factory and the clients a push calls first, in that order
    factory = RecordingFactory()
    clients = PreparedClients(factory)

    # When they are prepared, then asked for
    clients.prepare([("ssm", CONFIG), ("dynamodb", CONFIG), ("ecs", CONFIG), ("ecs", OTHER)])
    ecs, registering = clients("ecs", config=CONFIG), clients("ecs", config=OTHER)

    # Then each stand-in is the client once used, the two ECS clients distinct (their configs differ)
    assert ecs.describe_services() == "ecs: described"
    assert registering.describe_services() == "ecs: described"
    assert ecs is not registering
    assert clients("ssm", config=CONFIG).name == "ssm"
    # And all were made by the background thread, in the order given
    assert factory.made == [(name, "pushdeploy-clients") for name in ("ssm", "dynamodb", "ecs", "ecs")]


def test_a_client_not_prepared_is_made_next_by_the_background_thread_while_it_runs() -> None:
    # Given clients being prepared, the first one's creation still under way
    factory = RecordingFactory(hold="ssm")
    clients = PreparedClients(factory)
    clients.prepare([("ssm", CONFIG), ("dynamodb", CONFIG), ("sns", CONFIG)])
    assert factory.creating.wait(5)

    # When one that was not prepared is asked for (a manual deploy's ECR client)
    ecr = clients("ecr", config=CONFIG)
    factory.release.set()

    # Then the background thread makes it next, ahead of the others still waiting; one creation at a time
    assert ecr.name == "ecr"
    assert clients("sns", config=CONFIG).name == "sns"
    assert factory.made == [(name, "pushdeploy-clients") for name in ("ssm", "ecr", "dynamodb", "sns")]
    assert not factory.overlapped


def test_a_client_not_prepared_is_made_by_the_caller_once_the_background_thread_is_done() -> None:
    # Given prepared clients, all made
    factory = RecordingFactory(delay=0)
    clients = PreparedClients(factory)
    clients.prepare([("ssm", CONFIG)])
    assert clients("ssm", config=CONFIG).name == "ssm"
    clients.wait()
    assert not clients.running

    # When another is asked for, the caller makes it: no thread is using the session any more
    assert clients("ecr", config=CONFIG).name == "ecr"
    assert factory.made[-1] == ("ecr", threading.current_thread().name)


def test_a_client_whose_creation_failed_raises_that_error_where_it_is_first_used() -> None:
    # Given a client whose creation fails (a bad region, say)
    clients = PreparedClients(RecordingFactory(fail="dynamodb"))
    clients.prepare([("ssm", CONFIG), ("dynamodb", CONFIG), ("sns", CONFIG)])

    # When it is used, it raises what its creation raised; the clients after it were still made
    with pytest.raises(ValueError, match="cannot create dynamodb"):
        clients("dynamodb", config=CONFIG).describe_services()
    assert clients("sns", config=CONFIG).name == "sns"


def test_clients_are_prepared_once() -> None:
    clients = PreparedClients(RecordingFactory(delay=0))
    clients.prepare([("ssm", CONFIG)])
    with pytest.raises(RuntimeError, match="prepared once"):
        clients.prepare([("sns", CONFIG)])


def test_the_composition_root_refuses_a_client_whose_model_the_layer_does_not_ship() -> None:
    # Given the botocore path of the composition root (no session given)
    create = wiring.clients_of(None, "us-east-1")

    # When a client of a service outside pushdeploy.services is asked for, the error names the file to change
    with pytest.raises(RuntimeError, match=r"no 'lambda' client: .*pushdeploy/services.py"):
        create("lambda", config=CONFIG)
    # And every service it keeps is one botocore knows
    assert not SERVICES - set(botocore.session.get_session().get_available_services())
