"""The declarative routing rules: which units handle an item, given the place, the time and the text.

:func:`load_rules` reads a YAML rule file (the bundled ``rules.yaml`` by
default) into a :class:`RuleSet`; :meth:`RuleSet.apply` turns a duty item and
a :class:`RoutingContext` into a :class:`Resolution` (lead and co-handling
units, urgency, flags and the reasons). See ``docs/rules.md``.

Examples
--------
>>> from sujian_router.rules import RoutingContext, load_rules
>>> rules = load_rules()
>>> len(rules) > 0
True
>>> RoutingContext(district="坪山区").district
'坪山区'
"""

from __future__ import annotations

from ._rules import Resolution, RoutingContext, Rule, RuleSet, load_rules

__all__ = ["Resolution", "RoutingContext", "Rule", "RuleSet", "load_rules"]
