"""Reply addresses (server/mail/replyaddr.py): signed per person and thread, compact,
case-insensitive, and worthless to anyone who changes a character."""

from __future__ import annotations

import dataclasses

from starlette.datastructures import Secret

from server.mail.replyaddr import (
    read_reply_address,
    read_reply_target,
    reply_address,
    reply_token,
)
from server.models.ids import new_id
from server.settings import Settings

SETTINGS = Settings(secret_key=Secret("test-secret"), mail_reply_domain="reply.example.com")


def test_a_reply_address_reads_back_as_its_person_and_thread() -> None:
    user, thread = new_id(), new_id()
    address = reply_address(SETTINGS, user, thread)
    assert address.startswith("reply+") and address.endswith("@reply.example.com")
    assert read_reply_address(SETTINGS, address) == (user, thread)
    assert read_reply_address(SETTINGS, f"Dreiklang <{address}>") == (user, thread)


def test_the_local_part_fits_rfc_5321() -> None:
    for _ in range(50):
        local = reply_address(SETTINGS, new_id(), new_id()).partition("@")[0]
        assert len(local) <= 64, local


def test_a_mail_system_that_changes_case_does_not_break_it() -> None:
    user, thread = new_id(), new_id()
    address = reply_address(SETTINGS, user, thread)
    assert read_reply_address(SETTINGS, address.upper()) == (user, thread)
    local, _, domain = address.partition("@")
    assert read_reply_address(SETTINGS, f"{local.upper()}@{domain}") == (user, thread)


def test_ids_not_made_by_new_id_still_round_trip() -> None:
    address = reply_address(SETTINGS, "alice", "t-1")
    assert read_reply_address(SETTINGS, address) == ("alice", "t-1")


def test_another_persons_or_threads_token_is_not_this_persons() -> None:
    me, other, thread, other_thread = new_id(), new_id(), new_id(), new_id()
    mine = reply_address(SETTINGS, me, thread)
    assert read_reply_address(SETTINGS, mine) != (other, thread)
    assert read_reply_address(SETTINGS, mine) != (me, other_thread)
    # A token signed with another secret (another installation) is nobody's.
    elsewhere = dataclasses.replace(SETTINGS, secret_key=Secret("another-secret"))
    assert read_reply_address(SETTINGS, reply_address(elsewhere, me, thread)) is None


def test_any_tampering_is_refused() -> None:
    user, thread = new_id(), new_id()
    token = reply_token(SETTINGS, user, thread)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for i in range(len(token)):
        changed = alphabet[(alphabet.index(token[i]) + 1) % 32]
        forged = token[:i] + changed + token[i + 1 :]
        address = f"reply+{forged}@reply.example.com"
        assert read_reply_address(SETTINGS, address) is None, (i, forged)
    for bad in (
        f"reply+{token[:-1]}@reply.example.com",  # cut short
        f"reply+{token}a@reply.example.com",  # made longer
        f"reply+{token}@elsewhere.example.com",  # another domain
        f"other+{token}@reply.example.com",  # another prefix
        "reply+@reply.example.com",
        "reply+!!!@reply.example.com",
        "support@reply.example.com",
        "",
        "not an address",
    ):
        assert read_reply_address(SETTINGS, bad) is None, bad


def test_without_a_reply_domain_there_are_no_reply_addresses() -> None:
    off = dataclasses.replace(SETTINGS, mail_reply_domain="")
    assert reply_address(off, new_id(), new_id()) == ""
    address = reply_address(SETTINGS, new_id(), new_id())
    assert read_reply_address(off, address) is None


def test_a_note_address_reads_back_marked_and_an_ordinary_one_unmarked() -> None:
    user, thread = new_id(), new_id()
    note = reply_address(SETTINGS, user, thread, note=True)
    plain = reply_address(SETTINGS, user, thread)
    assert note != plain and len(note.partition("@")[0]) <= 64
    assert read_reply_target(SETTINGS, note) == (user, thread, True)
    assert read_reply_target(SETTINGS, plain.upper()) == (user, thread, False)
    assert read_reply_address(SETTINGS, note) == (user, thread)
