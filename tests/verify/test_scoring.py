"""Scoring variants: a layer in float near the head runs only its changed region, fed the original's activations,
and scores what the whole variant scores (up to rounding of differently fused kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from qdqtool.analysis.rules import load_rules
from qdqtool.analysis.units import layer_units
from qdqtool.io.data.dataset import in_memory
from qdqtool.ir.dataflow import dataflow_graph
from qdqtool.ir.index import GraphIndex
from qdqtool.surgery.downstream import changed_region, float_region
from qdqtool.surgery.partial import float_layers
from qdqtool.verify.reference import FloatReference
from qdqtool.verify.scoring import MAX_SHARE, Scorer, Variant
from tests.fixtures import models as M


@pytest.fixture(scope="module")
def yolo():
    model = M.yolov6_qat("int8")
    rng = np.random.default_rng(0)
    feeds = [{"images": rng.random((1, 3, 64, 64), dtype=np.float32)} for _ in range(3)]
    return model, feeds, layer_units(GraphIndex(model), load_rules("tensorrt"))


def test_the_planned_region_is_the_region_the_edit_changes(yolo):
    model, _, units = yolo
    index = GraphIndex(model)
    flow = dataflow_graph(index)
    shares = []
    for unit in units:
        planned = float_region(index, flow, [unit.name])
        found = changed_region(model, float_layers(model, [unit.name]))
        assert set(found.frontier) <= set(planned.frontier), unit.name
        assert found.outputs == planned.outputs and found.share == pytest.approx(planned.share, abs=0.02)
        shares.append(found.share)
    assert min(shares) < 0.2 < MAX_SHARE < max(shares)  # heads run small regions, the stem the whole model


def test_region_scores_equal_whole_model_scores(yolo, monkeypatch):
    from qdqtool.verify import scoring

    model, feeds, units = yolo
    scorer = Scorer(model, in_memory(feeds, model, "random"), FloatReference.for_model(model))
    variants = [Variant("float", u.nodes) for u in units]
    ran = []
    run = scoring._RegionCache.run
    monkeypatch.setattr(scoring._RegionCache, "run", lambda self, m, r: ran.append(r) or run(self, m, r))
    by_region = [score for _, score in scorer.score_all(variants)]
    assert len(ran) > len(units) // 3 and all(r.share <= MAX_SHARE for r in ran)  # the region path ran
    whole = [scorer.score(v) for v in variants]  # one at a time: always the whole variant
    for unit, a, b in zip(units, by_region, whole, strict=True):
        assert a.snr_db == pytest.approx(b.snr_db, abs=0.05), unit.name
        assert a.cosine == pytest.approx(b.cosine, abs=1e-3), unit.name
