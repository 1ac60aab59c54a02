"""The policy file and the authorizer: deny by default, errors that point at the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actors.errors import PolicyError
from actors.service.authorization import Authorizer
from actors.service.keystone import TokenInfo
from actors.service.policy import read_policy
from actors.wire.requests import (
    CancelRequest,
    DeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
)
from plugins.access import ProjectGrant
from plugins.errors import Forbidden

POLICY = """\
# who may do what
[user alice]
operations = protect, restore
    verify
providers = Local
protect_roots = /srv/data
restore_targets = /srv/restore, /home/alice

[user admin]
operations = *
providers = *
"""
LOCAL = ("local-id", "Local")
PROTECT = ProtectRequest(resources=[ResourceRef("Strongbox::Directory", "/srv/data")])
RESTORE = RestoreRequest(checkpoint_id="cp")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.conf"
    path.write_text(text)
    return path


def test_a_policy_names_each_identitys_operations_providers_and_paths(tmp_path: Path) -> None:
    policy = read_policy(write(tmp_path, POLICY))
    alice = policy.rule_for("alice")
    assert alice is not None
    assert alice.operations == {"protect", "restore", "verify"}
    assert alice.restore_targets == ("/srv/restore", "/home/alice")
    admin = policy.rule_for("admin")
    assert admin is not None and admin.may("cancel") and admin.may_use_provider("x", "y")
    assert policy.rule_for("mallory") is None


@pytest.mark.parametrize(("text", "line", "phrase"), [
    ("[user a]\noperatons = protect\n", 2, "unknown key 'operatons' in [user a]; did you mean "
                                           "'operations'?"),
    ("[user a]\noperations = protect, restroe\n", 2, "unknown operation 'restroe'; did you "
                                                     "mean 'restore'?"),
    ("[user a]\nrestore_targets = srv/restore\n", 2, "is not an absolute path"),
    ("[alice]\noperations = protect\n", 1, "unknown section [alice]"),
    ("# nothing\n", None, "grants nothing"),
    ("[user a]\noperations protect\n", 2, "malformed line"),
])
def test_a_bad_policy_names_the_file_the_line_and_the_fault(
        tmp_path: Path, text: str, line: int | None, phrase: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        read_policy(path)
    assert caught.value.line == line
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(caught.value).startswith(where)
    assert phrase in str(caught.value)


def test_with_a_policy_every_refusal_says_what_and_for_whom(tmp_path: Path) -> None:
    authorizer = Authorizer(read_policy(write(tmp_path, POLICY)), own_user="worker")
    cases = [
        (PROTECT, None, LOCAL, "protect by an unidentified publisher"),
        (PROTECT, "mallory", LOCAL, "protect for user 'mallory': the policy grants that "
                                    "user nothing"),
        (DeleteRequest(checkpoint_id="cp"), "alice", LOCAL, "delete for user 'alice': not "
                                                            "granted"),
        (CancelRequest(operation_id="op"), "alice", None, "cancel for user 'alice'"),
        (RESTORE, "alice", ("other-id", "Other"), "provider 'Other' for user 'alice'"),
    ]
    for request, user, provider, phrase in cases:
        with pytest.raises(Forbidden, match=phrase):
            authorizer.decide(request, user, provider=provider)


def test_a_granted_request_carries_the_identity_and_its_paths(tmp_path: Path) -> None:
    authorizer = Authorizer(read_policy(write(tmp_path, POLICY)), own_user="worker")
    decision = authorizer.decide(RESTORE, "alice", provider=LOCAL)
    assert decision.user_id == "alice"
    assert decision.paths.protect_roots == ("/srv/data",)
    assert decision.paths.restore_targets == ("/srv/restore", "/home/alice")
    assert decision.paths.system_paths_refused
    assert authorizer.decide(CancelRequest(operation_id="o"), "admin", provider=None)


def test_without_a_policy_only_the_workers_own_broker_user_is_served() -> None:
    authorizer = Authorizer(None, own_user="strongbox")
    assert authorizer.mode == "single-user"
    assert authorizer.decide(PROTECT, "strongbox", provider=LOCAL).user_id == "strongbox"
    assert authorizer.decide(PROTECT, None, provider=LOCAL).user_id == "strongbox"
    with pytest.raises(Forbidden, match="serves only its own broker user 'strongbox'"):
        authorizer.decide(PROTECT, "mallory", provider=LOCAL)
    restore = authorizer.decide(RESTORE, None, provider=LOCAL)
    assert restore.paths.system_paths_refused and restore.paths.restore_targets is None


KEYSTONE_POLICY = POLICY + """
[keystone]
cloud = strongbox-service
providers = OpenStack

[role member]
operations = protect, restore
providers = OpenStack

[role admin]
operations = *
providers = *
cross_project = yes
"""
OPENSTACK = ("os-id", "OpenStack")


def token(project: str, *roles: str) -> TokenInfo:
    return TokenInfo(user_id="u1", user_name="ann", project_id=project, project_name=project,
                     roles=frozenset(roles), expires_at=2e9)


def test_a_keystone_provider_needs_a_token_whose_roles_grant_the_operation(
        tmp_path: Path) -> None:
    authorizer = Authorizer(read_policy(write(tmp_path, KEYSTONE_POLICY)), own_user="w")
    assert authorizer.needs_token(OPENSTACK) and not authorizer.needs_token(LOCAL)
    with pytest.raises(Forbidden, match="needs a Keystone token"):
        authorizer.decide(RESTORE, "admin", provider=OPENSTACK)
    with pytest.raises(Forbidden, match=r"no role of the token grants it \(roles: reader\)"):
        authorizer.decide(RESTORE, "admin", provider=OPENSTACK, token=token("p1", "reader"))
    with pytest.raises(Forbidden, match="delete for keystone:ann@p1: no role"):
        authorizer.decide(DeleteRequest(checkpoint_id="cp"), "admin", provider=OPENSTACK,
                          token=token("p1", "member"))
    decision = authorizer.decide(RESTORE, "admin", provider=OPENSTACK,
                                 token=token("p1", "member"))
    assert decision.project is not None
    assert (decision.project.project_id, decision.project.cross_project) == ("p1", False)
    assert decision.token_identity == "keystone:ann@p1"


def test_a_project_id_other_than_the_tokens_needs_a_cross_project_role(
        tmp_path: Path) -> None:
    authorizer = Authorizer(read_policy(write(tmp_path, KEYSTONE_POLICY)), own_user="w")
    elsewhere = RestoreRequest(checkpoint_id="cp", project_id="p2")
    with pytest.raises(Forbidden, match="project_id p2 is not the token's project p1"):
        authorizer.decide(elsewhere, "admin", provider=OPENSTACK, token=token("p1", "member"))
    decision = authorizer.decide(elsewhere, "admin", provider=OPENSTACK,
                                 token=token("p1", "admin"))
    assert decision.project is not None and decision.project.cross_project
    assert decision.project.project_id == "p2"


def test_a_checkpoint_of_another_project_is_refused_unless_cross_project() -> None:
    grant = ProjectGrant(project_id="p1", token_project_id="p1", holder="keystone:ann@p1")
    grant.check_owner("cp", "p1", "restore")
    with pytest.raises(Forbidden, match="checkpoint cp for keystone:ann@p1: it belongs to "
                                        "project p2, not p1"):
        grant.check_owner("cp", "p2", "restore")
    ProjectGrant(project_id="p1", token_project_id="p9", cross_project=True).check_owner(
        "cp", "p2", "restore")


@pytest.mark.parametrize(("text", "phrase"), [
    ("[role member]\noperations = protect\n", "need a [keystone] section"),
    ("[keystone]\nproviders = OpenStack\n[user a]\noperations = protect\n", "needs 'cloud'"),
    ("[keystone]\ncloud = c\nprovders = x\n", "did you mean 'providers'?"),
    ("[role admin]\ncross_project = maybe\n", "is not yes or no"),
])
def test_bad_keystone_sections_are_named(tmp_path: Path, text: str, phrase: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(phrase)):
        read_policy(write(tmp_path, text))
