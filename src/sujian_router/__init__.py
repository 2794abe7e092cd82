"""Route citizens' complaints to duty items and the units that must handle them.

The names a newcomer needs are re-exported here (``__all__``); the rest live
in documented public submodules: ``catalog`` (duty catalog, departments,
crosswalk), ``rules``, ``places``, ``decision``, ``tickets`` (reading,
quarantine, synthetic tickets, whole files), ``hotspots``, ``classifier``,
``exceptions``, and the optional ``dask`` and ``service``. Implementation
lives in private modules. Importing the package is cheap and has no side
effects: heavy modules (scikit-learn, jieba, pandas) are imported on first
use of a name.

Examples
--------
>>> import sujian_router
>>> "Router" in sujian_router.__all__
True
"""

from __future__ import annotations

import importlib
import logging

from .exceptions import SujianRouterError

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> private module that defines it (these are ``__all__``)
_LAZY = {
    "Router": "._router",
    "RoutingDecision": "._decision",
    "train": "._train",
    "TrainingReport": "._train",
    "evaluate": "._evaluate",
    "EvaluationReport": "._evaluate",
    "build_default_model": "._default_model",
    "route_file": "._stream",
    "read_tickets": "._tickets",
    "generate_tickets": "._synth",
    "load_catalog": "._catalog",
    "find_hotspots": "._hotspots",
    "monitor": "._monitor",
    "MonitorReport": "._monitor",
    "adapt": "._adapt",
}

#: Documented public submodules, imported on first attribute access (``sujian_router.catalog``).
_SUBMODULES = ("catalog", "classifier", "dask", "decision", "exceptions", "hotspots", "places", "rules", "service",
               "tickets")

# Names that were top-level before the public submodules: they keep working, but are not in
# ``__all__`` or ``dir()``; docs/api.md says where each one lives now.
_MOVED = {
    "load_rules": "._rules",
    "DutyItem": "._catalog",
    "DutyCatalog": "._catalog",
    "DepartmentDirectory": "._departments",
    "Unit": "._departments",
    "CatalogCrosswalk": "._crosswalk",
    "CrosswalkEntry": "._crosswalk",
    "Tokenizer": "._tokenize",
    "TextClassifier": "._classifier",
    "RuleSet": "._rules",
    "RoutingContext": "._rules",
    "Candidate": "._decision",
    "TierThresholds": "._decision",
    "UnitCandidate": "._decision",
    "Gazetteer": "._places",
    "PlaceMatch": "._places",
    "check_jurisdiction": "._places",
    "HotspotReport": "._hotspots",
    "Hotspot": "._hotspots",
    "CatalogError": ".exceptions",
    "ModelFileError": ".exceptions",
    "ModelMismatchError": ".exceptions",
    "OutputFileError": ".exceptions",
    "RulesError": ".exceptions",
    "ServiceConfigError": ".exceptions",
    "TicketEncodingError": ".exceptions",
    "TicketSchemaError": ".exceptions",
    "UnknownDepartmentError": ".exceptions",
    "UnknownDutyError": ".exceptions",
}

__all__ = sorted(["SujianRouterError", *_LAZY])


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module_name = _LAZY.get(name) or _MOVED.get(name)
    if module_name is None:
        raise AttributeError(f"module 'sujian_router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*__all__, *_SUBMODULES, "__version__"})
