"""How `make run` and `make serve` start the app: the flags, .streamlit/config.toml, app.py's imports."""

import ast
import re
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config

ROOT = Path(__file__).resolve().parents[2]


def make_recipe(target: str) -> str:
    """The shell lines of a Makefile target, continuation lines joined."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, f"no `{target}` target in the Makefile"
    return match.group(1)


def flags(recipe: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-zA-Z]+\.[a-zA-Z]+)[ =](\S+)", recipe))


def test_make_run_binds_to_localhost_without_a_file_watcher():
    run = flags(make_recipe("run"))
    assert run["server.address"] == "127.0.0.1"
    assert run["server.fileWatcherType"] == "none"
    assert "PARAMEMBED_MODE=network" not in make_recipe("run")


def test_make_serve_is_the_network_mode():
    recipe = make_recipe("serve")
    serve = flags(recipe)
    assert "PARAMEMBED_MODE=network" in recipe
    assert serve["server.address"] == "0.0.0.0"
    assert serve["server.fileWatcherType"] == "none"
    assert serve["client.showErrorDetails"] == "none"  # tracebacks stay in the server's console


@pytest.mark.parametrize("target", ["run", "serve"])
def test_every_flag_is_a_streamlit_option(target):
    # A misspelt option makes `streamlit run` exit at once; catch it here rather than at a lecture.
    for key in flags(make_recipe(target)):
        assert key in st_config._config_options_template, f"make {target}: --{key} is not a Streamlit option"


def test_streamlit_config_file():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["maxUploadSize"] == 100
    assert settings["browser"]["gatherUsageStats"] is False

    def options(table: dict, prefix: str = ""):
        for key, value in table.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and name not in st_config._config_options_template:
                yield from options(value, name + ".")  # a section, or [theme.light] inside [theme]
            else:
                yield name

    found = list(options(settings))
    for name in found:
        assert name in st_config._config_options_template, f"{name} is not a Streamlit option"
    assert "theme.light.font" in found and "theme.fontFaces" in found  # the Chinese font, in both themes


def test_app_imports_pandas_before_any_page_runs():
    tree = ast.parse((ROOT / "app.py").read_text())
    statements = [node for node in tree.body if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Constant)]
    imports = [n for n in statements if isinstance(n, ast.Import) and any(a.name == "pandas" for a in n.names)]
    assert imports, "app.py does not import pandas"
    first_call = next(i for i, n in enumerate(statements) if not isinstance(n, (ast.Import, ast.ImportFrom)))
    assert statements.index(imports[0]) < first_call
