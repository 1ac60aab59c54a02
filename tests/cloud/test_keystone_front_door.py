"""Tenant scoping through the real broker and the dev cloud's real Keystone: a request to
an OpenStack provider carries its user's token; the token's project owns the checkpoint,
and another tenant's token can neither restore, delete nor verify it.

The provider is named OpenStack and protects local directories (the scoping under test is
the front door's, the same for every plugin); the worker checks tokens with the dev
cloud's admin as its service user.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import openstack
import pytest

from actors.service.worker import WorkerOptions
from actors.wire.events import (
    OperationFinished,
    PlanChanged,
    RequestAccepted,
    RequestRejected,
    SlotScheduled,
    SlotSkipped,
)
from actors.wire.plan_fields import PlanSchedule
from actors.wire.requests import (
    DeleteRequest,
    PlanCreateRequest,
    PlanDeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
    VerifyRequest,
)
from banks.filesystem.bank import FilesystemBank
from plugins.checkpoint.store import CheckpointStore
from tests import broker
from tests.cloud.openstack_provider import write_provider
from tests.devcloud.fixture import DevCloud
from tests.helpers.directory_trees import build_awkward_tree, snapshot
from tests.helpers.request_client import Client, dead_letters, plain, running_worker

DIRECTORY = "Strongbox::Directory"
IMAGE = "OS::Glance::Image"
PASSWORD = "tenant-b-password"  # a throwaway user of the throwaway dev cloud


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


@dataclass
class Tenants:
    demo: str  # tokens
    other: str
    admin: str
    demo_project: str
    other_project: str


@pytest.fixture
def tenants(devcloud: DevCloud) -> Iterator[Tenants]:
    """Tokens of demo (project demo), of a user of a second project, and of admin."""
    admin = devcloud.connect("admin")
    suffix = uuid.uuid4().hex[:8]
    project = admin.identity.create_project(name=f"tenant-b-{suffix}", domain_id="default")
    user = admin.identity.create_user(name=f"user-b-{suffix}", password=PASSWORD,
                                      domain_id="default", default_project_id=project.id)
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, member)
    # the service user is an admin everywhere, as a backup service's usually is: what it
    # may see is no measure of what a tenant may
    admin.identity.assign_project_role_to_user(
        project, admin.identity.find_user("admin"), admin.identity.find_role("admin"))
    other = openstack.connect(region_name="RegionOne", load_envvars=False,
                              auth_url=devcloud.config.auth_url, username=user.name,
                              password=PASSWORD, project_id=project.id,
                              user_domain_name="Default")
    demo = devcloud.connect("demo")
    try:
        yield Tenants(demo=demo.auth_token, other=other.auth_token, admin=admin.auth_token,
                      demo_project=demo.current_project_id, other_project=project.id)
    finally:
        admin.identity.delete_user(user)
        admin.identity.delete_project(project)


class Site:
    def __init__(self, root: Path) -> None:
        self.data, self.restore, self.bank = root / "data", root / "restore", root / "bank"
        self.providers = root / "providers"
        self.restore.mkdir()
        self.providers.mkdir()
        build_awkward_tree(self.data)
        (self.providers / "openstack.conf").write_text(
            "[provider]\nname = OpenStack\nid = keystone-front-door\ndescription = tenants\n"
            "bank = filesystem\nplugin = directory\n\n"
            f"[filesystem]\npath = {self.bank}\n\n[directory]\nencryption = none\n")
        self.policy = root / "policy.conf"
        self.policy.write_text(
            "[user guest]\noperations = *\nproviders = *\n"
            f"protect_roots = {self.data}\nrestore_targets = {self.restore}\n\n"
            "[keystone]\ncloud = devcloud-admin\nproviders = OpenStack\n\n"
            "[role member]\noperations = protect, restore, verify, delete\n"
            "providers = OpenStack\n\n"
            "[role admin]\noperations = *\nproviders = *\ncross_project = yes\n")


@asynccontextmanager
async def worker(devcloud: DevCloud, site: Any, monkeypatch: pytest.MonkeyPatch,
                 url: str) -> AsyncIterator[str]:
    """One worker with ``site.providers`` and ``site.policy``; yields its namespace."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(devcloud.clouds_yaml))
    options = WorkerOptions(amqp_url=url, namespace=broker.new_namespace(),
                            shards=broker.TEST_SHARDS, providers_dir=str(site.providers),
                            worker_id="w-keystone", policy=str(site.policy))
    async with running_worker(options) as namespace:
        yield namespace


def restore(checkpoint: str, target: Path, project: str | None = None) -> RestoreRequest:
    return RestoreRequest(checkpoint_id=checkpoint, project_id=project,
                          parameters={DIRECTORY: {"target": str(target)}})


def refused(event: Any, phrase: str) -> bool:
    return isinstance(event, RequestRejected) and event.reason.startswith("forbidden: ") \
        and phrase in event.reason


async def test_a_tenant_cannot_touch_another_tenants_checkpoint(
        devcloud: DevCloud, tenants: Tenants, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, amqp_url: str) -> None:
    site = Site(tmp_path)
    async with worker(devcloud, site, monkeypatch, amqp_url) as namespace:
        client = await Client.connect(amqp_url, namespace)
        protect = ProtectRequest(resources=[ResourceRef(DIRECTORY, str(site.data))])
        done = await client.ask(protect, token=tenants.demo)
        assert isinstance(done, OperationFinished) and done.status == "succeeded"
        checkpoint = done.checkpoint_id
        assert checkpoint is not None
        index = await CheckpointStore(await FilesystemBank.open({"path": str(site.bank)})) \
            .read_index(checkpoint)
        assert index.project_id == tenants.demo_project  # the token's project owns it

        other = tenants.other
        attempts = {
            "restore by another tenant": (restore(checkpoint, site.restore / "b"), other,
                                          f"belongs to project {tenants.demo_project}"),
            "delete by another tenant": (DeleteRequest(checkpoint_id=checkpoint), other,
                                         "belongs to project"),
            "verify by another tenant": (VerifyRequest(checkpoint_id=checkpoint), other,
                                         "belongs to project"),
            "no token": (restore(checkpoint, site.restore / "c"), None,
                         "needs a Keystone token"),
            "a forged token": (restore(checkpoint, site.restore / "d"), "gAAAAAforged",
                               "invalid or expired"),
            "a project_id not the token's": (
                restore(checkpoint, site.restore / "e", project=tenants.other_project),
                tenants.demo, "is not the token's project"),
        }
        for name, (request, token, phrase) in attempts.items():
            event = await client.ask(request, token=token)
            assert refused(event, phrase), (name, event)
        assert sorted(site.restore.iterdir()) == []  # nothing restored anywhere
        letters = await dead_letters(amqp_url, namespace, len(attempts))
        assert all(reason.startswith("forbidden: ") for _, reason in letters)

        # a revoked token is refused as soon as Keystone says so
        admin = devcloud.connect("admin")
        revoked = devcloud.connect("demo").auth_token
        admin.session.delete("/auth/tokens", endpoint_filter={"service_type": "identity"},
                             headers={"X-Subject-Token": revoked})
        event = await client.ask(restore(checkpoint, site.restore / "f"), token=revoked)
        assert refused(event, "invalid or expired"), event

        # the owner restores; an admin restores across projects, named in the audit
        mine = await client.ask(restore(checkpoint, site.restore / "mine"), token=tenants.demo)
        assert isinstance(mine, OperationFinished) and mine.status == "succeeded"
        assert snapshot(site.restore / "mine") == snapshot(site.data)
        crossing = restore(checkpoint, site.restore / "admin", project=tenants.demo_project)
        subscription = client.transport.subscribe(crossing.request_id)
        await subscription.bound  # type: ignore[attr-defined]
        done = await client.ask(crossing, token=tenants.admin)
        assert isinstance(done, OperationFinished) and done.status == "succeeded"
        async with asyncio.timeout(30):
            async for event in subscription:
                if isinstance(event, RequestAccepted):
                    break
        await subscription.close()
        assert event.project_id == tenants.demo_project
        assert event.keystone is not None and event.keystone.startswith("keystone:admin@")
        await client.close()


@dataclass
class ImageSite:
    providers: Path
    policy: Path

    @classmethod
    def write(cls, root: Path, member_operations: str) -> ImageSite:
        """An OpenStack provider of ``os-image`` whose Keystone members may do
        ``member_operations``; the worker checks tokens as the dev cloud's admin."""
        policy = root / "policy.conf"
        policy.write_text(
            "[user guest]\noperations = *\nproviders = *\n\n"
            "[keystone]\ncloud = devcloud-admin\nproviders = OpenStack\n\n"
            f"[role member]\noperations = {member_operations}\nproviders = OpenStack\n")
        return cls(write_provider(root / "providers", root / "bank",
                                  {"cloud": "devcloud-admin"}, plugins=("os-image",)), policy)


def private_image(devcloud: DevCloud, size: int) -> Any:
    """A private image of demo's, of random bytes."""
    return devcloud.connect("demo").image.create_image(
        name=f"private-{uuid.uuid4().hex[:6]}", data=os.urandom(size), disk_format="raw",
        container_format="bare", visibility="private", wait=True)


async def test_a_tenants_image_is_protected_with_its_own_authority_not_the_services(
        devcloud: DevCloud, tenants: Tenants, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, amqp_url: str) -> None:
    demo = devcloud.connect("demo")
    admin = devcloud.connect("admin")
    original = private_image(devcloud, 64 * 1024)
    site = ImageSite.write(tmp_path, "protect, restore")
    restored_ids: list[str] = []
    try:
        async with worker(devcloud, site, monkeypatch, amqp_url) as namespace:
            client = await Client.connect(amqp_url, namespace)
            image = [ResourceRef(IMAGE, original.id)]
            # the service user (an admin) sees every project's images; tenant B's own
            # authority, through its trust, does not see demo's private image
            stolen = await client.ask(ProtectRequest(resources=image), token=tenants.other)
            assert isinstance(stolen, RequestRejected), stolen
            assert "ResourceNotFound" in stolen.reason and original.id in stolen.reason
            done = await client.ask(ProtectRequest(resources=image), token=tenants.demo)
            assert isinstance(done, OperationFinished) and done.status == "succeeded", done
            trusts = list(admin.identity.trusts(trustor_user_id=demo.current_user_id))
            assert any(t.project_id == tenants.demo_project for t in trusts)
            before = {i.id for i in admin.image.images()}
            back = await client.ask(RestoreRequest(checkpoint_id=done.checkpoint_id),
                                    token=tenants.demo)
            assert isinstance(back, OperationFinished) and back.status == "succeeded", back
            made = [i for i in admin.image.images() if i.id not in before]
            restored_ids = [i.id for i in made]
            # made in demo's project, with demo's authority
            assert [i.owner for i in made] == [tenants.demo_project]
            await client.close()
    finally:
        for image_id in [original.id, *restored_ids]:
            demo.image.delete_image(image_id, ignore_missing=True)


async def next_event(client: Client, wanted: Callable[[Any], bool],
                     timeout: float = 120) -> Any:
    async with asyncio.timeout(timeout):
        async for event in client.subscription:
            if wanted(event):
                return event
    raise AssertionError("unreachable")


async def plan_request(client: Client, request: Any, token: str | None) -> Any:
    """Publish a plan request; its PlanChanged, or its refusal."""
    await client.transport.publish_request(json.dumps(plain(request)).encode(),
                                           request_id=request.request_id, auth_token=token)
    return await next_event(client, lambda e: e.operation_id == request.request_id and
                            isinstance(e, PlanChanged | RequestRejected), timeout=60)


async def test_a_plan_on_an_openstack_provider_acts_through_its_creators_trust(
        devcloud: DevCloud, tenants: Tenants, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, amqp_url: str) -> None:
    demo = devcloud.connect("demo")
    admin = devcloud.connect("admin")
    original = private_image(devcloud, 32 * 1024)
    site = ImageSite.write(tmp_path, "protect, restore, plan")

    def trusts() -> set[str]:
        return {t.id for t in admin.identity.trusts(trustor_user_id=demo.current_user_id)}

    before = trusts()
    try:
        async with worker(devcloud, site, monkeypatch, amqp_url) as namespace:
            client = await Client.connect(amqp_url, namespace)
            create = PlanCreateRequest(
                name="images-every-few-seconds", resources=[ResourceRef(IMAGE, original.id)],
                schedule=PlanSchedule(rrule="FREQ=SECONDLY;INTERVAL=4"))
            refused_plan = await plan_request(client, create, token=None)
            assert refused(refused_plan, "needs a Keystone token"), refused_plan
            created = await plan_request(
                client, msgspec.structs.replace(create, request_id=str(uuid.uuid4())),
                token=tenants.demo)
            assert isinstance(created, PlanChanged) and created.action == "created", created
            (trust,) = trusts() - before  # the creator's, for the plan, without expiry
            assert admin.identity.get_trust(trust).expires_at is None

            # a slot comes: its protect acts through the trust and succeeds
            slot = await next_event(client, lambda e: isinstance(e, SlotScheduled | SlotSkipped)
                                    and e.plan_id == created.plan_id)
            assert isinstance(slot, SlotScheduled), slot
            done = await next_event(client, lambda e: isinstance(e, OperationFinished)
                                    and e.operation_id == slot.operation_id)
            assert done.status == "succeeded", done

            # another tenant cannot delete it; its creator can, and the trust goes with it
            theirs = await plan_request(client, PlanDeleteRequest(plan=created.plan_id),
                                        token=tenants.other)
            assert isinstance(theirs, RequestRejected) and "belongs to" in theirs.reason
            gone = await plan_request(client, PlanDeleteRequest(plan=created.plan_id),
                                      token=tenants.demo)
            assert isinstance(gone, PlanChanged) and gone.action == "deleted", gone
            assert trust not in trusts()
            await client.close()
    finally:
        demo.image.delete_image(original.id, ignore_missing=True)
        for leftover in trusts() - before:
            admin.identity.delete_trust(leftover, ignore_missing=True)
