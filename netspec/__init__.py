"""netspec: neural networks described as data, checked statically, compiled to torch.fx."""

from ._api import build, count_params, infer_shapes, load, loads, valid_sizes, validate
from ._draw import IMAGE_FORMATS, to_dot, to_image, to_mermaid
from ._errors import Diagnostic, SpecError
from ._export import ExportError, MissingDependencyError, export_onnx, export_python, export_torchscript
from ._import import ModuleImportError, from_module
from ._load import Limits
from ._models import Spec
from ._ops import register_op
from ._schema import json_schema
from ._shapes import SizeLattice
from ._source import list_specs
from ._summary import Summary, summarize
from ._version import __version__ as __version__
from ._weights import save_weights

__all__ = [
    "IMAGE_FORMATS",
    "Diagnostic",
    "ExportError",
    "Limits",
    "MissingDependencyError",
    "ModuleImportError",
    "SizeLattice",
    "Spec",
    "SpecError",
    "Summary",
    "build",
    "count_params",
    "export_onnx",
    "export_python",
    "export_torchscript",
    "from_module",
    "infer_shapes",
    "json_schema",
    "list_specs",
    "load",
    "loads",
    "register_op",
    "save_weights",
    "summarize",
    "to_dot",
    "to_image",
    "to_mermaid",
    "valid_sizes",
    "validate",
]
