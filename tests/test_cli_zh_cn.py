"""`--help` in Chinese with PARAMEMBED_LANG=zh-CN; errors stay English; every option has its translation."""

import os
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from paramembed import cli, cli_zh_cn

ROOT = Path(__file__).resolve().parent.parent


def run(*args, lang: str | None = "zh-CN"):
    env = {k: v for k, v in os.environ.items() if k != "PARAMEMBED_LANG"}
    if lang:
        env["PARAMEMBED_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "paramembed", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def english_parser(monkeypatch):
    monkeypatch.delenv("PARAMEMBED_LANG", raising=False)
    return cli.build_parser()


def test_every_option_has_a_chinese_help_and_nothing_else(monkeypatch):
    keys = set(cli_zh_cn.help_keys(english_parser(monkeypatch))) | {""}
    assert keys == set(cli_zh_cn.HELP), {"missing": keys - set(cli_zh_cn.HELP), "stale": set(cli_zh_cn.HELP) - keys}


def test_chinese_help_keeps_argparse_percent_escapes(monkeypatch):
    """argparse formats help with %: a "95%" that English wrote "95%%" must stay escaped in Chinese."""
    for key, action in cli_zh_cn.help_keys(english_parser(monkeypatch)).items():
        assert action.help.count("%%") == cli_zh_cn.HELP[key].count("%%"), key
        assert not re.search(r"%(?!%)", cli_zh_cn.HELP[key].replace("%%", "")), key


def test_chinese_help_fields_are_known():
    fields = cli_zh_cn._fields()
    for key, text in cli_zh_cn.HELP.items():
        for _, name, _, _ in string.Formatter().parse(text):
            assert name is None or name in fields, (key, name)


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["models"], ["report"], ["bench"]])
def test_help_is_chinese(command):
    out = run(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "用法：" in out.stdout and "显示此帮助信息并退出" in out.stdout
    prose = re.sub(r"\[[^\]]*\]|\{[^}]*\}|\S*[/._=<>]\S*|--?[\w-]+|\b[A-Z_]{2,}\b", " ", out.stdout)  # usage, options, paths
    english = re.findall(r"\b(the|and|of|for|with|when|per|show|help|message|default)\b", prose)
    assert not english, f"English left in: {out.stdout}"


def test_help_stays_english_without_the_setting():
    out = run("evaluate", "--help", lang=None)
    assert "usage:" in out.stdout and "queries per class" in out.stdout


def test_errors_stay_english_in_chinese():
    out = run("evaluate", "--ways", "1")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --ways must be at least 2 (a task needs two classes), got 1"
