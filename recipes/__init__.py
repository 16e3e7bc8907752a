"""Recommendation algorithms behind one small contract (see :mod:`recipes.base`)."""

from recipes.base import (
    FeatureColumn,
    Features,
    Hyperparameter,
    InteractionData,
    Model,
    Recipe,
    Refresh,
)
from recipes.registry import available_recipes, get_recipe, register_recipe

__all__ = [
    "FeatureColumn",
    "Features",
    "Hyperparameter",
    "InteractionData",
    "Model",
    "Recipe",
    "Refresh",
    "available_recipes",
    "get_recipe",
    "register_recipe",
]
