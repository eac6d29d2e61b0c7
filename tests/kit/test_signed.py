"""Signed link tokens: purpose-bound, expiring, tamper-evident, surviving a key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eal.kit.secretbox import SecretBox
from eal.kit.signed import SIGNING_PURPOSE, ExpiredToken, InvalidToken, Signer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _signer(keys: str) -> Signer:
    return Signer(SecretBox(keys).derive(SIGNING_PURPOSE))


def test_a_token_carries_its_data_for_its_purpose_until_it_expires() -> None:
    signer = _signer("key-a")
    token = signer.sign("unsubscribe", b"\x01" * 32, expires_at=NOW + timedelta(days=1))
    assert signer.verify("unsubscribe", token, now=NOW) == b"\x01" * 32
    with pytest.raises(InvalidToken):
        signer.verify("open", token, now=NOW)  # made for another use
    with pytest.raises(ExpiredToken):
        signer.verify("unsubscribe", token, now=NOW + timedelta(days=1, seconds=1))
    forever = signer.sign("open", b"x")
    assert signer.verify("open", forever, now=NOW + timedelta(days=3650)) == b"x"


@pytest.mark.parametrize("change", ["data", "expiry", "mac", "shape"])
def test_an_altered_token_is_refused(change: str) -> None:
    signer = _signer("key-a")
    data, expires, mac = signer.sign("u", b"abc", expires_at=NOW + timedelta(hours=1)).split(".")
    forged = {
        "data": f"{data[:-1]}{'A' if data[-1] != 'A' else 'B'}.{expires}.{mac}",
        "expiry": f"{data}.{signer.sign('u', b'', expires_at=NOW + timedelta(days=9)).split('.')[1]}.{mac}",
        "mac": f"{data}.{expires}.{mac[:-2]}AA",
        "shape": f"{data}.{mac}",
    }[change]
    with pytest.raises(InvalidToken):
        signer.verify("u", forged, now=NOW)


def test_old_tokens_verify_after_a_key_rotation_and_other_keys_refuse() -> None:
    token = _signer("key-a").sign("u", b"id")
    assert _signer("key-b,key-a").verify("u", token, now=NOW) == b"id"
    with pytest.raises(InvalidToken):
        _signer("key-b").verify("u", token, now=NOW)


def test_query_signatures_name_their_subject() -> None:
    signer = _signer("key-a")
    exp, sig = signer.sign_query("recording", "call_1", expires_at=NOW + timedelta(hours=1))
    signer.verify_query("recording", "call_1", exp=exp, sig=sig, now=NOW)
    with pytest.raises(InvalidToken):
        signer.verify_query("recording", "call_2", exp=exp, sig=sig, now=NOW)
    with pytest.raises(InvalidToken):
        signer.verify_query("recording", "call_1", exp=exp + 3600, sig=sig, now=NOW)
    with pytest.raises(ExpiredToken):
        signer.verify_query("recording", "call_1", exp=exp, sig=sig, now=NOW + timedelta(hours=2))
