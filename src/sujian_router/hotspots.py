"""Hot issues (办好一类事): groups of similar complaints about one place that surge above their usual level.

:func:`find_hotspots` reads routed tickets and returns a
:class:`HotspotReport` of :class:`Hotspot` groups. See ``docs/hotspots.md``.
"""

from __future__ import annotations

from ._hotspots import ClassCount, Hotspot, HotspotReport, Surge, find_hotspots

__all__ = ["ClassCount", "Hotspot", "HotspotReport", "Surge", "find_hotspots"]
