"""Hot issues ("办好一类事"): many citizens raising one problem at one place in one period.

Small modules, one step each: place mentions (``_mentions``), grouping
(``_group``), the surge model (``_surge``), the heat index (``_heat``),
reading tickets (``_collect``), the typed report (``_report``, ``_html``) and
the :func:`find_hotspots` façade (``_core``).
"""

from ._core import find_hotspots
from ._report import ClassCount, Hotspot, HotspotReport
from ._surge import Surge

__all__ = ["ClassCount", "Hotspot", "HotspotReport", "Surge", "find_hotspots"]
