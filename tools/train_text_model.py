"""Train an embedded text classifier: a labelled JSONL corpus in, an ``eal.linear/1`` JSON model out.

The model is a multinomial logistic regression over ``eal.ai.text.features`` (word 1-2-grams
and character 3-5-grams), the same features ``eal.ai.linear`` computes at run time.
Training is deterministic: the corpus is read in file order and sorted by text, the
vocabulary is sorted, the solver (Newton-CG) has no randomness and runs on one thread, and cross-validation folds use a
fixed seed. The held-out split (``eal.ai.corpus``: a hash of each example) is never used for
training nor for choosing the regularisation strength, which is picked by 5-fold
cross-validation on the training split alone. The held-out scores are measured with the
shipped JSON through ``eal.ai.linear``, exactly as the service will run it, and written into
the model's ``evaluation``.

Needs scikit-learn (``pip install -e '.[train]'``)::

    python tools/train_text_model.py src/eal/ai/corpora/replies.jsonl src/eal/ai/models/replies.json \\
        --name replies --prepare eal.ai.replies:model_text
    python tools/train_text_model.py src/eal/ai/corpora/replies.jsonl src/eal/ai/models/replies.json --check

``--check`` retrains (with the options recorded in the shipped model) and exits 1 when the
result differs from the shipped file beyond rounding.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eal.ai.corpus import HELDOUT_PERCENT, Example, read_corpus, split
from eal.ai.linear import FORMAT, LinearModel
from eal.ai.text import FeatureConfig, features

# One BLAS thread (scikit-learn and numpy are imported later, in `train`): identical sums
# on every run, and no oversubscription on a busy machine.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

#: Regularisation strengths tried by cross-validation (inverse: larger fits harder).
C_GRID = (3.0, 10.0, 30.0, 100.0)
MIN_DF = 1
DECIMALS = 4
SEED = 0
#: Newton-CG converges to the optimum itself (not just near it), so retraining reproduces it.
SOLVER = "newton-cg"
#: How far a retrained weight may drift from the shipped one (rounding, BLAS differences).
TOLERANCE = 2e-3


def _prepare_function(spec: str | None) -> Callable[[str], str]:
    if not spec:
        return lambda text: text
    module, _, name = spec.partition(":")
    function: Callable[[str], str] = getattr(importlib.import_module(module), name)
    return function


def train(
    corpus: Path,
    *,
    name: str,
    prepare: str | None,
    config: FeatureConfig | None = None,
    label: str = "label",
    c_grid: tuple[float, ...] = C_GRID,
    min_df: int = MIN_DF,
) -> dict[str, Any]:
    """Train on the corpus's training split; the model as a JSON-ready dict."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score

    config = config or FeatureConfig()
    prepare_text = _prepare_function(prepare)
    examples = read_corpus(corpus, label)
    train_set, heldout = split(examples)
    train_set = sorted(train_set, key=lambda e: (e.text, e.label))
    vectors = [features(prepare_text(e.text), config) for e in train_set]
    labels = [e.label for e in train_set]
    df = Counter(name for vector in vectors for name in vector)
    vocabulary = sorted(feature for feature, count in df.items() if count >= min_df)
    kept = set(vocabulary)
    vectorizer = DictVectorizer(sort=True)
    vectorizer.fit([{feature: 1.0 for feature in vocabulary}])
    matrix = vectorizer.transform(
        [{k: v for k, v in vector.items() if k in kept} for vector in vectors]
    )

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    cv_scores = {}
    for c in c_grid:
        model = LogisticRegression(C=c, solver=SOLVER, max_iter=5000, tol=1e-8)
        cv_scores[c] = float(cross_val_score(model, matrix, labels, cv=folds).mean())
    best_c = max(c_grid, key=lambda c: (round(cv_scores[c], 6), -c))
    final = LogisticRegression(C=best_c, solver=SOLVER, max_iter=5000, tol=1e-8)
    out_of_fold = cross_val_predict(
        final, matrix, labels, cv=folds, method="decision_function"
    ).tolist()
    final.fit(matrix, labels)
    classes = [str(c) for c in final.classes_]
    coef_rows, intercept = final.coef_, final.intercept_
    if len(classes) == 2:
        # A binary model has one score z for the second class. Scores (-z/2, z/2) give
        # the same probabilities through a softmax (sigmoid(z)), so the file keeps its
        # one-row-per-class form and inference has one code path.
        import numpy as np

        coef_rows = np.vstack([-coef_rows[0] / 2, coef_rows[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        out_of_fold = [[-z / 2, z / 2] for z in out_of_fold]
    temperature = fit_temperature(out_of_fold, [classes.index(label) for label in labels])

    names = vectorizer.get_feature_names_out()
    coef = coef_rows.T  # rows: features, columns: classes
    weights = {
        str(feature): [round(float(w), DECIMALS) for w in coef[i]]
        for i, feature in enumerate(names)
    }
    spec: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "classes": classes,
        "features": config.to_json(),
        "bias": [round(float(b), DECIMALS) for b in intercept],
        "temperature": temperature,
        "training": {
            "corpus": corpus.name,
            "corpus_sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
            "prepare": prepare,
            "label": label,
            "examples": len(train_set),
            "heldout_percent": HELDOUT_PERCENT,
            "min_df": min_df,
            "C": best_c,
            "cv_accuracy": {str(c): round(s, 4) for c, s in cv_scores.items()},
            "solver": f"{SOLVER}, multinomial logistic regression (scikit-learn)",
        },
        "weights": weights,
    }
    spec["evaluation"] = evaluate(LinearModel(spec), heldout, prepare_text)
    return spec


def fit_temperature(scores: list[list[float]], truth: list[int]) -> float:
    """The temperature (0.5-20, two decimals) minimising the log loss of out-of-fold scores."""
    import math

    def loss(t: float) -> float:
        total = 0.0
        for row, k in zip(scores, truth, strict=True):
            top = max(row) / t
            log_sum = top + math.log(sum(math.exp(s / t - top) for s in row))
            total += log_sum - row[k] / t
        return total

    candidates = [round(0.5 + 0.05 * i, 2) for i in range(391)]  # 0.5 .. 20.0
    return min(candidates, key=lambda t: (loss(t), t))


def evaluate(
    model: LinearModel, examples: list[Example], prepare_text: Callable[[str], str]
) -> dict[str, Any]:
    """Accuracy of the model (as the service runs it) overall and per label."""
    totals: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for example in examples:
        totals[example.label] += 1
        if model.predict(prepare_text(example.text)).label == example.label:
            right[example.label] += 1
    count = sum(totals.values())
    return {
        "heldout_examples": count,
        "accuracy": round(sum(right.values()) / count, 4) if count else None,
        "per_label": {
            label: {"examples": totals[label], "accuracy": round(right[label] / totals[label], 4)}
            for label in sorted(totals)
        },
    }


def dumps(spec: dict[str, Any]) -> str:
    """The model as readable JSON: one feature per line, keys in a fixed order."""
    head = {k: v for k, v in spec.items() if k not in ("weights", "evaluation", "training")}
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    for key in ("training", "evaluation"):
        body = json.dumps(spec[key], indent=2, ensure_ascii=False).replace("\n", "\n  ")
        lines.append(f"  {json.dumps(key)}: {body},")
    lines.append('  "weights": {')
    rows = [
        f"    {json.dumps(feature, ensure_ascii=False)}: {json.dumps(weights)}"
        for feature, weights in spec["weights"].items()
    ]
    lines.append(",\n".join(rows))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def differences(shipped: dict[str, Any], retrained: dict[str, Any]) -> list[str]:
    """How two models differ beyond rounding (empty when they are the same model)."""
    found = []
    for key in ("format", "name", "classes", "features", "temperature"):
        if shipped.get(key) != retrained.get(key):
            found.append(f"{key}: {shipped.get(key)!r} != {retrained.get(key)!r}")
    if shipped["training"].get("corpus_sha256") != retrained["training"]["corpus_sha256"]:
        found.append("the corpus changed since the model was trained")
    a, b = shipped["weights"], retrained["weights"]
    if a.keys() != b.keys():
        found.append(
            f"vocabulary: {len(a.keys() - b.keys())} removed, {len(b.keys() - a.keys())} added"
        )
    drift = max(
        (abs(x - y) for f in a.keys() & b.keys() for x, y in zip(a[f], b[f], strict=True)),
        default=0.0,
    )
    drift = max(
        drift, *(abs(x - y) for x, y in zip(shipped["bias"], retrained["bias"], strict=True))
    )
    if drift > TOLERANCE:
        found.append(f"weights differ by up to {drift:.4f} (tolerance {TOLERANCE})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="labelled JSONL corpus")
    parser.add_argument("model", type=Path, help="model JSON to write (or check)")
    parser.add_argument("--name", help="model name (default: the corpus file's stem)")
    parser.add_argument("--prepare", help="module:function applied to each text first")
    parser.add_argument("--label", default="label", help="the corpus field holding the label")
    parser.add_argument(
        "--max-chars", type=int, help="read at most this many characters of each text"
    )
    parser.add_argument(
        "--min-df",
        type=int,
        default=MIN_DF,
        help="keep features seen in at least this many training texts",
    )
    parser.add_argument(
        "--c-grid",
        help="comma-separated regularisation strengths to choose from "
        f"(default {','.join(str(c) for c in C_GRID)})",
    )
    parser.add_argument("--check", action="store_true", help="retrain and compare; write nothing")
    args = parser.parse_args(argv)

    if args.check:
        shipped = json.loads(args.model.read_text("utf-8"))
        retrained = train(
            args.corpus,
            name=shipped["name"],
            prepare=shipped["training"].get("prepare"),
            config=FeatureConfig.from_json(shipped["features"]),
            label=shipped["training"].get("label", "label"),
            # The strengths the shipped model was chosen among (its cv_accuracy keys).
            c_grid=tuple(float(c) for c in shipped["training"]["cv_accuracy"]),
            min_df=int(shipped["training"].get("min_df", MIN_DF)),
        )
        found = differences(shipped, retrained)
        report = {"model": str(args.model), "same": not found, "differences": found}
        print(json.dumps(report))
        return 1 if found else 0

    config = FeatureConfig(max_chars=args.max_chars) if args.max_chars else None
    spec = train(
        args.corpus,
        name=args.name or args.corpus.stem,
        prepare=args.prepare,
        config=config,
        label=args.label,
        c_grid=tuple(float(c) for c in args.c_grid.split(",")) if args.c_grid else C_GRID,
        min_df=args.min_df,
    )
    args.model.write_text(dumps(spec), "utf-8")
    summary = {
        "model": str(args.model),
        "features": len(spec["weights"]),
        "C": spec["training"]["C"],
        **spec["evaluation"],
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
