"""A typo'd flag, command or config key: one line with the closest name."""

import json

import pytest

from kzoo.errors import KzooError
from kzoo.run import configure
from tests.run.helpers import kzoo, one_error_line


def test_a_typo_d_flag_gets_the_closest_flag(tmp_path, capsys):
    code, printed, err = kzoo(capsys, "fixmatch", "--flexmach", "--out",
                              tmp_path / "r")
    assert code == 2 and printed == ""
    assert one_error_line(err) == (
        "error: unrecognized arguments: --flexmach (did you mean --flexmatch?) "
        "(--help lists the flags)")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv,hint", [
    (["--epoch=3"], "(did you mean --epochs?)"),
    (["--no-jit-compil"], "(did you mean --no-jit-compile?)"),
    (["--epoks", "3", "--bach-size", "8"],
     "(did you mean --epochs for --epoks, --batch-size for --bach-size?)"),
])
def test_each_typo_d_flag_gets_its_closest(argv, hint, capsys):
    code, _, err = kzoo(capsys, "train", *argv)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: unrecognized arguments: {' '.join(argv)} ")
    assert line.endswith(f" {hint} (--help lists the flags)")


def test_no_hint_where_nothing_is_close(capsys):
    code, _, err = kzoo(capsys, "train", "--zzz", "stray")
    assert code == 2
    assert one_error_line(err) == (
        "error: unrecognized arguments: --zzz stray (--help lists the flags)")


def test_a_misspelt_command_gets_the_closest_command(capsys):
    code, printed, err = kzoo(capsys, "fixmach")
    assert code == 2 and printed == ""
    assert one_error_line(err).startswith(
        "error: unknown command 'fixmach' (did you mean 'fixmatch'?); expected "
        "one of train, ")
    code, _, err = kzoo(capsys, "noisy_student")
    assert "(did you mean 'noisy-student'?)" in one_error_line(err)
    code, _, err = kzoo(capsys, "qqq")
    assert "did you mean" not in one_error_line(err)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_an_unknown_config_key_gets_the_closest_key(suffix, tmp_path, capsys):
    path = tmp_path / f"cfg{suffix}"
    path.write_text(json.dumps({"epoch": 3}))  # JSON is YAML too
    out = tmp_path / "r"
    code, _, err = kzoo(capsys, "train", "--config", path, "--out", out)
    assert code == 2
    assert one_error_line(err).startswith(
        f"error: Unknown keys ['epoch'] in {path} (did you mean 'epochs'?). "
        "Valid keys: ['augment', ")
    assert not out.exists()


def test_an_unknown_keyword_of_the_library_gets_the_closest_option():
    with pytest.raises(KzooError, match=r"Unknown keys \['lables_per_class'\] in "
                       r"kzoo fixmatch \(did you mean 'labels_per_class'\?\)"):
        configure("fixmatch", lables_per_class=5)
