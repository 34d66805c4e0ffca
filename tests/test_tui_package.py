"""The styles ship inside the wheel (hltui/hltui.tcss is a symlink to the repository's
hltui.tcss in the source tree; the wheel must carry a real copy the app finds)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hltui.tui.app import TCSS_PATH

ROOT = Path(__file__).resolve().parent.parent


def test_app_finds_its_styles_in_the_source_tree():
    assert TCSS_PATH.is_file()
    assert TCSS_PATH.read_text() == (ROOT / "hltui.tcss").read_text()


@pytest.mark.slow
def test_wheel_carries_the_styles(tmp_path: Path):
    # pip's isolated build (the backend pyproject.toml names), as users install it
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(tmp_path)], check=True, timeout=180)
    (wheel,) = tmp_path.glob("hltui-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.read("hltui/hltui.tcss").decode()
        names = set(zf.namelist())
    assert shipped == (ROOT / "hltui.tcss").read_text()
    assert "hltui/tui/app.py" in names and "hltui/tui/widgets/markets_table.py" in names
    # app.py looks next to the package root: hltui/tui/app.py -> hltui/hltui.tcss
    assert TCSS_PATH.relative_to(TCSS_PATH.parent.parent).as_posix() == "hltui/hltui.tcss"
