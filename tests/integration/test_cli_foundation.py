"""The CLI conventions, through the real command in a new process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from copyseal import __version__

from .conftest import Run


def test_version(run: Run) -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"copyseal, version {__version__}"


def test_init_register_works_from_any_folder(
    run: Run, tmp_path: Path, photo_files: dict[str, Path]
) -> None:
    ws = tmp_path / "ws"
    done = run("init", str(ws), "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["signing_key"] == str(ws / "keys" / "signing.key")
    assert created["evidence_store"] == (ws / "evidence").as_uri()
    assert stat.S_IMODE((ws / "keys" / "signing.key").stat().st_mode) == 0o600

    again = run("init", str(ws))
    assert again.returncode != 0
    expected = f"error: {ws}: already a workspace ({ws / 'config.yaml'} exists)"
    assert again.stderr.strip() == expected + "; refusing to overwrite it"

    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    cfg = ["--config", str(ws / "config.yaml")]
    done = run(
        *cfg, "register", str(photo_files["astronaut"]), str(bad), "--owner", "Jane", "--json"
    )
    assert done.returncode == 1  # one file failed; the other was registered
    items = json.loads(done.stdout)  # exactly one JSON document on stdout
    assert items[0]["path"] == str(photo_files["astronaut"]) and items[0]["work_id"].startswith("w")
    assert items[1] == {"path": str(bad), "error": "not an image (unrecognised content, 4 bytes)"}
    assert "not registered" in done.stderr  # the warning went to stderr

    done = run(*cfg, "works", "--json")
    assert [w["work_id"] for w in json.loads(done.stdout)] == [items[0]["work_id"]]
    done = run(*cfg, "works")
    assert items[0]["work_id"] in done.stdout and "1 registered work" in done.stdout

    done = run("works", "--json", env={"COPYSEAL_CONFIG": str(ws / "config.yaml")})
    assert len(json.loads(done.stdout)) == 1

    done = run(*cfg, "works", "remove", items[0]["work_id"], "--json")
    assert json.loads(done.stdout)[0]["removed_at"] is not None
    assert json.loads(run(*cfg, "works", "--json").stdout) == []

    log = (ws / "logs" / "copyseal.log").read_text().splitlines()
    assert any(json.loads(line)["message"] == "work registered" for line in log)


def test_malformed_config_is_one_line_with_exit_2(run: Run, tmp_path: Path) -> None:
    cases = {
        "database: [oops": "invalid YAML at line 1",
        "colour: blue\n": "unknown key 'colour'",
        "match:\n  max_pixels: many\n": "key 'match.max_pixels' = \"many\"",
    }
    for text, expected in cases.items():
        cfg = tmp_path / "config.yaml"
        cfg.write_text(text)
        done = run("--config", str(cfg), "works")
        assert done.returncode == 2
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {cfg}: ")
        assert expected in lines[0]
        assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("colour: blue\n")
    done = run("--debug", "--config", str(cfg), "works")
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "ConfigError" in done.stderr


def test_missing_config_says_what_to_do(run: Run) -> None:
    done = run("works")
    assert done.returncode == 2
    assert "configuration file not found (run 'copyseal init DIR' or pass --config)" in done.stderr


def test_env_and_set_overrides_reach_commands(run: Run, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws)).returncode == 0
    done = run(
        "--config",
        str(ws / "config.yaml"),
        "--set",
        "database.url=sqlite:///other.db",
        "db",
        "status",
        "--json",
    )
    assert json.loads(done.stdout)["url"] == f"sqlite:///{ws / 'other.db'}"
    done = run(
        "--config",
        str(ws / "config.yaml"),
        "db",
        "status",
        "--json",
        env={"COPYSEAL_DATABASE__URL": "sqlite:///env.db"},
    )
    assert json.loads(done.stdout)["url"] == f"sqlite:///{ws / 'env.db'}"
    assert json.loads(done.stdout)["revision"] is None


def test_unrelated_copyseal_variables_are_not_settings(run: Run, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    wrapper = {"COPYSEAL_BIN": "/x", "COPYSEAL_FOO": "1"}
    assert run("init", str(ws), env=wrapper).returncode == 0
    done = run("--config", str(ws / "config.yaml"), "works", "--json", env=wrapper)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_bad_environment_setting_names_the_variable(run: Run, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws)).returncode == 0
    done = run(
        "--config", str(ws / "config.yaml"), "works", env={"COPYSEAL_DATABASE__URL": "bad://"}
    )
    assert done.returncode == 2
    assert done.stderr.startswith('error: environment variable COPYSEAL_DATABASE__URL="bad://"')
    assert "config.yaml" not in done.stderr
