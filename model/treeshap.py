"""LightGBM's TreeSHAP values (``pred_contrib``) from per-tree lookup tables, vectorised.

LightGBM walks every tree for every row (O(leaves x depth^2) each). Path-dependent TreeSHAP
decomposes over leaves: leaf ``l``, reached through the distinct features ``U`` of its path
(``m`` of them), contributes to feature ``k`` in ``U``

    v_l * (o_k - z_k) * sum over S in U - {k} of |S|! (m-|S|-1)! / m! * prod_S o_i * prod_rest z_i

where ``o_i`` (0 or 1) says whether the row satisfies all of the path's splits on feature ``i``
and ``z_i`` is the product of their cover ratios. So a tree's contributions depend on the row
only through which way it goes at each split: with at most ``MAX_NODES`` splits per tree, every
pattern of decisions gets its row of contributions when the booster is loaded, and explaining a
batch is one comparison per split and row plus one table lookup per tree, feature and row.
Paths are padded to the same length with no-op splits (``o = z = 1``): a null player changes no
Shapley value.

The split decisions replicate LightGBM's (values within 1e-35 of zero read as 0, NaN as missing
or as 0, zero as missing, categorical sets where NaN, negative and unseen codes go right); tests
hold the values equal to ``pred_contrib`` on rows placed on every threshold. Boosters with
larger trees are left to LightGBM.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

MAX_NODES = 8  # splits per tree: a tree's decisions pack into one byte
CHUNK_ROWS = 2048
THREADS = 2
PARALLEL_ROWS = 256
"""From this many rows on, the rows are explained in THREADS pieces at once."""
PADDING = {
    "split_feature": 0,
    "threshold": -np.inf,
    "decision_type": "<=",
    "default_left": False,
    "missing_type": "None",
}
"""A split that fills a tree's unused node columns; its bit is masked off."""
ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold, a C float


@dataclass(frozen=True)
class _Splits:
    """Every internal node of every tree, as arrays (the columns of the decision matrix)."""

    feature: np.ndarray  # int, column of the node's feature
    threshold: np.ndarray  # float, numerical splits
    default_left: np.ndarray  # bool
    nan_left: np.ndarray  # where NaN goes: the default side if missing, else where 0 goes
    zero_missing: np.ndarray  # nodes where zero is the missing value (default side)
    categorical: np.ndarray  # nodes with a categorical split
    category_left: np.ndarray  # (categorical nodes, codes + 1): code goes left; last: never


@dataclass(frozen=True)
class TreeExplainer:
    """Exact TreeSHAP contributions of a LightGBM booster, in the booster's raw score."""

    n_features: int
    splits: _Splits
    tree_mask: np.ndarray  # per tree with splits, the bits of its real (not padding) nodes
    table: np.ndarray  # per tree, (2^nodes, tree features): contributions for each pattern
    pair_tree: np.ndarray  # the tree of each (tree, feature) pair, pairs ordered by feature
    pair_offset: np.ndarray  # the pair's index in ``table`` for pattern 0
    pair_width: np.ndarray  # its tree's number of features (the table's row length)
    feature_starts: np.ndarray  # first pair of each feature that has pairs
    features: np.ndarray  # those features
    base: float

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> TreeExplainer | None:
        """The explainer, or None if a tree has over ``MAX_NODES`` splits (use LightGBM then)."""
        dump = booster.dump_model()
        n_features = int(dump["max_feature_idx"]) + 1
        nodes: list[dict[str, Any]] = []  # MAX_NODES per tree, padded with never-left splits
        tree_mask: list[int] = []
        tables, pairs = [], []
        offset = 0
        base = 0.0
        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            if "leaf_value" in root:  # a tree without splits only shifts the base value
                base += float(root["leaf_value"])
                continue
            tree_nodes: list[dict[str, Any]] = []
            leaves: list[tuple[float, list[tuple[int, bool, float]]]] = []
            _walk(root, [], tree_nodes, leaves)
            if len(tree_nodes) > MAX_NODES:
                return None
            t = len(tree_mask)
            tree_mask.append((1 << len(tree_nodes)) - 1)
            nodes += tree_nodes + [PADDING] * (MAX_NODES - len(tree_nodes))
            features_of_nodes = np.array([int(n["split_feature"]) for n in tree_nodes])
            table, tree_features, tree_base = _tree_table(leaves, features_of_nodes)
            base += tree_base
            tables.append(table.reshape(-1))
            width = len(tree_features)
            pairs += [(f, t, offset + k, width) for k, f in enumerate(tree_features)]
            offset += table.size
        pairs.sort(key=lambda pair: pair[0])
        feature = np.array([p[0] for p in pairs], dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, feature[1:] != feature[:-1]]) if pairs else feature
        return cls(
            n_features=n_features,
            splits=_splits(nodes),
            tree_mask=np.array(tree_mask, dtype=np.uint8),
            table=np.concatenate(tables) if tables else np.zeros(0),
            pair_tree=np.array([p[1] for p in pairs], dtype=np.int64),
            pair_offset=np.array([p[2] for p in pairs], dtype=np.int64),
            pair_width=np.array([p[3] for p in pairs], dtype=np.int64),
            feature_starts=starts,
            features=feature[starts],
            base=base,
        )

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature contributions and the base value (last column), like ``pred_contrib``."""
        matrix = np.asarray(matrix, dtype=np.float64)
        out = np.zeros((len(matrix), self.n_features + 1))
        out[:, -1] = self.base
        if len(self.features) == 0 or len(matrix) == 0:
            return out
        pieces = max(-(-len(matrix) // CHUNK_ROWS), THREADS if len(matrix) >= PARALLEL_ROWS else 1)
        bounds = np.linspace(0, len(matrix), pieces + 1).astype(int)
        if pieces == 1:
            self._explain_into(matrix, out)
        else:  # numpy releases the GIL in these loops: two threads, two cores
            list(
                _pool().map(
                    lambda lo, hi: self._explain_into(matrix[lo:hi], out[lo:hi]),
                    bounds[:-1],
                    bounds[1:],
                )
            )
        return out

    def _explain_into(self, rows: np.ndarray, out: np.ndarray) -> None:
        goes_left = _decisions(rows, self.splits)  # MAX_NODES = 8 columns per tree: one byte
        pattern = np.packbits(goes_left, axis=1, bitorder="little") & self.tree_mask
        index = np.take(pattern, self.pair_tree, axis=1) * self.pair_width + self.pair_offset
        values = np.take(self.table, index)
        out[:, self.features] = np.add.reduceat(values, self.feature_starts, axis=1)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """The process's explaining threads, started once: starting two threads per call cost more
    than explaining 1,000 rows (keyed by process id, so a forked child starts its own)."""
    pid = os.getpid()
    if pid not in _POOLS:
        _POOLS[pid] = ThreadPoolExecutor(THREADS, thread_name_prefix="treeshap")
    return _POOLS[pid]


def _tree_table(
    leaves: list[tuple[float, list[tuple[int, bool, float]]]], node_feature: np.ndarray
) -> tuple[np.ndarray, list[int], float]:
    """One tree's contributions for every pattern of its split decisions.

    Returns the table (2^nodes, features of the tree), those features, and the tree's expected
    value. Bit ``j`` of a pattern says the row goes left at the tree's ``j``-th node.
    """
    n_nodes = len(node_feature)
    depth = max(len(path) for _, path in leaves)
    goes_left = ((np.arange(2**n_nodes)[:, None] >> np.arange(n_nodes)[None, :]) & 1).astype(bool)
    values = np.array([value for value, _ in leaves])
    z = np.ones((len(leaves), depth))
    failed = np.zeros((2**n_nodes, len(leaves)), dtype=np.int64)
    slot_feature = np.full((len(leaves), depth), -1, dtype=np.int64)
    for i, (_, path) in enumerate(leaves):
        slots: dict[int, int] = {}
        for node, left, ratio in path:
            feature = int(node_feature[node])
            slot = slots.setdefault(feature, len(slots))
            slot_feature[i, slot] = feature
            z[i, slot] *= ratio
            failed[:, i] |= (goes_left[:, node] != left) << slot
    leaf_table = _leaf_tables(values, z, depth)  # (leaves, 2^depth, depth)
    satisfied = (2**depth - 1) - failed  # padding slots are never failed: o = z = 1
    per_leaf = leaf_table[np.arange(len(leaves))[None, :], satisfied]  # (2^nodes, leaves, depth)
    features = sorted({int(f) for f in slot_feature.reshape(-1) if f >= 0})
    table = np.zeros((2**n_nodes, len(features)))
    for k, feature in enumerate(features):
        table[:, k] = np.sum(per_leaf * (slot_feature == feature)[None, :, :], axis=(1, 2))
    return table, features, float(np.sum(values * np.prod(z, axis=1)))


def _walk(
    node: dict[str, Any],
    path: list[tuple[int, bool, float]],
    nodes: list[dict[str, Any]],
    leaves: list[tuple[float, list[tuple[int, bool, float]]]],
) -> None:
    """Collect internal nodes and, per leaf, its path as (node, goes left, cover ratio) steps."""
    if "leaf_value" in node:
        leaves.append((float(node["leaf_value"]), path))
        return
    index = len(nodes)
    nodes.append(node)
    count = float(node["internal_count"])
    for child, left in ((node["left_child"], True), (node["right_child"], False)):
        child_count = float(child.get("internal_count", child.get("leaf_count", 0)))
        _walk(child, [*path, (index, left, child_count / count)], nodes, leaves)


def _splits(nodes: list[dict[str, Any]]) -> _Splits:
    missing_codes = {"None": 0, "Zero": 1, "NaN": 2}
    categorical = [i for i, n in enumerate(nodes) if n["decision_type"] == "=="]
    sets = [[int(c) for c in str(nodes[i]["threshold"]).split("||")] for i in categorical]
    width = max((max(c) for c in sets), default=0) + 2
    category_left = np.zeros((len(categorical), width), dtype=bool)
    for row, codes in enumerate(sets):
        category_left[row, codes] = True
    threshold = np.array(
        [float(n["threshold"]) if n["decision_type"] == "<=" else np.nan for n in nodes]
    )
    default_left = np.array([bool(n["default_left"]) for n in nodes])
    missing = np.array([missing_codes[str(n["missing_type"])] for n in nodes], dtype=np.int64)
    return _Splits(
        feature=np.array([int(n["split_feature"]) for n in nodes], dtype=np.int64),
        threshold=threshold,
        default_left=default_left,
        nan_left=np.where(missing == 0, threshold >= 0.0, default_left),
        zero_missing=np.flatnonzero(missing == 1),
        categorical=np.array(categorical, dtype=np.int64),
        category_left=category_left,
    )


def _decisions(rows: np.ndarray, splits: _Splits) -> np.ndarray:
    """(rows, nodes): whether each row goes left at each node, exactly as LightGBM decides."""
    # LightGBM's predictor drops values within its zero threshold from the row: they read as 0
    x = np.where(np.abs(rows) <= ZERO, 0.0, rows)
    values = np.take(x, splits.feature, axis=1)
    with np.errstate(invalid="ignore"):
        left = values <= splits.threshold
    nan = np.isnan(x)
    if nan.any():
        left = np.where(np.take(nan, splits.feature, axis=1), splits.nan_left, left)
    if len(splits.zero_missing):
        nodes = splits.zero_missing
        left[:, nodes] = np.where(
            values[:, nodes] == 0.0, splits.default_left[nodes], left[:, nodes]
        )
    if len(splits.categorical):
        nodes = splits.categorical
        codes = np.take(x, splits.feature[nodes], axis=1)
        width = splits.category_left.shape[1]
        # LightGBM: NaN, negative and unseen codes go right; others truncate to an int code
        code = np.trunc(np.clip(np.where(np.isnan(codes), -1.0, codes), -1.0, width - 1.0))
        code = np.where(code < 0, width - 1, code).astype(np.int64)
        flat = np.arange(len(nodes)) * width + code
        left[:, nodes] = np.take(splits.category_left.reshape(-1), flat)
    return left


def _leaf_tables(values: np.ndarray, z: np.ndarray, depth: int) -> np.ndarray:
    """(leaves, 2^depth, depth): contribution of each slot for every pattern of satisfied slots."""
    patterns = (np.arange(2**depth)[:, None] >> np.arange(depth)[None, :]) & 1  # (P, depth)
    o = patterns[None, :, :].astype(np.float64)  # (1, P, depth)
    zz = z[:, None, :]  # (L, 1, depth)
    weights = np.array(
        [
            math.factorial(s) * math.factorial(depth - s - 1) / math.factorial(depth)
            for s in range(depth)
        ]
    )
    table = np.zeros((len(values), 2**depth, depth))
    for k in range(depth):
        # polynomial in t of prod over i != k of (z_i + o_i t): coefficient s sums the subsets
        # S of size s of prod_S o_i * prod_rest z_i
        coefficients = np.zeros((len(values), 2**depth, depth))
        coefficients[:, :, 0] = 1.0
        for i in range(depth):
            if i == k:
                continue
            shifted = np.zeros_like(coefficients)
            shifted[:, :, 1:] = coefficients[:, :, :-1] * o[:, :, i : i + 1]
            coefficients = coefficients * zz[:, :, i : i + 1] + shifted
        total = coefficients @ weights
        table[:, :, k] = values[:, None] * (o[:, :, k] - zz[:, :, k]) * total
    return table
