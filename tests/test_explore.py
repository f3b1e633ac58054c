"""Change one knob and compare: `/rerun` runs the last demo again with one setting changed, and the
tool shows both runs side by side (what changed, the outputs, the pictures that differ)."""

from __future__ import annotations

from tools.registry import Registry
from tutor.conversation import Conversation
from tutor.events import Comparison, Notice, ToolEnd


def test_rerun_changes_only_that_setting_and_compares(tutor, tmp_path):
    conv = Conversation()
    list(tutor.turn("/demo text The capital of France is", session=conv))
    a = conv.last_trace
    events = list(tutor.turn("/rerun temperature 0", session=conv))
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert end.ok and not end.shown  # the page draws the comparison, not a second full trace
    comparison = next(e for e in events if isinstance(e, Comparison))
    b = comparison.b
    assert comparison.a is a and conv.last_trace is b
    changed = {k for k in a.config if a.config[k] != b.config[k]}
    assert changed == {"temperature"} and b.config["temperature"] == 0
    parts = Registry(tutor.settings).get("text_generation").compare(a, b, tmp_path)
    table = parts[0].draw()
    assert "only temperature changed" in table and "`0.7`" in table and "`0.0`" in table
    picture = next(p for p in parts if p.kind == "image")
    assert picture.caption and picture.draw().endswith(".png")
    # greedy: run B's first token is the model's favourite
    step = b.stage("sampling").data["steps"][0]
    assert step["chosen"]["id"] == step["before"][0]["id"]


def test_rerun_explains_what_it_cannot_do(tutor):
    conv = Conversation()
    first = list(tutor.turn("/rerun temperature 1", session=conv))
    assert any(isinstance(e, Notice) and "Run a demo first" in e.text for e in first)
    list(tutor.turn("/demo image a red circle", session=conv))
    wrong = [e.text for e in tutor.turn("/rerun temperature 1", session=conv) if isinstance(e, Notice)]
    assert wrong and "steps, guidance_scale, seed, scheduler" in wrong[0]
    out_of_range = [e.text for e in tutor.turn("/rerun steps 500", session=conv) if isinstance(e, Notice)]
    assert out_of_range and "steps" in out_of_range[0] and "100" in out_of_range[0]


def test_an_image_rerun_puts_both_pictures_side_by_side(tutor, tmp_path):
    from PIL import Image

    conv = Conversation()
    list(tutor.turn("/demo image a green triangle on a black background", session=conv))
    events = list(tutor.turn("/rerun seed 7", session=conv))
    comparison = next(e for e in events if isinstance(e, Comparison))
    parts = Registry(tutor.settings).get("image_generation").compare(comparison.a, comparison.b, tmp_path)
    side = next(p for p in parts if p.what == "side by side")
    assert Image.open(side.draw()).size[0] == 2 * 192
    assert "only seed changed" in parts[0].draw()
