"""What the router answers: a :class:`RoutingDecision` with its candidates, units, tier and deadlines.

:class:`Candidate` is one ranked duty item, :class:`UnitCandidate` one ranked
lead unit, :class:`TierThresholds` the confidences that choose the dispatch
tier (``auto``, ``suggest``, ``manual``).

Examples
--------
>>> from sujian_router.decision import TIERS
>>> TIERS
('auto', 'suggest', 'manual')
"""

from __future__ import annotations

from ._decision import TIERS, Candidate, RoutingDecision, TierThresholds, UnitCandidate

__all__ = ["Candidate", "RoutingDecision", "TIERS", "TierThresholds", "UnitCandidate"]
