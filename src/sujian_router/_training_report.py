"""The training report: what happened to every input row, kept with the saved model.

It lives apart from ``_train`` so that loading a model (``_persist``) can
rebuild it from ``metadata.json`` without importing the training code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["TrainingReport", "report_from_metadata"]


@dataclass(frozen=True)
class TrainingReport:
    """What happened to every input row during training.

    ``rows_in == rows_used + rows_quarantined`` always holds; catalog-derived
    examples added for thin items are counted separately in ``rows_augmented``.
    """

    rows_in: int
    rows_used: int
    rows_quarantined: int
    quarantine_counts: dict = field(default_factory=dict)
    rows_augmented: int = 0
    labels: int = 0
    validation_rows: int = 0
    review_threshold: float = 0.5
    target_accuracy: float = 0.9
    metrics: dict = field(default_factory=dict)
    tier_thresholds: dict = field(default_factory=dict)
    suggest_accuracy: float = 0.9
    data_sha256: str = ""
    seed: int = 0
    free_labels: bool = False
    synthetic: bool = False
    label_kind: str = "item"
    department_mapping: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """A few readable lines for the console."""
        q = ", ".join(f"{k} {v}" for k, v in sorted(self.quarantine_counts.items())) or "none"
        m = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(self.metrics.items()))
        return (
            f"rows in {self.rows_in}: used {self.rows_used}, quarantined {self.rows_quarantined} ({q})\n"
            f"catalog-derived examples added: {self.rows_augmented}; labels: {self.labels}\n"
            f"validation rows: {self.validation_rows}; review threshold {self.review_threshold:.3f} "
            f"for target accuracy {self.target_accuracy:.2f}; tiers {self.tier_thresholds}\n"
            f"validation: {m}"
            + (f"\nlabels from the handling unit (department-only export): "
               f"{self.department_mapping.get('rows_labelled', 0)} rows labelled, "
               f"{self.department_mapping.get('rows_unmapped', 0)} with an unmapped unit name"
               if self.label_kind == "department" else "")
        )



def report_from_metadata(meta):
    """The :class:`TrainingReport` saved in a model's metadata, or ``None`` when it has none.

    Fields a newer version added are left at their defaults; fields this
    version does not know are ignored, so old and new model directories load.

    Examples
    --------
    >>> report_from_metadata({"training": {"rows_in": 3, "rows_used": 2, "rows_quarantined": 1}}).rows_used
    2
    >>> report_from_metadata({}) is None
    True
    """
    saved = meta.get("training") if isinstance(meta, dict) else None
    if not isinstance(saved, dict):
        return None
    known = {f.name for f in fields(TrainingReport)}
    try:
        return TrainingReport(**{k: v for k, v in saved.items() if k in known})
    except TypeError:  # a required count is missing: the metadata predates the report
        return None
