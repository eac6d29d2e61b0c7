"""The linear-model engine: the JSON format, scores equal to scikit-learn's, speed, text features."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eal.ai.linear import FORMAT, LinearModel, load_model, softmax
from eal.ai.text import EMAIL, NUMBER, PHONE, URL, FeatureConfig, features, normalize, tokens


def tiny_model(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "format": FORMAT,
        "name": "tiny",
        "classes": ["yes", "no"],
        "features": FeatureConfig().to_json(),
        "bias": [0.5, -0.5],
        "weights": {"w:sure": [2.0, -2.0], "w:no": [-3.0, 3.0], "c: no ": [-1.0, 1.0]},
    }
    spec.update(changes)
    return spec


def test_normalize_folds_case_accents_and_placeholders() -> None:
    text = "¡Llámenme al (404) 555-0101! Envíen a ANA@Example.com, ver https://x.co/a?b=1 ó 3 fotos"
    normal = normalize(text)
    assert normal == (f"¡llamenme al {PHONE} ! envien a {EMAIL} , ver {URL} o {NUMBER} fotos")
    assert tokens(normal) == [
        "llamenme", "al", PHONE, "!", "envien", "a", EMAIL, "ver", URL, "o", NUMBER, "fotos"
    ]  # fmt: skip
    assert tokens(normalize("Don\u2019t  STOP?")) == ["don't", "stop", "?"]


def test_features_are_deterministic_and_unit_length() -> None:
    first = features("Yes please, call me tomorrow")
    assert first == features("Yes please, call me tomorrow")
    assert "w:call me" in first and "w:_len5_" in first and "c: cal" in first
    assert sum(v * v for v in first.values()) == pytest.approx(1.0)
    # Words and character n-grams each carry half the length.
    words = sum(v * v for k, v in first.items() if k.startswith("w:"))
    assert words == pytest.approx(0.5)
    assert features("") == {}
    assert set(features("?")) == {"w:?", "w:_len1_"}  # no n-grams of a lone mark


def test_feature_config_round_trips() -> None:
    config = FeatureConfig(word_ngrams=(1, 3), char_ngrams=(2, 4), max_chars=500)
    assert FeatureConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert "c: ab" not in features("abc", FeatureConfig(char_ngrams=(4, 5)))


def test_scores_softmax_and_evidence() -> None:
    model = LinearModel(tiny_model())
    prediction = model.predict("sure")
    weighted = features("sure")
    expected = softmax([0.5 + 2.0 * weighted["w:sure"], -0.5 - 2.0 * weighted["w:sure"]])
    assert prediction.label == "yes"
    assert prediction.confidence == pytest.approx(expected[0])
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert prediction.evidence == ("sure",)
    no = model.predict("no")
    assert no.label == "no" and no.evidence[0] == "no"
    # Unknown words count for nothing: the bias decides.
    unknown = model.predict("zzz qqq")
    assert unknown.label == "yes" and unknown.evidence == ()


def test_softmax_does_not_overflow() -> None:
    assert softmax([1000.0, 0.0]) == pytest.approx([1.0, 0.0])
    assert softmax([-1000.0, -1000.0]) == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other/1"}, "not an eal.linear/1 model"),
        ({"bias": [0.0]}, "one bias per class"),
        ({"weights": {"w:a": [1.0]}}, "has 1 weights, not 2"),
    ],
)
def test_malformed_models_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinearModel(tiny_model(**changes))


def test_probabilities_equal_scikit_learn() -> None:
    """The engine is scikit-learn's predict_proba for the same weights."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = ["yes please", "sure call me", "no thanks", "remove me", "who is this?", "price?"]
    labels = ["in", "in", "out", "out", "ask", "ask"]
    vectors = [features(t) for t in texts]
    vectorizer = DictVectorizer(sort=True)
    matrix = vectorizer.fit_transform(vectors)
    fitted = LogisticRegression(C=10.0, solver="newton-cg").fit(matrix, labels)
    names = vectorizer.get_feature_names_out()
    spec = tiny_model(
        classes=[str(c) for c in fitted.classes_],
        bias=[float(b) for b in fitted.intercept_],
        weights={str(n): [float(w) for w in fitted.coef_[:, i]] for i, n in enumerate(names)},
    )
    model = LinearModel(spec)
    for text in [*texts, "yes who is this", "no no no"]:
        ours = model.predict(text).probabilities
        theirs = fitted.predict_proba(vectorizer.transform([features(text)]))[0]
        assert [ours[c] for c in model.classes] == pytest.approx(list(theirs), abs=1e-9)


def test_shipped_model_loads_once() -> None:
    model = load_model("eal.ai", "models/replies.json")
    assert load_model("eal.ai", "models/replies.json") is model
    assert len(model) > 1000 and model.metadata["evaluation"]["heldout_examples"] > 100
    prediction = model.predict("Yes please, can someone come out Thursday to look at the ceiling?")
    assert prediction.label in model.classes


def _corpus_texts() -> list[str]:
    from importlib import resources

    texts = []
    for name in ("calls.jsonl", "replies.jsonl"):
        with resources.files("eal.ai").joinpath("corpora", name).open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                text = record.get("text") or record.get("transcript")
                if text:
                    texts.append(text)
    return texts


@pytest.mark.parametrize(
    "resource", ["models/calls_intent.json", "models/calls_urgency.json", "models/replies.json"]
)
def test_scoring_counts_equals_scoring_the_weighted_vector(resource: str) -> None:
    from eal.ai.text import counts

    model = load_model("eal.ai", resource)
    texts = _corpus_texts()[::5]
    # Repeated words and n-grams (counts above one) and an empty text too.
    texts += ["water water water everywhere, water in the basement basement", "", "?"]
    for text in texts:
        groups = counts(text, model.feature_config)
        vector = features(text, model.feature_config)
        assert model.scores_of_counts(groups) == pytest.approx(model.scores(vector), abs=1e-9)
        fast, full = model.predict_counts(groups), model.predict_features(vector)
        assert fast.label == full.label
        assert fast.probabilities == pytest.approx(full.probabilities, abs=1e-12)


def test_a_model_with_unpackable_weights_scores_counts_all_the_same() -> None:
    from eal.ai.text import counts

    # A weight that is no whole number of ten-thousandths keeps the weights as doubles.
    model = LinearModel(tiny_model(weights={"w:sure": [2.00005, -2.0], "w:no": [-3.0, 3.0]}))
    for text in ("sure sure no", "no", "zzz"):
        assert model.scores_of_counts(counts(text)) == pytest.approx(model.scores(features(text)))


def test_counts_weigh_into_the_features() -> None:
    from eal.ai.text import counts, weighted

    text = "Se rompió una tubería, agua agua por todo el piso"
    words, chars = counts(text)
    assert words["w:agua"] == 2 and words["w:agua agua"] == 1
    assert chars["c: ag"] == 2
    assert weighted((words, chars)) == features(text)
