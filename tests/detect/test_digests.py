"""Hashed identifiers recognised by what they hash (scanner/detect/digests.py)."""

from __future__ import annotations

import hashlib

from scanner.detect.digests import LearnedDigests, digests_of, is_digest

ANDROID_ID = "b9e28776354d259e"
GAID = "5ac6a0ff-8d18-47bc-a902-2812cf0c251e"


def test_digests_cover_the_forms_sdks_hash() -> None:
    found = digests_of(GAID)
    assert found[hashlib.md5(GAID.encode()).hexdigest()] == "md5"
    assert found[hashlib.sha1(GAID.upper().encode()).hexdigest()] == "sha1"
    assert found[hashlib.sha256(GAID.replace("-", "").encode()).hexdigest()] == "sha256"


def test_a_digest_after_its_clear_value_is_that_identifier() -> None:
    digests: LearnedDigests[str] = LearnedDigests()
    assert digests.learn("s", "android_id", ANDROID_ID) == []
    match = digests.match("s", hashlib.md5(ANDROID_ID.encode()).hexdigest(), "sighting")
    assert match is not None and (match.id_type, match.value, match.algorithm) == ("android_id", ANDROID_ID, "md5")


def test_a_digest_before_its_clear_value_waits_for_it() -> None:
    digests: LearnedDigests[str] = LearnedDigests()
    digest = hashlib.sha1(GAID.encode()).hexdigest()
    assert digests.match("s", digest, "early") is None
    ((match, sighting),) = digests.learn("s", "gaid", GAID)
    assert sighting == "early" and match.algorithm == "sha1"


def test_another_subjects_value_explains_nothing() -> None:
    digests: LearnedDigests[str] = LearnedDigests()
    digests.learn("a", "android_id", ANDROID_ID)
    assert digests.match("b", hashlib.md5(ANDROID_ID.encode()).hexdigest(), "x") is None


def test_tracker_ids_are_not_learned_and_memory_is_bounded() -> None:
    digests: LearnedDigests[str] = LearnedDigests(max_subjects=2)
    assert digests.learn("s", "cookie_id", "abc") == []
    for subject in ("a", "b", "c", "d"):
        digests.learn(subject, "imei", "490154203237518")
    assert digests.evicted == 2


def test_is_digest() -> None:
    assert is_digest("7a9cdb975b3e08d2b0c428cd462da3fd") and not is_digest("7a9cdb975b3e08d2") and not is_digest("z" * 32)
