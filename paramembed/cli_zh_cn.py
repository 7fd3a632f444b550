"""`python -m paramembed --help` in Simplified Chinese, when PARAMEMBED_LANG=zh-CN (the app's setting).

Only the help is translated: error messages stay English, a terminal convention (they are
searched for, pasted into issues and read by scripts). The parser is built in English as always
(`paramembed.cli.build_parser`); `translate(parser)` then swaps each help text for the one keyed
here by "<command> <option>" ("" is the program, "<command>" a command's own line). A test
checks that every option the parser has is here and nothing else, so a new option cannot ship
with English help in Chinese. Terms follow docs/glossary.zh-CN.md.
"""

from __future__ import annotations

import argparse
import os

from paramembed.methods import ANY_BACKBONE, METHOD_NAMES, TRAINABLE

ENV = "PARAMEMBED_LANG"

HELP: dict[str, str] = {
    "": "小样本分类器：分类器的参数由支持集在一次前向传播中生成（参数嵌入元学习）。",
    # ---- train
    "train": "预训练主干网络（stage: pretrain）或元训练一个模型（写入 runs/<name>/：metrics.jsonl、model.safetensors、"
             "config.json）",
    "train --config": "YAML 或 JSON 文件，只写与默认值不同的设置（见 configs/）",
    "train --set": "覆盖一项设置，例如 --set model.generator=latent --set episodes=20000（可重复）",
    "train --name": "运行名称（out_dir 下的文件夹）；默认取自配置",
    "train --fresh": "重新开始，而不是继续 runs/<name>/ 中的训练（默认继续）",
    "train --quiet": "不显示进度条",
    # ---- evaluate
    "evaluate": "N类K样本准确率：多个回合的平均值 ± 95%% 置信区间",
    "evaluate --model": "随附模型的名称或模型文件夹（默认：默认的随附模型）；'{pretrained}' 在其权重可用时使用 torchvision "
                        "的 ImageNet ResNet-18，否则使用照片模型",
    "evaluate --data": "'procedural'（程序生成的字形字母表），或 Omniglot / ImageFolder 结构的文件夹或 .tar.gz",
    "evaluate --split": "程序生成数据的划分（test：留出的字母表）；文件夹的 'test' 是整个文件夹",
    "evaluate --ways": "N（类别数）；给出多个值就得到多行（默认 5）",
    "evaluate --shots": "K（每类样本数，默认 1）",
    "evaluate --queries": "每类查询样本数；15 是 Omniglot 的常用设置",
    "evaluate --episodes": "至少 600 个回合，置信区间约为 ±0.5 个百分点",
    "evaluate --within-alphabet": "一个任务的所有类别都取自同一个字母表的概率，与训练配置相同；只写这个选项表示 1"
                                  "（Lake et al. 2015 的同一字母表内协议）；默认 0：随机类别",
    "evaluate --method": "适应方法（默认：模型自身的方法）；{any} 可用于任何模型，其他方法需要用它们训练的模型；可重复。"
                         "{methods}",
    "evaluate --device": "auto（有 CUDA 时使用 CUDA）、cpu 或 cuda",
    "evaluate --json": "输出供脚本使用的 JSON，而不是表格",
    # ---- models
    "models": "列出随附的模型",
    # ---- report
    "report": "评估每个随附模型，并写入 README 的结果表",
    "report --models": "随附模型的名称（默认：全部）",
    "report --episodes": "每个单元格的回合数（1000 个回合的置信区间约为零点几个百分点）",
    "report --slow-episodes": "MAML 和微调分类头的每格回合数（它们对每个任务都做梯度更新）",
    "report --threads": "torch 线程数（0：torch 的默认值）",
    "report --write-readme": "把 results/*.json 渲染进 README.md",
    "report --readme-only": "只用 results/*.json 重新渲染 README.md",
    # ---- bench
    "bench": "并排测量适应、元训练、数据和应用的速度；打印表格并写出 JSON",
    "bench --tasks": "适应测量中每种形状的任务数（100：在 CPU 上 MAML 约需一分钟）",
    "bench --queries": "计算准确率时每类的查询样本数",
    "bench --quick": "较短的计时窗口和循环：用于测试，数字较粗略",
    "bench --model": "为生成器 NAME（{trainable}）使用这个文件夹，而不是随附模型；可重复",
    "bench --only": "只运行这些部分（可重复；默认全部）",
    "bench --app-repeats": "冷启动页面测量中启动新应用进程的次数（3：一次慢启动不会影响中位数）",
    "bench --device": "auto（有 CUDA 时使用 CUDA）、cpu 或 cuda",
    "bench --threads": "torch 的 CPU 线程数（默认：由 torch 决定）；在繁忙的机器上用 1 可得到更稳定的延迟",
    "bench --json": "JSON 报告的写入位置",
}
# argparse's own words (it has no Chinese of its own).
USAGE = "用法："
OPTIONS = "选项"
POSITIONALS = "位置参数"
HELP_OPTION = "显示此帮助信息并退出"
COMMANDS = "命令"

METHOD_SUMMARIES = {
    "hyper": "参数生成网络：一个 MLP 把每个类别的参数嵌入解码为该类别的权重",
    "latent": "LEO 式：看过整个任务的编码被解码为权重",
    "proto": "权重印记：每个类别的权重是其支持集特征的均值（原型）",
    "maml": "MAML 基线：整个网络在支持集上做梯度更新",
    "finetune": "基线：在冻结的特征上训练一个线性分类头 100 步",
}


def wanted() -> bool:
    """Whether --help speaks Chinese: PARAMEMBED_LANG names Chinese (zh, zh-CN, zh_CN.UTF-8 ...)."""
    return os.environ.get(ENV, "").strip().lower().startswith("zh")


def _fields() -> dict[str, str]:
    from paramembed.cli import PRETRAINED_NAME

    return {"pretrained": PRETRAINED_NAME, "any": "、".join(ANY_BACKBONE), "trainable": ", ".join(TRAINABLE),
            "methods": "；".join(f"{m}：{METHOD_SUMMARIES[m]}" for m in METHOD_NAMES)}


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, prefix=USAGE)


def help_keys(parser: argparse.ArgumentParser, command: str = "") -> dict[str, argparse.Action]:
    """Every help text's key in `parser` ("" for the program, "evaluate --ways" ...) -> the action holding it."""
    keys = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                keys[choice.dest] = choice
            for name, sub in action.choices.items():
                keys.update(help_keys(sub, name))
        elif action.help not in (None, argparse.SUPPRESS) and not isinstance(action, argparse._HelpAction):
            keys[f"{command} {action.option_strings[-1]}".strip()] = action
    return keys


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def translate(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser with its help in Chinese (in place)."""
    fields = _fields()
    for key, action in help_keys(parser).items():
        action.help = HELP[key].format(**fields) if "{" in HELP[key] else HELP[key]
    parser.description = HELP[""]
    for p in _parsers(parser):
        p.formatter_class = _Formatter
        p._optionals.title = OPTIONS
        p._positionals.title = POSITIONALS
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = HELP_OPTION
            if isinstance(action, argparse._SubParsersAction):
                action.help = COMMANDS
    return parser
