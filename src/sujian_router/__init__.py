"""Route citizens' complaints to duty items and the units that must handle them.

The public API is re-exported here; implementation lives in private modules.
Importing the package is cheap and has no side effects: heavy modules
(scikit-learn, jieba, pandas) are imported on first use of a name.

Examples
--------
>>> import sujian_router
>>> "Router" in sujian_router.__all__
True
"""

from __future__ import annotations

import importlib
import logging

from .exceptions import (
    CatalogError,
    ModelFileError,
    ModelMismatchError,
    OutputFileError,
    RulesError,
    ServiceConfigError,
    SujianRouterError,
    TicketEncodingError,
    TicketSchemaError,
    UnknownDepartmentError,
    UnknownDutyError,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> private module that defines it
_LAZY = {
    "DutyItem": "._catalog",
    "DutyCatalog": "._catalog",
    "load_catalog": "._catalog",
    "DepartmentDirectory": "._departments",
    "Unit": "._departments",
    "Tokenizer": "._tokenize",
    "TextClassifier": "._classifier",
    "generate_tickets": "._synth",
    "RuleSet": "._rules",
    "RoutingContext": "._rules",
    "load_rules": "._rules",
    "Router": "._router",
    "RoutingDecision": "._decision",
    "Candidate": "._decision",
    "read_tickets": "._tickets",
    "train": "._train",
    "TrainingReport": "._train",
    "build_default_model": "._train",
    "evaluate": "._evaluate",
    "EvaluationReport": "._evaluate",
    "route_file": "._stream",
    "Gazetteer": "._places",
    "PlaceMatch": "._places",
    "check_jurisdiction": "._places",
    "CatalogCrosswalk": "._crosswalk",
    "CrosswalkEntry": "._crosswalk",
    "find_hotspots": "._hotspots",
    "HotspotReport": "._hotspots",
    "Hotspot": "._hotspots",
    "TierThresholds": "._decision",
    "UnitCandidate": "._decision",
    "monitor": "._monitor",
    "MonitorReport": "._monitor",
}

__all__ = sorted(
    [
        "CatalogError",
        "ModelFileError",
        "ModelMismatchError",
        "OutputFileError",
        "RulesError",
        "ServiceConfigError",
        "SujianRouterError",
        "TicketEncodingError",
        "TicketSchemaError",
        "UnknownDepartmentError",
        "UnknownDutyError",
        *_LAZY,
    ]
)


def __getattr__(name):
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'sujian_router' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
