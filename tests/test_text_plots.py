"""The text run's pictures plot the trace's own numbers: the heat maps' cells are the trace's
probabilities and attention weights, the bars its candidates, the map its projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tools.text_generation import plots, views


@pytest.fixture(scope="module")
def trace(text_tool):
    args = {"prompt": "The capital of France is", "max_new_tokens": 4, "temperature": 1.3, "top_k": 3}
    return text_tool({**args, "seed": 5})


def test_the_lens_heat_map_is_the_final_favourites_probability_per_layer(trace, text_tool):
    fig = plots.lens_figure(trace)
    cells = np.asarray(fig.axes[0].images[0].get_array()).T  # drawn as tokens x layers
    assert cells.shape == (len(trace.layers), 5)
    assert np.allclose(cells[-1], [c["prob"] for c in trace.layers[-1].data["top"]], atol=1e-4)
    assert np.allclose(cells[:, 0], [r.data["final_top_probs"][0] for r in trace.layers])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [plots.label(c["token"]) for c in trace.layers[-1].data["top"]]
    # ...and the trace's numbers are the model's: layer 1 read through the head by hand
    model, tok = text_tool.model(None, "cpu")
    ids = torch.tensor([trace.stage("tokenization").data["ids"]])
    with torch.inference_mode():
        out = model(input_ids=ids, output_hidden_states=True)
        probs = (
            model.get_output_embeddings()(model.model.norm(out.hidden_states[1][0, -1])).float().softmax(-1)
        )
    final_ids = [c["id"] for c in trace.layers[-1].data["top"]]
    assert np.allclose(cells[0], probs[final_ids].numpy(), atol=1e-4)


def test_the_attention_heat_maps_are_the_traces_weights(trace):
    cells = np.asarray(plots.attention_figure(trace).axes[0].images[0].get_array()).T
    assert np.array_equal(cells, [r.data["attention"]["weights"] for r in trace.layers])
    assert np.allclose(cells.sum(axis=1), 1, atol=2e-3)  # a row of attention weights sums to 1
    matrix = np.asarray(plots.matrix_figure(trace, 3).axes[0].images[0].get_array())
    assert np.array_equal(matrix, trace.layers[2].data["attention"]["matrix"])
    assert np.allclose(np.triu(matrix, 1), 0)  # causal: nothing above the diagonal
    assert np.allclose(matrix[-1], trace.layers[2].data["attention"]["weights"], atol=1e-4)


def test_the_sampling_bars_are_the_candidates_before_and_after(trace):
    fig = plots.sampling_figure(trace)
    steps = trace.stage("sampling").data["steps"]
    for ax, step in zip(fig.axes, steps, strict=False):
        widths = [bar.get_width() for bar in ax.patches]
        before = widths[: len(step["before"])]
        after = widths[len(step["before"]) :]
        assert before == [c["prob"] for c in step["before"]]
        kept = {c["id"]: c["prob"] for c in step["after"]}
        assert after == [kept.get(c["id"], 0.0) for c in step["before"]]
        assert sum(1 for a in after if a > 0) <= 3  # top-k 3 left at most three candidates
        bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
        assert bold == [plots.label(step["chosen"]["token"])] or step["chosen"]["rank_before"] > 5


def test_the_embedding_map_is_the_projection(trace):
    points = plots.embedding_figure(trace).axes[0].collections[0].get_offsets()
    assert np.allclose(points, trace.stage("embedding").data["projection_2d"])


def test_every_picture_has_a_caption_and_is_drawn(trace, tmp_path):
    pictures = [p for p in views.views(trace, tmp_path) if p.kind == "image"]
    assert len(pictures) >= 5 and all(p.caption for p in pictures)
    for part in pictures:
        assert part.draw().endswith(".png")


def test_switching_off_a_head_changes_what_it_did_and_is_recorded(text_tool, tmp_path):
    from tools.text_generation import ablation

    args = {"prompt": "The capital of France is", "max_new_tokens": 2, "temperature": 0}
    whole = text_tool(args)
    off = text_tool({**args, "ablate": "layer 30"})
    stage = off.stage("ablation")
    assert stage.data["layer"] == 30 and stage.data["head"] is None and "layer 30" in stage.note
    first = stage.data["tokens"][0]
    assert first["token"] == whole.layers[-1].data["top"][0]["token"]  # the whole model's favourite
    assert abs(first["whole"] - whole.layers[-1].data["top"][0]["prob"]) < 1e-3
    assert first["switched_off"] != first["whole"]  # switching it off changed the prediction
    # the rest of the run is the ablated model's: its last lens row is the switched-off distribution
    assert (
        abs(off.layers[-1].data["top"][0]["prob"] - max(t["switched_off"] for t in stage.data["tokens"]))
        < 1e-3
    )
    cells = plots.ablation_figure(off).axes[0].patches
    assert [round(b.get_width(), 5) for b in cells[: len(stage.data["tokens"])]] == [
        t["whole"] for t in stage.data["tokens"]
    ]
    one_head = text_tool({**args, "ablate": "layer 2 head 3"}).stage("ablation").data
    assert one_head["head"] == 3 and one_head["layer"] == 2
    model, _ = text_tool.model(None, "cpu")
    for bad in ("layer 31", "layer 2 head 10", "head 3"):
        with pytest.raises(Exception, match="layer"):
            ablation.parse(bad, model)
    assert any(p.what == "ablation" for p in views.views(off, tmp_path))


def test_any_layer_and_head_can_be_looked_inside_and_the_cells_are_the_runs_weights(trace, text_tool):
    from tools.text_generation import inside

    options = text_tool.inside(trace)
    first = trace.stage("transformer layers").data["first_layer_with_final_top1"]
    assert options["layer"] == ([str(i) for i in range(1, 31)], str(first))
    assert options["head"][0] == [inside.AVERAGE, *(f"head {h}" for h in range(1, 10))]
    # the default figure is the trace's own matrix for that layer, heads averaged
    fig, caption = text_tool.inside_figure(trace, {})
    assert np.array_equal(fig.data[0].z, trace.layers[first - 1].data["attention"]["matrix"])
    assert f"layer {first}" in caption
    # one head: the saved per-head weights, which average to the trace's matrix
    fig, caption = text_tool.inside_figure(trace, {"layer": "3", "head": "head 2"})
    heads = np.load(trace.stage("transformer layers").artifacts[0].path).astype(float)
    assert heads.shape == (30, 9, 5, 5)
    assert np.array_equal(fig.data[0].z, heads[2, 1])
    assert np.allclose(heads.mean(1), [r.data["attention"]["matrix"] for r in trace.layers], atol=2e-3)
    assert not np.allclose(heads[2, 1], heads[2].mean(0), atol=1e-2)  # a head is not the average
    assert "layer 3 (head 2)" in caption and fig.layout.title.text.startswith("Layer 3, head 2")
    # the per-head weights are the model's: head 2 of layer 3 recomputed by hand
    model, _ = text_tool.model(None, "cpu")
    ids = torch.tensor([trace.stage("tokenization").data["ids"]])
    with torch.inference_mode():
        mine = model(input_ids=ids, output_attentions=True).attentions[2][0, 1].numpy()
    assert np.allclose(heads[2, 1], mine, atol=2e-3)


def test_token_labels_in_the_interactive_figure_stay_text(text_tool):
    trace = text_tool({"prompt": "<b>bold</b> & <i>", "max_new_tokens": 1, "temperature": 0})
    fig, _ = text_tool.inside_figure(trace, {"layer": "1"})
    shown = " ".join(fig.layout.xaxis.ticktext)
    assert "<" not in shown and "&lt;" in shown and "&amp;" in shown
