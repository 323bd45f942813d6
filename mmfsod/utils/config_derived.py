"""Derived config fields that follow their top-level settings: ``'${key}'``.

mmengine evaluates a config once: ``ann_file=data_root + val_ann_file`` or
``{{_base_.base_classes}}`` copy the value of the moment, so a child config
or ``--cfg-options data_root=...`` that changes ``data_root`` afterwards
leaves the copies on the old value, silently. A field that must follow a
top-level setting is therefore written as a *reference*, resolved when the
config is used (after inheritance and ``--cfg-options``):

* ``'${key}'`` (the whole string) is the value of the top-level ``key``,
  whatever its type (a tuple of class names, a dict, a number);
* ``'${key}'`` inside a longer string is replaced by that value as text
  (``'${data_root}${val_ann_file}'``); it must then be a str or a number;
* ``key`` may be dotted (``'${class_splits.BASE_CLASSES}'``); a top-level
  value may itself hold references; a cycle or an unknown key is one error
  naming the field and the config file.

A field written as a plain value instead (in the template or in a child
config) stays as written: to change one dataset only, set that field.

:func:`resolve_derived` does the resolution; ``tools/train.py``,
``tools/test.py``, ``tools/misc/print_config.py`` and the other tools that
read a config through :func:`mmfsod.utils.tools.load_config` call it after
``--cfg-options``. A script that builds from ``Config.fromfile`` itself
calls it too::

    cfg = Config.fromfile(path)
    cfg.merge_from_dict(overrides)
    resolve_derived(cfg)

Configs without references (the toy and COCO ones) copy their top-level
settings when they are read; :func:`stale_copies` finds the fields still on
the old value of a top-level key that ``--cfg-options`` changed, and
``load_config`` logs them as a warning naming the fields to set instead.
"""
import copy
import re
from typing import Any, Dict, List, Optional

REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_0-9]+)*)\}')
_MISSING = object()


def has_references(value: Any) -> bool:
    """Whether ``value`` (any nesting of dicts, lists, tuples) holds a
    ``'${...}'`` reference."""
    if isinstance(value, str):
        return '${' in value
    if isinstance(value, dict):
        return any(has_references(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_references(v) for v in value)
    return False


class _Resolver:

    def __init__(self, top: dict, filename: Optional[str]) -> None:
        self.top = top
        self.where_file = f' (config {filename})' if filename else ''
        self.done = {}  # top-level key -> resolved value
        self.stack: List[str] = []

    def error(self, where: str, msg: str) -> KeyError:
        return KeyError(f'{where}: {msg}{self.where_file}')

    def lookup(self, name: str, where: str) -> Any:
        head, *rest = name.split('.')
        if head in self.stack:
            cycle = ' -> '.join(self.stack[self.stack.index(head):] + [head])
            raise self.error(where, f"'${{{name}}}' refers back to itself: {cycle}")
        if head not in self.top:
            raise self.error(where, f"'${{{name}}}' names no top-level key {head!r}; "
                             'define it in the config or with --cfg-options')
        if head not in self.done:
            self.stack.append(head)
            self.done[head] = self.resolve(self.top[head], head)
            self.stack.pop()
        value = self.done[head]
        for i, part in enumerate(rest):
            sub = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
            if sub is _MISSING:
                path = '.'.join([head] + rest[:i + 1])
                raise self.error(where, f"'${{{name}}}': the config has no {path!r}")
            value = sub
        return copy.deepcopy(value)

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            whole = REF.fullmatch(value)
            if whole:
                return self.lookup(whole.group(1), where)
            if '${' not in value:
                return value

            def text(match) -> str:
                found = self.lookup(match.group(1), where)
                if isinstance(found, bool) or not isinstance(found, (str, int, float)):
                    raise self.error(where, f"'${{{match.group(1)}}}' inside {value!r} must "
                                     f'be a str or a number, got {type(found).__name__}')
                return str(found)

            out = REF.sub(text, value)
            if '${' in out:
                raise self.error(where, f'{value!r}: a "${{" that is not a reference '
                                 '${key} (key: a top-level name, dotted for nested keys)')
            return out
        if isinstance(value, dict):
            for key in list(value.keys()):
                resolved = self.resolve(value[key], f'{where}.{key}' if where else str(key))
                if resolved is not value[key]:
                    value[key] = resolved
            return value
        if isinstance(value, (list, tuple)):
            items = [self.resolve(v, f'{where}.{i}') for i, v in enumerate(value)]
            if all(a is b for a, b in zip(items, value)):
                return value
            return type(value)(items) if isinstance(value, tuple) else items
        return value


def resolve_derived(cfg) -> Any:
    """Replace every ``'${key}'`` reference of ``cfg`` (an mmengine
    ``Config`` or a dict) by the current value of its top-level ``key``, in
    place; returns ``cfg``. A config without references is left unchanged."""
    top = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    if not has_references(dict(top)):
        return cfg
    resolver = _Resolver(top, getattr(cfg, 'filename', None))
    for key in list(top.keys()):
        if key in resolver.done:
            value = resolver.done[key]
        else:
            resolver.stack.append(key)
            value = resolver.resolve(top[key], key)
            resolver.stack.pop()
            resolver.done[key] = value
        if value is not top[key]:
            top[key] = value
    return cfg


def _is_copy(value: Any, old: Any) -> bool:
    """``value`` is ``old`` or, for a path-like str, built from it."""
    if isinstance(old, str):
        return isinstance(value, str) and value.startswith(old)
    return isinstance(value, (list, tuple)) and list(value) == list(old)


def stale_copies(cfg, old_values: Dict[str, Any]) -> Dict[str, List[str]]:
    """The fields of ``cfg`` still on the old value of a changed top-level key.

    Args:
        cfg: the config after the overrides (and :func:`resolve_derived`).
        old_values (dict): top-level key -> its value before the overrides;
            only a str of 3 characters or more (a path, a name), a
            non-empty list / tuple of str (class names) or one of 2 numbers
            or more (an image scale) is looked for.

    Returns:
        dict: key -> the dotted names of the fields equal to its old value
        (a str field: starting with it, as ``data_root + 'annotations/...'``);
        keys whose value did not change or is not copied anywhere are left out.
    """
    top = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    out = {}
    for key, old in old_values.items():
        usable = (isinstance(old, str) and len(old) >= 3) or (
            isinstance(old, (list, tuple)) and old and all(isinstance(v, str) for v in old)) or (
            isinstance(old, (list, tuple)) and len(old) >= 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in old))
        new = top.get(key)
        unchanged = new == old if isinstance(old, str) else (
            isinstance(new, (list, tuple)) and list(new) == list(old))
        if not usable or unchanged:
            continue
        found: List[str] = []

        def walk(value, where):
            if _is_copy(value, old):
                found.append(where)
            elif isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f'{where}.{k}')
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    walk(v, f'{where}.{i}')

        for name, value in top.items():
            if name != key:
                walk(value, name)
        if found:
            out[key] = found
    return out
