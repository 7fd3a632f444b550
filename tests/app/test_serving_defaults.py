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
def test_our_modules_are_byte_compiled_before_the_server_starts(target):
    recipe = make_recipe(target)
    assert "-m compileall -q paramembed" in recipe
    assert recipe.index("compileall") < recipe.index("launch.py")


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


def test_app_imports_pandas_before_any_page_but_the_playground_runs():
    """Through `pandas` itself, before the page (see app.py); the Playground does so before its comparison table."""
    tree = ast.parse((ROOT / "app.py").read_text())
    guarded = [n for n in tree.body if isinstance(n, ast.If)
               and any(isinstance(i, ast.Import) and any(a.name == "pandas" for a in i.names) for i in n.body)]
    assert guarded, "app.py does not import pandas"
    assert ast.unparse(guarded[0].test) == "navigation is not playground"
    runs = [n for n in tree.body if isinstance(n, ast.Expr) and ast.unparse(n) == "navigation.run()"]
    assert runs and tree.body.index(guarded[0]) < tree.body.index(runs[0])
    playground = (ROOT / "pages" / "playground.py").read_text()
    assert -1 < playground.index("import pandas") < playground.index("view_.compare(")
