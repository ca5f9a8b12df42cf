"""The training recipe searched with the architecture (issue #18, part 3): a recipe block in the space, its
values part of each architecture, the training evaluator and the final retraining training with them."""
from __future__ import annotations

import pytest

from archscout import Study
from archscout.errors import ArchscoutError
from archscout.space import Choice, get_space
from archscout.space.recipe import recipe, with_recipe


def test_a_recipe_chooses_only_training_settings_with_valid_values():
    with pytest.raises(ArchscoutError, match="cannot choose 'steps'"):
        recipe(steps=Choice([100, 200]))
    with pytest.raises(ArchscoutError, match="optimizer='lion'"):
        recipe(optimizer=Choice(["adamw", "lion"]))
    with pytest.raises(ArchscoutError, match="lr=-0.1"):
        recipe(lr=Choice([0.01, -0.1]))


def test_the_recipe_is_part_of_the_architecture_and_hidden_from_the_builder():
    space = with_recipe(get_space("mlp"), recipe(lr=Choice([1e-3, 1e-2]), batch_size=Choice([16, 64])))
    assert space.name == "mlp-recipe" and "recipe" in space.root.fields
    archs = {space.sample(seed=s) for s in range(12)}
    recipes = {tuple(sorted(space.recipe(a).items())) for a in archs}
    assert len(recipes) > 1  # sampled, so searched
    a = next(iter(archs))
    twin = space.architecture({**a.values, "recipe": {"lr": 1e-3 if space.recipe(a)["lr"] == 1e-2 else 1e-2,
                                                      "batch_size": space.recipe(a)["batch_size"]}})
    assert twin.id != a.id  # another recipe, another candidate
    net = a.build((4,), 3)  # the macro builder would refuse an unknown field; it never sees the recipe
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in twin.build((4,), 3).parameters())
    assert "lr=" in a.describe()
    with pytest.raises(ArchscoutError, match="already has a field 'recipe'"):
        with_recipe(space)


@pytest.mark.slow
def test_the_search_and_the_final_retraining_train_with_the_candidates_recipe(tmp_path):
    study = Study("r", space="mlp-recipe", task="iris", storage=f"sqlite:///{tmp_path}/r.db", train={"steps": 20},
                  final_train={"steps": 30})
    study.run(trials=3, final_top_k=1, final_seeds=1, progress=False)
    for t in study.trials("complete"):
        chosen = study.space.recipe(t.arch)
        assert chosen and {k: t.details["train"][k] for k in chosen} == chosen
        assert t.details["train"]["steps"] == 20  # the budget stays the study's
    best = study.best()
    final = next(f for f in study.storage.finals(study.id) if f.trial_id == best.id)
    assert {k: final.details["train"][k] for k in study.space.recipe(best.arch)} == study.space.recipe(best.arch)
    assert final.details["train"]["steps"] == 30
