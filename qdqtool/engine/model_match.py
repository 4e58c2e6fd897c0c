"""Does an engine report come from this ONNX model? Its layers name the ONNX nodes they implement.

An engine of another network (a ResNet engine given with a YOLO model) would otherwise be linted and diffed
as if it were the model's own, with findings about nodes the model does not have.
"""

from __future__ import annotations

import onnx

from qdqtool.engine.report import EngineReport
from qdqtool.errors import BadInputError

# Below this share of the engine's ONNX node names found in the model, the engine is someone else's. Not 1.0:
# builders add nodes of their own (cloned Q/DQ, shuffles) and rename a few.
MIN_SHARED = 0.5


def require_engine_of(report: EngineReport, model: onnx.ModelProto, model_name: str) -> None:
    """Raise BadInputError when ``report`` clearly was not built from ``model``.

    Args:
        report (EngineReport): The engine.
        model (onnx.ModelProto): The model it should come from.
        model_name (str): The model's file, for the message.
    """
    implemented = {name for layer in report.layers for name in layer.onnx_nodes}
    if not implemented:
        return  # names-only or unnamed layers: nothing to compare
    nodes = {node.name for node in model.graph.node}
    shared = implemented & nodes
    if len(shared) < MIN_SHARED * len(implemented):
        missing = sorted(implemented - nodes)[:3]
        raise BadInputError(
            f"{report.source}: only {len(shared)} of the {len(implemented)} ONNX nodes its layers implement are in "
            f"{model_name} (e.g. {', '.join(missing)} are not); give the engine built from this model"
        )
