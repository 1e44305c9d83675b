"""``python -m api demo`` builds its index when there is none and again when it is of an older format."""

import json

from api.cli.demo import _needs_building
from matcher.index import FORMAT_VERSION


def test_the_demo_index_is_built_when_missing_or_old(tmp_path, capsys):
    assert _needs_building(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": FORMAT_VERSION - 1}))
    assert _needs_building(tmp_path)
    assert f"format {FORMAT_VERSION - 1}" in capsys.readouterr().out
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": FORMAT_VERSION}))
    assert not _needs_building(tmp_path)
    (tmp_path / "manifest.json").write_text("garbage")
    assert not _needs_building(tmp_path)  # damaged: loading it says so, with what is wrong
