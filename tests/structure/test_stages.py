"""The stage list in `bot.pipeline.stages` is the pipeline: in the declared order, each entry names
a callable that exists, each stage's module says what it takes and gives, and the stages that run
one item at a time implement the `Stage` interface."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from bot.pipeline.decide import DecideStage
from bot.pipeline.detect import DetectStage
from bot.pipeline.stages import PIPELINE, Stage, StageName, StageSpec
from tests.structure.walk import ROOT


def resolve(entry: str) -> object:
    module_name, _, qualified = entry.partition(":")
    target: object = importlib.import_module(module_name)
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


def test_the_order_is_the_pipeline() -> None:
    assert [spec.name for spec in PIPELINE] == [
        StageName.NORMALIZE,
        StageName.DEDUPE,
        StageName.MUTE,
        StageName.GROUP,
        StageName.DETECT,
        StageName.DECIDE,
        StageName.ACT,
        StageName.REPORT,
    ]


@pytest.mark.parametrize("spec", PIPELINE, ids=lambda spec: spec.name.value)
def test_each_stage_names_real_code_whose_module_says_what_it_takes_and_gives(spec: StageSpec) -> None:
    assert callable(resolve(spec.entry))
    module = importlib.import_module(spec.entry.partition(":")[0])
    doc = module.__doc__ or ""
    stage_line = re.search(r"^Stage: (.+)$", doc, re.MULTILINE)
    assert stage_line is not None and spec.name.value in stage_line.group(1), module.__name__
    assert re.search(r"^Takes: \S", doc, re.MULTILINE), module.__name__
    assert re.search(r"^Gives: \S", doc, re.MULTILINE), module.__name__


@pytest.mark.parametrize("cls", [DetectStage, DecideStage])
def test_one_item_stages_implement_the_interface(cls: type) -> None:
    """mypy holds them to `Stage[In, Out]` where the incident flow keeps them; this checks the shape."""
    assert cls.name in {spec.name.value for spec in PIPELINE}
    parameters = list(inspect.signature(cls.run).parameters)
    assert parameters[0] == "self" and parameters[2] == "now" and len(parameters) == 3
    assert set(inspect.signature(Stage.run).parameters) == {"self", "item", "now"}


def test_the_architecture_page_draws_the_same_order() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d) \| (\w+) \|", page, re.MULTILINE)
    assert [name for _, name in rows] == [spec.name.value for spec in PIPELINE]
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
