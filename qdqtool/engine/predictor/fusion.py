"""Fusion: cut the propagated graph into the layers (kernels) TensorRT would build.

Rules modelled, in the order they are tried for each node (TensorRT developer guide, "Explicit Quantization" and
"Types of Fusions"; [sample] = what the TREx engines in trt-samples show):

* Weighted op (Conv, Gemm... from ``[target].weighted_ops``): fused with the DQ of each data input (INT8 input) and
  its folded INT8 weights (Fig. 3), then with the pointwise ops behind it (Conv + ReLU/GELU/Clip), then with one
  residual Add (Conv + ElementWise; :func:`add_owners` picks the convolution), then with the Q reading the result
  when that Q is its only reader (Fig. 3, INT8 output), then with an INT8 pooling (ConvActPool, same precision).
* Residual Add: "The precision of the first input to the element-wise addition layer determines the precision of the
  output of the fusion" (placement recommendation 4, Fig. 6/7): with a float skip input the output stays float and
  the Q behind it stays a standalone kernel; with an INT8 skip and a float reader, the skip's DQ stays standalone.
* Quantizable non-weighted op (``quantizable_ops``): one INT8 kernel with its input DQs and output Q when every data
  input is dequantized (with equal parameters) and one Q reads the output (Fig. 1, Fig. 8); otherwise float
  ("non-weighted layers that have INT8 inputs also require INT8 outputs", recommendation 5).
* TensorRT 10: a generated epilogue (SiLU) of an INT8 convolution feeding an op of ``int8_epilogue_apart_before``
  (a C2f Split, a residual Add) is its own float PointWise layer, which takes the element-wise op of
  ``pointwise_joins_ops`` reading its result (``PWN(PWN(Sigmoid, Mul), Add)``); float attention, and attention with
  its Q/DQ, is one ``{ForeignNode[...]}`` Myelin layer (:mod:`qdqtool.engine.predictor.foreign`).
* A commuting op Q/DQ moved across runs on INT8 data (a Concat whose inputs all share one buffer is eliminated).
* What is left: a Q not fused into its producer, a DQ some float reader needs, and each requantize, are standalone
  kernels (class ``qdq``); every other op is a float layer.

    >>> plans = plan_layers(propagate(SimGraph.from_index(index, rules)))
    >>> assert all(p.nodes for p in plans)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qdqtool.engine.predictor.foreign import foreign_regions
from qdqtool.engine.predictor.graph import SimGraph, SimNode
from qdqtool.engine.predictor.propagation import same_params
from qdqtool.engine.report import LayerClass

# TensorRT-like layer types by ONNX op (the ParameterType names TensorRT's inspector writes). Gemm runs as a
# convolution in the samples ("CaskConvolution" for "fc.weight + QuantizeLinear_255 + Gemm_257 ...").
_LAYER_TYPES = {
    "Conv": "Convolution", "ConvTranspose": "Deconvolution", "Gemm": "Convolution", "MatMul": "MatrixMultiply",
    "MaxPool": "Pooling", "AveragePool": "Pooling", "GlobalAveragePool": "Pooling", "GlobalMaxPool": "Pooling",
    "Add": "ElementWise", "Sub": "ElementWise", "Mul": "ElementWise", "Div": "ElementWise", "Max": "ElementWise",
    "Min": "ElementWise", "Pow": "ElementWise", "Concat": "Concatenation", "Softmax": "SoftMax",
    "Resize": "Resize", "Upsample": "Resize", "Slice": "Slice", "Split": "Slice", "Pad": "Padding",
    "Gather": "Gather", "Transpose": "Shuffle", "ReduceMean": "Reduce", "ReduceSum": "Reduce",
    "ReduceMax": "Reduce", "LayerNormalization": "Normalization", "BatchNormalization": "Scale",
}  # fmt: skip
_COMPUTE_TYPES = {"Convolution", "Deconvolution", "MatrixMultiply", "Pooling", "ElementWise", "PointWise", "SoftMax",
                  "Resize", "Reduce", "Normalization", "Scale", "ConvActPool"}


@dataclass
class LayerPlan:
    """One predicted kernel: the simulated nodes it implements and the tensors it reads and writes."""

    type: str
    cls: LayerClass
    tokens: list[str]  # the parts of the layer name, TensorRT style (weights first, then nodes)
    node_tokens: list[str]  # the ONNX node names among ``tokens`` (without PWN(...) wrappers)
    weights: list[str] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (tensor, dtype)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    implements: list[str] = field(default_factory=list)  # every ONNX node absorbed, named or not
    weight_bytes: list[tuple[str, str]] = field(default_factory=list)  # (initializer, dtype) read by the kernel
    origin: str | None = None
    why: str = ""  # for standalone Q/DQ: why TensorRT cannot fuse it
    float_reason: str = ""  # for a float output: why no Q could be fused into this layer

    @property
    def name(self) -> str:
        return " + ".join(self.tokens)


def add_owners(g: SimGraph) -> dict[int, tuple[SimNode, int]]:
    """For each residual Add TensorRT fuses into a convolution: id(Add) -> (that convolution, skip input index).

    A candidate is a weighted op whose output only the Add reads, with the Add's output shape (no broadcast:
    "Conv + ElementWise ... no broadcast except across batch"). With two candidates the later one in the model
    takes the Add [sample: qat ``layer2.0.downsample.0.weight + QuantizeLinear_93 + Conv_95 + Add_97 + Relu_98``,
    Conv_95 following Conv_84 of the other branch].
    """
    owners: dict[int, tuple[SimNode, int]] = {}
    for add in g.alive():
        if add.op not in g.rules.residual_add_ops or len(add.inputs) != 2 or len(g.data_inputs(add)) != 2:
            continue
        if add.inputs[0] == add.inputs[1]:
            continue
        out_shape = g.shapes.get(add.outputs[0])
        candidates = []
        for k, tensor in enumerate(add.inputs):
            producer = g.producer.get(tensor)
            if (producer is None or producer.op not in g.rules.weighted_ops or tensor in g.graph_outputs
                    or g.readers_of(tensor) != [add]):
                continue
            shape = g.shapes.get(tensor)
            if shape is not None and out_shape is not None and shape != out_shape:
                continue
            candidates.append((producer.order, k, producer))
        if candidates:
            _, k, producer = max(candidates, key=lambda c: c[0])
            owners[id(add)] = (producer, 1 - k)
    return owners


class _Planner:
    def __init__(self, g: SimGraph) -> None:
        self.g = g
        self.rules = g.rules
        self.owners = add_owners(g)
        self.assigned: set[int] = set()
        self.plan_of: dict[int, LayerPlan] = {}
        self.float_readers: dict[int, dict[int, SimNode]] = {}  # id(DQ) -> readers still needing float
        self.queue: list[LayerPlan] = []  # layers a plan split off, placed right after it
        self.region_of = {id(n): nodes for nodes in foreign_regions(g) for n in nodes}

    # ---- helpers ---------------------------------------------------------------------------------------------
    def fl(self, tensor: str) -> tuple[str, str]:
        return tensor, self.g.float_dtype(tensor)

    def take(self, plan: LayerPlan, *nodes: SimNode) -> None:
        for node in nodes:
            self.assigned.add(id(node))
            self.plan_of[id(node)] = plan
            plan.implements.extend(node.onnx_nodes)

    def absorb_dq(self, dq: SimNode, reader: SimNode, plan: LayerPlan) -> None:
        """``reader`` takes ``dq``'s INT8 input directly (the DQ is fused into ``plan`` for this reader)."""
        self.readers_needing_float(dq).pop(id(reader), None)
        plan.implements.extend(n for n in dq.onnx_nodes if n not in plan.implements)

    def readers_needing_float(self, dq: SimNode) -> dict[int, SimNode]:
        if id(dq) not in self.float_readers:
            self.float_readers[id(dq)] = {id(r): r for r in self.g.readers_of(dq.outputs[0])}
        return self.float_readers[id(dq)]

    def single_q_reader(self, tensor: str) -> SimNode | None:
        """The Q that is the only reader of ``tensor`` (per-tensor, known parameters), else None."""
        readers = self.g.readers_of(tensor)
        if tensor in self.g.graph_outputs or len(readers) != 1:
            return None
        q = readers[0]
        if not q.is_q or q.params is None or not q.params.per_tensor or id(q) in self.assigned:
            return None
        return q

    def pointwise_region(self, tensor: str) -> tuple[list[SimNode], str] | None:
        """Pointwise nodes reading only ``tensor`` (and each other, and constants), ending in one tensor."""
        g, ops = self.g, self.rules.pointwise_ops
        region: list[SimNode] = []
        tensors = {tensor}
        grown = True
        while grown:
            grown = False
            for t in list(tensors):
                for r in g.readers_of(t):
                    if (r in region or id(r) in self.assigned or r.op not in ops or len(r.outputs) != 1
                            or id(r) in self.owners or not all(x in tensors for x in g.data_inputs(r))):
                        continue
                    region.append(r)
                    tensors.add(r.outputs[0])
                    grown = True
        if not region:
            return None
        exits = [t for t in tensors if t in g.graph_outputs or any(r not in region for r in g.readers_of(t))]
        if len(exits) != 1 or exits[0] == tensor:
            return None
        return sorted(region, key=lambda n: n.order), exits[0]

    # ---- layers ----------------------------------------------------------------------------------------------
    def weighted(self, w: SimNode) -> LayerPlan:
        g = self.g
        plan = LayerPlan(type=_LAYER_TYPES.get(w.op, "Convolution"), cls=LayerClass.COMPUTE, tokens=[], node_tokens=[])
        for initializer, wnode in zip(w.weights, w.weight_nodes, strict=True):
            plan.tokens += [initializer, wnode]
            plan.weights.append(initializer)
            plan.node_tokens.append(wnode)
            plan.weight_bytes.append((initializer, "int8"))
        plan.tokens.append(w.name)
        plan.node_tokens.append(w.name)
        self.take(plan, w)
        plan.implements.extend(n for n in w.weight_nodes if n not in plan.implements)
        for t in w.inputs[1:]:
            if t and g.is_constant(t) and t not in g.weight_sources:  # bias and other float constants
                plan.weight_bytes.append((t, ""))
                if w.op == "Gemm":  # TensorRT adds the Gemm bias as its own token [sample: "Gemm_257 + fc.bias"]
                    plan.tokens.append(t)
                    plan.weights.append(t)
        int8_in = True
        for t in g.data_inputs(w):
            dq = g.dq_source(t)
            if dq is not None:
                plan.inputs.append((dq.inputs[0], "int8"))
                self.absorb_dq(dq, w, plan)
            else:
                plan.inputs.append(self.fl(t))
                int8_in = False
        int8_in = int8_in and bool(plan.inputs)
        cur, add, skip = w.outputs[0], None, None
        while cur not in g.graph_outputs:
            region = self.pointwise_region(cur)
            if region is not None and int8_in and add is None and self.keeps_own_epilogue(*region):
                self.queue.append(self.pointwise_layer(cur, *region))
                break
            if region is not None:
                nodes, cur = region
                self.take(plan, *nodes)
                names = [n.name for n in nodes]
                builtin = add is None and len(nodes) == 1 and nodes[0].op in self.rules.conv_builtin_activations
                if builtin and int8_in:
                    continue  # built into the INT8 kernel, left out of the name [sample]
                plan.node_tokens += names
                if add is not None or builtin:  # float convolutions name it [sample fp32: "Conv_0 + Relu_1"]
                    plan.tokens += names
                else:
                    plan.tokens.append(f"PWN({', '.join(names)})")
                continue
            readers = g.readers_of(cur)
            if add is None and len(readers) == 1 and self.owners.get(id(readers[0]), (None,))[0] is w:
                add = readers[0]
                skip = add.inputs[self.owners[id(add)][1]]
                self.take(plan, add)
                plan.tokens.append(add.name)
                plan.node_tokens.append(add.name)
                cur = add.outputs[0]
                continue
            break
        skip_dq = g.dq_source(skip) if skip is not None else None
        q = self.single_q_reader(cur)
        if q is not None and int8_in and (skip is None or skip_dq is not None):
            self.take(plan, q)
            plan.outputs.append((q.outputs[0], "int8"))
            if skip_dq is not None:
                plan.inputs.append((skip_dq.inputs[0], "int8"))
                self.absorb_dq(skip_dq, add, plan)
            self.fuse_pool(plan, q.outputs[0], "int8")
            return plan
        if skip is not None:
            plan.inputs.append(self.fl(skip))
        plan.outputs.append(self.fl(cur))
        plan.float_reason = self._float_reason(w, cur, int8_in, add, skip, skip_dq)
        self.fuse_pool(plan, cur, "float")
        return plan

    def keeps_own_epilogue(self, nodes: list[SimNode], exit_tensor: str) -> bool:
        """True when TensorRT 10 leaves this epilogue of an INT8 convolution as its own PointWise layer: it is a
        generated one (not a built-in activation) and what it produces feeds an op of
        ``int8_epilogue_apart_before`` (a Split/Slice, a residual Add) instead of going on to a quantize alone."""
        apart = self.rules.int8_epilogue_apart_before
        if not apart or (len(nodes) == 1 and nodes[0].op in self.rules.conv_builtin_activations):
            return False
        # the model's own readers decide, not the ones left after Q propagation: a C3k2 chunk's Slice with equal
        # Qs behind it still keeps the SiLU apart [issue 14: "PWN(/model.13/cv1/act/Sigmoid, .../Mul)"]
        readers = [n.op_type for n in self.g.index.consumer_nodes(exit_tensor)]
        return any(op in apart for op in readers + [r.op for r in self.g.readers_of(exit_tensor)])

    def pointwise_layer(self, source: str, nodes: list[SimNode], exit_tensor: str) -> LayerPlan:
        """A float PointWise layer for ``nodes`` (reading ``source``), with the element-wise op that alone reads its
        result when the rules let it join [issue 14: "PWN(PWN(.../Sigmoid, .../Mul), /model.2/m.0/Add)"]."""
        g = self.g
        names = [n.name for n in nodes]
        plan = LayerPlan(type="PointWise", cls=LayerClass.COMPUTE, tokens=[f"PWN({', '.join(names)})"],
                         node_tokens=list(names), inputs=[self.fl(source)])
        self.take(plan, *nodes)
        readers = g.readers_of(exit_tensor)
        if exit_tensor not in g.graph_outputs and len(readers) == 1:
            joiner = readers[0]
            if (joiner.op in self.rules.pointwise_joins_ops and id(joiner) not in self.assigned
                    and id(joiner) not in self.owners and len(joiner.outputs) == 1):
                self.take(plan, joiner)
                plan.tokens = [f"PWN({plan.tokens[0]}, {joiner.name})"]
                plan.node_tokens.append(joiner.name)
                plan.inputs += [self.fl(t) for t in g.data_inputs(joiner) if t != exit_tensor]
                exit_tensor = joiner.outputs[0]
        plan.outputs.append(self.fl(exit_tensor))
        plan.float_reason = (f"the epilogue feeds a {' / '.join(sorted(self.rules.int8_epilogue_apart_before))}: "
                             "TensorRT 10 runs it as its own PointWise layer in float (int8_epilogue_apart_before)")
        return plan

    def foreign(self, nodes: list[SimNode]) -> LayerPlan:
        """One Myelin region (``[predictor.foreign]``), named as TensorRT names them."""
        g = self.g
        inside = {t for n in nodes for t in n.outputs if t}
        ops = [n for n in nodes if not (n.is_q or n.is_dq or n.op == "Requantize")]
        plan = LayerPlan(type="Myelin", cls=LayerClass.COMPUTE,
                         tokens=[f"{{ForeignNode[{ops[0].name}...{ops[-1].name}]}}"],
                         node_tokens=[name for n in nodes for name in n.onnx_nodes])
        self.take(plan, *nodes)
        ins = dict.fromkeys(t for n in nodes for t in g.data_inputs(n) if t not in inside)
        plan.inputs = [(t, "int8") if t in g.int8_tensors else self.fl(t) for t in ins]
        outs = [t for t in inside if t in g.graph_outputs or any(r not in nodes for r in g.readers_of(t))]
        plan.outputs = [self.fl(t) for t in sorted(outs)]
        plan.float_reason = "a float Myelin region"
        return plan

    def _float_reason(self, w: SimNode, cur: str, int8_in: bool, add: SimNode | None, skip: str | None,
                      skip_dq: SimNode | None) -> str:
        g = self.g
        readers = g.readers_of(cur)
        if not int8_in:
            return f"{w.name} has a float input, so it runs in float (Q/DQ placement recommendation 1)"
        if skip is not None and skip_dq is None:
            return (f"the fused {add.name} adds the float skip input {skip}: the fusion takes the skip's precision "
                    "(developer guide, Q/DQ placement, Fig. 6)")
        if cur in g.graph_outputs:
            return f"{cur} is a network output"
        others = [r.name for r in readers if not r.is_q]
        if others:
            return f"{cur} is also read in float by {', '.join(others[:3])}"
        if len(readers) > 1:
            return f"{cur} is read by {len(readers)} Q nodes with different parameters (Fig. 10: no merge)"
        return ""

    def fuse_pool(self, plan: LayerPlan, tensor: str, precision: str) -> None:
        """Convolution + pooling of the same precision ("ConvActPool"), for the precisions the rules allow."""
        readers = self.g.readers_of(tensor)
        if tensor in self.g.graph_outputs or len(readers) != 1 or precision not in self.rules.conv_pool_precisions:
            return
        pool = readers[0]
        if pool.op not in self.rules.conv_pool_ops or id(pool) in self.assigned or pool.int8 != (precision == "int8"):
            return
        self.take(plan, pool)
        plan.type = "ConvActPool"
        plan.tokens.append(pool.name)
        plan.node_tokens.append(pool.name)
        plan.outputs = [(pool.outputs[0], precision if precision == "int8" else self.g.float_dtype(pool.outputs[0]))]

    def quantizable(self, node: SimNode) -> LayerPlan:
        g = self.g
        plan = LayerPlan(type=_LAYER_TYPES.get(node.op, "ElementWise"), cls=LayerClass.COMPUTE,
                         tokens=[node.name], node_tokens=[node.name])
        self.take(plan, node)
        data = g.data_inputs(node)
        dqs = [g.dq_source(t) for t in data]
        q = self.single_q_reader(node.outputs[0])
        if data and all(dqs) and q is not None and all(same_params(d.params, dqs[0].params) for d in dqs):
            for dq in dqs:
                plan.inputs.append((dq.inputs[0], "int8"))
                self.absorb_dq(dq, node, plan)
            self.take(plan, q)
            plan.outputs.append((q.outputs[0], "int8"))
            return plan
        plan.inputs = [self.fl(t) for t in data]
        plan.outputs = [self.fl(t) for t in node.outputs if t]
        if all(dqs) and data:
            plan.float_reason = (f"{node.name} has INT8 inputs but no single Q reads its output: non-weighted layers "
                                 "with INT8 inputs need an INT8 output (placement recommendation 5)")
        else:
            plan.float_reason = f"{node.name} has a float input"
        return plan

    def other(self, node: SimNode) -> LayerPlan:
        g = self.g
        # A Concat is eliminated: its producers write into one buffer (in INT8 only when the scales agree, else
        # the requantize kernels in front of it stay) [sample: no Concat layer in the TREx engines].
        if node.op in self.rules.noop_ops or node.move == "concat" or (
                node.move and node.op in self.rules.look_through.ops):
            kind, cls = "NoOp", LayerClass.NOOP
        else:
            kind = _LAYER_TYPES.get(node.op, "PointWise" if node.op in self.rules.pointwise_ops else node.op)
            cls = LayerClass.COMPUTE if kind in _COMPUTE_TYPES else LayerClass.OTHER
        plan = LayerPlan(type=kind, cls=cls, tokens=[node.name], node_tokens=[node.name])
        self.take(plan, node)
        if node.int8:
            plan.inputs = [(t, "int8") for t in g.data_inputs(node)]
            plan.outputs = [(t, "int8") for t in node.outputs if t]
        else:
            plan.inputs = [(t, "int8" if t in g.int8_tensors else g.float_dtype(t)) for t in g.data_inputs(node)]
            plan.outputs = [self.fl(t) for t in node.outputs if t]
            plan.float_reason = f"{node.name} runs in float"
        return plan

    def standalone_q(self, q: SimNode) -> LayerPlan:
        plan = LayerPlan(type="Reformat", cls=LayerClass.QDQ, tokens=[q.name], node_tokens=[q.name], origin="QDQ",
                         inputs=[self.fl(q.inputs[0])], outputs=[(q.outputs[0], "int8")])
        self.take(plan, q)
        plan.why = self._q_why(q)
        return plan

    def _q_why(self, q: SimNode) -> str:
        g, tensor = self.g, q.inputs[0]
        if tensor in g.graph_inputs:
            return f"quantizes the network input {tensor}, which arrives in float"
        others = [r for r in g.readers_of(tensor) if r is not q]
        floats = [r.name for r in others if not r.is_q]
        if floats:
            return f"its input {tensor} is also read in float by {', '.join(floats[:3])}"
        if others:
            return (f"{tensor} is also quantized by {', '.join(r.name for r in others[:3])} with other parameters; "
                    "unequal sibling Qs are not merged (developer guide, Q/DQ limitations, Fig. 10)")
        producer = g.producer.get(tensor)
        if producer is None:
            return f"{tensor} is a constant or comes from outside the graph"
        plan = self.plan_of.get(id(producer))
        if plan is not None and plan.float_reason:
            return plan.float_reason
        return f"{producer.name} produces {tensor} in float and cannot take the Q"

    def requantize(self, node: SimNode) -> LayerPlan:
        plan = LayerPlan(type="Reformat", cls=LayerClass.QDQ, tokens=[node.name],
                         node_tokens=list(node.onnx_nodes), origin="QDQ",
                         inputs=[(node.inputs[0], "int8")], outputs=[(node.outputs[0], "int8")])
        self.take(plan, node)
        a = float(node.from_params.scale.reshape(-1)[0]) if node.from_params is not None else float("nan")
        b = float(node.params.scale.reshape(-1)[0]) if node.params is not None else float("nan")
        plan.why = (f"a DQ (scale {a:.6g}) meets a Q (scale {b:.6g}) with other parameters: a requantize kernel "
                    "stays (equal scales would cancel)")
        return plan

    def standalone_dq(self, dq: SimNode) -> LayerPlan | None:
        if id(dq) in self.assigned:  # inside a Myelin region
            return None
        needing = list(self.readers_needing_float(dq).values())
        graph_output = dq.outputs[0] in self.g.graph_outputs
        if not needing and not graph_output:
            return None
        plan = LayerPlan(type="Reformat", cls=LayerClass.QDQ, tokens=[dq.name], node_tokens=[dq.name], origin="QDQ",
                         inputs=[(dq.inputs[0], "int8")], outputs=[self.fl(dq.outputs[0])])
        self.take(plan, dq)
        if graph_output:
            plan.why = f"{dq.outputs[0]} is a network output, in float"
        else:
            names = ", ".join(r.name for r in needing[:3])
            plan.why = f"{names} reads {dq.outputs[0]} in float"
            reader_plan = self.plan_of.get(id(needing[0]))
            if reader_plan is not None and reader_plan.float_reason:
                plan.why += f" ({reader_plan.float_reason})"
        return plan

    def run(self) -> list[LayerPlan]:
        g = self.g
        slots: list[LayerPlan | SimNode] = []  # DQs are decided last: their readers come later
        for node in g.toposorted():
            if id(node) in self.assigned:
                continue
            if node.is_dq:
                slots.append(node)
            elif id(node) in self.region_of:
                slots.append(self.foreign(self.region_of[id(node)]))
            elif node.op in self.rules.weighted_ops:
                slots.append(self.weighted(node))
            elif node.is_q:
                slots.append(self.standalone_q(node))
            elif node.op == "Requantize":
                slots.append(self.requantize(node))
            elif node.op in self.rules.quantizable_ops and not node.int8:
                slots.append(self.quantizable(node))
            else:
                slots.append(self.other(node))
            slots += self.queue
            self.queue.clear()
        plans = []
        for slot in slots:
            plan = self.standalone_dq(slot) if isinstance(slot, SimNode) else slot
            if plan is not None:
                plans.append(plan)
        return plans


def plan_layers(g: SimGraph) -> list[LayerPlan]:
    """The predicted layers of a propagated graph, in execution (topological) order."""
    return _Planner(g).run()
