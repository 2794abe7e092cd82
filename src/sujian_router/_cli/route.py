"""``sujian-router route``: route one complaint (or one per stdin line)."""

from __future__ import annotations

import json
import sys


def build_parser(subparsers):
    """Register the ``route`` sub-command."""
    from ._columns import add_catalog_argument

    p = subparsers.add_parser(
        "route",
        help="route a complaint to its duty item and handling units",
        description="Route a complaint. With no TEXT, routes one complaint per line of standard input.",
    )
    p.add_argument("text", nargs="?", help="the complaint text (omit to read lines from stdin)")
    p.add_argument("--district", help="district of the incident, e.g. 坪山区")
    p.add_argument("--street", help="street (街道) of the incident, e.g. 坪山街道")
    p.add_argument("--at", dest="received_at", metavar="'YYYY-MM-DD HH:MM'", help="when it was received (default: now)")
    p.add_argument("--location", help="place type or description, e.g. 河道, 学校")
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    add_catalog_argument(p)
    p.add_argument("--top-k", type=int, default=3, help="candidates to show (default 3)")
    add_threshold_arguments(p)
    p.add_argument("--json", action="store_true", help="print RoutingDecision.to_dict() as JSON")
    p.set_defaults(func=run)
    return p


def add_threshold_arguments(p):
    """``--auto-threshold`` and ``--suggest-threshold``: override the model's tier thresholds."""
    p.add_argument("--auto-threshold", type=float, default=None, metavar="P",
                   help="unit confidence from which a complaint is dispatched automatically (default: the model's)")
    p.add_argument("--suggest-threshold", type=float, default=None, metavar="P",
                   help="unit confidence from which the top units are suggested (default: the model's)")


def apply_thresholds(router, args):
    """The router with the thresholds given on the command line (itself when none are)."""
    if args.auto_threshold is None and args.suggest_threshold is None:
        return router
    return router.with_thresholds(auto=args.auto_threshold, suggest=args.suggest_threshold)


def load_with_thresholds(args, command):
    """Load ``--model`` (with ``--catalog``) and apply the command line's tier thresholds.

    Returns None after printing one error line when the thresholds do not fit the model.
    """
    import sys

    from ._columns import load_router_from_args

    router = load_router_from_args(args)
    try:
        return apply_thresholds(router, args)
    except ValueError as exc:
        print(f"sujian-router {command}: error: {exc}", file=sys.stderr)
        return None


_TIER_NAMES = {"auto": "自动分拨", "suggest": "建议单位，人工确认", "manual": "人工分拨"}


def format_decision(d) -> str:
    """A readable block for one decision."""
    rows = [
        ("事项", f"{d.item_code or '-'} {d.item_name or ''}".strip()),
        ("类别", " / ".join(x for x in (d.category, d.subcategory) if x) or "-"),
        ("置信度", f"{d.confidence:.2f}"),
        ("分拨方式", f"{_TIER_NAMES.get(d.tier, d.tier)}（主办单位置信度{d.unit_confidence:.2f}）"),
        ("主办", d.lead_department or "-"),
        ("协办", "、".join(d.co_departments) or "-"),
        ("紧急程度", d.urgency),
        ("分拨时限", d.dispatch_deadline.strftime("%Y-%m-%d %H:%M") if d.dispatch_deadline else "-"),
        ("联系时限", d.contact_deadline.strftime("%Y-%m-%d %H:%M") if d.contact_deadline else "-"),
        ("人工复核", "是" if d.needs_review else "否"),
    ]
    marks = [m for m, on in (("争议裁决", d.arbitration), ("会商研判", d.joint_review)) if on]
    if marks:
        rows.append(("机制", "、".join(marks)))
    if d.candidates:
        rows.append(("候选", "；".join(f"{c.code} {c.name} {c.score:.2f}" for c in d.candidates)))
    if d.tier != "auto" and d.unit_candidates:
        rows.append(("候选单位", "；".join(f"{u.unit} {u.probability:.2f}" for u in d.unit_candidates[:3])))
    width = max(len(k) for k, _ in rows)
    out = [f"{k.ljust(width, '　')}  {v}" for k, v in rows]
    out.append("依据:")
    out.extend(f"  - {r}" for r in d.reasons)
    return "\n".join(out)


def run(args) -> int:
    """Route and print."""
    from .._router import _parse_time

    try:
        _parse_time(args.received_at, where="--at")
    except ValueError as exc:
        print(f"sujian-router route: error: {exc}", file=sys.stderr)
        return 2
    router = load_with_thresholds(args, "route")
    if router is None:
        return 2
    if args.text is not None:
        texts = [args.text]
    else:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    decisions = router.route_many(texts, district=args.district, street=args.street,
                                  received_at=args.received_at, location=args.location, top_k=args.top_k)
    for i, d in enumerate(decisions):
        if args.json:
            print(json.dumps(d.to_dict(), ensure_ascii=False))
        else:
            if i:
                print()
            print(format_decision(d))
    return 0
