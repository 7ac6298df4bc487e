#!/usr/bin/python3
"""The peers a data scientist would reach for, on the same prepared table as Churnlens.

Usage: /usr/bin/python3 bench/peers.py PREPARED.csv [--xgb-seeds N] [--predictions FILE]
(Debian's python3-sklearn, python3-xgboost and python3-pandas). The table is what `churn dataset
export` writes: `id`, the label `churned`, feature columns, and `split` (train / valid / test).
Fits a scikit-learn logistic regression (median imputation, standardisation, one-hot of frequent
categories) and an XGBoost `hist` model (native categories, 2 threads) on the train and valid rows,
scores the test rows, and prints one JSON line: fit seconds and test metrics of each. With
--xgb-seeds N (N > 1) XGBoost is also fitted with random_state 1 .. N-1 (its row and column sampling
draws differ per seed) and `xgboost_seeds` gives every seed's test AUC and their mean; `xgboost`
stays the figures of random_state 0. With --predictions FILE the test rows' ids and both peers'
probabilities (XGBoost: random_state 0) are written to FILE as JSON, so a caller can compare its own
model with them row by row (a paired bootstrap of the AUC difference).
"""
import argparse
import json
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def figures(y, p):
    """Test AUC, PR AUC, lift in the riskiest tenth, Brier score and a 10-bin calibration error."""
    order = np.argsort(-p, kind="stable")
    top = order[: max(1, len(y) // 10)]
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "lift10": round(float(y[top].mean() / y.mean()), 3),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "ece": round(float(ece), 4),
    }


def main(path, xgb_seeds=1, predictions=None):
    table = pd.read_csv(path, na_values=["", "NA"], keep_default_na=True, dtype={"id": str})
    names = [c for c in table.columns if c not in ("id", "churned", "split")]
    x = table[names].copy()
    for c in names:  # text columns that are almost all numbers (a blank here and there) are numbers
        if x[c].dtype == object:
            as_number = pd.to_numeric(x[c], errors="coerce")
            if as_number.notna().mean() > 0.95:
                x[c] = as_number
    text = [c for c in names if x[c].dtype == object]
    numbers = [c for c in names if c not in text]
    fit_rows = table["split"].isin(["train", "valid"]).values
    test_rows = (table["split"] == "test").values
    y = table["churned"].values.astype(int)
    out = {"rows": {"fit": int(fit_rows.sum()), "test": int(test_rows.sum())}}

    encode = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
        ("text", make_pipeline(SimpleImputer(strategy="constant", fill_value="(blank)"), OneHotEncoder(handle_unknown="ignore", min_frequency=10)), text),
    ])
    logistic = make_pipeline(encode, LogisticRegression(max_iter=3000))
    t = time.perf_counter()
    logistic.fit(x[fit_rows], y[fit_rows])
    logistic_p = logistic.predict_proba(x[test_rows])[:, 1]
    out["logistic"] = {"fit_seconds": round(time.perf_counter() - t, 2), **figures(y[test_rows], logistic_p)}

    xc = x.copy()
    for c in text:
        xc[c] = xc[c].astype("category")
    aucs = []
    for seed in range(max(1, xgb_seeds)):
        boosted = xgb.XGBClassifier(n_estimators=400, learning_rate=0.05, max_depth=5, subsample=0.8, colsample_bytree=0.8,
                                    tree_method="hist", enable_categorical=True, n_jobs=2, random_state=seed)
        t = time.perf_counter()
        boosted.fit(xc[fit_rows], y[fit_rows])
        seconds = round(time.perf_counter() - t, 2)
        boosted_p = boosted.predict_proba(xc[test_rows])[:, 1]
        got = figures(y[test_rows], boosted_p)
        if seed == 0:
            out["xgboost"] = {"fit_seconds": seconds, **got}
            xgboost_p = boosted_p
        aucs.append(got["auc"])
    if xgb_seeds > 1:
        out["xgboost_seeds"] = {"auc": aucs, "mean_auc": round(float(np.mean(aucs)), 4)}
    if predictions:
        with open(predictions, "w", encoding="utf-8") as f:
            json.dump({"id": [v.strip() for v in table["id"][test_rows]], "logistic": logistic_p.tolist(), "xgboost": xgboost_p.tolist()}, f)
    print(json.dumps(out))


def seeds(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="prepared CSV: id, churned, feature columns, split")
    parser.add_argument("--xgb-seeds", type=seeds, default=1, help="fit XGBoost with random_state 0 .. N-1 (default 1)")
    parser.add_argument("--predictions", help="write the test rows' ids and both peers' probabilities to this JSON file")
    args = parser.parse_args()
    main(args.table, args.xgb_seeds, args.predictions)
