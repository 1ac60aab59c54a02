"""The policy file and the authorizer: deny by default, errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.errors import PolicyError
from actors.service.authorization import Authorizer
from actors.service.policy import read_policy
from actors.wire.requests import (
    CancelRequest,
    DeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
)
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
