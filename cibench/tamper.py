"""A static scan of model code for tampering with IPython, the kernel or the interpreter's hooks.

Model code runs in the same process as the kernel that reports on it, so it can try to fake a
pass: silence tracebacks (`get_ipython()._showtraceback = lambda *a: None`), swap
`sys.excepthook`, register `post_run_cell` callbacks, install input or AST transformers that
rewrite the next cell (the hidden check), or send messages through the kernel's own session.
cibench does not trust what the kernel *publishes* for success (it reads the shell channel's
`execute_reply`), and before running an attempt it parses the code and refuses it when the code
writes to or patches those internals. Normal use is not flagged: calling `get_ipython()`,
`display()`, `%magic` lines (turned into `get_ipython().run_line_magic(...)` first), reading
`get_ipython().user_ns`.

This is a heuristic: code that hides what it does (`exec` of an encoded string) is not seen.
That is why success comes from the `execute_reply`, which such code can only fake by replacing
the kernel's own message sending (see docs/sandbox.md).
"""

from __future__ import annotations

import ast
import logging
import warnings
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: attributes whose assignment (on anything) changes how the kernel reports a cell
INTERNAL_ATTRS = frozenset({
    "showtraceback", "_showtraceback", "_last_traceback", "showsyntaxerror", "excepthook",
    "displayhook", "display_pub", "display_formatter", "input_transformers_cleanup",
    "input_transformers_post", "input_transformer_manager", "ast_transformers", "events",
    "run_cell", "run_cell_async", "run_code", "run_ast_nodes", "_run_cell", "kernel",
    "iopub_socket", "iopub_thread", "shell_stream", "shell_streams", "session",
    "send_response", "execution_count", "CustomTB", "InteractiveTB", "SyntaxTB",
    "custom_exceptions", "_tee", "set_custom_exc", "register_post_execute", "compile",
    "user_global_ns", "prefilter_manager", "_cibench_capped",
})
#: attributes of the shell whose methods, when called, change how the kernel reports a cell
HOOK_OWNERS = frozenset({"events", "input_transformers_cleanup", "input_transformers_post",
                         "ast_transformers", "kernel", "display_pub", "displayhook",
                         "input_transformer_manager", "prefilter_manager", "InteractiveTB",
                         "CustomTB", "SyntaxTB"})
#: methods of the shell that install hooks
HOOK_METHODS = frozenset({"set_custom_exc", "register_post_execute", "set_hook",
                          "register_magic_function"})
#: modules whose attributes must not be assigned
GUARDED_MODULES = frozenset({"builtins", "__builtins__", "IPython", "ipykernel", "sys"})
SYS_HOOKS = frozenset({"excepthook", "displayhook", "__excepthook__",
                       "__displayhook__", "settrace", "setprofile", "audit", "addaudithook"})


@dataclass
class Finding:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def _python_source(code: str) -> str:
    """IPython syntax (`%magic`, `!cmd`, `obj?`) as plain Python, the way the kernel sees it."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(code)
    except Exception:  # no IPython here, or syntax it cannot transform
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in code.splitlines())


def _dotted(node: ast.AST) -> str:
    """`a.b.c` for an attribute chain of names, `f().b` for a call at its root, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    else:
        return ""
    return ".".join(reversed(parts))


@dataclass
class _Scanner(ast.NodeVisitor):
    findings: list[Finding] = field(default_factory=list)
    shells: set[str] = field(default_factory=lambda: set())  # names bound to get_ipython()
    modules: dict[str, str] = field(default_factory=dict)  # local name -> guarded module

    # -- what is the shell ---------------------------------------------------------------------

    def is_shell(self, node: ast.AST) -> bool:
        """get_ipython(), a name bound to it, or any attribute of those (ip.kernel.session)."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            return name == "get_ipython"
        return isinstance(node, ast.Name) and node.id in self.shells

    def module_of(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.modules:
                return self.modules[node.id]
            if node.id == "__builtins__":
                return "builtins"
        return None

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), what))

    # -- bindings ------------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in GUARDED_MODULES:
                self.modules[alias.asname or top] = alias.name if alias.asname else top
        self.generic_visit(node)

    def _bind(self, targets: list[ast.expr], value: ast.AST | None) -> None:
        if value is None:
            return
        for target in targets:
            if isinstance(target, ast.Name):
                if self.is_shell(value):
                    self.shells.add(target.id)
                else:
                    self.shells.discard(target.id)

    # -- writes --------------------------------------------------------------------------------

    def _check_target(self, target: ast.AST, how: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_target(elt, how)
            return
        if isinstance(target, ast.Starred):
            self._check_target(target.value, how)
            return
        base = target
        if isinstance(target, ast.Subscript):
            base = target.value
            if self.is_shell(base) and _dotted(base).split(".")[-1] in ("user_ns",):
                return  # get_ipython().user_ns['x'] = 1 is normal use
        if not isinstance(base, ast.Attribute):
            return
        name = _dotted(base) or base.attr
        owner_module = self.module_of(base.value)
        if self.is_shell(base):
            if base.attr == "user_ns" or (isinstance(target, ast.Subscript)
                                          and base.attr == "user_ns"):
                return
            self.flag(target, f"{how} `{name}` (IPython shell internals)")
        elif base.attr in INTERNAL_ATTRS and not _plain_local(base):
            self.flag(target, f"{how} `{name}` (IPython/kernel internals)")
        elif owner_module == "sys" and base.attr in SYS_HOOKS:
            self.flag(target, f"{how} `{name}` (interpreter hook)")
        elif owner_module is not None and owner_module != "sys":
            self.flag(target, f"{how} `{name}` (module {owner_module})")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, "assigns")
        self._bind(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target, "assigns")
        self._bind([node.target], node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, "changes")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target, "deletes")
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._bind([node.target], node.value)
        self.generic_visit(node)

    # -- calls ---------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        args = node.args
        if fname in ("setattr", "delattr") and args:
            target = args[0]
            attr = args[1].value if len(args) > 1 and isinstance(args[1], ast.Constant) else None
            module = self.module_of(target)
            if self.is_shell(target) or (isinstance(attr, str) and attr in INTERNAL_ATTRS) \
                    or (module is not None and (module != "sys" or attr in SYS_HOOKS
                                                or attr is None)):
                shown = f" .{attr!s}" if attr else ""
                self.flag(node, f"{fname}() on `{_dotted(target) or '...'}`{shown}")
        elif fname == "object" and isinstance(func, ast.Attribute) and _dotted(func.value) \
                .split(".")[-1] == "patch" and args:
            attr = args[1].value if len(args) > 1 and isinstance(args[1], ast.Constant) else None
            if self.is_shell(args[0]) or attr in INTERNAL_ATTRS or self.module_of(args[0]):
                self.flag(node, f"patch.object() of `{_dotted(args[0]) or '...'}`")
        elif fname == "patch" and args and isinstance(args[0], ast.Constant) \
                and isinstance(args[0].value, str):
            path = args[0].value
            if path.split(".")[0] in GUARDED_MODULES or path.split(".")[-1] in INTERNAL_ATTRS:
                self.flag(node, f"patch({path!r})")
        elif isinstance(func, ast.Attribute) and self.is_shell(func.value):
            owner = func.value.attr if isinstance(func.value, ast.Attribute) else ""
            if func.attr in HOOK_METHODS or owner in HOOK_OWNERS or _owner_in_chain(func.value):
                self.flag(node, f"calls `{_dotted(func)}` (reaches into the shell's hooks or kernel)")
        elif isinstance(func, ast.Attribute) and self.module_of(func.value) == "sys" \
                and func.attr in ("settrace", "setprofile", "addaudithook"):
            self.flag(node, f"calls `{_dotted(func)}`")
        self.generic_visit(node)


def _owner_in_chain(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute):
        if node.attr in HOOK_OWNERS:
            return True
        node = node.value
    return False


def _plain_local(node: ast.Attribute) -> bool:
    """`self.session = ...`, `model.compile = ...`: attributes of the model's own objects
    whose names happen to match internals. Only names that are IPython-only count then."""
    root = node.value
    while isinstance(root, ast.Attribute):
        root = root.value
    only_ipython = {"showtraceback", "_showtraceback", "_last_traceback", "showsyntaxerror",
                    "display_pub", "input_transformers_cleanup", "input_transformers_post",
                    "input_transformer_manager", "ast_transformers", "iopub_socket",
                    "iopub_thread", "shell_stream", "shell_streams", "CustomTB",
                    "InteractiveTB", "SyntaxTB", "custom_exceptions", "_tee",
                    "_cibench_capped", "excepthook", "displayhook", "run_cell",
                    "run_cell_async", "run_ast_nodes", "set_custom_exc", "register_post_execute",
                    "send_response", "prefilter_manager"}
    return node.attr not in only_ipython


def scan(code: str) -> list[Finding]:
    """What in `code` writes to or patches IPython/kernel internals; [] for normal code.

    Code that does not parse is not tampering (it fails as a syntax error when it runs)."""
    source = _python_source(code)
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" in the model's strings
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    scanner = _Scanner()
    scanner.visit(tree)
    return scanner.findings


def describe(findings: list[Finding], limit: int = 3) -> str:
    text = "; ".join(str(f) for f in findings[:limit])
    if len(findings) > limit:
        text += f"; and {len(findings) - limit} more"
    return text
