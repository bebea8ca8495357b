"""A registry of model factories, so that training and the command line treat all models alike.

A model module registers its presets with :func:`register_model`; code that
only knows a name (a config file, a checkpoint) builds the model with
:func:`build_model`. Registering happens at import: ``equisphere.models``
imports every module that registers, so importing this module (which imports
its package first) is enough to see all of them.

Examples
--------
>>> from equisphere.models import build_model
>>> model = build_model("planar-cnn", width=8)
>>> type(model).__name__
'PlanarCNN'
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "available_models",
    "build_model",
    "count_parameters",
    "fill_data_options",
    "model_options",
    "register_model",
]

logger = logging.getLogger(__name__)

Factory = TypeVar("Factory", bound=Callable[..., nn.Module])

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Factory], Factory]:
    """Decorator that registers a model class or factory function under ``name``.

    Parameters
    ----------
    name : str
        Name used in config files and checkpoints, e.g. ``"s2cnn-cohen2018"``.

    Raises
    ------
    ValueError
        If ``name`` is already taken by another factory.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"expected a non-empty model name, got {name!r}")

    def decorator(factory: Factory) -> Factory:
        existing = _FACTORIES.get(name)
        if existing is not None and _qualified_name(existing) != _qualified_name(factory):
            raise ValueError(
                f"model name {name!r} is already registered by {_qualified_name(existing)}; "
                "choose another name"
            )
        _FACTORIES[name] = factory
        return factory

    return decorator


def unregister_model(name: str) -> None:
    """Remove ``name`` from the registry (for tests that register throwaway models)."""
    _FACTORIES.pop(name, None)


def available_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_FACTORIES)


def model_options(name: str) -> dict[str, inspect.Parameter]:
    """Keyword options accepted by the factory of ``name`` (name -> ``inspect.Parameter``)."""
    factory = _factory(name)
    parameters = inspect.signature(factory).parameters
    return {
        key: parameter
        for key, parameter in parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }


def build_model(name: str, **options: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword ``options``.

    Raises
    ------
    ValueError
        If ``name`` is not registered, or an option is not one the factory accepts.
    """
    factory = _factory(name)
    accepted = model_options(name)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    unknown = sorted(set(options) - set(accepted))
    if unknown and not takes_any:
        raise ValueError(
            f"unknown option {unknown[0]!r} for model {name!r}; "
            f"expected some of {', '.join(sorted(accepted)) or '(none)'}"
        )
    model = factory(**options)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model factory {name!r} returned {type(model).__name__}, expected a torch.nn.Module"
        )
    logger.debug("built model %s with %s (%d parameters)", name, options, count_parameters(model))
    return model


def fill_data_options(name: str, options: dict[str, Any], **data_options: Any) -> dict[str, Any]:
    """``options`` plus those ``data_options`` the factory accepts and ``options`` leaves out.

    The data decides the bandwidth, the number of input channels and the number
    of classes; a factory that takes ``bandwidth``, ``in_channels`` or
    ``n_classes`` gets them from there unless the config sets them.
    """
    accepted = model_options(name)
    filled = dict(options)
    for key, value in data_options.items():
        if key in accepted and key not in filled:
            filled[key] = value
    return filled


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _factory(name: str) -> Callable[..., nn.Module]:
    if name not in _FACTORIES:
        raise ValueError(
            f"unknown model {name!r}; expected one of {', '.join(available_models()) or '(none)'}"
        )
    return _FACTORIES[name]


def _qualified_name(factory: Callable[..., Any]) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', factory)}"
