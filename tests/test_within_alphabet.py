"""`within_alphabet` is one probability everywhere: training configs, evaluation, the report, the CLI."""

import pytest

from paramembed import ModelConfig, build_model
from paramembed.cli import build_parser
from paramembed.data.glyphs import GlyphAlphabets
from paramembed.errors import ParamembedError
from paramembed.evaluation import FeatureBank, evaluate
from paramembed.report import GLYPH_BENCHMARKS, PHOTO_BENCHMARKS


class RecordingBank(FeatureBank):
    """A feature bank that remembers which alphabets each task drew its support from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.support_groups: list[set[int]] = []

    def features(self, keys):
        if len(keys) == 5:  # 5-way 1-shot support; queries come in 5 * 2
            self.support_groups.append({g for g, _, _ in keys})
        return super().features(keys)


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(generator="proto", width=8)).eval()


def within_fraction(model, p: float, episodes: int = 40) -> tuple[float, object]:
    bank = RecordingBank(model, GlyphAlphabets("test"))
    result = evaluate(model, bank.dataset, ways=5, shots=1, queries=2, episodes=episodes, within_alphabet=p, bank=bank)
    return sum(len(groups) == 1 for groups in bank.support_groups) / episodes, result


def test_a_fraction_mixes_within_and_random_tasks(model):
    fraction, result = within_fraction(model, 0.5)
    assert 0.2 < fraction < 0.8  # a bool would make every task within-alphabet
    assert result.within_alphabet == 0.5


def test_zero_and_one_keep_their_old_meaning(model):
    assert within_fraction(model, 1.0)[0] == 1.0
    assert within_fraction(model, 0.0)[0] < 0.2  # 50 alphabets: random classes rarely share one
    assert within_fraction(model, True)[0] == 1.0  # old callers passing a bool still work


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_0_1_is_refused(model, p):
    with pytest.raises(ParamembedError, match="within_alphabet is a probability"):
        evaluate(model, GlyphAlphabets("test"), episodes=1, within_alphabet=p)


@pytest.mark.parametrize("argv, expected", [([], 0.0), (["--within-alphabet"], 1.0), (["--within-alphabet", "0.3"], 0.3)])
def test_cli_flag_takes_an_optional_probability(argv, expected):
    args = build_parser().parse_args(["evaluate", *argv])
    assert args.within_alphabet == expected


def test_report_benchmarks_state_a_probability():
    probs = {b.key: b.within_alphabet for b in GLYPH_BENCHMARKS + PHOTO_BENCHMARKS}
    assert all(type(p) is float for p in probs.values())
    assert probs["omniglot-within"] == 1.0 and probs["omniglot"] == 0.0
