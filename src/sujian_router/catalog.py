"""The duty catalog and the department directory: what can be complained about, and who handles it.

A :class:`DutyCatalog` holds the 4,315 duty items (code, name, category,
subcategory, lead and co-handling roles, urgency, keywords); a
:class:`DepartmentDirectory` turns a role and a place into a unit. A
:class:`CatalogCrosswalk` maps the codes of an earlier catalog version to
this one. All three are read from the package's data files.

Examples
--------
>>> from sujian_router.catalog import load_catalog
>>> catalog = load_catalog()
>>> catalog.get("08-04-003").name
'广场舞噪声'
"""

from __future__ import annotations

from ._catalog import DutyCatalog, DutyItem, load_catalog
from ._crosswalk import CatalogCrosswalk, CrosswalkEntry
from ._departments import DepartmentDirectory, Resolved, Unit

__all__ = ["CatalogCrosswalk", "CrosswalkEntry", "DepartmentDirectory", "DutyCatalog", "DutyItem", "Resolved", "Unit",
           "load_catalog"]
