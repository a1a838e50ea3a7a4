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
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

MAX_NODES = 8
CHUNK_ROWS = 2048
ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold, a C float


@dataclass(frozen=True)
class _Splits:
    """Every internal node of every tree, as arrays (the columns of the decision matrix)."""

    feature: np.ndarray  # int, column of the node's feature
    threshold: np.ndarray  # float, numerical splits
    default_left: np.ndarray  # bool
    missing: np.ndarray  # 0 none, 1 zero, 2 nan
    categorical: np.ndarray  # nodes with a categorical split
    category_left: np.ndarray  # (categorical nodes, codes + 1): code goes left; last: never


@dataclass(frozen=True)
class TreeExplainer:
    """Exact TreeSHAP contributions of a LightGBM booster, in the booster's raw score."""

    n_features: int
    splits: _Splits
    node_weight: np.ndarray  # 2^(node's position in its tree): a tree's nodes make its pattern
    tree_starts: np.ndarray  # first node of each tree with splits
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
        nodes: list[dict[str, Any]] = []
        trees: list[list[tuple[float, list[tuple[int, bool, float]]]]] = []
        tree_starts: list[int] = []
        base = 0.0
        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            if "leaf_value" in root:  # a tree without splits only shifts the base value
                base += float(root["leaf_value"])
                continue
            tree_starts.append(len(nodes))
            trees.append([])
            _walk(root, [], nodes, trees[-1])
            if len(nodes) - tree_starts[-1] > MAX_NODES:
                return None
        splits = _splits(nodes)
        node_weight = np.zeros(len(nodes), dtype=np.int32)
        tables, pairs = [], []
        offset = 0
        for t, (start, leaves) in enumerate(zip(tree_starts, trees, strict=True)):
            end = tree_starts[t + 1] if t + 1 < len(tree_starts) else len(nodes)
            node_weight[start:end] = 1 << np.arange(end - start)
            table, tree_features, tree_base = _tree_table(leaves, start, end, splits.feature)
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
            splits=splits,
            node_weight=node_weight,
            tree_starts=np.array(tree_starts, dtype=np.int64),
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
        for lo in range(0, len(matrix), CHUNK_ROWS):
            rows = matrix[lo : lo + CHUNK_ROWS]
            goes_left = _decisions(rows, self.splits)
            pattern = np.add.reduceat(goes_left * self.node_weight, self.tree_starts, axis=1)
            index = np.take(pattern, self.pair_tree, axis=1) * self.pair_width + self.pair_offset
            values = np.take(self.table, index)
            out[lo : lo + CHUNK_ROWS, self.features] = np.add.reduceat(
                values, self.feature_starts, axis=1
            )
        return out


def _tree_table(
    leaves: list[tuple[float, list[tuple[int, bool, float]]]],
    start: int,
    end: int,
    node_feature: np.ndarray,
) -> tuple[np.ndarray, list[int], float]:
    """One tree's contributions for every pattern of its split decisions.

    Returns the table (2^nodes, features of the tree), those features, and the tree's expected
    value. Bit ``j`` of a pattern says the row goes left at the tree's ``j``-th node.
    """
    n_nodes = end - start
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
            failed[:, i] |= (goes_left[:, node - start] != left) << slot
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
    return _Splits(
        feature=np.array([int(n["split_feature"]) for n in nodes], dtype=np.int64),
        threshold=np.array(
            [float(n["threshold"]) if n["decision_type"] == "<=" else np.nan for n in nodes]
        ),
        default_left=np.array([bool(n["default_left"]) for n in nodes]),
        missing=np.array([missing_codes[str(n["missing_type"])] for n in nodes], dtype=np.int64),
        categorical=np.array(categorical, dtype=np.int64),
        category_left=category_left,
    )


def _decisions(rows: np.ndarray, splits: _Splits) -> np.ndarray:
    """(rows, nodes): whether each row goes left at each node, exactly as LightGBM decides."""
    values = rows[:, splits.feature]
    # LightGBM's predictor drops values within its zero threshold from the row: they read as 0
    values = np.where(np.abs(values) <= ZERO, 0.0, values)
    nan = np.isnan(values)
    missing = splits.missing
    # LightGBM reads NaN as 0 unless the node treats NaN as missing
    values = np.where(nan & (missing != 2), 0.0, values)
    is_missing = ((missing == 1) & (np.abs(values) <= ZERO)) | ((missing == 2) & nan)
    with np.errstate(invalid="ignore"):
        left = np.where(is_missing, splits.default_left, values <= splits.threshold)
    if len(splits.categorical):
        nodes = splits.categorical
        codes = rows[:, splits.feature[nodes]]
        codes_nan = np.isnan(codes)
        width = splits.category_left.shape[1]
        # LightGBM: NaN, negative and unseen codes go right; others truncate to an int code
        code = np.trunc(np.clip(np.where(codes_nan, -1.0, codes), -1.0, width - 1.0))
        code = np.where(code < 0, width - 1, code).astype(np.int64)
        flat = np.arange(len(nodes)) * width + code
        goes_left = np.take(splits.category_left.reshape(-1), flat)
        left[:, nodes] = goes_left
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
