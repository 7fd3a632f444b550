"""The two message catalogs agree, the Chinese one keeps to the glossary, and the language is chosen as stated."""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from paramembed.app import language
from paramembed.app.messages import MESSAGES, say
from paramembed.app.messages_zh_cn import MESSAGES_ZH_CN

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.zh-CN.md"


def fields(text: str) -> list[tuple[str, str]]:
    """The `{name:spec}` fields of a message, in a canonical order."""
    return sorted((name, spec or "") for _, name, spec, _ in string.Formatter().parse(text) if name is not None)


def test_both_catalogs_have_the_same_keys_and_placeholders():
    assert set(MESSAGES) == set(MESSAGES_ZH_CN), (set(MESSAGES) ^ set(MESSAGES_ZH_CN))
    differ = {k: (fields(MESSAGES[k]), fields(MESSAGES_ZH_CN[k])) for k in MESSAGES if fields(MESSAGES[k]) != fields(MESSAGES_ZH_CN[k])}
    assert not differ, differ


def test_every_message_formats_with_its_own_fields():
    for catalog in (MESSAGES, MESSAGES_ZH_CN):
        for key, text in catalog.items():
            text.format(**{name: 1 for name, _ in fields(text)})  # a bad brace or a stray field raises here


def test_plural_keys_come_in_pairs():
    for key in MESSAGES:
        if key.endswith("_one"):
            assert key[:-4] + "_other" in MESSAGES, key


def test_chinese_messages_are_chinese():
    """Every Chinese message that is a sentence or a label has Chinese in it (a copied English one does not)."""
    english = [k for k, v in MESSAGES_ZH_CN.items()
               if re.search(r"[A-Za-z]{3}", re.sub(r"\{[^}]*\}|`[^`]*`|%\{[^}]*\}|<[^>]*>", "", v))
               and not re.search(r"[\u4e00-\u9fff]", v)]
    # Left as written in both: a bilingual picker label, method names, symbols and format strings.
    assert set(english) <= {"device_auto", "device_cuda", "logit"}, english


def test_chinese_bold_text_closes():
    """CommonMark does not close `**` after a punctuation mark that is followed by a letter: "**是：**同" shows stars."""
    for key, text in MESSAGES_ZH_CN.items():
        for match in re.finditer(r"(?<=\S)\*\*(?=[^\s*])", text):
            before, after = text[match.start() - 1], text[match.end()]
            opening = text[: match.start()].count("**") % 2 == 0
            if not opening:
                assert not (unicodedata.category(before).startswith("P") and before != "}"
                            and not unicodedata.category(after).startswith("P")), (key, text)


# ============ the glossary ============
def glossary() -> list[tuple[str, list[str]]]:
    rows = []
    for line in GLOSSARY.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[0].strip("`"), [t.strip() for t in cells[1].split("|")]))
    return rows


def test_the_glossary_names_the_terms_the_issue_asks_for():
    chinese = {t for _, terms in glossary() for t in terms}
    for term in ("元学习", "参数嵌入", "参数生成网络", "支持集", "查询集", "{1}类{2}样本", "原型", "余弦相似度", "置信度"):
        assert term in chinese, term


def test_chinese_catalog_uses_the_glossary_terms():
    """Where an English message says a glossary term, its Chinese message says the glossary's Chinese for it."""
    misses = []
    for key, english in MESSAGES.items():
        # Fields, code and paths (alphabet/character/image) are not words to translate.
        text = re.sub(r"`[^`]*`|\S*/\S*|%\{[^}]*\}", " ", english)
        for pattern, terms in glossary():
            plain = re.sub(r"\{[^}]*\}", " ", text) if "\\{" not in pattern else text
            if pattern.startswith("class"):
                plain = re.sub(r"per class", " ", plain, flags=re.I)
            for match in re.finditer(rf"\b{pattern}\b" if pattern[0].isalpha() else pattern, plain, flags=re.I):
                wanted = [re.sub(r"\{(\d)\}", lambda m: "{" + match.group(int(m.group(1))) + "}", t) for t in terms]
                if not any(w in MESSAGES_ZH_CN[key] for w in wanted):
                    misses.append(f"{key}: {match.group(0)!r} -> {' | '.join(wanted)} not in {MESSAGES_ZH_CN[key]!r}")
    assert not misses, "\n".join(misses)


def test_the_glossary_check_can_fail(monkeypatch):
    monkeypatch.setitem(MESSAGES_ZH_CN, "adaptation_help", "从样本生成分类器")  # 支持集 missing
    with pytest.raises(AssertionError, match="adaptation_help"):
        test_chinese_catalog_uses_the_glossary_terms()


# ============ which language ============
@pytest.mark.parametrize("tag, lang", [("zh-CN", "zh-CN"), ("zh_CN.UTF-8", "zh-CN"), ("zh-Hans-CN", "zh-CN"),
                                       ("zh", "zh-CN"), ("en-GB", "en"), ("EN", "en"), ("fr-FR", None), ("", None),
                                       (None, None), ("english", None)])
def test_language_tags(tag, lang):
    assert language.normalise(tag) == lang


def test_outside_the_app_say_speaks_the_servers_language(monkeypatch):
    monkeypatch.delenv(language.ENV, raising=False)
    assert say("tab_download") == "Download"
    monkeypatch.setenv(language.ENV, "zh-CN")
    assert say("tab_download") == "下载"
    monkeypatch.setenv(language.ENV, "klingon")  # not a language the app speaks: English
    assert say("tab_download") == "Download"


PICKER = """
import streamlit as st
from paramembed.app import language
from paramembed.app.messages import say
language.picker()
st.title(say("page_playground"))
"""


def picker_app(monkeypatch, env: str | None = None, query: str | None = None) -> AppTest:
    if env is None:
        monkeypatch.delenv(language.ENV, raising=False)
    else:
        monkeypatch.setenv(language.ENV, env)
    at = AppTest.from_string(PICKER)
    if query:
        at.query_params[language.KEY] = query
    return at.run()


def test_english_by_default(monkeypatch):
    at = picker_app(monkeypatch)
    assert at.title[0].value == "Playground" and at.selectbox(key="lang").value == "en"
    assert at.query_params[language.KEY] == "en"


def test_the_server_default_and_the_address_choose_the_first_language(monkeypatch):
    assert picker_app(monkeypatch, env="zh-CN").title[0].value == "试验场"
    # The address (a reload, a shared link) comes before the server's default.
    assert picker_app(monkeypatch, env="zh-CN", query="en").title[0].value == "Playground"
    assert picker_app(monkeypatch, query="zh-CN").title[0].value == "试验场"


def test_picking_a_language_changes_the_page_and_the_address(monkeypatch):
    at = picker_app(monkeypatch)
    at.selectbox(key="lang").set_value("zh-CN").run()
    assert at.title[0].value == "试验场"
    assert at.query_params[language.KEY] == "zh-CN"
    assert at.sidebar.selectbox[0].label == language.LABEL  # the same in both languages


def test_the_browsers_language_is_followed_when_nothing_else_says(monkeypatch):
    monkeypatch.delenv(language.ENV, raising=False)
    monkeypatch.setattr(language, "_browser", lambda: "zh-CN")
    assert AppTest.from_string(PICKER).run().title[0].value == "试验场"
    monkeypatch.setenv(language.ENV, "en")  # the server's setting comes first
    assert AppTest.from_string(PICKER).run().title[0].value == "Playground"


# ============ the library's English words, said in Chinese ============
def test_family_reasons_are_translated(monkeypatch):
    from paramembed.app.model_routing import family_reason
    from paramembed.family import suggest_family

    monkeypatch.setenv(language.ENV, "zh-CN")
    drawing = np.full((32, 32), 255, np.uint8)
    drawing[8:24, 14:18] = 0
    photo = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    for images in ([drawing, drawing], [photo, photo]):
        reason = family_reason(suggest_family(images).reason)
        assert not re.search(r"[A-Za-z]{3}", reason), reason


def test_confidence_reasons_are_translated(monkeypatch):
    from paramembed.app.results_view import confidence_reason
    from paramembed.explain import confidence

    monkeypatch.setenv(language.ENV, "zh-CN")
    for probs, mark in (([0.3, 0.25, 0.25, 0.2], None), ([0.5, 0.45, 0.05], None), ([0.5, 0.3, 0.2], 0.6)):
        sure = confidence(probs, mark)
        assert sure.low and not re.search(r"[A-Za-z]{3}", confidence_reason(sure.reason)), sure.reason


def library_messages() -> list[str]:
    """The library's messages a class meets while building a task, made by the library itself."""
    from dataclasses import replace

    from paramembed.errors import ParamembedError
    from paramembed.tasks import LIMITS, TaskDraft, decode_files

    messages = []

    def catch(action):
        try:
            action()
        except ParamembedError as err:
            messages.append(str(err))
        else:
            raise AssertionError("the library accepted it")

    draft = TaskDraft()
    catch(draft.build)  # no class
    draft.add_class("猫")
    catch(draft.build)  # a class with no images
    images, _ = decode_files([("a.png", _png())])
    draft.add_images("猫", images)
    catch(draft.build)  # only one class
    catch(lambda: draft.add_class("猫"))
    catch(lambda: draft.add_class("  "))
    small = TaskDraft(limits=replace(LIMITS, max_classes=1, max_images_per_class=0))
    small.add_class("dog")
    catch(lambda: small.add_class("owl"))
    small.classes["dog"] = images  # over its limit of 0 images
    catch(small.build)
    return messages


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_common_library_messages_are_said_in_chinese_and_unchanged_in_english(monkeypatch):
    from paramembed.app.library_text import KNOWN, library_text

    messages = library_messages()
    assert len(messages) == len(KNOWN), messages  # one of each known form
    monkeypatch.delenv(language.ENV, raising=False)
    assert [library_text(m) for m in messages] == messages  # English pages show the library's own words
    monkeypatch.setenv(language.ENV, "zh-CN")
    for message in messages:
        said = library_text(message)
        assert not said.startswith("（英文原文）"), f"not translated: {message!r}"
        assert not re.search(r"[A-Za-z]{3}", said.replace("'dog'", "")), said


def test_other_library_messages_are_marked_as_english(monkeypatch):
    from paramembed.app.library_text import library_text

    monkeypatch.setenv(language.ENV, "zh-CN")
    assert library_text("'x.png' is not an image") == "（英文原文）'x.png' is not an image"


# ============ the Chinese font ============
def test_the_shipped_font_holds_every_chinese_character_the_catalog_uses():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    (face,) = config["theme"]["fontFaces"]
    font = ROOT / "static" / face["url"].removeprefix("app/static/")
    assert font.is_file() and font.stat().st_size < 2 * 2**20, font  # served, and small
    assert face["family"] in config["theme"]["light"]["font"] and face["family"] in config["theme"]["dark"]["font"]
    held = set(font.with_suffix(".chars.txt").read_text(encoding="utf-8").strip())
    used = {c for text in MESSAGES_ZH_CN.values() for c in text if "\u2e80" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"}
    missing = used - held
    assert not missing, f"rebuild the font (scripts/subset_cjk_font.py): {''.join(sorted(missing))}"
