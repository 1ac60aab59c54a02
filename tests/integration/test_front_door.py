"""The front door through the real broker: identities RabbitMQ vouches for, a policy that
denies by default, path grants, refusals set aside with their reason, nothing written.

Each test creates its own RabbitMQ users (rabbitmqctl) and a namespace of queues, runs
one worker in this process with a policy file, and publishes as those users.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiormq
import pytest

from actors.service.worker import WorkerOptions
from actors.transport.topology import requests_queue
from actors.wire.events import OperationFinished, RequestAccepted, RequestRejected
from actors.wire.requests import (
    CancelRequest,
    DeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
    VerifyRequest,
)
from banks.filesystem.bank import FilesystemBank
from plugins.checkpoint.operation_spec import read_spec
from tests import broker
from tests.helpers.directory_trees import build_awkward_tree, snapshot
from tests.helpers.request_client import Client, dead_letters, plain, running_worker

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="rabbitmqctl not installed"),
]

DIRECTORY = "Strongbox::Directory"
USERS_SCRIPT = Path(__file__).resolve().parents[2] / "config" / "rabbitmq" / "users.sh"


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def users(amqp_url: str) -> Iterator[dict[str, str]]:
    """Three broker users of their own, each with a URL: the worker, alice and mallory."""
    suffix = uuid.uuid4().hex[:8]
    parts = urlsplit(amqp_url)
    vhost = parts.path.lstrip("/") or "/"
    urls: dict[str, str] = {}
    for role in ("worker", "alice", "mallory"):
        name, password = f"sb-{role}-{suffix}", uuid.uuid4().hex
        rabbitmqctl("add_user", name, password)
        rabbitmqctl("set_permissions", "-p", vhost, name, ".*", ".*", ".*")
        netloc = f"{name}:{password}@{parts.hostname}:{parts.port or 5672}"
        urls[role] = urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        urls[f"{role}-name"] = name
    try:
        yield urls
    finally:
        for role in ("worker", "alice", "mallory"):
            rabbitmqctl("delete_user", urls[f"{role}-name"])


class Site:
    """The worker's files: data to protect, a secret it must not, where restores may go."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.secret = root / "secret"
        self.allowed = root / "restore"
        self.outside = root / "outside"
        self.bank = root / "bank"
        self.providers = root / "providers"
        for path in (self.secret, self.allowed, self.outside, self.providers):
            path.mkdir()
        build_awkward_tree(self.data)
        (self.secret / "key").write_text("not yours")
        (self.allowed / "escape").symlink_to(self.outside)
        (self.providers / "local.conf").write_text(
            "[provider]\nname = Local\nid = front-door\ndescription = front door tests\n"
            "bank = filesystem\nplugin = directory\n\n"
            f"[filesystem]\npath = {self.bank}\n\n[directory]\nencryption = none\n")

    def policy(self, alice: str, mallory: str) -> Path:
        path = self.providers.parent / "policy.conf"
        path.write_text(
            f"[user {alice}]\noperations = protect, restore, verify\nproviders = Local\n"
            f"protect_roots = {self.data}\nrestore_targets = {self.allowed}\n\n"
            f"[user {mallory}]\noperations = verify\nproviders = *\n")
        return path


@asynccontextmanager
async def serving(users: dict[str, str], site: Site,
                  namespace: str | None = None) -> AsyncIterator[str]:
    """A worker with the site's policy, logged in as the worker user; yields the namespace."""
    options = WorkerOptions(
        amqp_url=users["worker"], namespace=namespace or broker.new_namespace(),
        shards=broker.TEST_SHARDS, providers_dir=str(site.providers), worker_id="w-front-door",
        policy=str(site.policy(users["alice-name"], users["mallory-name"])))
    async with running_worker(options) as serving_namespace:
        yield serving_namespace


async def test_a_forged_user_id_is_refused_by_the_broker_itself(
        users: dict[str, str]) -> None:
    namespace = broker.new_namespace()
    connection = await aiormq.connect(users["mallory"])
    channel = await connection.channel()
    await channel.queue_declare(requests_queue(namespace), durable=True)
    forged = aiormq.spec.Basic.Properties(user_id=users["alice-name"])
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed, match="user_id"):
        await channel.basic_publish(b"{}", routing_key=requests_queue(namespace),
                                    properties=forged)
    check = await connection.channel()
    declared = await check.queue_declare(requests_queue(namespace), durable=True)
    assert declared.message_count == 0  # the forged request never reached the queue
    await check.queue_delete(requests_queue(namespace))
    await connection.close()


async def test_refused_requests_are_set_aside_with_the_reason_and_nothing_is_written(
        users: dict[str, str], tmp_path: Path) -> None:
    site = Site(tmp_path)
    async with serving(users, site) as namespace:
        alice = await Client.connect(users["alice"], namespace)
        mallory = await Client.connect(users["mallory"], namespace)
        protected = await alice.ask(ProtectRequest(resources=[ResourceRef(DIRECTORY,
                                                                          str(site.data))]))
        assert isinstance(protected, OperationFinished) and protected.status == "succeeded"
        checkpoint = protected.checkpoint_id
        assert checkpoint is not None

        def restore_to(target: str) -> RestoreRequest:
            return RestoreRequest(checkpoint_id=checkpoint,
                                  parameters={DIRECTORY: {"target": target}})

        refusals = {
            "outside the targets": (alice, restore_to(str(site.outside / "x")),
                                    "outside what user"),
            "through a symlink": (alice, restore_to(str(site.allowed / "escape" / "x")),
                                  "outside what user"),
            "onto /": (alice, restore_to("/"), "or holds it"),  # / holds the bank
            "climbing with ..": (alice, restore_to(f"{site.allowed}/../../../../../etc"),
                                 "outside what user"),
            "into the bank": (alice, restore_to(str(site.bank)), "bank's own storage"),
            "in place, outside": (alice, RestoreRequest(checkpoint_id=checkpoint),
                                  "outside what user"),
            "a root outside": (alice, ProtectRequest(resources=[ResourceRef(
                DIRECTORY, str(site.secret))]), "outside what user"),
            "delete not granted": (alice, DeleteRequest(checkpoint_id=checkpoint),
                                   "delete for user"),
            "delete by another": (mallory, DeleteRequest(checkpoint_id=checkpoint),
                                  "delete for user"),
            "cancel by another": (mallory, CancelRequest(operation_id=protected.operation_id),
                                  "cancel for user"),
        }
        for name, (client, request, phrase) in refusals.items():
            event = await client.ask(request)
            assert isinstance(event, RequestRejected), name
            assert event.reason.startswith("forbidden: ") and phrase in event.reason, name
            assert event.user_id in (users["alice-name"], users["mallory-name"]), name
        # a request with no identity at all: a plain client that sets no user_id
        anonymous = ProtectRequest(resources=[ResourceRef(DIRECTORY, str(site.data))])
        connection = await aiormq.connect(users["alice"])
        channel = await connection.channel()
        await channel.basic_publish(json.dumps(plain(anonymous)).encode(),
                                    routing_key=requests_queue(namespace))
        await connection.close()
        event = await alice.verdict(anonymous.request_id)
        assert isinstance(event, RequestRejected)
        assert "unidentified publisher" in event.reason and event.user_id is None

        letters = await dead_letters(users["worker"], namespace, len(refusals) + 1)
        assert all(reason.startswith("forbidden: ") for _, reason in letters)
        assert sorted(site.outside.iterdir()) == []
        bank = await FilesystemBank.open({"path": str(site.bank)})
        for _, request, _ in refusals.values():
            assert await read_spec(bank, request.request_id) is None  # nothing written
        assert await read_spec(bank, anonymous.request_id) is None

        # the allowed counterparts, after all that: the worker still serves
        restored = await alice.ask(restore_to(str(site.allowed / "copy")))
        assert isinstance(restored, OperationFinished) and restored.status == "succeeded"
        assert snapshot(site.allowed / "copy") == snapshot(site.data)
        verified = await mallory.ask(VerifyRequest(checkpoint_id=checkpoint))
        assert isinstance(verified, OperationFinished) and verified.status == "succeeded"
        await alice.close()
        await mallory.close()


async def test_every_accepted_request_is_audited_with_who_asked_for_what(
        users: dict[str, str], tmp_path: Path) -> None:
    site = Site(tmp_path)
    async with serving(users, site) as namespace:
        alice = await Client.connect(users["alice"], namespace)
        request = ProtectRequest(resources=[ResourceRef(DIRECTORY, str(site.data))])
        await alice.transport.publish_request(json.dumps(plain(request)).encode())
        async with asyncio.timeout(60):
            async for event in alice.subscription:
                if isinstance(event, RequestAccepted) and event.request_id == request.request_id:
                    break
        assert event.user_id == users["alice-name"]
        assert (event.request_kind, event.subject) == ("protect", [f"{DIRECTORY}#{site.data}"])
        await alice.verdict(request.request_id)
        await alice.close()


async def test_the_shipped_broker_users_keep_a_client_off_the_actor_queues(
        users: dict[str, str], tmp_path: Path) -> None:
    namespace = broker.new_namespace()
    suffix = uuid.uuid4().hex[:8]
    names = {"worker": f"sb-shipped-worker-{suffix}", "alice": f"sb-shipped-client-{suffix}"}
    passwords = {role: uuid.uuid4().hex for role in names}
    await asyncio.to_thread(subprocess.run, ["sh", str(USERS_SCRIPT)], check=True,
                            capture_output=True, timeout=120, env={
        **{k: v for k, v in os.environ.items() if not k.startswith("STRONGBOX_")},
        "STRONGBOX_NAMESPACE": namespace, "STRONGBOX_WORKER_USER": names["worker"],
        "STRONGBOX_CLIENT_USER": names["alice"],
        "STRONGBOX_WORKER_PASSWORD": passwords["worker"],
        "STRONGBOX_CLIENT_PASSWORD": passwords["alice"]})
    parts = urlsplit(users["worker"])
    shipped = dict(users)
    for role, name in names.items():
        netloc = f"{name}:{passwords[role]}@{parts.hostname}:{parts.port or 5672}"
        shipped[role] = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        shipped[f"{role}-name"] = name
    site = Site(tmp_path)
    try:
        async with serving(shipped, site, namespace):
            # what a client may: publish a request, follow its events
            client = await Client.connect(shipped["alice"], namespace)
            done = await client.ask(ProtectRequest(resources=[ResourceRef(DIRECTORY,
                                                                          str(site.data))]))
            assert isinstance(done, OperationFinished) and done.status == "succeeded"
            await client.close()
            # what it may not: reach an actor queue, read requests, declare in the namespace
            attempts = {
                "the actor exchange": lambda ch: ch.basic_publish(
                    b"{}", exchange=f"{namespace}.actors", routing_key="shard.0"),
                "a shard through the default exchange": lambda ch: ch.basic_publish(
                    b"{}", routing_key=f"{namespace}.actors.shard.0"),
                "the request queue": lambda ch: ch.basic_get(requests_queue(namespace)),
                "a queue of the namespace": lambda ch: ch.queue_declare(f"{namespace}.x"),
            }
            connection = await aiormq.connect(shipped["alice"])
            for name, attempt in attempts.items():
                channel = await connection.channel()
                with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                    await attempt(channel)
                assert name
            await connection.close()
    finally:
        for name in names.values():
            rabbitmqctl("delete_user", name)
