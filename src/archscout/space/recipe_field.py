"""The recipe field of an architecture's values: what a recipe chose, and the values a builder sees without it."""
from __future__ import annotations

FIELD = "recipe"


def recipe_of(values: dict) -> dict:
    """The training settings an architecture's values choose (empty without a recipe)."""
    chosen = values.get(FIELD) if isinstance(values, dict) else None
    return dict(chosen) if isinstance(chosen, dict) else {}


def without_recipe(values: dict) -> dict:
    """The values a builder sees: everything but the recipe."""
    return {k: v for k, v in values.items() if k != FIELD} if FIELD in values else values


def describe_recipe(values: dict) -> str:
    r = recipe_of(values)
    if not r:
        return ""
    short = {"lr": "lr", "weight_decay": "wd", "batch_size": "bs", "optimizer": "", "schedule": ""}
    return " | " + " ".join(f"{short[k]}={v:g}" if isinstance(v, float) else (f"{short[k]}={v}" if short[k] else str(v))
                            for k, v in r.items())
