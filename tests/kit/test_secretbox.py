"""SecretBox: several keys (newest encrypts, every key opens), rotation, where keys come from."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from eal.kit.secretbox import (
    KEY_FILE_NAME,
    SecretBox,
    add_key_to_file,
    load_secret_key,
    read_key_file,
    split_keys,
)


def single_key_fernet(material: str) -> Fernet:
    """How one key was always turned into a Fernet key: SHA-256 of the string."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def opens(box: SecretBox, token: str) -> bool:
    try:
        box.decrypt(token)
    except ValueError:
        return False
    return True


def test_one_key_is_stretched_as_it_always_was() -> None:
    legacy = single_key_fernet("test-secret-key")
    box = SecretBox("test-secret-key")
    # Values stored before several keys existed still open, and new ones open the old way.
    assert box.decrypt(legacy.encrypt(b"whsec_old").decode()) == "whsec_old"
    assert legacy.decrypt(box.encrypt("jn_key").encode()) == b"jn_key"
    assert box.key_count == 1


def test_the_newest_key_encrypts_and_every_key_opens() -> None:
    old, new, both = SecretBox("A"), SecretBox("B"), SecretBox("B,A")
    assert both.key_count == 2
    stored_under_a = old.encrypt("whsec_a")

    assert both.decrypt(stored_under_a) == "whsec_a"
    fresh = both.encrypt("whsec_b")
    assert new.decrypt(fresh) == "whsec_b"
    assert not opens(old, fresh)
    assert not opens(new, stored_under_a)


def test_is_current_tells_whether_the_newest_key_opens_a_token() -> None:
    box = SecretBox("B,A")
    assert box.is_current(box.encrypt("x"))
    assert box.is_current(SecretBox("B").encrypt("x"))
    assert not box.is_current(SecretBox("A").encrypt("x"))
    assert not box.is_current(SecretBox("C").encrypt("x"))
    assert not box.is_current("not a token")
    assert not box.is_current("é-not-ascii")


def test_rotate_re_encrypts_under_the_newest_key_and_keeps_the_secret() -> None:
    box = SecretBox("B,A")
    old_token = SecretBox("A").encrypt("jn_live_5f3c")

    rotated = box.rotate(old_token)
    assert rotated != old_token
    assert box.is_current(rotated)
    assert SecretBox("B").decrypt(rotated) == "jn_live_5f3c"
    assert not opens(SecretBox("A"), rotated)
    # The token's creation time is kept: rotation is not a new secret.
    fernet_b = single_key_fernet("B")
    assert fernet_b.extract_timestamp(rotated.encode()) == single_key_fernet("A").extract_timestamp(
        old_token.encode()
    )


@pytest.mark.parametrize("token", ["", "garbage", "é", SecretBox("C").encrypt("x")])
def test_what_no_key_opens_raises_value_error(token: str) -> None:
    box = SecretBox("B,A")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.decrypt(token)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.rotate(token)


def test_comma_separated_keys_are_trimmed_and_deduplicated() -> None:
    assert split_keys("B , A,") == ["B", "A"]
    assert split_keys(" spaced key ") == [" spaced key "]  # one key: verbatim, as before
    box = SecretBox(" B ,A, B")
    assert box.key_count == 2
    assert SecretBox("B").decrypt(box.encrypt("x")) == "x"


def test_a_single_key_holding_a_comma_still_opens_what_it_encrypted() -> None:
    legacy = single_key_fernet("s3cret,with,commas").encrypt(b"whsec_legacy").decode()
    box = SecretBox("s3cret,with,commas")
    assert box.decrypt(legacy) == "whsec_legacy"
    assert not box.is_current(legacy)
    assert SecretBox("s3cret").decrypt(box.rotate(legacy)) == "whsec_legacy"


def test_a_sequence_holds_one_key_per_item_verbatim() -> None:
    box = SecretBox(["new", "old,with comma"])
    assert box.key_count == 2
    assert box.decrypt(single_key_fernet("old,with comma").encrypt(b"v").decode()) == "v"
    assert SecretBox("new").decrypt(box.encrypt("w")) == "w"


@pytest.mark.parametrize("material", ["", ",", " , ", []])
def test_no_key_is_refused(material: str | list[str]) -> None:
    with pytest.raises(ValueError, match="no secret key"):
        SecretBox(material)


def test_from_settings_with_the_environment_variable(tmp_path: Path) -> None:
    token_a = SecretBox("A").encrypt("whsec_a")
    box = SecretBox.from_settings("B,A", tmp_path)
    assert box.decrypt(token_a) == "whsec_a"
    assert SecretBox("B").decrypt(box.encrypt("x")) == "x"
    assert not (tmp_path / KEY_FILE_NAME).exists(), "no key file when the variable is set"


def test_from_settings_generates_the_key_file_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = SecretBox.from_settings(None, data_dir)
    path = data_dir / KEY_FILE_NAME
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = read_key_file(data_dir)
    assert len(keys) == 1
    # Another process (another box) reads the same key back.
    assert SecretBox.from_settings(None, data_dir).decrypt(first.encrypt("x")) == "x"
    assert SecretBox.from_settings("", data_dir).decrypt(first.encrypt("y")) == "y"
    assert read_key_file(data_dir) == keys


def test_from_settings_with_several_keys_in_the_file(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("B\n\n  A  \n")
    box = SecretBox.from_settings(None, tmp_path)
    assert box.key_count == 2
    assert box.decrypt(SecretBox("A").encrypt("old")) == "old"
    assert SecretBox("B").decrypt(box.encrypt("new")) == "new"
    # The variable, when set, wins over the file.
    assert not opens(SecretBox.from_settings("C", tmp_path), SecretBox("A").encrypt("old"))


def test_load_secret_key_still_builds_the_same_box(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("B\nA\n")
    box = SecretBox(load_secret_key(None, tmp_path))
    assert box.decrypt(SecretBox("A").encrypt("old")) == "old"
    assert SecretBox("B").decrypt(box.encrypt("new")) == "new"
    assert load_secret_key("env-key", tmp_path) == "env-key"


def test_add_key_puts_a_new_key_first_and_keeps_the_older_ones(tmp_path: Path) -> None:
    before = SecretBox.from_settings(None, tmp_path)
    old_token = before.encrypt("whsec_old")
    (old_key,) = read_key_file(tmp_path)

    keys = add_key_to_file(tmp_path)
    assert len(keys) == 2 and keys[1] == old_key and keys[0] != old_key
    assert read_key_file(tmp_path) == keys
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME], "no temporary file left"

    after = SecretBox.from_settings(None, tmp_path)
    assert after.decrypt(old_token) == "whsec_old"
    assert not after.is_current(old_token)
    assert SecretBox(keys[0]).decrypt(after.encrypt("new")) == "new"
    assert not opens(before, after.encrypt("new"))


def test_add_key_needs_an_existing_key_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        add_key_to_file(tmp_path)
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_concurrent_additions_lose_no_key(tmp_path: Path) -> None:
    SecretBox.from_settings(None, tmp_path)
    errors: list[BaseException] = []

    def add() -> None:
        try:
            add_key_to_file(tmp_path)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = read_key_file(tmp_path)
    assert len(keys) == 9 and len(set(keys)) == 9
