"""``Module`` and ``Parameter``: how a network finds, names, saves and loads its weights.

A Module registers what is assigned to it: ``self.fc1 = nn.Linear(...)`` records a child
module, ``self.w = nn.Parameter(...)`` a parameter, in assignment order. Walking those
registries gives PyTorch's dotted names (``"fc1.weight"``, ``"0.bias"``), which are the
keys of ``state_dict()``. Plain lists of modules are *not* registered (as in PyTorch):
use :class:`ModuleList` or :class:`Sequential`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_mlp.tensor import Tensor, _HookHandle, _to_array

__all__ = ["IncompatibleKeys", "Module", "ModuleList", "Parameter", "Sequential", "StateDictError"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable weight (``requires_grad=True``).

    Integer or boolean data is converted to float32; float data keeps its dtype and is
    shared, not copied (as ``torch.nn.Parameter``).

    Parameters
    ----------
    data : array_like or Tensor
        The initial values.
    requires_grad : bool, default True

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> p = nn.Parameter(np.zeros(3, dtype=np.float32))
    >>> p.requires_grad, p.shape
    (True, (3,))
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        arr = np.zeros(0, dtype=np.float32) if data is None else _to_array(data)
        if arr.dtype.kind not in "fc":
            arr = arr.astype(np.float32)
        super().__init__(np.zeros(0, arr.dtype), requires_grad=requires_grad)
        self.data = arr  # shared, unlike Tensor(data), which copies

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(RuntimeError, ValueError):
    """``load_state_dict`` found missing or unexpected keys, or mismatched shapes."""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` did not match (PyTorch's return value)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"  # as torch prints it
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first."""
    lines = text.split("\n")
    pad = " " * spaces
    return "\n".join(lines[:1] + [pad + line for line in lines[1:]])


class Module:
    """Base class of layers and networks; subclass it and write ``forward``.

    >>> from tinygrad_mlp import nn
    >>> class MLP(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = nn.Linear(4, 8)
    ...         self.fc2 = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> [name for name, _ in MLP().named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Any]
    _non_persistent: set[str]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it. Call the module, not ``forward``."""
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    #: set on a module once it has a forward hook: the plain call checks one attribute
    _hooked = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooked:
            return self._call_hooked(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_hooked(self, args: tuple, kwargs: dict) -> Any:
        for hook in list(self.__dict__.get("_forward_pre_hooks", ())):
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        out = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", ())):
            changed = hook(self, args, out)
            if changed is not None:
                out = changed
        return out

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], Any]) -> _HookHandle:
        """Call ``hook(module, args)`` before each ``forward``; a value it returns (a tuple,
        or one value) replaces the positional arguments. As torch's; returns a handle
        whose ``remove()`` takes the hook off."""
        return self._add_hook("_forward_pre_hooks", hook)

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> _HookHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a value it returns
        replaces the output (to record activations, or to change them). As torch's;
        returns a handle whose ``remove()`` takes the hook off."""
        return self._add_hook("_forward_hooks", hook)

    def _add_hook(self, kind: str, hook: Callable) -> _HookHandle:
        hooks = self.__dict__.get(kind)
        if hooks is None:
            hooks = []
            object.__setattr__(self, kind, hooks)
        hooks.append(hook)
        object.__setattr__(self, "_hooked", True)
        return _HookHandle(hooks, hook)

    # ----- registration --------------------------------------------------------------------
    # Registered values live in the registries (for discovery, in assignment order) and in
    # the instance __dict__ too, so reading ``self.weight`` is an ordinary, fast lookup.

    def _registries(self) -> tuple[dict, dict, dict]:
        try:
            return self._parameters, self._buffers, self._modules
        except AttributeError:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() "
                "was called: call super().__init__() first in your __init__"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)) or name in self.__dict__.get("_parameters", ()):
            params, buffers, modules = self._registries()
        else:
            params = self.__dict__.get("_parameters", {})
            buffers = self.__dict__.get("_buffers", {})
            modules = self.__dict__.get("_modules", {})
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(nn.Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, (Tensor, np.ndarray)):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    "(Tensor, ndarray or None expected)"
                )
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)
        if name in self.__dict__:
            object.__delattr__(self, name)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: names that are not identifiers ("0").
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: a declared but absent parameter) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r}")
        self._registries()
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a non-learnable array saved with the state_dict (unless not persistent)."""
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(f"cannot register {type(tensor).__name__} as buffer {name!r}")
        self._registries()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name`` (which may be ``"0"``, ``"1"``...)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        self._registries()
        self._modules[name] = module

    register_module = add_module

    # ----- traversal -----------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant (each once)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct children."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """The direct children."""
        for _, child in self.named_children():
            yield child

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, registry).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, in registration order; shared ones once.

        >>> from tinygrad_mlp import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(2, 3), nn.ReLU()).named_parameters()]
        ['0.weight', '0.bias']
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (each once), in the order of ``named_parameters``.

        >>> from tinygrad_mlp import nn
        >>> sum(p.size for p in nn.Linear(3, 2).parameters())
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        """(dotted name, buffer) pairs."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        """Every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every descendant, then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and all descendants (Dropout obeys it); returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be a bool")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``: inference behaviour (Dropout is the identity)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (set to None; zero-filled if ``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._make(np.zeros_like(p.data), None)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter; returns self (freeze / unfreeze)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating parameter and buffer to ``dtype`` (e.g. ``np.float64``)."""
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"Module.to expects a floating dtype, got {dtype}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.data.dtype != dtype:
                    p.data = p.data.astype(dtype)
                    p.grad = None
            for name, b in m._buffers.items():
                arr = b.data if isinstance(b, Tensor) else b
                if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" and arr.dtype != dtype:
                    if isinstance(b, Tensor):
                        b.data = arr.astype(dtype)
                    else:
                        m.register_buffer(name, arr.astype(dtype), name not in m._non_persistent)
        return self

    def double(self) -> Module:
        """Parameters to float64 (for gradient checks); returns self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Parameters to float32; returns self."""
        return self.to(np.float32)

    # ----- state_dict ----------------------------------------------------------------------
    def _state_items(self) -> Iterator[tuple[str, Tensor | np.ndarray]]:
        """(key, live value) of everything ``state_dict`` holds, without deduplication."""
        for prefix, mod in self.named_modules(remove_duplicate=False):
            dot = prefix + "." if prefix else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    yield dot + name, b

    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """Ordered ``{dotted name: copy of the values}`` for parameters and buffers.

        The copies do not change when training continues; feed them to ``tg.save``.

        >>> from tinygrad_mlp import nn
        >>> list(nn.Linear(2, 3).state_dict())
        ['weight', 'bias']
        """
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for key, value in self._state_items():
            arr = value.data if isinstance(value, Tensor) else value
            out[prefix + key] = np.array(arr, copy=True)
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers, in place (dtype kept).

        Nothing is changed unless every value can be loaded. With ``strict=True`` (the
        default) missing and unexpected keys are errors; shape mismatches always are. The
        error (``StateDictError``, a RuntimeError and ValueError) lists every problem.

        Parameters
        ----------
        state_dict : mapping of str to ndarray or Tensor
            As returned by ``state_dict()`` (or ``tg.load``).
        strict : bool, default True

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``; both empty after a strict load.

        >>> from tinygrad_mlp import nn
        >>> a, b = nn.Linear(2, 3), nn.Linear(2, 3)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected state_dict to be a mapping, got {type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems: list[str] = []
        staged: list[tuple[np.ndarray, np.ndarray]] = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                src = np.asarray(value.data if isinstance(value, Tensor) else value)
            except (TypeError, ValueError) as e:
                problems.append(f"value for {key!r} is not an array: {e}")
                continue
            dst = target.data if isinstance(target, Tensor) else target
            if src.shape != dst.shape:
                problems.append(
                    f"size mismatch for {key!r}: copying a value of shape {src.shape}, "
                    f"the shape in the current model is {dst.shape}"
                )
            elif not np.can_cast(src.dtype, dst.dtype, casting="same_kind"):
                problems.append(
                    f"dtype mismatch for {key!r}: cannot copy {src.dtype} into {dst.dtype}"
                )
            else:
                staged.append((dst, src))
        if strict and unexpected:
            listed = ", ".join(map(repr, unexpected))
            problems.insert(0, f"Unexpected key(s) in state_dict: {listed}")
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(problems)
            )
        for dst, src in staged:
            np.copyto(dst, src, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    # ----- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (subclasses override)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): {_indent(repr(child), 2)}" for name, child in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._modules))


class ModuleList(Module):
    """A list of modules whose parameters are registered (names ``"0"``, ``"1"``, ...).

    >>> from tinygrad_mlp import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), [n for n, _ in layers.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx: int) -> int:
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of {n}")
        return idx % n

    def _relabel(self, modules: list[Module]) -> None:
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(items[idx])
        return items[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx: int | slice) -> None:
        items = list(self._modules.values())
        del items[idx if isinstance(idx, slice) else self._index(idx)]
        self._relabel(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError("extend() expects an iterable of modules, got a single Module")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._relabel(items)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ModuleList is a container without forward(): iterate over it instead"
        )


class Sequential(ModuleList):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Also accepts one ``OrderedDict`` of named modules. Indexing, ``len`` and iteration
    work as on a list; a slice is a new Sequential sharing the modules.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> net(tg.Tensor(np.ones((5, 4), np.float32))).shape
    (5, 2)
    >>> len(net), type(net[1]).__name__
    (3, 'ReLU')
    """

    def __init__(self, *modules: Any) -> None:
        Module.__init__(self)
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for m in modules:
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential expects Modules, got {type(m).__name__}")
                self.append(m)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[self._index(idx)]
        self.add_module(key, module)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x
