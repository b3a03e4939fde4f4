"""netspec: neural networks described as data, checked statically, compiled to torch.fx."""

import importlib
from typing import TYPE_CHECKING, Any

from ._api import build, count_params, infer_shapes, load, loads, valid_sizes, validate
from ._errors import Diagnostic, SpecError
from ._load import Limits
from ._models import Spec
from ._ops import register_op
from ._shapes import SizeLattice
from ._source import list_specs
from ._version import __version__ as __version__

if TYPE_CHECKING:
    from ._draw import IMAGE_FORMATS, to_dot, to_image, to_mermaid
    from ._onnx_session import OnnxSession, onnx_session
    from ._schema import json_schema
    from ._summary import Summary, summarize

# Public names of the tools beside validation (drawing, summary, schema, the ONNX runner), imported on
# first use so that `netspec validate` does not load them. They import no torch.
_TOOL_NAMES = {
    "IMAGE_FORMATS": "._draw",
    "to_dot": "._draw",
    "to_image": "._draw",
    "to_mermaid": "._draw",
    "json_schema": "._schema",
    "Summary": "._summary",
    "summarize": "._summary",
    "onnx_session": "._onnx_session",
    "OnnxSession": "._onnx_session",
}

# Public names defined in modules that import torch, imported on first use so that `import netspec`
# (and validating, summarising, drawing) never imports torch. Add such names here, not above.
_TORCH_NAMES = {
    "save_weights": "._weights",
    "from_module": "._import",
    "ModuleImportError": "._import",
    "export_python": "._export",
    "export_torchscript": "._export",
    "export_onnx": "._export",
    "export_pt2": "._export",
    "ExportError": "._export",
    "MissingDependencyError": "._export",
    "optimize": "._optimize",
    "InferenceModule": "._optimize",
    "fully_shard_blocks": "._distributed",
    "shard_groups": "._distributed",
}


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from ._api import require_torch

        require_torch(name)
        value = getattr(importlib.import_module(_TORCH_NAMES[name], __name__), name)
    elif name in _TOOL_NAMES:
        value = getattr(importlib.import_module(_TOOL_NAMES[name], __name__), name)
    else:
        raise AttributeError(f"module 'netspec' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TORCH_NAMES) | set(_TOOL_NAMES))


__all__ = [
    "IMAGE_FORMATS",
    "Diagnostic",
    "ExportError",
    "InferenceModule",
    "Limits",
    "MissingDependencyError",
    "ModuleImportError",
    "OnnxSession",
    "SizeLattice",
    "Spec",
    "SpecError",
    "Summary",
    "build",
    "count_params",
    "export_onnx",
    "export_pt2",
    "export_python",
    "export_torchscript",
    "from_module",
    "fully_shard_blocks",
    "infer_shapes",
    "json_schema",
    "list_specs",
    "load",
    "loads",
    "onnx_session",
    "optimize",
    "register_op",
    "save_weights",
    "shard_groups",
    "summarize",
    "to_dot",
    "to_image",
    "to_mermaid",
    "valid_sizes",
    "validate",
]
