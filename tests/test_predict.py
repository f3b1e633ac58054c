"""Predict, then reveal: the tutor asks what one change to the last demo will do, runs it, and sets the
outcome against the prediction."""

from __future__ import annotations

from tutor.conversation import Conversation


def test_predict_the_first_token_at_a_low_temperature(tutor):
    conv = Conversation()
    demo = tutor.reply("/demo text The capital of France is", conv)
    assert [o["label"] for o in demo["options"]] == ["Predict, then reveal"]
    first = conv.last_trace.stage("sampling").data["steps"][0]["before"]
    asked = tutor.reply("/predict", conv)
    assert "temperature 0.2" in asked["answer"]
    assert [o["label"] for o in asked["options"]] == [repr(c["token"]) for c in first[:4]]
    wrong = next(i for i, c in enumerate(first[:4]) if i != 0)  # a guess that is not the favourite
    revealed = tutor.reply(f"/reveal {wrong}", conv)
    drawn = conv.last_trace.stage("sampling").data["steps"][0]["chosen"]["token"]
    assert conv.last_trace.config["temperature"] == 0.2 and revealed["tools"][0]["ok"]
    verdict = "Your prediction was right" if drawn == first[wrong]["token"] else "Not this time"
    assert verdict in revealed["answer"] and repr(drawn) in revealed["answer"]
    again = tutor.reply("/reveal 0", conv)  # a prediction is revealed once
    assert again["tools"] == [] and "no open prediction" in " ".join(again.get("notices", []))


def test_predict_whether_strong_guidance_still_draws_the_prompt(tutor):
    conv = Conversation()
    tutor.reply("/demo image a red circle on a white background", conv)
    asked = tutor.reply("/predict", conv)
    assert "guidance 7.5" in asked["answer"] and len(asked["options"]) == 2
    revealed = tutor.reply("/reveal 0", conv)  # "yes, still right"
    read = conv.last_trace.stage("final_image").data["pixel_classifier"]
    still_right = read["colour"] == "red" and read["shape"] == "circle"
    assert ("Your prediction was right" if still_right else "Not this time") in revealed["answer"]
    assert conv.last_trace.config["guidance_scale"] == 7.5


def test_predict_how_many_programs_greedy_decoding_writes(tutor):
    conv = Conversation()
    tutor.reply("/demo code a function that reverses a string", conv)
    asked = tutor.reply("/predict", conv)
    assert "temperature 0" in asked["answer"]
    assert [o["label"] for o in asked["options"]] == ["just one", "4 different ones", "somewhere between"]
    revealed = tutor.reply("/reveal 0", conv)  # "just one"
    codes = {s["code"] for s in conv.last_trace.stage("generation").data["samples"]}
    assert conv.last_trace.config["temperature"] == 0 and len(codes) == 1  # greedy: the same program
    assert "Your prediction was right" in revealed["answer"] and "1 different program" in revealed["answer"]
