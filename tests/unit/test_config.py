from __future__ import annotations

from pathlib import Path

import pytest

from copyseal._template import CONFIG_TEMPLATE
from copyseal.config import Settings, load_settings
from copyseal.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_resolve_relative_to_the_file(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, ""), env={})
    assert s.database.url == f"sqlite:///{tmp_path / 'copyseal.db'}"
    assert s.workspace.signing_key == tmp_path / "keys" / "signing.key"
    assert s.workspace.evidence_dir == tmp_path / "evidence"
    assert s.source == tmp_path / "config.yaml"


def test_template_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, CONFIG_TEMPLATE), env={})
    assert s == load_settings(write(tmp_path, ""), env={})
    for section, model in Settings.model_fields.items():
        if section in ("source", "base_dir"):
            continue
        assert f"\n{section}:\n" in CONFIG_TEMPLATE
        assert model.annotation is not None
        for key in model.annotation.model_fields:  # type: ignore[union-attr]
            assert f"  {key}:" in CONFIG_TEMPLATE, f"{section}.{key} undocumented"


def test_repository_config_is_the_demo_workspace() -> None:
    repo = Path(__file__).resolve().parents[2]
    s = load_settings(repo / "config.yaml", env={})
    assert s.workspace.evidence_dir == repo / "evidence"
    assert s.database.url.endswith("/evidence/copyseal.db")
    assert s.ledger.origin == "copyseal.local/demo"


def test_merge_order_file_env_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger:\n  origin: file.example/log\nmatch:\n  max_pixels: 10\n")
    assert load_settings(path, env={}).ledger.origin == "file.example/log"
    env = {"COPYSEAL_LEDGER__ORIGIN": "env.example/log", "COPYSEAL_MATCH__MAX_PIXELS": "20"}
    s = load_settings(path, env=env)
    assert (s.ledger.origin, s.match.max_pixels) == ("env.example/log", 20)
    s = load_settings(path, env=env, overrides=["ledger.origin=flag.example/log"])
    assert (s.ledger.origin, s.match.max_pixels) == ("flag.example/log", 20)


def test_absolute_paths_and_urls_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "database:\n  url: postgresql+psycopg://u@h/db\nworkspace:\n  evidence_dir: /srv/ev\n",
    )
    s = load_settings(path, env={})
    assert s.database.url == "postgresql+psycopg://u@h/db"
    assert s.workspace.evidence_dir == Path("/srv/ev")


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, ""), env={})
    with pytest.raises(Exception, match="frozen"):
        s.ledger.origin = "x"  # type: ignore[misc]


def test_digest_changes_with_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    a = load_settings(path, env={}).digest()
    b = load_settings(path, env={}, overrides=["match.max_pixels=5"]).digest()
    assert a != b and len(a) == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("database: [unclosed", r"config\.yaml: invalid YAML at line 1, column \d+"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("databse:\n  url: x\n", "unknown key 'databse'"),
        ("database:\n  uri: x\n", r"unknown key 'database\.uri'"),
        ("match:\n  max_pixels: lots\n", r"key 'match\.max_pixels' = \"lots\": .*integer"),
        ("match:\n  max_pixels: -1\n", r"key 'match\.max_pixels' = -1: .*greater than 0"),
        ("logging:\n  level: LOUD\n", r"key 'logging\.level' = \"LOUD\""),
        ("database:\n  url: mysql://x\n", r"key 'database\.url' = \"mysql://x\": must start with"),
        ("ledger:\n  origin: a b\n", r"key 'ledger\.origin'"),
        ("database: 5\n", r"key 'database' = 5"),
    ],
)
def test_malformed_file_gives_one_line_naming_file_key_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_bad_environment_value_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_pixels"):
        load_settings(write(tmp_path, ""), env={"COPYSEAL_MATCH__MAX_PIXELS": "many"})
    with pytest.raises(ConfigError, match=r"unknown key 'match\.nope'"):
        load_settings(write(tmp_path, ""), env={"COPYSEAL_MATCH__NOPE": "1"})


def test_non_key_environment_variables_are_ignored(tmp_path: Path) -> None:
    env = {
        "COPYSEAL_CONFIG": "/x",
        "COPYSEAL_REQUIRE_POSTGRES": "1",
        "COPYSEAL_BIN": "/x",  # a wrapper script's own variable
        "COPYSEAL_FOO": "1",
        "COPYSEAL_NOT_A_SECTION__URL": "x",
        "COPYSEAL_SOURCE__X": "1",  # `source` is not a YAML section
        "OTHER": "y",
    }
    s = load_settings(write(tmp_path, ""), env=env)
    assert s == load_settings(write(tmp_path, ""), env={})


def test_environment_errors_name_the_variable_not_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger:\n  origin: file.example/log\n")
    env = {"COPYSEAL_DATABASE__URL": "bad://"}
    with pytest.raises(ConfigError) as e:
        load_settings(path, env=env)
    assert str(e.value).startswith('environment variable COPYSEAL_DATABASE__URL="bad://": ')
    assert "database.url" in str(e.value) and str(path) not in str(e.value)
    with pytest.raises(ConfigError, match=r"^environment variable COPYSEAL_CRAWL__NOPE=.*nope'"):
        load_settings(path, env={"COPYSEAL_CRAWL__NOPE": "1"})
    # A bad value in the file is still blamed on the file.
    bad_file = write(tmp_path, "match:\n  max_pixels: -1\n")
    with pytest.raises(ConfigError, match=f"^{bad_file}: key 'match.max_pixels'"):
        load_settings(bad_file, env={"COPYSEAL_LEDGER__ORIGIN": "env.example/log"})
    with pytest.raises(ConfigError, match=r"^--set match\.max_pixels=0: key 'match\.max_pixels'"):
        load_settings(path, env={}, overrides=["match.max_pixels=0"])


def test_bad_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_settings(write(tmp_path, ""), env={}, overrides=["ledger.origin"])


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ("{nope: 1}", "unknown match settings: nope"),
        ("{min_inliers: x}", "min_inliers must be a int, not 'x'"),
        ("{ratio: 2.0}", r"match\.ratio must be in \(0, 1\]"),
        ("{mirror_pass: 1}", "mirror_pass must be a bool"),
    ],
)
def test_matcher_thresholds_are_validated(tmp_path: Path, engine: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, f"match:\n  engine: {engine}\n"), env={})


def test_matcher_threshold_override(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "match:\n  engine: {min_inliers: 12, ratio: 0.7}\n"), env={})
    assert s.match.engine == {"min_inliers": 12, "ratio": 0.7}
