"""``/api/diff`` and ``/api/diff/top``: the shown recording against ``--base``, normalised by total.

The differential flame graph is the union of both call trees, matched by path of
(function, image): each node has the current ``total``/``self`` and the base's, scaled by
``current total / base total`` so the two are compared as shares (hotspot's and
flamegraph.pl's difffolded convention: a function that went from 25% to 50% grew,
whatever the sample counts).  It is capped like ``/api/flame``, on the larger of the
two values.  The top table compares each function's self share: ``delta`` is in
percentage points of the total.
"""

from __future__ import annotations

import heapq
import math

from stax.analysis.call_tree import TREE_ROOT, CallTree
from stax_web.flame_view import MAX_NODES, MIN_FRACTION, ROOT_NAME, USER, Locations, frame_kind, values


def diff_payload(current: CallTree, base: CallTree, unit: str) -> dict:
    cur_total, cur_self = values(current, unit)
    base_total, base_self = values(base, unit)
    scale = cur_total[TREE_ROOT] / base_total[TREE_ROOT] if base_total[TREE_ROOT] else 0.0
    cur_kids, base_kids = current.children_lists(), base.children_lists()

    def key(tree: CallTree, node: int) -> tuple[str, str, int]:
        frame = tree.frame_of(node)
        return frame.name, frame.image, frame_kind(frame)

    def weight(pair: tuple[int, int]) -> float:
        c, b = pair
        return max(cur_total[c] if c >= 0 else 0, base_total[b] * scale if b >= 0 else 0.0)

    # the union tree, parents first: (current node or -1, base node or -1, parent index)
    union: list[tuple[int, int, int]] = [(TREE_ROOT, TREE_ROOT, -1)]
    sizes: list[float] = [weight((TREE_ROOT, TREE_ROOT))]
    threshold = max(1.0, math.ceil(cur_total[TREE_ROOT] * MIN_FRACTION))
    dropped_nodes = 0
    stack = [0]
    order: list[int] = []
    while stack:
        index = stack.pop()
        order.append(index)
        c, b, _ = union[index]
        children: dict[tuple[str, str, int], list[int]] = {}
        for child in cur_kids[c] if c >= 0 else ():
            children.setdefault(key(current, child), [-1, -1])[0] = child
        for child in base_kids[b] if b >= 0 else ():
            children.setdefault(key(base, child), [-1, -1])[1] = child
        shown = []
        for pair in children.values():
            size = weight((pair[0], pair[1]))
            if size >= threshold and len(union) < MAX_NODES:
                union.append((pair[0], pair[1], index))
                sizes.append(size)
                shown.append(len(union) - 1)
            else:
                dropped_nodes += 1
        shown.sort(key=lambda i: sizes[i])
        stack.extend(shown)
    out_index = {index: i for i, index in enumerate(order)}
    names: dict[str, int] = {}
    images: dict[str, int] = {}
    locations = Locations()
    nodes = []
    node_locations = []
    for index in order:
        c, b, parent = union[index]
        if index == 0:
            name, image, kind = ROOT_NAME, "", USER
            node_locations.append(0)
        else:
            name, image, kind = key(current, c) if c >= 0 else key(base, b)
            tree, node = (current, c) if c >= 0 else (base, b)
            node_locations.append(locations.index((c >= 0, tree.frame[node]), tree.frame_of(node)))
        nodes.append([names.setdefault(name, len(names)), images.setdefault(image, len(images)),
                      out_index.get(parent, -1), cur_total[c] if c >= 0 else 0, cur_self[c] if c >= 0 else 0,
                      kind, round(base_total[b] * scale) if b >= 0 else 0,
                      round(base_self[b] * scale) if b >= 0 else 0])
    return {"total": cur_total[TREE_ROOT], "unit": unit, "base_total_raw": base_total[TREE_ROOT],
            "scale": scale, "names": list(names), "images": list(images), "nodes": nodes,
            "locations": locations.texts, "node_locations": node_locations,
            "dropped": {"nodes": dropped_nodes, "min_value": threshold}}


def diff_top(rows: list[dict], base_rows: list[dict], total: int, base_total: int, unit: str, limit: int,
             text: str) -> dict:
    """Functions by how much their self share changed (largest change first, either way)."""
    scale = total / base_total if base_total else 0.0
    base_by_key = {(r["function"], r["image"]): r for r in base_rows}
    merged = []
    seen = set()
    for row in rows:
        key = (row["function"], row["image"])
        seen.add(key)
        merged.append(_diff_row(row["function"], row["image"], row["self"], row["total"],
                                base_by_key.get(key), scale, total))
    for key, base_row in base_by_key.items():
        if key not in seen:
            merged.append(_diff_row(key[0], key[1], 0, 0, base_row, scale, total))
    needle = text.casefold()
    merged = [r for r in merged if not needle or needle in r["function"].casefold()
              or needle in r["image"].casefold()]
    top = heapq.nsmallest(limit, merged, key=lambda r: (-abs(r["delta"]), r["function"]))
    return {"total": total, "base_total_raw": base_total, "scale": scale, "unit": unit,
            "matched": len(merged), "rows": top}


def _diff_row(function: str, image: str, self_value: int, total_value: int, base: dict | None,
              scale: float, total: int) -> dict:
    base_self = round(base["self"] * scale) if base else 0
    base_total = round(base["total"] * scale) if base else 0
    delta = 100.0 * (self_value - base_self) / total if total else 0.0
    return {"function": function, "image": image, "self": self_value, "total": total_value,
            "base_self": base_self, "base_total": base_total, "delta": round(delta, 4)}
