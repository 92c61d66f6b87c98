"""The on-disk compile cache runs only code this user's process wrote.

Each case plants a record whose code, when executed, writes a marker file: the control
(an authentic record in a private directory) proves the payload runs if it is loaded, and
every other case must be refused: recompiled from source, the marker never written.
"""

from __future__ import annotations

import marshal
import os

import pytest

from aigw_policy import cel, env
from aigw_policy.cel import cache

SOURCE = "req.method == 'DELETE'"
OTHER = "req.method != 'NOPE'"


@pytest.fixture(autouse=True)
def _private_key(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    cache._KEYS.clear()
    cel.clear_cache()
    yield
    cache._KEYS.clear()
    cel.clear_cache()


def _payload(marker) -> object:  # type: ignore[no-untyped-def]
    text = (
        "b = _land.__globals__['__builtins__']\n"
        f"(b['open'] if type(b) is dict else b.open)({str(marker)!r}, 'w').write('ran')\n"
        "def evil(act):\n    return True\n"
    )
    return compile(text, "<planted>", "exec")


def _record(marker, source: str = SOURCE) -> tuple:  # type: ignore[no-untyped-def]
    return ("evil", "", _payload(marker), (), (), (), (source, "r", "bool", 1, "policy"))


def _blob(name: str, payload: tuple, *, mac: bool = True) -> bytes:
    data = marshal.dumps((cache._FORMAT, cache.engine_version(), *payload))
    return cache._MAGIC + (cache._mac(name, data) if mac else b"\0" * 32) + data


def _plant(directory, source: str, rec: tuple, *, mac: bool = True) -> str:  # type: ignore[no-untyped-def]
    key = env.POLICY.key(source, None, "r")
    name = cache._name(key)
    (directory / name).write_bytes(_blob(name, (rec,), mac=mac))
    return name


def _private(tmp_path, name: str = "cache"):  # type: ignore[no-untyped-def]
    d = tmp_path / name
    d.mkdir(mode=0o700)
    os.chmod(d, 0o700)
    return d


def _deny_delete(prog) -> None:  # type: ignore[no-untyped-def]
    assert prog({"req.method": "GET"}) is False  # the real program, not the planted `True`


def test_control_an_authentic_record_is_loaded_and_its_code_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    _plant(d, SOURCE, _record(marker))
    prog = env.compile_condition(SOURCE, name="r", cache_dir=d)
    assert marker.exists() and prog({"req.method": "GET"}) is True  # the payload is live


def test_a_tampered_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    env.compile_condition(SOURCE, name="r", cache_dir=d)  # an honest file
    cel.clear_cache()
    (name,) = os.listdir(d)
    honest = (d / name).read_bytes()
    forged = _blob(name, (_record(marker),))
    # the attacker's bytes with the honest file's MAC (they cannot compute a new one)
    (d / name).write_bytes(forged[: len(cache._MAGIC)] + honest[len(cache._MAGIC): len(cache._MAGIC) + 32]
                           + forged[len(cache._MAGIC) + 32:])
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=d))
    _plant(d, SOURCE, _record(marker), mac=False)
    cel.clear_cache()
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=d))
    assert not marker.exists()


def test_a_file_made_with_another_key_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    _plant(d, SOURCE, _record(marker))
    cache._KEYS.clear()
    os.unlink(cache.key_file())  # a new key: what the old one signed is no longer ours
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=d))
    assert not marker.exists()


def test_a_symlinked_directory_or_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    _plant(d, SOURCE, _record(marker))
    link = tmp_path / "link"
    link.symlink_to(d)
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=link))
    assert not marker.exists()
    # a symlinked file inside a good directory
    good = _private(tmp_path, "good")
    name = cache._name(env.POLICY.key(SOURCE, None, "r"))
    (good / name).symlink_to(d / name)
    cel.clear_cache()
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=good))
    assert not marker.exists()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_directory_others_can_write_is_refused(tmp_path, mode: int) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    _plant(d, SOURCE, _record(marker))
    os.chmod(d, mode)
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=d))
    assert not marker.exists()
    assert len(os.listdir(d)) == 1  # and nothing is written there either


def test_a_record_for_another_source_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    # authentic (signed with our key), but it is the record of another expression
    _plant(d, SOURCE, _record(marker, source=OTHER))
    _deny_delete(env.compile_condition(SOURCE, name="r", cache_dir=d))
    assert not marker.exists()


def test_a_batch_file_is_checked_the_same_way(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d, marker = _private(tmp_path), tmp_path / "marker"
    keys = [env.POLICY.key(s, None, "r") for s in (SOURCE,)]
    import hashlib

    batch = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    name = cache._name(batch, "celb")
    for rec, mode in (((keys[0], _record(marker, source=OTHER)),), 0o700), (((keys[0], _record(marker)),), 0o777):
        (d / name).write_bytes(_blob(name, (rec,)))
        os.chmod(d, mode)
        cel.clear_cache()
        (prog,) = env.compile_conditions([SOURCE], names=["r"], cache_dir=d)
        _deny_delete(prog)
        assert not marker.exists()
    # and the control: authentic, right source, private directory -> loaded
    os.chmod(d, 0o700)
    (d / name).write_bytes(_blob(name, (((keys[0], _record(marker)),),)))
    cel.clear_cache()
    env.compile_conditions([SOURCE], names=["r"], cache_dir=d)
    assert marker.exists()


def test_the_key_is_private_and_outside_the_cache_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = _private(tmp_path)
    env.compile_condition(SOURCE, name="r", cache_dir=d)
    key = cache.key_file()
    assert key.parent != d and os.stat(key).st_mode & 0o777 == 0o600
    assert all(not f.endswith(".key") for f in os.listdir(d))


def test_the_engine_version_covers_the_grammar(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aigw_policy.cel import grammar

    before = cache.engine_version()
    g = tmp_path / "grammar"
    g.mkdir()
    for f in os.listdir(grammar.GRAMMAR_DIR):
        (g / f).write_text((grammar.GRAMMAR_DIR / f).read_text() + "\n// changed\n")
    monkeypatch.setattr(grammar, "GRAMMAR_DIR", g)
    cache.engine_version.cache_clear()
    try:
        assert cache.engine_version() != before
    finally:
        monkeypatch.undo()
        cache.engine_version.cache_clear()
    assert cache.engine_version() == before
