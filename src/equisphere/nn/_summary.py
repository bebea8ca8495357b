"""A per-layer table of parameter counts."""

from __future__ import annotations

from torch import nn

__all__ = ["parameter_table"]


def parameter_table(model: nn.Module) -> str:
    """A text table of the trainable parameters of each layer that holds some, and the total.

    Layers are listed by their qualified name (as in ``named_modules``) with
    their class and the count of the parameters they hold directly.

    Examples
    --------
    >>> print(parameter_table(nn.Sequential(nn.Linear(3, 2), nn.ReLU())))
    layer  type    parameters
    0      Linear           8
    total                   8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    rows = []
    for name, module in model.named_modules():
        count = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        if count:
            rows.append((name or "(model)", type(module).__name__, count))
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    header = ("layer", "type", "parameters")
    name_width = max([len(header[0]), len("total")] + [len(row[0]) for row in rows])
    type_width = max([len(header[1])] + [len(row[1]) for row in rows])
    count_width = max(len(header[2]), len(f"{total:,}"))
    lines = [f"{header[0]:<{name_width}}  {header[1]:<{type_width}}  {header[2]:>{count_width}}"]
    for name, kind, count in rows:
        lines.append(f"{name:<{name_width}}  {kind:<{type_width}}  {count:>{count_width},}")
    lines.append(f"{'total':<{name_width}}  {'':<{type_width}}  {total:>{count_width},}")
    return "\n".join(lines)
