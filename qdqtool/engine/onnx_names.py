"""Which ONNX nodes and weights an engine layer implements, read from its name and ``Metadata``.

TensorRT names a fused layer after its parts joined by `` + `` (horizontal fusions by `` || ``), with the weight
initializer first: ``"layer1.0.conv2.weight + QuantizeLinear_32 + Conv_34 + Add_36 + Relu_37"``. Since TensorRT
8.6 the detailed layer information also carries ``"Metadata": "[ONNX Layer: /conv/Conv]\\x1F[ONNX Layer: ...]"``,
which is used instead of the name when present. Weight and constant tokens (``conv1.weight``, TF ``...:0``
tensors, ``onnx::`` initializers, ``Constant`` nodes) are kept apart: weight names are stable across exports of
one network, node numbers (``Add_36`` vs ``Add_42``) are not.

    >>> nodes, weights = onnx_names("conv1.weight + QuantizeLinear_7 + Conv_9 + PWN(Clip_12)")
    >>> assert nodes == ("QuantizeLinear_7", "Conv_9", "Clip_12") and weights == ("conv1.weight",)
    >>> assert op_type_of("/layer1/layer1.0/conv1/Conv") == "Conv" and op_type_of("Add_36") == "Add"
"""

from __future__ import annotations

import re

# TensorRT 8.6 joined several ONNX layers in Name/Metadata with \x1E, TensorRT 10 with \x1F (TensorRT issue #2779).
SEPARATORS = ("\x1e", "\x1f")
_PROFILE_SUFFIX = re.compile(r"^(.*) \[profile (\d+)\]$", re.DOTALL)
_METADATA_ENTRY = re.compile(r"\[ONNX Layer: (.*?)\]", re.DOTALL)
_COPY_NODE = re.compile(r"^Reformatting CopyNode for (Input|Output) Tensor \d+ to ")
_FOREIGN_NODE = re.compile(r"^\{ForeignNode\[(.*)\]\}$", re.DOTALL)
_WRAPPER = re.compile(r"^(PWN|PointWise|PointWiseV2)\((.*)\)$", re.DOTALL)
_NUMBER_SUFFIX = re.compile(r"(_+\d+)+$")

# onnx-tensorrt 8.0-8.2 appended these to Q/DQ layer names (removed in 8.4).
QDQ_NAME_SUFFIXES = ("_quantize_scale_node", "_dequantize_scale_node")

# Tokens TensorRT makes up itself: they name no ONNX node.
_BUILDER_PREFIXES = (
    "(Unnamed Layer*",
    "__myl_",  # a Myelin-generated kernel (engine/myelin.py): named after its op sequence, not an ONNX node
    "__mye",
    "unsqueeze_node_after_",
    "squeeze_node_after_",
    "copied_squeeze_after_",
    "reshape_after_",
    "reshape_before_",
    "shuffle_after_",
    "shuffle_between_",
    "Reformatted ",
)
_WEIGHT_SUFFIX = re.compile(
    r"[._](weight|weights|bias|kernel|gamma|beta|running_mean|running_var|scale|zero_point|amax)$", re.IGNORECASE
)
_TF_TENSOR = re.compile(r":\d+$")
_CONSTANT = re.compile(r"(^|/)Constant(_\d+)?(_output_\d+)?$")

# ONNX op types (and the TF-ONNX spellings) of quantize / dequantize nodes.
QDQ_OPS = frozenset({"quantizelinear", "dequantizelinear", "quantlinearnode", "dequantlinearnode"})


def normalize_name(name: str) -> str:
    """Replace the \\x1E/\\x1F separators some TensorRT versions put in layer names with `` + ``."""
    for sep in SEPARATORS:
        name = name.replace(sep, " + ")
    return name


def split_profile(name: str) -> tuple[str, int]:
    """``"conv [profile 1]"`` -> ``("conv", 1)``; names without the suffix belong to profile 0."""
    match = _PROFILE_SUFFIX.match(name)
    if match:
        return match.group(1), int(match.group(2))
    return name, 0


def is_copy_node(name: str) -> bool:
    """A ``Reformatting CopyNode for Input|Output Tensor k to <layer>`` inserted by the builder."""
    return bool(_COPY_NODE.match(name))


def _split_top_level(text: str, separators: tuple[str, ...]) -> list[str]:
    """Split ``text`` on any of ``separators`` outside parentheses and brackets."""
    if not any(b in text for b in "([{"):  # most layer names: no nesting, str.split does it (in C)
        parts = [text]
        for sep in separators:
            parts = [piece for part in parts for piece in part.split(sep)]
        return [p.strip() for p in parts if p.strip()]
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            sep = next((s for s in separators if text.startswith(s, i)), None)
            if sep:
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def name_tokens(name: str) -> list[str]:
    """The parts of a layer name, with ``PWN(...)`` and ``{ForeignNode[a...b]}`` opened up.

    A Myelin ``ForeignNode`` names only its first and last ONNX node, so only those two are returned.
    """
    name = normalize_name(name)
    if is_copy_node(name):
        return []
    tokens: list[str] = []
    for part in _split_top_level(name, (" + ", " || ")):
        tokens.extend(_open(part))
    return tokens


def _open(token: str) -> list[str]:
    wrapped = _WRAPPER.match(token)
    if wrapped:
        return [t for inner in _split_top_level(wrapped.group(2), (",", " + ")) for t in _open(inner)]
    foreign = _FOREIGN_NODE.match(token)
    if foreign:
        return [t for t in foreign.group(1).split("...") if t]
    return [token]


def token_kind(token: str) -> str:
    """``"weight"`` (initializer or constant), ``"builder"`` (made up by TensorRT) or ``"node"`` (an ONNX node)."""
    if token.startswith(_BUILDER_PREFIXES) or "(Unnamed Layer*" in token:
        return "builder"
    if token.startswith("onnx::") or _WEIGHT_SUFFIX.search(token) or _TF_TENSOR.search(token):
        return "weight"
    if _CONSTANT.search(token):
        return "weight"
    return "node"


def strip_qdq_suffix(token: str) -> str:
    """``QuantizeLinear_98_quantize_scale_node`` -> ``QuantizeLinear_98`` (TensorRT 8.0-8.2 naming)."""
    for suffix in QDQ_NAME_SUFFIXES:
        if token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def metadata_nodes(metadata: str | None) -> list[str]:
    """The ONNX layer names in a TensorRT ``Metadata`` string (``[ONNX Layer: a]\\x1F[ONNX Layer: b]``)."""
    if not metadata:
        return []
    entries = _METADATA_ENTRY.findall(metadata)
    if not entries:  # a Metadata string without the [ONNX Layer: ...] wrapper: split on the separators
        entries = re.split("[\x1e\x1f]", metadata)
    return [e.strip() for e in entries if e.strip()]


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def onnx_names(name: str, metadata: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(onnx_nodes, weights)`` of a layer.

    Args:
        name (str): The layer name as TensorRT wrote it.
        metadata (str): The layer's ``Metadata`` field (TensorRT >= 8.6), if any. Defaults to None.
    """
    nodes: list[str] = []
    weights: list[str] = []
    meta = metadata_nodes(metadata)
    for token in name_tokens(name):
        kind = token_kind(token)
        if kind == "weight":
            weights.append(token)
        elif kind == "node" and not meta:
            nodes.append(strip_qdq_suffix(token))
    for token in meta:
        (weights if token_kind(token) == "weight" else nodes).append(strip_qdq_suffix(token))
    return _unique(nodes), _unique(weights)


def op_type_of(node: str) -> str:
    """A best guess at a node's op type from its name: last path segment without the ``_<n>`` numbering.

    ``Conv_9`` -> ``Conv``, ``/layer1/layer1.0/conv1/Conv`` -> ``Conv``, ``QuantLinearNode__838`` ->
    ``QuantLinearNode``. Exporters name nodes this way by default; custom names give custom "types".
    """
    last = strip_qdq_suffix(node).rstrip("/").rsplit("/", 1)[-1]
    return _NUMBER_SUFFIX.sub("", last) or last


def is_qdq_node(node: str) -> bool:
    """True when the node name reads as a QuantizeLinear / DequantizeLinear node."""
    return op_type_of(node).lower() in QDQ_OPS or node.endswith(QDQ_NAME_SUFFIXES)
