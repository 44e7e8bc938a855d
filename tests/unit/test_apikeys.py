from __future__ import annotations

from clef_pro.domain import apikeys


def test_generated_keys_carry_the_prefix_and_a_valid_checksum() -> None:
    key = apikeys.generate_api_key()
    assert key.startswith("clefpro_")
    assert apikeys.is_well_formed(key)


def test_generated_keys_are_unique() -> None:
    assert len({apikeys.generate_api_key() for _ in range(1000)}) == 1000


def test_a_key_with_a_changed_character_fails_the_checksum() -> None:
    key = apikeys.generate_api_key()
    changed = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    assert not apikeys.is_well_formed(changed)


def test_other_strings_are_not_keys() -> None:
    for text in ("", "clefpro_", "Bearer x", "ghp_" + "a" * 36, "clefpro_" + "a" * 38 + "!"):
        assert not apikeys.is_well_formed(text)


def test_the_stored_form_is_the_sha256_hex_of_the_key() -> None:
    digest = apikeys.sha256_hex("clefpro_example")
    assert len(digest) == 64
    assert digest == apikeys.sha256_hex("clefpro_example")
