"""The ``--device`` option of the tools: one meaning and one error message.

``'auto'`` is CUDA when a CUDA device is visible, else the CPU; ``'cpu'``,
``'cuda'`` and ``'cuda:N'`` are checked against the machine, so a tool on a
machine without a GPU stops at once with one line saying why (not in the
middle of a run, in ``model.to``). Other torch device strings (e.g.
``'mps'``) are passed on unchecked.
"""
import argparse
from typing import Optional, Union

import torch

DEVICE_HELP = ("'auto' (CUDA if a CUDA device is visible, else CPU; the default), "
               "'cpu', 'cuda' or 'cuda:N'")


def _cuda_build() -> str:
    cuda = torch.version.cuda
    return f'torch {torch.__version__} built with CUDA {cuda}' if cuda else \
        f'torch {torch.__version__} built without CUDA'


def resolve_device(name: Union[str, torch.device, None] = 'auto',
                   what: str = '--device') -> str:
    """The device a tool runs on, checked.

    Args:
        name: ``'auto'`` (or ``None``): ``'cuda'`` if
            ``torch.cuda.is_available()``, else ``'cpu'``; ``'cpu'``;
            ``'cuda'`` / ``'cuda:N'``: must be visible; another torch device
            string is returned unchecked.
        what: how the errors name the value (an API passes e.g. ``'device'``).

    Returns:
        str: e.g. ``'cpu'``, ``'cuda'``, ``'cuda:1'``.

    Raises:
        ValueError: one line: an unknown device string, CUDA asked for on a
            machine without one (with the torch build), or a CUDA index
            beyond the visible devices.
    """
    if name is None or str(name).strip().lower() == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    text = str(name).strip()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f'{what} {text}: not a device; use {DEVICE_HELP}') from None
    if device.type != 'cuda':
        return text
    if not torch.cuda.is_available():
        raise ValueError(f'{what} {text}: no CUDA device visible '
                         f'(torch.cuda.is_available() is False; {_cuda_build()})')
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(f'{what} {text}: no such CUDA device, {count} visible '
                         f'(cuda:0 to cuda:{count - 1}; CUDA_VISIBLE_DEVICES may hide '
                         'others)')
    return text


def is_cuda(device: Union[str, torch.device]) -> bool:
    """Whether ``device`` (``'cuda'``, ``'cuda:1'``, a torch.device) is CUDA."""
    return torch.device(device).type == 'cuda'


def device_name(device: Union[str, torch.device]) -> str:
    """``device`` and what it is, for the tools' printed headers, e.g.
    ``'cuda:0 (NVIDIA H200)'`` or ``'cpu'``."""
    device = torch.device(device)
    if device.type != 'cuda':
        return str(device)
    index = torch.cuda.current_device() if device.index is None else device.index
    return f'cuda:{index} ({torch.cuda.get_device_name(index)})'


class _DeviceAction(argparse.Action):
    """``--device VALUE``: :func:`resolve_device`; a bad value exits with one
    line, ``<prog>: error: --device cuda: no CUDA device visible (...)``."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            setattr(namespace, self.dest, resolve_device(values, option_string))
        except ValueError as error:
            parser.exit(2, f'{parser.prog}: error: {error}\n')


def add_device_arg(parser: argparse.ArgumentParser, default: Optional[str] = 'auto',
                   help: str = '') -> argparse.Action:
    """Add ``--device`` to ``parser``: ``args.device`` is a checked device
    string (``'cpu'``, ``'cuda'``, ``'cuda:N'``; :func:`resolve_device` of
    the value given, or of ``default``, resolved when the parser is built;
    ``default=None`` leaves None when the option is not given, for a tool
    whose default depends on other options) and a bad value is one error
    line (exit status 2)."""
    text = f'device to run the model on: {DEVICE_HELP}'
    if default != 'auto':
        text = text.replace('; the default', '')
    return parser.add_argument('--device', action=_DeviceAction, metavar='DEVICE',
                               default=None if default is None else resolve_device(default),
                               help=f'{text}. {help}'.strip())
