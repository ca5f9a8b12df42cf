"""The training recipe as part of the search space: searched with the architecture, as FBNetV3 argues it should be.

This makes the recipe searchable by any strategy; it is not FBNetV3's method (a predictor over architecture
and recipe with constrained iterative optimisation), which archscout does not implement.

A recipe block is a ``Block`` of choices over training settings — learning rate, weight decay, batch
size, optimizer, schedule — added to a space under the field ``recipe``. Its values are part of every
architecture (its id, its JSON, mutation, crossover, encodings), so a strategy searches them with the
network; the training evaluator trains each candidate, and the final retraining retrains the chosen one,
with the recipe it carries (the study's settings fill in what the recipe does not choose; the budget,
steps or epochs, stays the study's). Builders never see the field.

``conv1d-recipe``, ``conv2d-recipe`` and ``mlp-recipe`` are the built-in spaces with
:data:`DEFAULT_RECIPE`; :func:`with_recipe` adds a recipe to any space.
"""
from __future__ import annotations

from ..errors import ArchscoutError
from ..recipe import TrainConfig
from ._choices import Block, Choice
from ._space import Space
from .recipe_field import FIELD, describe_recipe, recipe_of, without_recipe

# the training settings a recipe may choose, and what each value must be
SETTINGS = {"lr": "a positive number", "weight_decay": "a number >= 0", "batch_size": "a positive integer",
            "optimizer": "adamw, adam or sgd", "schedule": "onecycle, cosine or constant"}


def recipe(**choices: Choice) -> Block:
    """A recipe block: ``recipe(lr=Choice([1e-3, 1e-2]), optimizer=Choice(["adamw", "sgd"]))``. Every value each
    choice can take is checked now (a TrainConfig is built with it), so a bad one never reaches a trial."""

    if not choices:
        raise ArchscoutError("a recipe chooses at least one training setting: " + ", ".join(SETTINGS))
    for name, choice in choices.items():
        if name not in SETTINGS:
            raise ArchscoutError(f"a recipe cannot choose {name!r}; it chooses {', '.join(SETTINGS)} (the budget, "
                                 f"steps or epochs, is the study's or a fidelity's)")
        if not isinstance(choice, Choice):
            raise ArchscoutError(f"recipe setting {name!r} must be a Choice of values, got {choice!r}")
        for value in choice.values:
            try:
                TrainConfig(**{name: value})
            except (ArchscoutError, TypeError) as e:
                raise ArchscoutError(f"recipe setting {name}={value!r}: {e} ({name} is {SETTINGS[name]})") from None
    return Block(**choices)


DEFAULT_RECIPE: dict[str, list] = dict(lr=[1e-3, 3e-3, 1e-2, 3e-2], weight_decay=[0.0, 1e-4, 1e-3, 1e-2], batch_size=[32, 64, 128, 256],
                      optimizer=["adamw", "sgd"], schedule=["onecycle", "cosine"])
# what a practitioner tries first, with NePS's confidences (only the default search, strategy auto, reads them)
DEFAULT_PRIORS: dict[str, tuple] = dict(lr=(3e-3, "medium"), weight_decay=(1e-4, "low"), batch_size=(64, "low"),
                                        optimizer=("adamw", "high"), schedule=("onecycle", "medium"))


def default_recipe() -> Block:
    """4 learning rates x 4 weight decays x 4 batch sizes x 2 optimizers x 2 schedules (256 recipes), each with a
    prior (:data:`DEFAULT_PRIORS`: AdamW at 0.003 with one-cycle, batch 64, weight decay 1e-4)."""
    return recipe(**{k: Choice(v, prior=DEFAULT_PRIORS[k][0], confidence=DEFAULT_PRIORS[k][1])
                     for k, v in DEFAULT_RECIPE.items()})


def with_recipe(space, block: Block | None = None, name: str | None = None):
    """``space`` with a recipe field (default :func:`default_recipe`), named ``NAME-recipe`` unless ``name``."""
    if FIELD in space.root.fields:
        raise ArchscoutError(f"space {space.name!r} already has a field {FIELD!r}")
    block = block if block is not None else default_recipe()
    if not isinstance(block, Block):
        raise ArchscoutError(f"a recipe is a Block (archscout.space.recipe(...)), got {block!r}")
    out = Space(name or f"{space.name}-recipe", constraints=space.constraints, builder=space.builder,
                description=f"{space.description}; with the training recipe searched too "
                            f"({', '.join(block.fields)})", **{**space.root.fields, FIELD: block})
    return out


__all__ = ["DEFAULT_PRIORS", "DEFAULT_RECIPE", "FIELD", "SETTINGS", "default_recipe", "describe_recipe", "recipe", "recipe_of",
           "with_recipe", "without_recipe"]
