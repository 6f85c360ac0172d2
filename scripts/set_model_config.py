"""Rewrite a checkpoint with some config fields changed and its weights untouched.

For the fields that change how a trained model is *run*, not its parameters: e.g. the warp that moves
reference photos to the driving pose for the per-pixel fusion::

    python scripts/set_model_config.py runs/demo_v2.safetensors runs/demo_v2_headrefs.safetensors \
        cgf.reference_warp=head

Values are YAML (``true``, ``0.5``, ``head``). Only the fields in :data:`RUN_TIME_FIELDS` are accepted
unless ``--any-field`` is given (other fields, e.g. ``image_size`` or the prior's kind, change what the
weights were trained for even when every tensor keeps its shape). The new config is validated and the
weights must load into the model it builds unchanged (a field that changes a parameter's shape is always
refused); the metadata (trained stages, step) is kept and ``source`` records the change. One ``error:``
line and exit 2 on bad input (also for a change to the value a field already has); the output is written
atomically and never over the input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from synergywarp.assets import resolve_checkpoint
from synergywarp.errors import SynergyWarpError
from synergywarp.models import ModelConfig, SynergyWarpNet

#: fields that change how a trained model is run, not what its weights were trained for
RUN_TIME_FIELDS = ("cgf.reference_warp", "name")


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` → (["a", "b"], YAML value); ValueError for anything else."""
    key, sep, value = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ValueError(f"expected FIELD=VALUE (e.g. cgf.reference_warp=head), got {text!r}")
    try:
        return key.split("."), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ValueError(f"{key}: {value!r} is not a YAML value ({error.__class__.__name__})") from None


def with_changes(config: ModelConfig, assignments: list[str], *, any_field: bool = False
                 ) -> tuple[ModelConfig, list[str]]:
    """The config with ``FIELD=VALUE`` assignments applied (validated), and the changes as text."""
    data = config.to_dict()
    changes = []
    for text in assignments:
        path, value = parse_assignment(text)
        dotted = ".".join(path)
        if any(change.startswith(f"{dotted}: ") for change in changes):
            raise ValueError(f"{dotted} is assigned twice")
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"no config section {'.'.join(path[:-1])!r} (from {text!r})")
            node = node[part]
        if path[-1] not in node:
            raise ValueError(f"no config field {dotted!r}")
        if node[path[-1]] == value:
            raise ValueError(f"{dotted} is already {value!r}: nothing to change")
        if dotted not in RUN_TIME_FIELDS and not any_field:
            raise ValueError(f"{dotted} is not a run-time field ({', '.join(RUN_TIME_FIELDS)}): it changes what "
                             "the weights were trained for; pass --any-field to change it anyway")
        changes.append(f"{dotted}: {node[path[-1]]!r} -> {value!r}")
        node[path[-1]] = value
    return ModelConfig.from_dict(data), changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a .safetensors checkpoint or a bundled name ('demo', 'demo-live')")
    parser.add_argument("out", type=Path, help="the rewritten checkpoint (.safetensors)")
    parser.add_argument("assignments", nargs="+", metavar="FIELD=VALUE", help="config fields to change")
    parser.add_argument("--any-field", action="store_true",
                        help="also change fields outside the run-time ones (the weights were not trained for it)")
    args = parser.parse_args(argv)
    try:
        source = resolve_checkpoint(args.checkpoint)
        if args.out.suffix != ".safetensors":
            raise ValueError(f"the output must be a .safetensors file, got {args.out}")
        if args.out.exists() and args.out.resolve() == Path(source).resolve():
            raise ValueError(f"refusing to overwrite the input {args.out}: write a new file")
        model = SynergyWarpNet.from_pretrained(source)
        config, changes = with_changes(model.config, args.assignments, any_field=args.any_field)
        changed = SynergyWarpNet(config)
        old_shapes = {k: v.shape for k, v in model.state_dict().items()}
        new_shapes = {k: v.shape for k, v in changed.state_dict().items()}
        if old_shapes != new_shapes:
            differ = sorted(k for k in old_shapes.keys() | new_shapes.keys()
                            if old_shapes.get(k) != new_shapes.get(k))
            raise ValueError(f"{'; '.join(changes)} changes the model's parameters ({len(differ)} tensors, "
                             f"e.g. {differ[0]}): this script only changes how a trained model is run")
        changed.load_state_dict(model.state_dict())
        meta = model.checkpoint_metadata
        note = f"{args.checkpoint} with {'; '.join(changes)}"
        previous = meta.source if meta is not None else None
        changed.save_pretrained(args.out, trained_stages=model.trained_stages,
                                step=meta.step if meta is not None else None,
                                source=f"{previous}; then {note}" if previous else note)
    except (SynergyWarpError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {config.name} with {'; '.join(changes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
