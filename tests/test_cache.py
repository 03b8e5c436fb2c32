"""The one cache module and the one cache root, on real folders."""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

import platformdirs
import pytest

from slugprof.cache import JsonStore, digest_key, scratch_folder, temporary_sibling, versioned
from slugprof.config import cache_root


def test_a_document_comes_back_under_its_key(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, versioned("things", 3))
    assert store.get("k1") is None
    store.put("k1", {"a": [1, 2], "b": None})
    assert store.get("k1") == {"a": [1, 2], "b": None}
    assert JsonStore(tmp_path, "things-v3").get("k1") == {"a": [1, 2], "b": None}  # another run
    assert (tmp_path / "things-v3" / "k1.json").is_file()
    assert JsonStore(tmp_path, versioned("things", 4)).get("k1") is None  # a new version: a new start
    assert sorted(path.name for path in (tmp_path / "things-v3").iterdir()) == ["k1.json"]


def test_without_a_root_nothing_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every place a store without a root could fall back to writing is inside tmp_path.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = JsonStore(None, "things-v1")
    store.put("k1", {"a": 1})
    assert store.get("k1") is None
    assert scratch_folder(None, "wheels") is None
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_entry_or_an_unusable_root_is_no_error(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, "things-v1")
    (tmp_path / "things-v1").mkdir()
    (tmp_path / "things-v1" / "k1.json").write_bytes(b"{not json")
    assert store.get("k1") is None
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unusable = JsonStore(blocked, "things-v1")  # its root is a file: nothing can be created under it
    unusable.put("k1", [1])
    assert unusable.get("k1") is None
    assert scratch_folder(blocked, "wheels") is None


def test_a_key_is_a_file_name_never_a_path(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, "things-v1")
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            store.put(bad, 1)


def test_readers_never_see_half_an_entry(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, "things-v1")
    store.put("shared", {"writer": -1, "payload": "x"})
    payloads = ["x" * size for size in (10, 100_000, 1_000_000)]
    seen: list[object] = []
    errors: list[Exception] = []  # a thread's exception would not fail the test by itself

    def write(writer: int) -> None:
        try:
            for round_ in range(20):
                store.put("shared", {"writer": writer, "payload": payloads[(writer + round_) % 3]})
        except Exception as error:
            errors.append(error)

    def read() -> None:
        try:
            for _ in range(200):
                seen.append(store.get("shared"))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == 400
    last = store.get("shared")
    assert isinstance(last, dict) and last["writer"] in (0, 1, 2)  # the writers' puts landed
    assert all(isinstance(doc, dict) and doc["payload"] in (*payloads, "x") for doc in seen)
    assert [path.name for path in (tmp_path / "things-v1").iterdir()] == ["shared.json"]  # no leftovers


def test_a_temporary_sibling_is_next_to_its_entry_and_names_this_writer(tmp_path: Path) -> None:
    sibling = temporary_sibling(tmp_path / "k.json", ".part")
    assert sibling.parent == tmp_path
    assert sibling.name == f"k.json.{os.getpid()}-{threading.get_ident()}.part"


def test_a_digest_key_depends_on_every_part_and_not_on_their_order() -> None:
    key = digest_key({"files": {"a": "1", "b": "2"}, "target": "heroku-24"})
    assert key == digest_key({"target": "heroku-24", "files": {"b": "2", "a": "1"}})
    assert key != digest_key({"files": {"a": "1", "b": "3"}, "target": "heroku-24"})
    assert re.fullmatch(r"[0-9a-f]{32}", key), key


def test_the_cache_root_honours_xdg_cache_home(tmp_path: Path) -> None:
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "slugprof"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is a Linux convention")
def test_the_cache_root_reads_the_environment_as_platformdirs_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "slugprof"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == platformdirs.user_cache_path("slugprof")
    assert cache_root({}) == Path.home() / ".cache" / "slugprof"
