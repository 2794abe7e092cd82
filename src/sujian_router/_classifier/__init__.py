"""Text classifier: TF-IDF features and a hierarchy of pruned sparse linear models.

With thousands of duty items a flat linear model stores one dense weight row
per class, trains slowly and copies that matrix on every call.
:class:`TextClassifier` instead

1. featurises each text (:mod:`._features`): it is segmented once by a
   :class:`~sujian_router._tokenize.Tokenizer`, and its word and character
   n-grams (and, optionally, those of its title line) are counted against an
   explicit vocabulary of terms seen in at least ``min_df`` texts; each
   block of terms (words, characters, title) is L2-normalised on its own;
2. fits the hierarchy (:mod:`._hierarchy`): a linear SVM over the groups
   (the item's category) on all rows; with subgroups (the subcategory), one
   SVM per group over its subgroups; and one SVM per leaf over its items,
   each on the rows it covers and the feature columns that occur in them,
   keeping only the largest weights of every class as a sparse
   ``(n_features, n_classes)`` matrix, so that scoring is one
   sparse-times-sparse product per level;
3. turns scores into probabilities ``P(group) * P(subgroup | group) *
   P(item | subgroup)`` with one softmax temperature per level
   (:mod:`._calibration` fits them on held-out data);
4. ranks candidates by a best-first search over the groups that provably
   returns the same best candidates as scoring every item (:mod:`._search`);
5. explains a label by the terms that push its score up (:mod:`._explain`);
6. saves and loads as named arrays plus JSON metadata, no pickle
   (:mod:`._state`).

With few classes, or without groups, the same pipeline fits one flat model.
:meth:`TextClassifier.predict_batch` is the batch entry point; measured
speeds and accuracies are in ``docs/benchmarks.md``.
"""

from ._estimator import BatchPrediction, TextClassifier
from ._parallel import ordered_map as _ordered_map

__all__ = ["BatchPrediction", "TextClassifier"]
