"""Embedded AI: classifiers that run offline on the CPU, deterministically, in milliseconds.

Each task is a plain function with a typed result that carries its reason, its confidence
and its `provider` ("embedded" here). The shared machinery:

- `eal.ai.text`: normalisation and features (word and character n-grams);
- `eal.ai.linear`: inference for linear models stored as readable JSON in `models/`;
- `eal.ai.corpus`: the labelled corpora in `corpora/` and their fixed held-out split;
- `tools/train_text_model.py`: trains a model from a corpus (scikit-learn, training only).

Tasks: `eal.ai.replies.classify_reply` (replies to outreach).
"""
