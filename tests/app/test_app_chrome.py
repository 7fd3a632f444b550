"""The app's chrome: Material icons in the navigation (no emoji), a minimal toolbar (no Deploy button)."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50]")


def test_navigation_and_page_icons_are_material_not_emoji():
    tree = ast.parse((ROOT / "app.py").read_text())
    icons = [kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
             for kw in node.keywords if kw.arg == "icon"]
    assert len(icons) == 4 and all(i.startswith(":material/") for i in icons), icons
    # The browser tab's icon is a local file: a Material one would be fetched from Google's servers.
    page_icon = [kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                 for kw in node.keywords if kw.arg == "page_icon"]
    assert page_icon == ["assets/icon.png"] and (ROOT / "assets" / "icon.png").is_file()


def test_no_emoji_anywhere_in_the_app():
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "paramembed").rglob("*.py")]
    found = [f"{p.name}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1) if EMOJI.search(line)]
    assert not found


def test_the_toolbar_hides_deploy():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")


def test_pages_write_only_through_st_calls_so_magic_is_off():
    # Magic would display a bare value left in a page; with it off, such a line shows nothing: none may be left.
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False
    bare = []
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not isinstance(body, list):
                continue
            for i, stmt in enumerate(body):
                docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)
                if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, (ast.Call, ast.Await)) and not docstring:
                    bare.append(f"{path.name}:{stmt.lineno}")
    assert not bare, bare


def test_the_app_renders_with_its_navigation():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
