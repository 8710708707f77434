"""faces.pkl: restricted loading, the original format, atomic saves with a backup, names."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

from emotion_core.errors import EnrollmentError, RegistryError
from emotion_core.registry import (
    MAX_NAME_LENGTH,
    Registry,
    add_person,
    load_registry,
    remove_person,
    save_registry,
    validate_name,
)

RNG = np.random.default_rng(7)


def encodings(n: int) -> list[np.ndarray]:
    """Unit-length 128-d vectors, like dlib's face encodings."""
    rows = RNG.normal(size=(n, 128))
    return list(rows / np.linalg.norm(rows, axis=1, keepdims=True) * 0.9)


class _Payload:
    """Pickles to a call of `function(*args)`: what a tampered faces.pkl would carry."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def tampered(payload: object) -> bytes:
    return pickle.dumps({"encodings": encodings(1), "names": ["Mallory"], "x": payload})


def test_round_trip_writes_the_original_format(faces_path):
    rows = encodings(3)
    save_registry(faces_path, Registry(("Ann", "Ann", "Bob"), np.vstack(rows)))
    raw = pickle.loads(faces_path.read_bytes())  # our own file, trusted: read as the original design did
    assert raw["names"] == ["Ann", "Ann", "Bob"]
    assert all(isinstance(row, np.ndarray) and row.shape == (128,) for row in raw["encodings"])
    registry = load_registry(faces_path)
    assert registry.people() == {"Ann": 2, "Bob": 1}
    assert np.array_equal(registry.encodings, np.vstack(rows))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_original_design_files_load(faces_path, protocol):
    """The original app wrote `pickle.dump({"encodings": [...], "names": [...]})` with no version."""
    rows = encodings(2)
    faces_path.write_bytes(pickle.dumps({"encodings": rows, "names": ["Ann", "Bob"]}, protocol=protocol))
    registry = load_registry(faces_path)
    assert registry.names == ("Ann", "Bob") and np.allclose(registry.encodings, np.vstack(rows))


def test_missing_file_is_an_empty_registry(faces_path):
    assert len(load_registry(faces_path)) == 0 and not faces_path.exists()


def test_os_system_payload_is_refused_and_never_runs(faces_path, tmp_path):
    marker = tmp_path / "pwned"
    faces_path.write_bytes(tampered(_Payload(os.system, f"touch {marker}")))
    with pytest.raises(RegistryError, match=r"global '(posix|os)\.system'"):
        load_registry(faces_path)
    assert not marker.exists()
    # The file is a real exploit: an unrestricted unpickler (in a throwaway process) runs it.
    proof = tmp_path / "proof"
    faces_path.write_bytes(tampered(_Payload(os.system, f"touch {proof}")))
    subprocess.run(
        [sys.executable, "-c", f"import pickle; pickle.loads(open({str(faces_path)!r}, 'rb').read())"], check=True
    )
    assert proof.exists()


@pytest.mark.parametrize(
    "payload, global_name",
    [
        (_Payload(eval, "1 + 1"), "builtins.eval"),
        (_Payload(subprocess.Popen, ["true"]), "subprocess.Popen"),
        (OrderedDict(a=1), "collections.OrderedDict"),
        (np.array([_Payload(print, "x")], dtype=object), "builtins.print"),
        (_Payload(__import__("_codecs").encode, "x", "rot13"), "_codecs.encode"),
    ],
)
def test_anything_but_plain_data_is_refused_naming_the_global(faces_path, payload, global_name):
    faces_path.write_bytes(tampered(payload))
    with pytest.raises(RegistryError, match=global_name.replace(".", r"\.")):
        load_registry(faces_path)


def test_tampered_or_truncated_file_is_never_overwritten(faces_path):
    save_registry(faces_path, Registry(("Ann",), np.vstack(encodings(1))))
    good = faces_path.read_bytes()
    faces_path.write_bytes(good[: len(good) // 2])
    with pytest.raises(RegistryError, match="corrupt or truncated"):
        load_registry(faces_path)
    for change in (lambda: add_person(faces_path, "Bob", encodings(1)), lambda: remove_person(faces_path, "Ann")):
        with pytest.raises(RegistryError):
            change()
        assert faces_path.read_bytes() == good[: len(good) // 2]


@pytest.mark.parametrize(
    "payload, reason",
    [
        ([1, 2], "not a face registry"),
        ({"names": ["Ann"]}, "not a face registry"),
        ({"names": ["Ann", "Bob"], "encodings": encodings(1)}, "2 names but 1 encodings"),
        ({"names": ["Ann"], "encodings": [np.zeros(64)]}, "not a 128-d encoding"),
        ({"names": ["Ann"], "encodings": [np.full(128, np.nan)]}, "not a 128-d encoding"),
        ({"names": ["Ann"], "encodings": [[0.0] * 128]}, "not a 128-d encoding"),
        ({"names": [""], "encodings": encodings(1)}, "no valid name"),
        ({"names": [7], "encodings": encodings(1)}, "no valid name"),
    ],
)
def test_malformed_registries_are_reported(faces_path, payload, reason):
    faces_path.write_bytes(pickle.dumps(payload))
    with pytest.raises(RegistryError, match=reason):
        load_registry(faces_path)


def test_save_keeps_the_previous_version_as_bak(faces_path):
    add_person(faces_path, "Ann", encodings(1))
    first = faces_path.read_bytes()
    add_person(faces_path, "Bob", encodings(2))
    backup = faces_path.with_name("faces.pkl.bak")
    assert backup.read_bytes() == first
    assert load_registry(backup).people() == {"Ann": 1}
    assert load_registry(faces_path).people() == {"Ann": 1, "Bob": 2}
    leftovers = [p.name for p in faces_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_remove_person(faces_path):
    add_person(faces_path, "Zoë Ångström", encodings(2))
    add_person(faces_path, "李娜", encodings(1))
    remove_person(faces_path, "Zoe\u0308 Ångström")  # same name typed in decomposed form
    assert load_registry(faces_path).people() == {"李娜": 1}
    with pytest.raises(EnrollmentError, match="no enrolled person"):
        remove_person(faces_path, "Nobody")


@pytest.mark.parametrize("rows", [[], [np.zeros(64)], [np.full(128, np.inf)]])
def test_add_person_refuses_bad_encodings(faces_path, rows):
    with pytest.raises(EnrollmentError):
        add_person(faces_path, "Ann", rows)
    assert not faces_path.exists()


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "longer than"),
        ("Ann\x00Lee", "control"),
        ("Ann\nLee", "control"),
        ("Ann\x1b[31mLee", "control"),
        ("Ann\u200bLee", "control"),
        ("Ann\u202eLee", "control"),
        ("Unknown", "reserved"),
        ("unknown", "reserved"),
        (None, "text"),
        (42, "text"),
    ],
)
def test_bad_names_are_refused(name, reason):
    with pytest.raises(EnrollmentError, match=reason):
        validate_name(name)


@pytest.mark.parametrize(
    "name, cleaned",
    [
        ("Zoë Ångström", "Zoë Ångström"),
        ("李娜", "李娜"),
        ("  Ann Lee  ", "Ann Lee"),
        ("Zoe\u0308", "Zoë"),
        ("x" * MAX_NAME_LENGTH, "x" * MAX_NAME_LENGTH),
        ("O'Brien-Smith Jr.", "O'Brien-Smith Jr."),
    ],
)
def test_good_names_are_kept(name, cleaned):
    assert validate_name(name) == cleaned


def test_names_are_logged_at_debug_only(faces_path, caplog):
    caplog.set_level(logging.DEBUG, logger="emotion_core")
    add_person(faces_path, "Zoë Ångström", encodings(1))
    remove_person(faces_path, "Zoë Ångström")
    naming = [r for r in caplog.records if "Zoë" in r.getMessage()]
    assert naming, "the registry should log what it does at debug level"
    assert all(r.levelno == logging.DEBUG for r in naming)
    assert any(r.levelno == logging.INFO for r in caplog.records)
