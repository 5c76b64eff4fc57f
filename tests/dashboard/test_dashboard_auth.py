"""Passwords, CSRF tokens, the session-key check and the image-key validation."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from dashboard.app import check_secret_key
from dashboard.auth import csrf_matches, hash_password, verify_password
from dashboard.routes.images import validate_key
from posterqa.errors import ConfigError, InputError
from posterqa.settings import Settings


def test_password_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


def test_password_hashes_are_salted_per_user() -> None:
    a, b = hash_password("same password"), hash_password("same password")
    assert a != b
    assert a.split("$")[4] != b.split("$")[4]


def test_malformed_stored_hash_never_verifies() -> None:
    for stored in ("", "plain", "md5$x$y", "scrypt$1$2$3$!!!$???", "scrypt$a$b$c$d$e"):
        assert not verify_password("anything", stored)


def test_short_password_is_refused() -> None:
    with pytest.raises(InputError, match="at least 8"):
        hash_password("short")


def test_csrf_tokens_compare_exactly() -> None:
    assert csrf_matches("abc123", "abc123")
    assert not csrf_matches("abc124", "abc123")
    assert not csrf_matches(None, "abc123")
    assert not csrf_matches("", "")


@pytest.mark.parametrize("secret", ["", "changeme", "secret", "posterqa", "  ", "short-key"])
def test_placeholder_or_short_session_key_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="dashboard_secret_key"):
        check_secret_key(secret)


def test_random_session_key_is_accepted() -> None:
    assert check_secret_key("9f" * 20) == "9f" * 20


@pytest.mark.parametrize("key", [
    "posters/acme/p1.png", "repaired/acme/p1.png", "artifacts/1/2/1/mask.png",
    "published/acme/p1.png",
])
def test_image_keys_under_served_prefixes_pass(key: str) -> None:
    assert validate_key(key, Settings()) == key


@pytest.mark.parametrize("key", [
    "../etc/passwd", "posters/../brands/acme/brand.json", "/posters/acme/p1.png",
    "posters//p1.png", "posters/./p1.png", "brands/acme/logo.png", "truth/acme/p1.json",
    "posters\\..\\x.png", "posters/a\x00.png", "", "posters/..",
])
def test_unsafe_or_foreign_image_keys_are_refused(key: str) -> None:
    with pytest.raises(HTTPException) as info:
        validate_key(key, Settings())
    assert info.value.status_code == 400
