"""Places in complaint text: districts, streets, communities, landmarks, roads and rivers of Shenzhen.

A :class:`Gazetteer` finds place names in a text (:class:`PlaceMatch`);
:func:`locate` decides a complaint's jurisdiction from its context and text
(:class:`Located`); :func:`gazetteer_for` gives a directory's gazetteer;
:func:`check_jurisdiction` tells whether a district and a street agree.

Examples
--------
>>> from sujian_router.places import check_jurisdiction
>>> check_jurisdiction("坪山区", "坪山街道") is None
True
"""

from __future__ import annotations

from ._places import Gazetteer, Located, PlaceMatch, check_jurisdiction, gazetteer_for, locate

__all__ = ["Gazetteer", "Located", "PlaceMatch", "check_jurisdiction", "gazetteer_for", "locate"]
