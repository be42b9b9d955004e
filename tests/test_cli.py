import subprocess
import sys

import pytest

from d2s.cli import main


def test_params_console_script_prints_count_on_last_line():
    out = subprocess.run(
        [sys.executable, "-m", "d2s", "params", "d2s-r18"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "13015105"


def test_params_r50(capsys):
    assert main(["params", "d2s-r50"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "38720577"


def test_params_unknown_model_is_a_clear_error(capsys):
    assert main(["params", "resnet-9000"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet-9000'" in err and "d2s-r18" in err


def test_no_command_shows_usage():
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
