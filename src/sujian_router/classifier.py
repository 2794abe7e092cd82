"""The text model under the router: a scikit-learn estimator over a jieba-dictionary tokenizer.

:class:`TextClassifier` maps complaint text to duty items (TF-IDF features
and a three-level sparse linear model); :class:`Tokenizer` segments Chinese
text with jieba's dictionary plus the catalog's words and pickles cleanly.
Most users never touch these: :func:`sujian_router.train` builds both.
"""

from __future__ import annotations

from ._classifier import TextClassifier
from ._tokenize import Tokenizer

__all__ = ["TextClassifier", "Tokenizer"]
